// `rotortree demo`: the first ten minutes in one minute. A durable database
// (N=4, BLAKE3, the default configuration) in a fresh directory: a bulk load
// through the parallel path, a checkpoint, proofs generated and verified, a
// reopen with recovery, a consistency proof between two states and an
// inclusion proof brought up to date with it. Every figure is measured in
// this run; every check that fails makes the exit code 1.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "rotortree/codec.hpp"
#include "rotortree/db.hpp"

namespace rotortree::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Db = RotorTree<Blake3, 4>;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct DemoOptions {
  std::string dir;
  std::uint64_t leaves = 10'000'000;
  std::uint64_t batch = 1'000'000;
  bool keep = false;
};

// --- Formatting ----------------------------------------------------------------

/// 10000000 -> "10,000,000".
std::string grouped(std::uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format(const char* fmt, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, value);
  return buffer;
}

/// A rate with a unit: "3.41 M leaves/s".
std::string rate(double per_second, const char* what) {
  if (per_second >= 1e6) return format("%.2f M ", per_second / 1e6) + what + "/s";
  if (per_second >= 1e3) return format("%.1f k ", per_second / 1e3) + what + "/s";
  return format("%.0f ", per_second) + what + "/s";
}

std::string bytes_text(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return format("%.2f GiB", bytes / double(1ull << 30));
  if (bytes >= (1ull << 20)) return format("%.1f MiB", bytes / double(1ull << 20));
  if (bytes >= (1ull << 10)) return format("%.1f KiB", bytes / double(1ull << 10));
  return std::to_string(bytes) + " B";
}

std::string duration_text(double seconds) {
  if (seconds >= 10) return format("%.1f s", seconds);
  if (seconds >= 1) return format("%.2f s", seconds);
  if (seconds >= 1e-3) return format("%.1f ms", seconds * 1e3);
  return format("%.1f us", seconds * 1e6);
}

std::string short_hex(const Node& node) { return to_hex(node).substr(0, 16) + "…"; }

void out(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void section(int number, int total, const std::string& title) {
  out("");
  out("[" + std::to_string(number) + "/" + std::to_string(total) + "] " + title);
}

/// "  label ........ value"
void row(const std::string& label, const std::string& value) {
  std::string line = "    " + label + " ";
  while (line.size() < 36) line += '.';
  out(line + " " + value);
}

// --- Checks ----------------------------------------------------------------------

class Checks {
 public:
  /// Record a check; prints "ok" or "FAILED" with the description.
  bool expect(bool condition, const std::string& what) {
    out(std::string(condition ? "    ok      " : "    FAILED  ") + what);
    if (!condition) failures_.push_back(what);
    ++count_;
    return condition;
  }
  std::size_t count() const { return count_; }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::size_t count_ = 0;
  std::vector<std::string> failures_;
};

// --- Leaves ----------------------------------------------------------------------

/// Leaf `i` of the demo (addressable: proofs are checked against it).
Node demo_leaf(std::uint64_t i) { return pseudo_random_leaf(0x5eed'0000'0000'0000ull, i); }

void fill_leaves(std::vector<Node>& buffer, std::uint64_t first, std::size_t count) {
  buffer.resize(count);
  for (std::size_t i = 0; i < count; ++i) buffer[i] = demo_leaf(first + i);
}

// --- Progress --------------------------------------------------------------------

/// A progress bar on a terminal; otherwise a plain line every tenth of the way.
class Progress {
 public:
  explicit Progress(std::uint64_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}
  void update(std::uint64_t done) {
    const double fraction = total_ ? static_cast<double>(done) / total_ : 1.0;
    const double elapsed = seconds_since(start_);
    const double per_second = elapsed > 0 ? done / elapsed : 0;
    if (tty_) {
      constexpr int width = 30;
      const int filled = static_cast<int>(fraction * width);
      std::string bar(filled, '#');
      bar.resize(width, '-');
      const double eta = per_second > 0 ? (total_ - done) / per_second : 0;
      std::fprintf(stderr, "\r    [%s] %3.0f%%  %s / %s leaves  %s  ETA %.0f s ", bar.c_str(), 100 * fraction,
                   grouped(done).c_str(), grouped(total_).c_str(), rate(per_second, "leaves").c_str(), eta);
      std::fflush(stderr);
      return;
    }
    const int tenth = static_cast<int>(fraction * 10);
    if (tenth > last_tenth_ || done == total_) {
      last_tenth_ = tenth;
      std::fprintf(stderr, "    loaded %s / %s leaves (%.0f%%), %s\n", grouped(done).c_str(), grouped(total_).c_str(),
                   100 * fraction, rate(per_second, "leaves").c_str());
    }
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\r%*s\r", 120, "");
  }

 private:
  std::uint64_t total_;
  bool tty_;
  Clock::time_point start_;
  int last_tenth_ = 0;
};

// --- Measurements ------------------------------------------------------------------

std::uint64_t directory_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

/// Resident set size of this process (/proc/self/statm), bytes.
std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// --- The demo --------------------------------------------------------------------------

struct Figures {
  double load_leaves_per_sec = 0;
  double checkpoint_seconds = 0;
  std::uint64_t checkpoint_bytes = 0;
  double proof_ns = 0, verify_ns = 0;
  std::uint64_t proofs = 0;
  unsigned depth = 0;
  std::size_t proof_binary_bytes = 0, proof_json_bytes = 0;
  double reopen_seconds = 0;
  double consistency_verify_ns = 0;
  std::size_t consistency_binary_bytes = 0;
  std::uint64_t final_size = 0;
  std::uint64_t disk_bytes = 0;
  std::uint64_t node_bytes = 0;
  std::uint64_t rss_bytes = 0;
};

/// The directory the demo works in; removed at the end unless kept.
class WorkDir {
 public:
  explicit WorkDir(const DemoOptions& options) {
    if (options.dir.empty()) {
      std::string pattern = (fs::temp_directory_path() / "rotortree-demo-XXXXXX").string();
      if (!mkdtemp(pattern.data())) throw Error(Errc::io_error, "cannot create a temporary directory in " + fs::temp_directory_path().string());
      path_ = pattern;
      created_ = true;
      return;
    }
    path_ = options.dir;
    std::error_code ec;
    if (fs::exists(path_, ec)) {
      if (!fs::is_directory(path_, ec))
        throw Error(Errc::invalid_argument, "--dir '" + path_ + "' exists and is not a directory");
      if (!fs::is_empty(path_, ec))
        throw Error(Errc::invalid_argument, "--dir '" + path_ +
                                                "' is not empty: the demo creates a new database and never "
                                                "touches existing files (give a new or empty directory)");
    } else {
      fs::create_directories(path_, ec);
      if (ec) throw Error(Errc::io_error, "cannot create '" + path_ + "': " + ec.message());
      created_ = true;
    }
  }
  const std::string& path() const { return path_; }
  /// Remove the demo's files (and the directory if the demo created it).
  void remove() {
    std::error_code ec;
    if (created_) {
      fs::remove_all(path_, ec);
    } else {
      for (const auto& entry : fs::directory_iterator(path_, ec)) fs::remove_all(entry.path(), ec);
    }
  }

 private:
  std::string path_;
  bool created_ = false;
};

int run_demo(const DemoOptions& options) {
  constexpr int kSteps = 7;
  Checks checks;
  Figures f;
  const auto demo_start = Clock::now();
  WorkDir work(options);
  const std::string& dir = work.path();
  const std::uint64_t L = options.leaves;

  out("rotortree demo: a durable N=4 BLAKE3 tree of " + grouped(L) + " leaves");
  out("    directory " + dir + (options.keep ? " (kept)" : " (removed at the end; --keep keeps it)"));
  out("    " + std::to_string(hardware_threads()) + " hardware threads, BLAKE3 kernel " + std::string(Blake3::kernel()));

  // 1. Create --------------------------------------------------------------------
  section(1, kSteps, "Create a database (RotorTree<Blake3, 4>, default DbConfig)");
  auto db = std::make_unique<Db>(dir, DbConfig{});
  out("    DbConfig{}: log group-committed every 10 ms, checkpoint on close, all levels in memory");
  row("files", "meta, LOCK, wal-000001.log");

  // 2. Bulk load ------------------------------------------------------------------------
  section(2, kSteps, "Bulk load: insert_many in batches of " + grouped(options.batch) + " (parallel hashing)");
  std::vector<Node> batch;
  double generate_seconds = 0, insert_seconds = 0;
  DurabilityToken last_token;
  Node last_root{};
  {
    Progress progress(L);
    const auto load_start = Clock::now();
    for (std::uint64_t done = 0; done < L;) {
      const std::size_t n = static_cast<std::size_t>(std::min(options.batch, L - done));
      const auto generate_start = Clock::now();
      fill_leaves(batch, done, n);
      generate_seconds += seconds_since(generate_start);
      const auto insert_start = Clock::now();
      auto result = db->insert_many(batch);
      insert_seconds += seconds_since(insert_start);
      last_token = result.token;
      last_root = result.root;
      done += n;
      progress.update(done);
    }
    progress.finish();
    const auto wait_start = Clock::now();
    last_token.wait();  // every earlier entry is durable too: the log is written in order
    const double wait_seconds = seconds_since(wait_start);
    const double load_seconds = seconds_since(load_start) - generate_seconds;
    f.load_leaves_per_sec = L / load_seconds;
    row("leaves inserted", grouped(db->size()) + " (depth " + std::to_string(db->depth()) + ")");
    row("insert_many calls", duration_text(insert_seconds) + " (" + rate(L / insert_seconds, "leaves") + ")");
    row("last log flush (fdatasync)", duration_text(wait_seconds));
    row("durable load", duration_text(load_seconds) + " = " + rate(f.load_leaves_per_sec, "leaves") +
                            " (leaf generation, " + duration_text(generate_seconds) + ", excluded)");
    const std::uint64_t log_bytes = db->info().log_bytes;
    row("write-ahead log", bytes_text(log_bytes) + " written at " +
                               format("%.0f MiB/s", log_bytes / load_seconds / (1 << 20)));
    row("root", to_hex(last_root));
  }
  checks.expect(db->size() == L, "the database holds all " + grouped(L) + " leaves");
  checks.expect(db->root() == last_root, "its root is the root returned by the last insert_many");
  batch.clear();
  batch.shrink_to_fit();

  // 3. Checkpoint --------------------------------------------------------------------
  section(3, kSteps, "Checkpoint: full chunks to data files, the log truncated");
  {
    const auto start = Clock::now();
    db->checkpoint();
    f.checkpoint_seconds = seconds_since(start);
    const DbInfo info = db->info();
    f.checkpoint_bytes = info.data_bytes;
    row("checkpoint", duration_text(f.checkpoint_seconds));
    row("data files", bytes_text(info.data_bytes) + " (" + format("%.1f", double(info.data_bytes) / L) + " bytes/leaf)");
    row("log after checkpoint", bytes_text(info.log_bytes));
    checks.expect(info.checkpoint_size == L, "the checkpoint covers all " + grouped(L) + " leaves");
  }

  // 4. Proofs ---------------------------------------------------------------------------
  const std::uint64_t proof_count = std::min<std::uint64_t>(100'000, std::max<std::uint64_t>(L, 1));
  section(4, kSteps, "Inclusion proofs of " + grouped(proof_count) + " random leaves, from a snapshot");
  // The snapshot co-owns the tree's storage: it lives only for this step.
  auto snapshot = std::make_optional(db->snapshot());
  const Node root = *snapshot->root();
  f.depth = snapshot->depth();
  std::mt19937_64 random(2024);
  std::vector<std::uint64_t> indices(proof_count);
  for (auto& index : indices) index = random() % L;
  // The last `kept` proofs stay for verification (and for step 6).
  const std::size_t kept = static_cast<std::size_t>(std::min<std::uint64_t>(proof_count, 20'000));
  std::vector<InclusionProof> proofs(kept);
  {
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < proof_count; ++i) proofs[i % kept] = snapshot->prove(indices[i]);
    f.proof_ns = seconds_since(start) * 1e9 / proof_count;
  }
  snapshot.reset();
  std::size_t valid = 0;
  {
    const auto start = Clock::now();
    for (const InclusionProof& proof : proofs) valid += verify(proof, root).valid;
    f.verify_ns = seconds_since(start) * 1e9 / kept;
  }
  f.proofs = proof_count;
  std::size_t right_leaf = 0;
  for (const InclusionProof& proof : proofs) right_leaf += proof.leaf == demo_leaf(proof.leaf_index);
  f.proof_binary_bytes = to_binary(proofs[0]).size();
  f.proof_json_bytes = to_json(proofs[0]).size();
  row("generate", format("%.0f ns", f.proof_ns) + " per proof (" + std::to_string(f.depth) + " levels, " +
                      std::to_string(proofs[0].path.siblings.size()) + " siblings)");
  row("verify", format("%.0f ns", f.verify_ns) + " per proof (" + grouped(kept) + " verified)");
  row("size of one proof", std::to_string(f.proof_binary_bytes) + " bytes binary, " +
                               std::to_string(f.proof_json_bytes) + " bytes JSON");
  checks.expect(valid == kept, grouped(valid) + " of " + grouped(kept) + " proofs verify against the root");
  checks.expect(right_leaf == kept, "every proof carries the leaf that was inserted at its index");
  {
    InclusionProof forged = proofs[0];
    forged.leaf[0] ^= 1;
    checks.expect(!verify(forged, root).valid, "a proof with one bit of its leaf flipped is rejected");
  }

  // 5. Close and reopen -------------------------------------------------------------------
  section(5, kSteps, "Close and reopen: recovery from the checkpoint and the log");
  const std::uint64_t old_size = db->size();
  const Node old_root = *db->root();
  {
    const auto start = Clock::now();
    db->close();
    db.reset();
    row("close", duration_text(seconds_since(start)));
  }
  // Forget cached memory so the reopen starts like a new process would.
  memory::trim_slab_cache();
  {
    const auto start = Clock::now();
    db = std::make_unique<Db>(dir, DbConfig{});
    f.reopen_seconds = seconds_since(start);
  }
  f.node_bytes = memory::bytes_in_use();
  f.rss_bytes = resident_bytes();
  row("reopen (recovery)", duration_text(f.reopen_seconds) + " (" + bytes_text(db->info().data_bytes) +
                               " of data files read, nothing to replay)");
  row("nodes in memory", bytes_text(f.node_bytes) + " (" + format("%.1f", double(f.node_bytes) / L) +
                             " bytes/leaf; process RSS " + bytes_text(f.rss_bytes) + ")");
  checks.expect(db->size() == old_size, "the reopened database holds " + grouped(old_size) + " leaves");
  checks.expect(db->root() == old_root, "its root is unchanged: " + short_hex(old_root));

  // 6. Grow, consistency proof, proof update ---------------------------------------------------
  const std::uint64_t more = std::max<std::uint64_t>(1, std::min<std::uint64_t>(L / 100, 100'000));
  const std::uint64_t singles = 100;
  section(6, kSteps, "Grow by " + grouped(more + singles) + " leaves; a consistency proof from the old state");
  {
    std::vector<Node> extra;
    fill_leaves(extra, old_size, static_cast<std::size_t>(more));
    const auto batch_start = Clock::now();
    db->insert_many(extra).token.wait();
    row("insert_many + wait", grouped(more) + " leaves, " + duration_text(seconds_since(batch_start)));
    DurabilityToken token;
    std::vector<double> latency(singles);
    for (std::uint64_t i = 0; i < singles; ++i) {
      const Node leaf = demo_leaf(old_size + more + i);
      const auto start = Clock::now();
      token = db->insert(leaf).token;
      latency[i] = seconds_since(start);
    }
    std::sort(latency.begin(), latency.end());
    const auto wait_start = Clock::now();
    token.wait();
    row("single inserts", std::to_string(singles) + ", median " + format("%.1f us", latency[singles / 2] * 1e6) +
                              ", max " + format("%.1f us", latency.back() * 1e6) +
                              "; then one group commit: " + duration_text(seconds_since(wait_start)));
  }
  const auto grown = db->snapshot();
  const Node new_root = *grown.root();
  f.final_size = grown.size();
  row("old state", grouped(old_size) + " leaves, root " + short_hex(old_root));
  row("new state", grouped(grown.size()) + " leaves, root " + short_hex(new_root));
  checks.expect(grown.size() == old_size + more + singles, "the tree grew by " + grouped(more + singles) + " leaves");
  {
    const ConsistencyProof consistency = grown.consistency(old_size, old_root);
    const std::vector<std::uint8_t> wire = to_binary(consistency);
    f.consistency_binary_bytes = wire.size();
    // The client side: decode, verify against the root it trusted before.
    const ConsistencyProof received = consistency_from_binary(wire);
    const int rounds = 10'000;
    std::size_t ok = 0;
    const auto start = Clock::now();
    for (int i = 0; i < rounds; ++i) ok += verify(received, old_root).valid;
    f.consistency_verify_ns = seconds_since(start) * 1e9 / rounds;
    row("consistency proof", std::to_string(wire.size()) + " bytes binary, verified in " +
                                 format("%.0f ns", f.consistency_verify_ns));
    checks.expect(ok == static_cast<std::size_t>(rounds) && received.new_root == new_root,
                  "it verifies against the trusted old root and yields the new root");
    std::vector<std::uint8_t> tampered = wire;
    tampered[tampered.size() / 2] ^= 0x40;
    bool rejected = true;
    try {
      rejected = !verify(consistency_from_binary(tampered), old_root).valid;
    } catch (const Error&) {
      rejected = true;  // malformed: rejected before verification
    }
    checks.expect(rejected, "the same proof with one byte altered is rejected");
    // An inclusion proof held since step 4, brought up to date without the server.
    const InclusionProof& held = proofs[0];
    const InclusionProof updated = update_inclusion_proof(held, consistency);
    row("updated proof", "leaf " + grouped(held.leaf_index) + ": " + grouped(held.tree_size) + " -> " + grouped(updated.tree_size) +
                             " leaves, without asking the server");
    checks.expect(verify(updated, new_root).valid, "an old inclusion proof, updated with it, verifies against the new root");
    checks.expect(updated == grown.prove(held.leaf_index), "and equals a fresh proof from the new tree");
  }

  // 7. Close --------------------------------------------------------------------------------------
  section(7, kSteps, "Close (checkpoint on close) and measure the files");
  {
    const auto start = Clock::now();
    db->close();
    db.reset();
    row("close", duration_text(seconds_since(start)));
    f.disk_bytes = directory_bytes(dir);
    row("on disk", bytes_text(f.disk_bytes) + " in " + dir);
  }

  // Summary ------------------------------------------------------------------------------------------
  const double total_seconds = seconds_since(demo_start);
  out("");
  out("Summary (" + grouped(L) + " leaves, N=4, BLAKE3, " + std::to_string(hardware_threads()) + " threads)");
  out("    | figure                  | value");
  out("    |-------------------------|-------------------------");
  auto table = [](const std::string& name, const std::string& value) {
    std::string line = "    | " + name;
    while (line.size() < 30) line += ' ';
    out(line + "| " + value);
  };
  table("bulk load, durable", rate(f.load_leaves_per_sec, "leaves"));
  table("checkpoint", duration_text(f.checkpoint_seconds) + ", " + bytes_text(f.checkpoint_bytes));
  table("inclusion proof", format("%.0f ns", f.proof_ns) + " (" + std::to_string(f.proof_binary_bytes) + " B)");
  table("verify", format("%.0f ns", f.verify_ns));
  table("consistency verify", format("%.0f ns", f.consistency_verify_ns) + " (" +
                                  std::to_string(f.consistency_binary_bytes) + " B)");
  table("reopen (recovery)", format("%.1f ms", f.reopen_seconds * 1e3));
  table("disk bytes per leaf", format("%.1f", double(f.disk_bytes) / f.final_size));
  table("resident bytes per leaf", format("%.1f", double(f.node_bytes) / old_size) + " (tree nodes)");
  table("total time", duration_text(total_seconds));

  const bool passed = checks.failures().empty();
  out("");
  if (passed) {
    out("All " + std::to_string(checks.count()) + " checks passed.");
  } else {
    out(std::to_string(checks.failures().size()) + " of " + std::to_string(checks.count()) + " checks FAILED:");
    for (const auto& failure : checks.failures()) out("    " + failure);
  }
  if (options.keep || !passed) {
    out("The database is kept in " + dir + ": try `rotortree info " + dir + "`.");
  } else {
    work.remove();
  }
  return passed ? 0 : 1;
}

}  // namespace

void register_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo", "A one-minute tour: bulk load, checkpoint, proofs, reopen, consistency (a durable N=4 BLAKE3 database)");
  demo->add_option("--dir", options->dir, "New or empty directory for the database (default: a fresh one under /tmp)")
      ->type_name("DIR");
  demo->add_option("--leaves", options->leaves, "Leaves to bulk load")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1000}, std::uint64_t{1} << 32));
  demo->add_option("--batch", options->batch, "Leaves per insert_many call")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 21));
  demo->add_flag("--keep", options->keep, "Keep the database directory at the end");
  demo->callback([options] {
    const int code = run_demo(*options);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace rotortree::cli
