// Database tests: roundtrip, crash at every injection point, torn tails,
// corruption at every byte, ENOSPC/EIO, the directory lock.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "fault_injection_env.hpp"
#include "db/files.hpp"
#include "db/format.hpp"
#include "db/log_reader.hpp"
#include "db/log_writer.hpp"
#include "rotortree/db.hpp"

using namespace rotortree;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t A = 2;  // small chunks (8 KiB) keep the byte-by-byte tests short
using Db = RotorTree<Blake3, A>;
using Model = LeanIMT<Blake3, A>;

std::vector<Node> make_leaves(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Node> leaves(n);
  for (auto& leaf : leaves)
    for (auto& b : leaf) b = static_cast<std::uint8_t>(rng());
  return leaves;
}

// The data files of `files` as meta versions 1..3 had them: no header, `.bin`.
void strip_data_headers(std::map<std::string, std::vector<std::uint8_t>>& files) {
  std::map<std::string, std::vector<std::uint8_t>> out;
  for (auto& [name, bytes] : files) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".dat") == 0 && name.find("/data-L") != std::string::npos)
      out[name.substr(0, name.size() - 4) + ".bin"].assign(bytes.begin() + db::kDataHeaderBytes, bytes.end());
    else
      out[name] = std::move(bytes);
  }
  files = std::move(out);
}

Node model_root(const std::vector<Node>& leaves, std::uint64_t size) {
  if (size == 1) return leaves[0];
  Model model(TreeOptions{.threads = 1});
  model.insert_many(std::span<const Node>(leaves.data(), size));
  return *model.root();
}

DbConfig test_config(db::Env* env) {
  DbConfig config;
  config.env = env;
  config.flush = flush::Manual{};
  config.checkpoint = checkpoint::Manual{};
  config.tree.threads = 1;
  return config;
}

// The batches every scenario inserts: singles and batches, crossing chunks.
const std::vector<std::size_t> kBatches = {1, 7, 300, 1, 1, 600, 50, 1, 900, 3};
std::size_t total_leaves() {
  std::size_t t = 0;
  for (auto b : kBatches) t += b;
  return t;
}

/// Check a reopened database against the model: size >= acked, root = model prefix.
void expect_consistent(db::Env* env, const std::string& dir, const std::vector<Node>& leaves, std::uint64_t acked,
                       DbConfig config) {
  config.env = env;
  Db db(dir, config);
  ASSERT_GE(db.size(), acked);
  ASSERT_LE(db.size(), leaves.size());
  if (db.size() > 0) {
    ASSERT_EQ(*db.root(), model_root(leaves, db.size())) << "size " << db.size();
    // proofs read checkpointed (possibly mapped) chunks too
    auto proof = db.prove(db.size() / 2);
    EXPECT_EQ(proof.leaf, leaves[db.size() / 2]);
  }
}

/// Run the standard workload; returns the acknowledged size (tokens waited).
std::uint64_t run_workload(db::Env* env, const std::string& dir, const std::vector<Node>& leaves, DbConfig config,
                           db::FaultInjectionEnv* fault = nullptr, std::uint64_t fail_k = 0,
                           db::FaultInjectionEnv::Fault kind = db::FaultInjectionEnv::Fault::crash) {
  config.env = env;
  std::uint64_t acked = 0;
  if (fault && fail_k) fault->fail_at(fail_k, kind);
  try {
    Db db(dir, config);
    std::size_t offset = 0;
    for (std::size_t b : kBatches) {
      auto result = b == 1 ? db.insert(leaves[offset]) : db.insert_many({leaves.data() + offset, b});
      offset += b;
      result.token.wait();
      acked = offset;
      EXPECT_EQ(result.root, model_root(leaves, offset));
    }
    db.close();
  } catch (const Error& e) {
    const auto code = e.code();
    EXPECT_TRUE(code == Errc::io_error || code == Errc::no_space || code == Errc::poisoned) << e.what();
  }
  return acked;
}

}  // namespace

TEST(Db, Crc32cKnownValue) {
  const char* text = "123456789";
  EXPECT_EQ(db::crc32c(reinterpret_cast<const std::uint8_t*>(text), 9), 0xE3069283u);
}

TEST(Db, RoundtripPosix) {
  const auto dir = fs::temp_directory_path() / ("rotortree-db-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto leaves = make_leaves(total_leaves(), 1);
  for (unsigned pin : {0u, 1u, 40u}) {
    fs::remove_all(dir);
    DbConfig config = test_config(nullptr);
    config.pin_above_level = pin;
    config.checkpoint = checkpoint::EveryNEntries{3};
    config.flush = flush::Interval{std::chrono::milliseconds(1)};
    std::uint64_t acked = run_workload(db::Env::posix(), dir, leaves, config);
    ASSERT_EQ(acked, leaves.size());
    config.verify_on_open = true;
    expect_consistent(db::Env::posix(), dir, leaves, acked, config);
    // A snapshot outlives the database and tiering.
    Db db(dir, config);
    auto snap = db.snapshot();
    db.insert_many_durable(make_leaves(1000, 9));
    db.checkpoint();
    db.close();
    EXPECT_EQ(*snap.root(), model_root(leaves, leaves.size()));
  }
  fs::remove_all(dir);
}

// verify_on_open over memory-mapped levels, hashed on two threads: a flipped
// byte in any node of any data file is found, and reported at the right node.
TEST(Db, VerifyFindsCorruptionInEveryMappedLevel) {
  const auto dir = fs::temp_directory_path() / ("rotortree-verify-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto leaves = make_leaves(40000, 11);  // 156 full chunks of leaves: the parallel path
  DbConfig config = test_config(nullptr);
  config.tree.threads = 2;
  {
    Db db(dir, config);
    db.insert_many(leaves);
    db.checkpoint();
  }
  config.pin_above_level = 33;
  config.verify_on_open = true;
  config.read_only = true;
  unsigned levels_checked = 0;
  for (unsigned level = 0;; ++level) {
    const fs::path file = dir / db::data_name(level, 0);
    if (!fs::exists(file)) break;
    const std::uint64_t nodes = (fs::file_size(file) - db::kDataHeaderBytes) / sizeof(Node);
    for (std::uint64_t node : {std::uint64_t{0}, nodes / 2 + 3, nodes - 1}) {
      const auto at = static_cast<std::streamoff>(db::kDataHeaderBytes + node * sizeof(Node) + 17);
      std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
      stream.seekg(at);
      const char original = static_cast<char>(stream.get());
      stream.seekp(at);
      stream.put(static_cast<char>(original ^ 0x20));
      stream.close();
      // A damaged leaf shows in its parent; a damaged inner node in itself.
      const std::string where = level == 0 ? "node " + std::to_string(node / A) + " of level 1 "
                                           : "node " + std::to_string(node) + " of level " + std::to_string(level) + " ";
      try {
        Db db(dir, config);
        ADD_FAILURE() << "level " << level << " node " << node << ": corruption not found";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::corruption) << e.what();
        EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << where << "| " << e.what();
      }
      stream.open(file, std::ios::in | std::ios::out | std::ios::binary);
      stream.seekp(at);
      stream.put(original);
    }
    ++levels_checked;
  }
  EXPECT_GE(levels_checked, 7u);
  {
    Db db(dir, config);  // undamaged again: verifies
    EXPECT_EQ(*db.root(), model_root(leaves, leaves.size()));
  }
  fs::remove_all(dir);
}

TEST(Db, ParameterMismatchAndLock) {
  db::FaultInjectionEnv env;
  DbConfig config = test_config(&env);
  {
    Db db("/d", config);
    EXPECT_THROW({ Db second("/d", config); }, Error);
    try {
      Db second("/d", config);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::locked);
    }
  }
  try {
    Db db("/d", tree_params<Blake3, A>(NodeHash::tagged), config);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::parameter_mismatch);
    EXPECT_NE(std::string(e.what()).find("node hash"), std::string::npos);
  }
  try {
    RotorTree<Blake3, 4> db("/d", test_config(&env));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::parameter_mismatch);
    EXPECT_NE(std::string(e.what()).find("arity"), std::string::npos);
  }
}

TEST(Db, LockAcrossProcesses) {
  const auto dir = fs::temp_directory_path() / ("rotortree-lock-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Db db(dir, test_config(nullptr));
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      Db other(dir, test_config(nullptr));
      std::_Exit(1);
    } catch (const Error& e) {
      std::_Exit(e.code() == Errc::locked ? 0 : 2);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  db.close();
  fs::remove_all(dir);
}


// Read-only opens take no lock: while a writer appends, flushes and
// checkpoints (replacing meta, removing logs), every reader sees a whole
// number of batches holding at least what was acknowledged before it opened,
// with exactly the root of that prefix.
TEST(Db, ReadersOpenWhileAWriterAppendsAndCheckpoints) {
  const auto dir = fs::temp_directory_path() / ("rotortree-readers-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::mt19937_64 rng(21);
  std::vector<std::size_t> batches;
  std::size_t total = 0;
  while (total < 400000) {
    batches.push_back(rng() % 4 == 0 ? 1 : 1 + rng() % 3000);
    total += batches.back();
  }
  const auto leaves = make_leaves(total, 22);
  std::map<std::uint64_t, Node> root_at;  // the root at every batch boundary
  {
    Model model(TreeOptions{.threads = 1});
    std::uint64_t at = 0;
    for (std::size_t b : batches) {
      model.insert_many(std::span<const Node>(leaves.data() + at, b));
      at += b;
      root_at[at] = *model.root();
    }
  }
  DbConfig writer_config = test_config(nullptr);
  writer_config.flush = flush::Interval{std::chrono::milliseconds(1)};
  writer_config.checkpoint = checkpoint::EveryNEntries{8};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<bool> done{false};
  {
    Db writer(dir, writer_config);
    std::thread writing([&] {
      std::uint64_t at = 0;
      for (std::size_t b : batches) {
        auto result = writer.insert_many(std::span<const Node>(leaves.data() + at, b));
        at += b;
        result.token.wait();
        acked.store(at);
      }
      done.store(true);
    });
    DbConfig reader_config = test_config(nullptr);
    reader_config.read_only = true;
    unsigned reads = 0, nonempty = 0;
    while (!done.load() || reads < 5) {
      const std::uint64_t before = acked.load();
      Db reader(dir, reader_config);
      const std::uint64_t size = reader.size();
      ASSERT_GE(size, before);
      if (size > 0) {
        ASSERT_TRUE(root_at.count(size)) << "size " << size << " is not a batch boundary";
        ASSERT_EQ(*reader.root(), root_at[size]) << "size " << size;
        const InclusionProof proof = reader.prove(size / 2);
        ASSERT_TRUE(verify(proof, root_at[size]).valid);
        ++nonempty;
      }
      EXPECT_THROW(reader.insert(leaves[0]), Error);  // read-only
      ++reads;
    }
    writing.join();
    EXPECT_GE(nonempty, 3u);
  }
  DbConfig reader_config = test_config(nullptr);
  reader_config.read_only = true;
  Db reader(dir, reader_config);
  EXPECT_EQ(reader.size(), total);
  EXPECT_EQ(*reader.root(), root_at[total]);
  reader.close();
  fs::remove_all(dir);
  // A reader creates nothing: a missing database is an error, not a new directory.
  EXPECT_THROW({ Db missing(dir, reader_config); }, Error);
  EXPECT_FALSE(fs::exists(dir));
}
TEST(Db, BatchTooLargeForOneFrameIsSplit) {
  db::FaultInjectionEnv env;
  const auto leaves = make_leaves((db::kMaxFramePayload / 32) + 5, 3);
  {
    Db db("/big", test_config(&env));
    db.insert_many_durable(leaves);
  }
  Db db("/big", test_config(&env));
  EXPECT_EQ(db.size(), leaves.size());
  EXPECT_EQ(*db.root(), model_root(leaves, leaves.size()));
}

class CrashPoints : public ::testing::TestWithParam<int> {};

// Crash at every counted operation of a workload with checkpoints and tiering;
// after the crash unsynced data is dropped (or torn), and recovery must give
// at least every acknowledged leaf and exactly the model's root.
TEST_P(CrashPoints, EveryInjectionPoint) {
  const auto leaves = make_leaves(total_leaves(), 2);
  DbConfig config = test_config(nullptr);
  config.pin_above_level = GetParam() == 0 ? 0 : 2;
  config.checkpoint = GetParam() == 2 ? CheckpointPolicy{checkpoint::OnClose{}} : CheckpointPolicy{checkpoint::EveryNEntries{3}};
  std::uint64_t total_ops;
  {
    db::FaultInjectionEnv env;
    ASSERT_EQ(run_workload(&env, "/c", leaves, config), leaves.size());
    total_ops = env.operations();
  }
  ASSERT_GT(total_ops, 10u);
  for (std::uint64_t k = 1; k <= total_ops + 1; ++k) {
    for (std::uint64_t torn : {0, 1}) {
      db::FaultInjectionEnv env;
      const std::uint64_t acked = run_workload(&env, "/c", leaves, config, &env, k);
      env.crash(torn ? k * 7919 : 0);
      SCOPED_TRACE("crash at operation " + std::to_string(k) + (torn ? " (torn)" : ""));
      ASSERT_NO_FATAL_FAILURE(expect_consistent(&env, "/c", leaves, acked, config));
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Db, CrashPoints, ::testing::Values(0, 1, 2));

// ENOSPC, EIO and short writes at every point: the error surfaces, the
// database then refuses writes, and nothing acknowledged is lost.
TEST(Db, WriteErrorsAtEveryPoint) {
  const auto leaves = make_leaves(total_leaves(), 4);
  DbConfig config = test_config(nullptr);
  config.checkpoint = checkpoint::EveryNEntries{4};
  config.pin_above_level = 1;
  std::uint64_t total_ops;
  {
    db::FaultInjectionEnv env;
    run_workload(&env, "/e", leaves, config);
    total_ops = env.operations();
  }
  using F = db::FaultInjectionEnv::Fault;
  for (F kind : {F::no_space, F::io_error, F::short_write}) {
    for (std::uint64_t k = 1; k <= total_ops; ++k) {
      db::FaultInjectionEnv env;
      config.env = &env;
      std::uint64_t acked = 0;
      bool failed = false;
      {
        env.fail_at(k, kind);
        std::unique_ptr<Db> db;
        try {
          db = std::make_unique<Db>("/e", config);
        } catch (const Error& e) {
          EXPECT_TRUE(e.code() == Errc::io_error || e.code() == Errc::no_space) << e.what();
          continue;
        }
        std::size_t offset = 0;
        for (std::size_t b : kBatches) {
          try {
            auto r = db->insert_many({leaves.data() + offset, b});
            offset += b;
            r.token.wait();
            EXPECT_FALSE(failed) << "acknowledged after a failure";
            acked = offset;
          } catch (const Error& e) {
            if (!failed) EXPECT_TRUE(e.code() == Errc::io_error || e.code() == Errc::no_space) << e.what();
            failed = true;
          }
        }
        if (failed) {
          try {
            db->insert(leaves[0]);
            ADD_FAILURE() << "insert accepted after a failure";
          } catch (const Error& e) {
            EXPECT_TRUE(e.code() == Errc::poisoned || e.code() == Errc::io_error || e.code() == Errc::no_space);
          }
        }
      }
      env.crash(0);
      SCOPED_TRACE("fault at operation " + std::to_string(k));
      ASSERT_NO_FATAL_FAILURE(expect_consistent(&env, "/e", leaves, acked, test_config(nullptr)));
    }
  }
}

namespace {
// Files of a database built by the workload (log only, or with a checkpoint).
std::map<std::string, std::vector<std::uint8_t>> build_files(bool with_checkpoint, const std::vector<Node>& leaves) {
  db::FaultInjectionEnv env;
  DbConfig config = test_config(&env);
  config.checkpoint = with_checkpoint ? CheckpointPolicy{checkpoint::EveryNEntries{6}} : CheckpointPolicy{checkpoint::Manual{}};
  EXPECT_EQ(run_workload(&env, "/k", leaves, config), leaves.size());
  std::map<std::string, std::vector<std::uint8_t>> files;
  for (const auto& name : env.all_files()) files[name] = env.contents(name);
  return files;
}
void install(db::FaultInjectionEnv& env, const std::map<std::string, std::vector<std::uint8_t>>& files) {
  for (const auto& [name, bytes] : files) {
    auto f = env.open(name, db::OpenMode::create_truncate);
    f->write_at(0, bytes);
    f->sync();
  }
  env.sync_dir("/k");
}
}  // namespace

// Without verify_on_open, the chunks read into memory are checked against the
// checksums in meta: a flipped byte anywhere in a data file is refused with the
// file and offset, never served. (Mapped chunks are verify_on_open's job.)
TEST(Db, DataFileCorruptionRefusedWithoutVerification) {
  const auto leaves = make_leaves(total_leaves(), 5);
  const auto files = build_files(true, leaves);
  unsigned data_files = 0;
  for (const auto& [name, bytes] : files) {
    if (name.find("/data-") == std::string::npos) continue;
    ++data_files;
    for (std::size_t pos = 0; pos < bytes.size(); pos += 3) {
      db::FaultInjectionEnv env;
      auto damaged = files;
      damaged[name][pos] ^= 0x01;
      install(env, damaged);
      DbConfig config = test_config(&env);
      config.read_only = true;
      try {
        Db db("/k", config);
        FAIL() << name << " byte " << pos << ": opened with a damaged data file";
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), Errc::corruption) << name << " byte " << pos << ": " << e.what();
        // In the header: the file is named; in a chunk: the chunk's offset too.
        const std::size_t header = db::kDataHeaderBytes;
        const std::string chunk_offset =
            pos < header ? "at byte offset " : "at byte offset " + std::to_string(header + (pos - header) / (A * 4096) * (A * 4096)) + ":";
        ASSERT_NE(std::string(e.what()).find(name + " " + chunk_offset), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_GE(data_files, 2u);
}

// The same on the parallel load (two threads, work units of 1 MiB): of two
// damaged chunks the lower one is reported, whichever unit finds its own first.
TEST(Db, ParallelLoadReportsTheFirstDamagedChunk) {
  const auto dir = fs::temp_directory_path() / ("rotortree-load-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto leaves = make_leaves(300000, 12);  // level 0: 1171 full chunks of 8 KiB
  DbConfig config = test_config(nullptr);
  config.tree.threads = 2;
  {
    Db db(dir, config);
    db.insert_many(leaves);
    db.checkpoint();
  }
  const fs::path file = dir / db::data_name(0, 0);
  constexpr std::uint64_t kChunk = A * 4096;
  auto flip = [&](std::uint64_t offset) {
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekg(static_cast<std::streamoff>(offset));
    const char c = static_cast<char>(stream.get());
    stream.seekp(static_cast<std::streamoff>(offset));
    stream.put(static_cast<char>(c ^ 0x04));
  };
  {
    Db db(dir, config);
    EXPECT_EQ(*db.root(), model_root(leaves, leaves.size()));
  }
  flip(db::kDataHeaderBytes + 1100 * kChunk + 77);
  flip(db::kDataHeaderBytes + 300 * kChunk + 5);
  for (int attempt = 0; attempt < 5; ++attempt) {
    try {
      Db db(dir, config);
      FAIL() << "opened with damaged chunks";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::corruption);
      EXPECT_NE(std::string(e.what()).find("at byte offset " + std::to_string(db::kDataHeaderBytes + 300 * kChunk) + ": checksum mismatch in chunk 300 of level 0"),
                std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

// A version-1 meta (no chunk checksums) still opens; the next checkpoint
// writes version 2, whose checksums then catch damage.
TEST(Db, VersionOneMetaOpensAndIsUpgraded) {
  const auto leaves = make_leaves(total_leaves(), 5);
  auto files = build_files(true, leaves);
  auto& meta = files.at("/k/meta");
  // Strip the checksum table: it sits between the tails and the record's CRC.
  db::Meta decoded = db::decode_meta(meta, "meta");
  std::size_t table = 0;
  for (const auto& level : decoded.chunk_crcs) table += level.size() * 4;
  ASSERT_GT(table, 0u);
  // The version-1 layout (no identity, no extension area, no checksum table).
  decoded.version = 1;
  decoded.db_id = {};
  meta = db::encode_meta(decoded);
  ASSERT_EQ(meta[8], 1);
  ASSERT_TRUE(db::decode_meta(meta, "meta").chunk_crcs.empty());
  strip_data_headers(files);
  db::FaultInjectionEnv env;
  install(env, files);
  const auto more = make_leaves(3000, 6);
  std::vector<Node> all = leaves;
  all.insert(all.end(), more.begin(), more.end());
  {
    Db db("/k", test_config(&env));
    ASSERT_EQ(*db.root(), model_root(leaves, leaves.size()));
    db.insert_many(more);
    db.checkpoint();
  }
  const db::Meta upgraded = db::decode_meta(env.contents("/k/meta"), "meta");
  ASSERT_EQ(upgraded.chunk_crcs.size(), upgraded.tails.size());
  Db db("/k", test_config(&env));
  EXPECT_EQ(*db.root(), model_root(all, all.size()));
  db.close();
  // Damage in a chunk the version-1 checkpoint wrote is now caught (the
  // upgrade rewrote it into a data file with a header).
  EXPECT_FALSE(env.exists("/k/data-L00-000000.bin"));
  auto damaged = env.contents("/k/data-L00-000000.dat");
  damaged[db::kDataHeaderBytes + 100] ^= 0x01;
  auto handle = env.open("/k/data-L00-000000.dat", db::OpenMode::create_truncate);
  handle->write_at(0, damaged);
  handle->sync();
  try {
    Db reopened("/k", test_config(&env));
    FAIL() << "opened with a damaged data file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corruption) << e.what();
  }
}

// Flip every byte of every file: recovery gives the full acknowledged tree
// or refuses with Errc::corruption naming the file; never a wrong root.
TEST(Db, CorruptionAtEveryByte) {
  const auto leaves = make_leaves(total_leaves(), 5);
  const Node full_root = model_root(leaves, leaves.size());
  for (bool with_checkpoint : {false, true}) {
    const auto files = build_files(with_checkpoint, leaves);
    for (const auto& [name, bytes] : files) {
      if (name.ends_with("LOCK")) continue;
      const std::size_t step = bytes.size() > 20000 ? 7 : 1;  // data files: every 7th byte
      for (std::size_t pos = 0; pos < bytes.size(); pos += step) {
        db::FaultInjectionEnv env;
        auto damaged = files;
        damaged[name][pos] ^= 0x5a;
        install(env, damaged);
        DbConfig config = test_config(&env);
        config.verify_on_open = true;
        config.read_only = true;
        try {
          Db db("/k", config);
          ASSERT_EQ(db.size(), leaves.size()) << name << " byte " << pos;
          ASSERT_EQ(*db.root(), full_root) << name << " byte " << pos;
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), Errc::corruption) << name << " byte " << pos << ": " << e.what();
          ASSERT_NE(std::string(e.what()).find("/k"), std::string::npos) << e.what();
        }
      }
    }
  }
}

// The log is written in whole 4096-byte blocks (FaultInjectionEnv demands
// aligned direct writes): every flush rewrites the partial last block and pads
// with zeros; reopening continues at the end of the last frame, over the
// padding, across several sessions and a crash that tears the last flush.
TEST(Db, DirectLogPaddingAcrossReopens) {
  const auto leaves = make_leaves(3000, 8);
  const std::string log = "/p/wal-000001.log";
  db::FaultInjectionEnv env;
  std::size_t offset = 0;
  for (std::size_t session = 0; session < 4; ++session) {
    auto db = std::make_unique<Db>("/p", test_config(&env));
    ASSERT_EQ(db->size(), offset);
    for (std::size_t b : {std::size_t{1}, std::size_t{5}, std::size_t{130}, std::size_t{1}}) {
      db->insert_many({leaves.data() + offset, b}).token.wait();
      offset += b;
      const auto& bytes = env.contents(log);
      ASSERT_EQ(bytes.size() % 4096, 0u) << "session " << session;
      ASSERT_EQ(bytes.back(), 0) << "padding ends the file";
    }
    if (session == 2) {  // an unacknowledged flush: written, then the process dies before its fdatasync
      db->insert_many({leaves.data() + offset, 200});
      env.fail_at(2, db::FaultInjectionEnv::Fault::crash);
      EXPECT_THROW(db->flush(), Error);
      db.reset();  // everything it tries now fails, as in a dead process
      env.crash(/*torn_seed=*/17);  // keeps a random prefix of the unsynced write
      continue;  // `offset` stays the acknowledged size
    }
    db->close();
  }
  Db db("/p", test_config(&env));
  ASSERT_GE(db.size(), offset);
  ASSERT_LE(db.size(), offset + 200);
  EXPECT_EQ(*db.root(), model_root(leaves, db.size()));
}

// A log cut at every length: the torn tail is dropped and everything before
// it that is complete is replayed.
TEST(Db, TornTailAtEveryLength) {
  const auto leaves = make_leaves(total_leaves(), 6);
  const auto files = build_files(false, leaves);
  const std::string log = "/k/wal-000001.log";
  const auto& bytes = files.at(log);
  std::uint64_t last_size = 0;
  for (std::size_t cut = 0; cut <= bytes.size(); cut += (cut < 200 || cut + 200 > bytes.size()) ? 1 : 5) {
    db::FaultInjectionEnv env;
    auto damaged = files;
    damaged[log].resize(cut);
    install(env, damaged);
    if (cut < db::kWalHeaderBytes) {  // the log meta names, cut inside its header: damage (issue 9)
      EXPECT_THROW(Db("/k", test_config(&env)), Error) << "cut " << cut;
      continue;
    }
    Db db("/k", test_config(&env));
    ASSERT_GE(db.size(), last_size) << "cut " << cut;
    last_size = db.size();
    if (db.size() > 0) ASSERT_EQ(*db.root(), model_root(leaves, db.size())) << "cut " << cut;
    // and the database accepts writes after dropping the tail
    db.insert_durable(leaves[0]);
  }
  EXPECT_EQ(last_size, leaves.size());
}

TEST(Db, ConcurrentWritersAndReaders) {
  db::FaultInjectionEnv env;
  DbConfig config = test_config(&env);
  config.flush = flush::Interval{std::chrono::microseconds(500)};
  config.checkpoint = checkpoint::EveryNEntries{500};
  config.pin_above_level = 1;
  const auto leaves = make_leaves(4000, 7);
  {
    Db db("/t", config);
    std::atomic<bool> done{false};
    std::thread reader([&] {
      while (!done) {
        auto snap = db.snapshot();
        if (snap.size() > 0) (void)snap.prove(snap.size() - 1);
      }
    });
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w)
      writers.emplace_back([&, w] {
        for (std::size_t i = w; i < leaves.size(); i += 2) db.insert(leaves[i]);
      });
    for (auto& t : writers) t.join();
    done = true;
    reader.join();
  }
  Db db("/t", config);
  EXPECT_EQ(db.size(), leaves.size());
}
// ---- issue 9: reliability ---------------------------------------------------

namespace {
// A database with a checkpoint and a live log holding acknowledged leaves
// after it (the shape of the adversarial pass): returns its files.
std::map<std::string, std::vector<std::uint8_t>> checkpointed_and_live(const std::vector<Node>& leaves, const std::string& dir,
                                                                      unsigned pin = 0) {
  db::FaultInjectionEnv env;
  DbConfig config = test_config(&env);
  config.pin_above_level = pin;
  {
    Db db(dir, config);
    db.insert_many({leaves.data(), leaves.size() / 2});
    db.checkpoint();
    db.insert_many_durable({leaves.data() + leaves.size() / 2, leaves.size() - leaves.size() / 2});
  }
  std::map<std::string, std::vector<std::uint8_t>> files;
  for (const auto& name : env.all_files()) files[name] = env.contents(name);
  return files;
}
void install_in(db::FaultInjectionEnv& env, const std::string& dir, const std::map<std::string, std::vector<std::uint8_t>>& files) {
  for (const auto& [name, bytes] : files) {
    auto f = env.open(name, db::OpenMode::create_truncate);
    f->write_at(0, bytes);
    f->sync();
  }
  env.sync_dir(dir);
}
// Open (read-only and as a writer): must be refused as corruption naming `file`.
void expect_refused(db::FaultInjectionEnv& env, const std::string& dir, const std::string& file, DbConfig config = test_config(nullptr)) {
  for (bool read_only : {true, false}) {
    config.env = &env;
    config.read_only = read_only;
    try {
      Db db(dir, config);
      ADD_FAILURE() << "opened (" << (read_only ? "read-only" : "writer") << ") with size " << db.size() << ", expected " << file
                    << " refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::corruption) << e.what();
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  }
}
std::string live_log(const std::map<std::string, std::vector<std::uint8_t>>& files) {
  for (const auto& [name, bytes] : files)
    if (name.find("/wal-") != std::string::npos) return name;  // the checkpoint removed the older one
  return {};
}
}  // namespace

// Defect 1: the log meta names is missing, or shorter than a header: damage,
// refused naming it; before, it read as empty and the acknowledged leaves vanished.
TEST(Reliability, MissingOrShortLiveLogIsRefused) {
  const auto leaves = make_leaves(3000, 21);
  const auto files = checkpointed_and_live(leaves, "/m");
  const std::string log = live_log(files);
  ASSERT_EQ(log, "/m/wal-000002.log");
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{11}, std::size_t{47}, std::size_t{47}}) {
    db::FaultInjectionEnv env;
    auto damaged = files;
    damaged[log].resize(cut);
    install_in(env, "/m", damaged);
    SCOPED_TRACE("cut at " + std::to_string(cut));
    expect_refused(env, "/m", log);
  }
  db::FaultInjectionEnv env;
  auto removed = files;
  removed.erase(log);
  install_in(env, "/m", removed);
  expect_refused(env, "/m", log);
  // Intact, it recovers every leaf.
  db::FaultInjectionEnv intact;
  install_in(intact, "/m", files);
  Db db("/m", test_config(&intact));
  EXPECT_EQ(db.size(), leaves.size());
  EXPECT_EQ(*db.root(), model_root(leaves, leaves.size()));
}

// Defect 3: creating never deletes. A directory with database files but no
// meta is refused (files kept); what an interrupted creation leaves is reused.
TEST(Reliability, CreationNeverDeletesDatabaseFiles) {
  const auto leaves = make_leaves(3000, 24);
  auto files = checkpointed_and_live(leaves, "/n");
  files.erase("/n/meta");
  db::FaultInjectionEnv env;
  install_in(env, "/n", files);
  try {
    Db db("/n", test_config(&env));
    FAIL() << "created a database over the files of one without meta";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corruption) << e.what();
    EXPECT_NE(std::string(e.what()).find("wal-000002.log"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("init"), std::string::npos) << e.what();
  }
  for (const auto& [name, bytes] : files) EXPECT_EQ(env.contents(name), bytes) << name;
  // Missing entirely: not_found.
  DbConfig config = test_config(&env);
  config.create_if_missing = false;
  try {
    Db db("/none", config);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_found) << e.what();
  }
  // A read-only handle says so; a poisoned one says closed.
  db::FaultInjectionEnv fresh;
  { Db db("/r", test_config(&fresh)); }
  DbConfig ro = test_config(&fresh);
  ro.read_only = true;
  Db reader("/r", ro);
  try {
    reader.insert(leaves[0]);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::read_only) << e.what();
  }
}

// Defect 2: files are tied to their database by the identity in meta and in
// every log header: another database's log, or its meta and data files
// beside this one's log, are refused by name.
TEST(Reliability, FilesOfAnotherDatabaseAreRefused) {
  const auto leaves = make_leaves(3000, 22);
  for (unsigned pin : {0u, 3u}) {
    SCOPED_TRACE("pin_above_level " + std::to_string(pin));
    const auto a = checkpointed_and_live(leaves, "/s", pin);
    const auto b = checkpointed_and_live(make_leaves(3000, 23), "/s", pin);  // same parameters and sizes
    DbConfig config = test_config(nullptr);
    config.pin_above_level = pin;
    const std::string log = live_log(a);
    ASSERT_TRUE(b.count(log));
    {  // b's live log over a's
      db::FaultInjectionEnv env;
      auto mixed = a;
      mixed[log] = b.at(log);
      install_in(env, "/s", mixed);
      expect_refused(env, "/s", log, config);
    }
    {  // b's meta and data files beside a's log
      db::FaultInjectionEnv env;
      auto mixed = b;
      mixed[log] = a.at(log);
      install_in(env, "/s", mixed);
      expect_refused(env, "/s", log, config);
    }
    for (const auto& [name, bytes] : a) {  // one data file of b in a
      if (name.find("/data-") == std::string::npos) continue;
      db::FaultInjectionEnv env;
      auto mixed = a;
      mixed[name] = b.at(name);
      install_in(env, "/s", mixed);
      SCOPED_TRACE(name);
      expect_refused(env, "/s", name, config);
    }
    for (const auto& [name, bytes] : a)  // one of a's data files in the place of another (its header names its level)
      for (const auto& [other, other_bytes] : a) {
        if (name == other || name.find("/data-") == std::string::npos || other.find("/data-") == std::string::npos) continue;
        db::FaultInjectionEnv env;
        auto mixed = a;
        mixed[name] = other_bytes;
        install_in(env, "/s", mixed);
        SCOPED_TRACE(other + " as " + name);
        expect_refused(env, "/s", name, config);
      }
  }
}

namespace {
// A database in an older format: its data files without headers (meta
// versions 1..3) and, before identities (1, 2), its live log rewritten as
// version 1 (48-byte header, frames of record type 0); its meta as version
// `meta_version`.
std::map<std::string, std::vector<std::uint8_t>> legacy_files(const std::vector<Node>& leaves, const std::string& dir,
                                                              std::uint32_t meta_version) {
  auto files = checkpointed_and_live(leaves, dir);
  strip_data_headers(files);
  if (meta_version == 3) {
    db::Meta meta = db::decode_meta(files[dir + "/meta"], "meta");
    meta.version = 3;
    files[dir + "/meta"] = db::encode_meta(meta);
    return files;
  }
  // Rewrite the live log as version 1: 48-byte header, type 0 frames.
  const std::string log = live_log(files);
  const auto scan = db::scan_wal(files[log], log, {A, HashId::blake3, NodeHash::lean_imt, 32}, 0);
  db::WalHeader header = scan.header;
  header.version = 1;
  std::vector<std::uint8_t> v1 = db::encode_wal_header(header);
  std::uint64_t seq = header.first_seq;
  for (const auto& batch : scan.batches) {
    std::uint8_t frame[db::kFrameHeaderBytes];
    db::encode_frame_header(frame, static_cast<std::uint32_t>(batch.leaves.size() * 32), 0, seq++);
    const auto* payload = reinterpret_cast<const std::uint8_t*>(batch.leaves.data());
    std::uint8_t trailer[4];
    db::encode_frame_trailer(trailer, db::crc32c(payload, batch.leaves.size() * 32, db::crc32c(frame, sizeof frame)));
    v1.insert(v1.end(), frame, frame + sizeof frame);
    v1.insert(v1.end(), payload, payload + batch.leaves.size() * 32);
    v1.insert(v1.end(), trailer, trailer + 4);
  }
  files[log] = v1;
  db::Meta meta = db::decode_meta(files[dir + "/meta"], "meta");
  meta.version = meta_version;
  meta.db_id = {};
  if (meta_version == 1) meta.chunk_crcs.clear();
  files[dir + "/meta"] = db::encode_meta(meta);
  EXPECT_EQ(db::decode_meta(files[dir + "/meta"], "meta").version, meta_version);
  return files;
}
}  // namespace

// Old formats (log version 1, meta version 1 and 2) still open, keep
// appending, and the next checkpoint writes meta version 3 with an identity
// and version-2 logs.
TEST(Reliability, OldFormatsOpenAndAreUpgraded) {
  const auto leaves = make_leaves(3000, 25);
  for (std::uint32_t meta_version : {1u, 2u, 3u}) {
    SCOPED_TRACE("meta version " + std::to_string(meta_version));
    auto files = legacy_files(leaves, "/o", meta_version);
    db::FaultInjectionEnv env;
    install_in(env, "/o", files);
    const auto more = make_leaves(500, 26);
    std::vector<Node> all = leaves;
    all.insert(all.end(), more.begin(), more.end());
    {
      Db db("/o", test_config(&env));
      ASSERT_EQ(db.size(), leaves.size());
      ASSERT_EQ(*db.root(), model_root(leaves, leaves.size()));
      db.insert_many_durable({more.data(), 200});  // appended to the version-1 log
    }
    {
      Db db("/o", test_config(&env));
      ASSERT_EQ(*db.root(), model_root(all, leaves.size() + 200));
      db.insert_many_durable({more.data() + 200, 300});
      db.checkpoint();
    }
    const db::Meta upgraded = db::decode_meta(env.contents("/o/meta"), "meta");
    EXPECT_EQ(upgraded.version, db::kMetaVersion);
    EXPECT_NE(upgraded.db_id, db::DbId{});
    // The data files were rewritten with headers; the old ones are gone.
    unsigned with_header = 0;
    for (const std::string& name : env.list("/o")) {
      EXPECT_FALSE(db::is_headerless_data_name(name)) << name;
      if (db::parse_data_name(name)) {
        ++with_header;
        EXPECT_NO_THROW(db::check_data_header(env.contents("/o/" + name), name, {{A, HashId::blake3, NodeHash::lean_imt, 32}, upgraded.db_id, static_cast<unsigned>(std::stoul(name.substr(6, 2))), 0}));
      }
    }
    EXPECT_GE(with_header, 2u);
    const std::string new_log = "/o/" + db::wal_name(upgraded.wal_id);
    EXPECT_EQ(db::scan_wal(env.contents(new_log), new_log, {A, HashId::blake3, NodeHash::lean_imt, 32}, 0).header.db_id,
              upgraded.db_id);
    Db db("/o", test_config(&env));
    EXPECT_EQ(*db.root(), model_root(all, all.size()));
  }
}

// The extension area of meta: unknown optional records are kept across
// checkpoints, an unknown required one makes the database refuse to open.
TEST(Reliability, MetaExtensionsAreKeptOrRefused) {
  const auto leaves = make_leaves(1000, 27);
  auto files = checkpointed_and_live(leaves, "/x");
  db::Meta meta = db::decode_meta(files["/x/meta"], "meta");
  meta.extensions[7] = {1, 2, 3};
  files["/x/meta"] = db::encode_meta(meta);
  {
    db::FaultInjectionEnv env;
    install_in(env, "/x", files);
    {
      Db db("/x", test_config(&env));
      db.insert_durable(leaves[0]);
      db.checkpoint();
    }
    EXPECT_EQ(db::decode_meta(env.contents("/x/meta"), "meta").extensions.at(7), (std::vector<std::uint8_t>{1, 2, 3}));
  }
  meta.extensions[db::kExtensionRequired | 9] = {};
  files["/x/meta"] = db::encode_meta(meta);
  db::FaultInjectionEnv env;
  install_in(env, "/x", files);
  expect_refused(env, "/x", "/x/meta");
}

// The damage campaign against the current formats, bounded: every byte of
// every file of a database with a checkpoint and a live log zeroed (and,
// in CorruptionAtEveryByte, flipped), every file cut at every length and
// extended, and files swapped between generations of one database. Each
// either recovers every acknowledged leaf with the exact root or is refused
// as corruption naming the database's directory. (A log cut at a frame
// boundary, or extended by zeros, is indistinguishable from a smaller
// acknowledged state and is the one undetectable case: docs/database.md.)
TEST(Reliability, DamageCampaign) {
  const auto leaves = make_leaves(total_leaves(), 28);
  const Node full_root = model_root(leaves, leaves.size());
  const auto files = checkpointed_and_live(leaves, "/k");
  auto check = [&](const std::map<std::string, std::vector<std::uint8_t>>& damaged, const std::string& what,
                   bool may_lose_tail) {
    db::FaultInjectionEnv env;
    install_in(env, "/k", damaged);
    DbConfig config = test_config(&env);
    config.read_only = true;
    config.verify_on_open = true;
    try {
      Db db("/k", config);
      if (may_lose_tail) {
        ASSERT_GE(db.size(), leaves.size() / 2) << what;  // the checkpoint is never lost
        ASSERT_EQ(*db.root(), model_root(leaves, db.size())) << what;
      } else {
        ASSERT_EQ(db.size(), leaves.size()) << what;
        ASSERT_EQ(*db.root(), full_root) << what;
      }
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), Errc::corruption) << what << ": " << e.what();
      ASSERT_NE(std::string(e.what()).find("/k"), std::string::npos) << what << ": " << e.what();
    }
  };
  for (const auto& [name, bytes] : files) {
    if (name.ends_with("LOCK")) continue;
    const bool log = name.find("/wal-") != std::string::npos;
    const std::size_t step = bytes.size() > 20000 ? 13 : 1;
    for (std::size_t pos = 0; pos < bytes.size(); pos += step) {
      if (bytes[pos] == 0) continue;
      auto damaged = files;
      damaged[name][pos] = 0;
      ASSERT_NO_FATAL_FAILURE(check(damaged, name + " byte " + std::to_string(pos) + " zeroed", false));
    }
    for (std::size_t cut = 0; cut < bytes.size(); cut += (bytes.size() > 20000 ? 97 : 1)) {
      auto damaged = files;
      damaged[name].resize(cut);
      // A log cut at a frame boundary is a smaller acknowledged state (by design undetectable).
      ASSERT_NO_FATAL_FAILURE(check(damaged, name + " cut at " + std::to_string(cut), log));
    }
    for (std::uint8_t fill : {std::uint8_t{0}, std::uint8_t{0x5a}}) {
      auto damaged = files;
      damaged[name].insert(damaged[name].end(), 100, fill);
      ASSERT_NO_FATAL_FAILURE(check(damaged, name + " extended", false));
    }
  }
  // Generations: each file of an earlier state of the same database put into
  // the later one (an earlier meta names a removed log; earlier data files
  // are shorter; an earlier log is ignored or shorter).
  {
    db::FaultInjectionEnv env;
    std::map<std::string, std::vector<std::uint8_t>> generation[2];
    {
      Db db("/g", test_config(&env));
      db.insert_many({leaves.data(), 600});
      db.checkpoint();
      db.insert_many_durable({leaves.data() + 600, 400});
      for (const auto& name : env.all_files()) generation[0][name] = env.contents(name);
      db.checkpoint();
      db.insert_many_durable({leaves.data() + 1000, leaves.size() - 1000});
      for (const auto& name : env.all_files()) generation[1][name] = env.contents(name);
    }
    for (const auto& [name, bytes] : generation[0]) {
      if (name.ends_with("LOCK")) continue;
      auto mixed = generation[1];
      mixed[name] = bytes;
      db::FaultInjectionEnv target;
      install_in(target, "/g", mixed);
      DbConfig config = test_config(&target);
      config.read_only = true;
      try {
        Db db("/g", config);
        ASSERT_EQ(db.size(), leaves.size()) << name << " of the earlier generation";
        ASSERT_EQ(*db.root(), full_root) << name;
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), Errc::corruption) << name << ": " << e.what();
        ASSERT_NE(std::string(e.what()).find("/g"), std::string::npos) << e.what();
      }
    }
  }
}

// Power loss at every counted operation of the checkpoint that upgrades an
// old database (rotation from a version-1 log to a version-2 one, meta
// version 3 with the identity the new log already carries): each recovered
// state holds every acknowledged leaf with the exact root of its prefix, and
// goes on working (the identity adopted from the new log is kept).
TEST(Reliability, PowerLossDuringTheUpgradingCheckpoint) {
  const auto leaves = make_leaves(2000, 29);
  const std::size_t base = 1000;
  const std::vector<Node> first(leaves.begin(), leaves.begin() + base);
  const auto files = legacy_files(first, "/u", 2);
  auto workload = [&](db::FaultInjectionEnv& env, std::uint64_t fail_k) {
    std::uint64_t acked = base;
    if (fail_k) env.fail_at(fail_k, db::FaultInjectionEnv::Fault::crash);
    try {
      Db db("/u", test_config(&env));
      db.insert_many_durable({leaves.data() + base, 300});
      acked = base + 300;
      db.checkpoint();
      db.insert_many_durable({leaves.data() + base + 300, 200});
      acked = base + 500;
      db.checkpoint();
      db.close();
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == Errc::io_error || e.code() == Errc::poisoned) << e.what();
    }
    return acked;
  };
  std::uint64_t total_ops;
  {
    db::FaultInjectionEnv env;
    install_in(env, "/u", files);
    const std::uint64_t before = env.operations();
    ASSERT_EQ(workload(env, 0), base + 500);
    total_ops = env.operations() - before;
  }
  ASSERT_GT(total_ops, 10u);
  for (std::uint64_t k = 1; k <= total_ops + 1; ++k) {
    for (std::uint64_t torn : {0, 1}) {
      db::FaultInjectionEnv env;
      install_in(env, "/u", files);
      const std::uint64_t acked = workload(env, k);
      env.crash(torn ? k * 7919 : 0);
      SCOPED_TRACE("power loss at operation " + std::to_string(k) + (torn ? " (torn)" : ""));
      {
        Db db("/u", test_config(&env));
        ASSERT_GE(db.size(), acked);
        ASSERT_LE(db.size(), base + 500);
        ASSERT_EQ(*db.root(), model_root(leaves, db.size()));
        const std::uint64_t size = db.size();
        db.insert_many_durable({leaves.data() + size, 10});
        db.checkpoint();
      }
      Db db("/u", test_config(&env));
      ASSERT_EQ(*db.root(), model_root(leaves, db.size()));
    }
  }
}

// A torn direct write: its frames landed up to a sector boundary and the
// block padding it was written over follows. That is a torn tail (dropped),
// not corruption; the same zeros followed by anything else are damage.
TEST(Reliability, TornWriteOverBlockPaddingIsATornTail) {
  const auto leaves = make_leaves(64, 30);
  db::FaultInjectionEnv env;
  {
    Db db("/w", test_config(&env));
    db.insert_many_durable({leaves.data(), 10});
    db.insert_many_durable({leaves.data() + 10, 54});
  }
  const std::string log = "/w/wal-000001.log";
  const auto intact = env.contents(log);
  ASSERT_EQ(intact.size() % 4096, 0u);  // written directly: padded
  const std::size_t second = db::kWalHeaderBytes + db::kFrameHeaderBytes + 10 * 32 + 4;
  const std::size_t sector = (second / 512 + 1) * 512;  // inside the second frame
  ASSERT_LT(sector, second + db::kFrameHeaderBytes + 54 * 32);
  auto torn = intact;
  std::fill(torn.begin() + static_cast<std::ptrdiff_t>(sector), torn.end(), 0);
  env.contents(log) = torn;
  {
    Db db("/w", test_config(&env));
    EXPECT_EQ(db.size(), 10u);
    EXPECT_EQ(*db.root(), model_root(leaves, 10));
  }
  torn = intact;
  std::fill(torn.begin() + static_cast<std::ptrdiff_t>(sector), torn.end() - 1, 0);
  torn.back() = 1;
  env.contents(log) = torn;
  EXPECT_THROW(Db("/w", test_config(&env)), Error);
}

namespace {

/// A workload of inserts, rewinds and checkpoints; `states` gets the (size,
/// root) after every step, `acked` the number of steps acknowledged.
struct RewindWorkload {
  std::vector<std::pair<std::uint64_t, std::optional<Node>>> states;
  std::size_t acked = 0;
};

std::optional<Node> model_root_of(const std::vector<Node>& leaves) {
  if (leaves.empty()) return std::nullopt;
  return model_root(leaves, leaves.size());
}

// Steps: positive = insert that many new leaves, negative = rewind that many
// back (to the size), 0 = checkpoint.
const std::vector<long> kRewindSteps = {900, 0, -600, 700, 1, -1, 0, -1000, 450, 0, -200, 3, 0};

RewindWorkload run_rewind_workload(db::Env* env, const std::string& dir, DbConfig config,
                                   db::FaultInjectionEnv* fault = nullptr, std::uint64_t fail_k = 0) {
  config.env = env;
  RewindWorkload out;
  std::vector<Node> current;
  std::uint64_t seed = 100;
  // Every state the database may hold, in order (also those not yet acked).
  std::vector<std::pair<std::uint64_t, std::optional<Node>>> states{{0, std::nullopt}};
  for (long step : kRewindSteps) {
    if (step > 0) {
      const auto more = make_leaves(static_cast<std::size_t>(step), ++seed);
      current.insert(current.end(), more.begin(), more.end());
    } else if (step < 0) {
      current.resize(current.size() - std::min<std::size_t>(current.size(), static_cast<std::size_t>(-step)));
    }
    states.emplace_back(current.size(), model_root_of(current));
  }
  out.states = states;
  if (fault && fail_k) fault->fail_at(fail_k, db::FaultInjectionEnv::Fault::crash);
  try {
    Db db(dir, config);
    seed = 100;
    std::size_t index = 0;
    for (long step : kRewindSteps) {
      ++index;
      if (step > 0) {
        const auto more = make_leaves(static_cast<std::size_t>(step), ++seed);
        auto result = step == 1 ? db.insert(more[0]) : db.insert_many(more);
        result.token.wait();
      } else if (step < 0) {
        auto result = db.rewind(states[index].first);
        EXPECT_EQ(result.root, states[index].second);
        result.token.wait();
      } else {
        db.checkpoint();
      }
      EXPECT_EQ(db.size(), states[index].first);
      out.acked = index;
    }
    db.close();
  } catch (const Error& e) {
    const auto code = e.code();
    EXPECT_TRUE(code == Errc::io_error || code == Errc::no_space || code == Errc::poisoned) << e.what();
  }
  return out;
}

/// The reopened database holds one of the workload's states from the last
/// acknowledged one on.
void expect_rewind_state(db::Env* env, const std::string& dir, const RewindWorkload& run, DbConfig config) {
  config.env = env;
  Db db(dir, config);
  bool found = false;
  for (std::size_t i = run.acked; i < run.states.size() && !found; ++i)
    found = db.size() == run.states[i].first && db.root() == run.states[i].second;
  ASSERT_TRUE(found) << "size " << db.size() << " is none of the states from step " << run.acked;
  if (db.size() > 0) ASSERT_TRUE(verify(db.prove(db.size() / 2), *db.root(), db.size()));
}

}  // namespace

// Rewinds below and above the last checkpoint, regrowth past the old size with
// other leaves, checkpoints after them, reopen: the tree is the model's, and a
// snapshot taken before a rewind keeps its tree (also over mapped levels).
// A checkpoint keeps the log it made redundant as the spare, and the next
// rotation writes over it (same inode on a real file system): the log after
// it says so in its header, and reopening gives the model's tree. With
// recycle_log off redundant logs are removed, a spare left before too.
TEST(Db, CheckpointsRecycleTheLog) {
  const auto dir = fs::temp_directory_path() / ("rotortree-recycle-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto leaves = make_leaves(30000, 3);
  const std::string spare = (dir / db::kSpareLogName).string();
  {
    Db db(dir, test_config(nullptr));
    db.insert_many_durable(std::span<const Node>(leaves).first(10000));
    db.checkpoint();  // wal-2 new, wal-1 the spare
    ASSERT_TRUE(fs::exists(spare));
    EXPECT_FALSE(fs::exists(dir / db::wal_name(1)));
    struct stat before{};
    ASSERT_EQ(::stat(spare.c_str(), &before), 0);
    db.insert_many_durable(std::span<const Node>(leaves).subspan(10000, 10000));
    db.checkpoint();  // wal-3 is the old wal-1
    struct stat after{};
    ASSERT_EQ(::stat((dir / db::wal_name(3)).c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino);
    ASSERT_TRUE(fs::exists(spare));  // the old wal-2
    db.insert_many_durable(std::span<const Node>(leaves).subspan(20000));
    db.checkpoint();  // wal-4 is the old wal-2
  }
  const auto log = db::read_whole_file(*db::Env::posix(), (dir / db::wal_name(4)).string());
  EXPECT_TRUE(db::is_recycled_log(log));
  {
    Db db(dir, test_config(nullptr));
    EXPECT_EQ(db.size(), leaves.size());
    EXPECT_EQ(*db.root(), model_root(leaves, leaves.size()));
  }
  DbConfig off = test_config(nullptr);
  off.recycle_log = false;
  {
    Db db(dir, off);
    EXPECT_FALSE(fs::exists(spare));
    db.insert(leaves[0]);
    db.checkpoint();
    EXPECT_FALSE(fs::exists(spare));
    EXPECT_EQ(db.size(), leaves.size() + 1);
  }
  fs::remove_all(dir);
}

TEST(DbRewind, RecoversAfterRewindsCheckpointsAndRegrowth) {
  const auto dir = fs::temp_directory_path() / ("rotortree-rewind-" + std::to_string(::getpid()));
  for (unsigned pin : {0u, 2u}) {
    for (bool checkpoint_after : {false, true}) {
      fs::remove_all(dir);
      DbConfig config = test_config(nullptr);
      config.pin_above_level = pin;
      std::vector<Node> expected = make_leaves(5000, 1);
      Db db(dir, config);
      db.insert_many_durable(expected);
      db.checkpoint();  // 5000 leaves in data files (pin 2: levels 0 and 1 mapped)
      const auto before = db.snapshot();
      const auto before_root = *before.root();
      try {
        db.rewind(5001);
        ADD_FAILURE() << "a rewind beyond the size was accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::index_out_of_range);
      }
      EXPECT_EQ(db.size(), 5000u);
      // Below the checkpoint: meta is rewritten for the rewound tree.
      auto rewound = db.rewind(1234);
      rewound.token.wait();
      expected.resize(1234);
      EXPECT_EQ(rewound.root, model_root_of(expected));
      EXPECT_EQ(db.info().checkpoint_size, 1234u);
      const auto other = make_leaves(6000, 2);
      db.insert_many_durable(other);
      expected.insert(expected.end(), other.begin(), other.end());
      if (checkpoint_after) db.checkpoint();  // rewrites the chunks after the cut
      // Above the checkpoint: only a log record.
      db.rewind(expected.size() - 700).token.wait();
      expected.resize(expected.size() - 700);
      db.insert_durable(other[0]);
      expected.push_back(other[0]);
      EXPECT_EQ(db.root(), model_root_of(expected));
      EXPECT_EQ(*before.root(), before_root);
      EXPECT_TRUE(verify(before.prove(4000), before_root, 5000));
      db.close();
      DbConfig reopen = config;
      reopen.verify_on_open = true;
      Db again(dir, reopen);
      EXPECT_EQ(again.size(), expected.size()) << "pin " << pin << " checkpoint " << checkpoint_after;
      EXPECT_EQ(again.root(), model_root_of(expected));
      EXPECT_EQ(again.prove(3000).leaf, expected[3000]);
      // To the empty tree and back.
      EXPECT_EQ(again.rewind(0).root, std::nullopt);
      again.insert_durable(expected[0]);
      again.close();
      Db last(dir, config);
      EXPECT_EQ(last.size(), 1u);
      EXPECT_EQ(*last.root(), expected[0]);
      EXPECT_EQ(*before.root(), before_root);
    }
  }
  fs::remove_all(dir);
}

// A crash at every counted operation of a workload of inserts, rewinds (below
// and above checkpoints) and checkpoints: recovery gives an acknowledged state
// or a later one, never anything else.
TEST(DbRewind, CrashAtEveryOperation) {
  for (unsigned pin : {0u, 2u}) {
    DbConfig config = test_config(nullptr);
    config.pin_above_level = pin;
    std::uint64_t total_ops;
    {
      db::FaultInjectionEnv env;
      const auto run = run_rewind_workload(&env, "/r", config);
      ASSERT_EQ(run.acked, kRewindSteps.size());
      total_ops = env.operations();
    }
    for (std::uint64_t k = 1; k <= total_ops + 1; ++k) {
      for (std::uint64_t torn : {0, 1}) {
        db::FaultInjectionEnv env;
        const auto run = run_rewind_workload(&env, "/r", config, &env, k);
        env.crash(torn ? k * 7919 : 0);
        SCOPED_TRACE("pin " + std::to_string(pin) + ", crash at operation " + std::to_string(k) + (torn ? " (torn)" : ""));
        ASSERT_NO_FATAL_FAILURE(expect_rewind_state(&env, "/r", run, config));
        // And once more after that recovery (it may have finished a rewind's checkpoint).
        ASSERT_NO_FATAL_FAILURE(expect_rewind_state(&env, "/r", run, config));
      }
    }
  }
}

// The log holds a rewind as its own record type, after the batch it follows.
TEST(DbRewind, RewindRecordsInTheLog) {
  db::FaultInjectionEnv env;
  DbConfig config = test_config(&env);
  {
    Db db("/w", config);
    db.insert_many(make_leaves(10, 3));
    db.rewind(4);
    db.flush();
  }
  auto files = env.list("/w");
  std::string log;
  for (const auto& name : files) {
    std::uint64_t id;
    if (db::parse_wal_name(name, id)) log = "/w/" + name;
  }
  ASSERT_FALSE(log.empty());
  const auto bytes = db::read_whole_file(env, log);
  TreeParams params;
  params.arity = A;
  const auto scan = db::scan_wal(bytes, log, params, 0);
  ASSERT_EQ(scan.batches.size(), 2u);
  EXPECT_EQ(scan.batches[1].type, db::kRecordRewind);
  EXPECT_EQ(scan.batches[1].rewind_size, 4u);
  EXPECT_FALSE(scan.torn);
}

// Each state of a handle has its own code: a missing database, a closed
// handle, a read-only one and one stopped by an earlier failure; a failure
// no call can return (closing in the destructor) reaches on_warning.
TEST(Errors, EachStateHasItsCode) {
  using F = db::FaultInjectionEnv::Fault;
  const auto leaves = make_leaves(8, 21);
  auto code_of = [](auto&& call) -> std::optional<Errc> {
    try {
      call();
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  };
  db::FaultInjectionEnv env;
  DbConfig config = test_config(&env);
  DbConfig missing = config;
  missing.create_if_missing = false;
  EXPECT_EQ(code_of([&] { Db db("/none", missing); }), Errc::not_found);
  {
    Db db("/s", config);
    db.insert_durable(leaves[0]);
    db.close();
    EXPECT_EQ(code_of([&] { db.insert(leaves[1]); }), Errc::closed);
    EXPECT_EQ(code_of([&] { db.insert_many({leaves.data(), 2}); }), Errc::closed);
    EXPECT_EQ(code_of([&] { db.rewind(0); }), Errc::closed);
    EXPECT_EQ(code_of([&] { db.checkpoint(); }), Errc::closed);
  }
  {
    DbConfig reader = config;
    reader.read_only = true;
    Db db("/s", reader);
    EXPECT_EQ(db.size(), 1u);
    EXPECT_EQ(code_of([&] { db.insert(leaves[1]); }), Errc::read_only);
    EXPECT_EQ(code_of([&] { db.rewind(0); }), Errc::read_only);
    EXPECT_EQ(code_of([&] { db.checkpoint(); }), Errc::read_only);
  }
  {
    Db db("/s", config);
    db.insert(leaves[1]);
    env.fail_at(1, F::io_error);
    EXPECT_EQ(code_of([&] { db.flush(); }), Errc::io_error);
    env.clear_faults();
    code_of([&] { db.insert(leaves[2]); });  // the failure itself may be reported first
    EXPECT_EQ(code_of([&] { db.insert(leaves[2]); }), Errc::poisoned);
    EXPECT_EQ(code_of([&] { db.rewind(0); }), Errc::poisoned);
    EXPECT_EQ(code_of([&] { db.checkpoint(); }), Errc::poisoned);
    EXPECT_EQ(db.size(), 2u);  // reads go on
  }
  std::vector<Error> warnings;
  {
    DbConfig watched = config;
    watched.on_warning = [&](const Error& e) { warnings.push_back(e); };
    Db db("/s", watched);
    EXPECT_EQ(db.size(), 1u);  // the unflushed leaf of the poisoned handle is gone
    db.insert(leaves[1]);
    env.fail_at(1, F::no_space);  // the destructor's flush
  }
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].code(), Errc::no_space);
  EXPECT_NE(std::string(warnings[0].what()).find("closing failed"), std::string::npos) << warnings[0].what();
}
