// Database commands: init, insert, info, rewind, checkpoint; and --db for root/prove/consistency.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "db/format.hpp"
#include "rotortree/any_db.hpp"

namespace rotortree::cli {
namespace {

std::string iso_time(std::uint64_t unix_ms) {
  if (unix_ms == 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// SPEC §3: an error after part of the input was committed.
constexpr int kExitCommitted = 3;

// `init` never deletes and never creates over anything of a database: a
// directory holding meta, logs or data files is refused (even with --force,
// which only allows other files beside the new database). What an
// interrupted `init` leaves (a LOCK, a log without leaves) is the library's
// to judge: it continues such a creation and refuses anything else.
void refuse_unsafe_init(const std::string& dir, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw Error(Errc::invalid_argument, "init: " + display_name(dir) + " is not a directory");
  if (const auto params = read_db_params(dir))
    throw Error(Errc::invalid_argument,
                "init: " + display_name(dir) + " already holds a rotortree database (arity " + std::to_string(params->arity) +
                    ", max depth " + std::to_string(params->max_depth) + ", " + std::string(to_string(params->hash)) + ", " +
                    std::string(to_string(params->node_hash)) + "); init never touches an existing database");
  std::vector<std::string> others;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == db::kLockName) continue;
    if (!db::is_database_file_name(name)) others.push_back(name);
  }
  if (ec) throw Error(Errc::io_error, "init: cannot list " + display_name(dir) + ": " + ec.message());
  if (!others.empty() && !force)
    throw Error(Errc::invalid_argument, "init: " + display_name(dir) + " is not empty (it holds " + others.front() +
                                            (others.size() > 1 ? " and " + std::to_string(others.size() - 1) + " more" : "") +
                                            "); give --force to create the database beside these files (nothing is deleted)");
  // Database files without meta are judged by the library: an interrupted
  // init continues, anything else is refused naming them.
}

DbConfig cli_config() {
  DbConfig config;
  config.flush = flush::Manual{};
  config.checkpoint = checkpoint::OnClose{};
  return config;
}

// The readers' open, cheap whatever the size: every level mapped (checked by
// its header and the first and last chunk of each file), the log tail
// replayed, and the leaf index built only for lookups.
DbConfig reader_config(bool lookups) {
  DbConfig config = cli_config();
  config.read_only = true;
  config.pin_above_level = 33;
  config.leaf_index = lookups;
  return config;
}

}  // namespace

std::unique_ptr<AnySnapshot> open_db_snapshot(const std::string& dir, bool lookups) {
  const DbConfig config = reader_config(lookups);
  auto db = open_any_db(dir, config);
  auto snapshot = db->snapshot();
  db->close();
  return snapshot;
}

void register_db_commands(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand("init", "Create a database directory");
    auto dir = std::make_shared<std::string>();
    auto arity = std::make_shared<std::string>("4");
    auto max_depth = std::make_shared<std::string>("32");
    auto hash = std::make_shared<std::string>("blake3");
    auto node_hash = std::make_shared<std::string>("lean-imt");
    cmd->add_option("DIR", *dir, "Database directory")->required();
    cmd->add_option("--arity", *arity, "Arity: 2, 3, 4, 8 or 16 (default 4)");
    cmd->add_option("--max-depth", *max_depth, "Maximum depth 1..32 (default 32)");
    cmd->add_option("--hash", *hash, "blake3, sha256 or poseidon (default blake3)");
    cmd->add_option("--node-hash", *node_hash, "lean-imt or tagged (default lean-imt)");
    auto leaf_policy = std::make_shared<std::string>("none");
    cmd->add_option("--leaf-policy", *leaf_policy,
                    "none (default), index (lookups by leaf) or unique (lookups; a leaf already present is refused)");
    auto force = std::make_shared<bool>(false);
    cmd->add_flag("--force", *force,
                  "Create the database in a directory that holds other (non-database) files; "
                  "never deletes anything");
    cmd->callback([=] {
      TreeParams params;
      params.arity = static_cast<unsigned>(parse_u64(*arity, "--arity"));  // open_any_db checks it
      const auto depth = parse_u64(*max_depth, "--max-depth");
      if (depth < 1 || depth > 32) throw Error(Errc::invalid_argument, "--max-depth must be in 1..32, got " + *max_depth);
      params.max_depth = static_cast<unsigned>(depth);
      params.hash = parse_hash_id(*hash);
      params.node_hash = parse_node_hash(*node_hash);
      params.leaf_policy = parse_leaf_policy(*leaf_policy);
      DbConfig config = cli_config();
      refuse_unsafe_init(*dir, *force);
      auto db = open_any_db(*dir, config, params);
      db->close();
    });
  }
  {
    auto* cmd = app.add_subcommand("insert", "Append leaves to a database");
    auto dir = std::make_shared<std::string>();
    auto leaves = std::make_shared<std::string>();
    auto batch = std::make_shared<std::string>("65536");
    auto durable = std::make_shared<bool>(false);
    auto ack = std::make_shared<bool>(false);
    cmd->add_option("DIR", *dir, "Database directory")->required();
    cmd->add_option("--leaves", *leaves, "Raw 32-byte leaves, - for standard input")->required();
    cmd->add_option("--batch", *batch, "Leaves per batch (default 65536)");
    cmd->add_flag("--durable", *durable, "Wait until every batch is on stable storage");
    cmd->add_flag("--ack", *ack, "After each durable batch print 'ack SIZE ROOTHEX'");
    cmd->callback([=] {
      const auto b = parse_u64(*batch, "--batch");
      if (b == 0 || b > (std::uint64_t{1} << 26)) throw Error(Errc::invalid_argument, "--batch must be in 1..67108864");
      DbConfig config = cli_config();
      config.flush = flush::Interval{};
      config.create_if_missing = false;
      auto db = open_any_db(*dir, config);
      const bool progress = ::isatty(STDERR_FILENO);
      const auto start = std::chrono::steady_clock::now();
      const std::uint64_t first_size = db->size();
      // A file's size is known: size the leaf index (and the levels) once
      // instead of growing them batch by batch. Past the capacity the
      // insertion itself reports the error, after the batches that fit.
      if (const auto count = leaf_file_count(*leaves); count && *count > 0) {
        try {
          db->reserve(first_size + *count);
        } catch (const Error& e) {
          if (e.code() != Errc::max_depth_exceeded) throw;
        }
      }
      // What is known durable: the opening state, then every waited batch,
      // then everything once the final flush succeeded (SPEC §3: exit 3 and
      // this state on standard error when part of the input was committed).
      std::uint64_t durable_size = first_size;
      std::optional<Node> durable_root = db->root();
      std::uint64_t inserted = 0;
      auto committed_failure = [&](const Error& error) {
        if (durable_size == first_size) {
          if (error.code() != Errc::duplicate_leaf) throw error;  // nothing committed: exit 2
          std::fprintf(stderr, "error: %s\n", error.what());
          throw CLI::RuntimeError(1);  // SPEC §5: a refused duplicate, nothing inserted
        }
        const std::string what = error.what();
        std::fprintf(stderr, "error: %s\nerror: %llu leaves of this input were committed; the durable state is size %llu root %s\n",
                     what.c_str(), static_cast<unsigned long long>(durable_size - first_size),
                     static_cast<unsigned long long>(durable_size), to_hex(*durable_root).c_str());
        throw CLI::RuntimeError(kExitCommitted);
      };
      try {
        read_leaf_batches(*leaves, static_cast<std::size_t>(b), [&](std::span<const Node> chunk) {
          AnyDb::InsertResult result;
          try {
            result = db->insert_many(chunk);
          } catch (const DuplicateLeafError& e) {  // unique: positions in the whole input
            const DuplicateLeaf& d = e.duplicate();
            throw Error(Errc::duplicate_leaf,
                        "duplicate leaf " + to_hex(d.leaf) + " at input position " + std::to_string(inserted + d.batch_position) +
                            (d.tree_index ? ": the database already holds it at index " + std::to_string(*d.tree_index)
                                          : ": it repeats input position " + std::to_string(inserted + *d.earlier_batch_position)) +
                            " (the batch was refused whole)");
          }
          inserted += chunk.size();
          if (*durable || *ack) {
            result.token.wait();
            durable_size = first_size + inserted;
            durable_root = result.root;
          }
          if (*ack) {
            std::printf("ack %llu %s\n", static_cast<unsigned long long>(first_size + inserted),
                        to_hex(result.root).c_str());
            if (std::fflush(stdout) != 0 || std::ferror(stdout))
              throw Error(Errc::io_error, std::string("cannot write standard output: ") + std::strerror(errno));
          }
          if (progress) {
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::fprintf(stderr, "\r%llu leaves inserted (%.0f/s)", static_cast<unsigned long long>(inserted),
                         s > 0 ? inserted / s : 0.0);
          }
        });
        if (progress) std::fprintf(stderr, "\n");
        db->flush();
        durable_size = db->size();
        durable_root = db->root();
      } catch (const Error& e) {
        if (progress) std::fprintf(stderr, "\n");
        // Leaves inserted but not yet durable are made so by close (the log
        // holds them): they are committed too when that succeeds.
        try {
          db->flush();
          durable_size = db->size();
          durable_root = db->root();
        } catch (const Error&) {
        }
        try {
          db->close();
        } catch (const Error&) {
        }
        committed_failure(e);
      }
      // Every leaf is durable in the log now: a failed close-time checkpoint
      // is not a failure of the insert (the next open replays the log).
      try {
        db->close();
      } catch (const Error& e) {
        std::fprintf(stderr, "warning: every leaf is durable in the log (size %llu root %s), but the checkpoint on close failed: %s\n",
                     static_cast<unsigned long long>(durable_size), durable_root ? to_hex(*durable_root).c_str() : "none",
                     e.what());
      }
    });
  }
  {
    auto* cmd = app.add_subcommand("info", "Describe a database");
    auto dir = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("DIR", *dir, "Database directory")->required();
    cmd->add_flag("--json", *json, "One JSON object");
    cmd->callback([=] {
      auto db = open_any_db(*dir, reader_config(false));
      const DbInfo info = db->info();
      db->close();
      if (*json) {
        nlohmann::json j;
        j["size"] = info.size;
        j["depth"] = info.depth;
        j["root"] = info.root ? nlohmann::json(to_hex(*info.root)) : nlohmann::json(nullptr);
        j["arity"] = info.params.arity;
        j["max_depth"] = info.params.max_depth;
        j["hash"] = std::string(to_string(info.params.hash));
        j["node_hash"] = std::string(to_string(info.params.node_hash));
        j["leaf_policy"] = std::string(to_string(info.params.leaf_policy));
        j["log_bytes"] = info.log_bytes;
        j["data_bytes"] = info.data_bytes;
        j["checkpoint_size"] = info.checkpoint_size;
        j["checkpoint_unix_ms"] = info.checkpoint_unix_ms;
        j["last_sequence"] = info.last_seq;
        std::cout << j.dump() << std::endl;
      } else {
        std::cout << "size " << info.size << "\n"
                  << "depth " << info.depth << "\n"
                  << "root " << (info.root ? to_hex(*info.root) : std::string("none")) << "\n"
                  << "arity " << info.params.arity << "\n"
                  << "max_depth " << info.params.max_depth << "\n"
                  << "hash " << to_string(info.params.hash) << "\n"
                  << "node_hash " << to_string(info.params.node_hash) << "\n"
                  << "leaf_policy " << to_string(info.params.leaf_policy) << "\n"
                  << "log_bytes " << info.log_bytes << "\n"
                  << "data_bytes " << info.data_bytes << "\n"
                  << "checkpoint_size " << info.checkpoint_size << "\n"
                  << "last_checkpoint " << iso_time(info.checkpoint_unix_ms) << "\n"
                  << "last_sequence " << info.last_seq << std::endl;
      }
    });
  }
  {
    auto* cmd = app.add_subcommand("rewind", "Make a database the tree of its first S leaves, durably");
    auto dir = std::make_shared<std::string>();
    auto size = std::make_shared<std::string>();
    cmd->add_option("DIR", *dir, "Database directory")->required();
    cmd->add_option("--size", *size, "Leaves to keep (0..size)")->required();
    cmd->callback([=] {
      const std::uint64_t keep = parse_u64(*size, "--size");
      DbConfig config = cli_config();
      config.create_if_missing = false;
      auto db = open_any_db(*dir, config);
      auto result = db->rewind(keep);
      result.token.wait();
      db->close();
      std::printf("%llu %s\n", static_cast<unsigned long long>(keep), result.root ? to_hex(*result.root).c_str() : "-");
    });
  }
  {
    auto* cmd = app.add_subcommand("checkpoint", "Write a checkpoint and truncate the log");
    auto dir = std::make_shared<std::string>();
    cmd->add_option("DIR", *dir, "Database directory")->required();
    cmd->callback([=] {
      DbConfig config = cli_config();
      config.checkpoint = checkpoint::Manual{};
      config.create_if_missing = false;
      auto db = open_any_db(*dir, config);
      db->checkpoint();
      db->close();
    });
  }
}

}  // namespace rotortree::cli
