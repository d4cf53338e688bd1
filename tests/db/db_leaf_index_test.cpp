// The database's leaf policy (SPEC §5): stored at creation, the index rebuilt
// on open (from checkpointed, mapped and logged leaves), duplicates refused
// before anything is logged, atomically with the append, across crashes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "fault_injection_env.hpp"
#include "lookup_checks.hpp"
#include "rotortree/db.hpp"
#include "db/files.hpp"
#include "db/format.hpp"

using namespace rotortree;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t A = 2;  // small chunks: checkpoints and mappings cover many of them
/// The database options with the leaf policy to open with (nothing: the stored one).
struct TestConfig : DbConfig {
  std::optional<LeafPolicy> leaf_policy;
};
class Db : public RotorTree<Blake3, A> {
 public:
  using RotorTree::RotorTree;
  Db(const std::string& dir, const TestConfig& config)
      : RotorTree(dir,
                  config.leaf_policy ? std::optional(tree_params<Blake3, A>(NodeHash::lean_imt, *config.leaf_policy))
                                     : std::nullopt,
                  config) {}
};
using Model = LeanIMT<Blake3, A>;

std::vector<Node> make_leaves(std::size_t n, std::uint64_t seed) { return test::random_leaves(n, seed); }

TestConfig test_config(db::Env* env, std::optional<LeafPolicy> policy) {
  TestConfig config;
  config.env = env;
  config.flush = flush::Manual{};
  config.checkpoint = checkpoint::Manual{};
  config.tree.threads = 1;
  config.leaf_policy = policy;
  return config;
}

// The model of lookups: the lowest index of every value among the first `size` leaves.
std::optional<std::uint64_t> model_index_of(const std::vector<Node>& leaves, std::uint64_t size, const Node& leaf) {
  for (std::uint64_t i = 0; i < size; ++i)
    if (leaves[i] == leaf) return i;
  return std::nullopt;
}

// The first `size` leaves of a model that may hold more.
std::span<const Node> prefix_of(const std::vector<Node>& leaves, std::uint64_t size) {
  return std::span<const Node>(leaves).first(static_cast<std::size_t>(size));
}

std::vector<std::uint8_t> meta_bytes(db::Env& env, const std::string& dir) {
  return db::read_whole_file(env, dir + "/meta");
}

}  // namespace

// The policy and secret are stored in meta; every open rebuilds the index from
// the checkpoint (in memory or mapped) and the log, for writers and readers.
TEST(DbLeafIndex, PolicyIsStoredAndTheIndexRebuiltOnOpen) {
  for (LeafPolicy policy : {LeafPolicy::index, LeafPolicy::unique}) {
    for (unsigned pin : {0u, 3u}) {
      SCOPED_TRACE(std::string(to_string(policy)) + ", pin " + std::to_string(pin));
      db::FaultInjectionEnv env;
      TestConfig config = test_config(&env, policy);
      config.pin_above_level = pin;
      config.tree.leaf_secret = LeafSecret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
      std::vector<Node> leaves = make_leaves(6000, 1);
      if (policy == LeafPolicy::index)  // duplicates allowed: the lowest index answers
        for (std::size_t i = 4000; i < 6000; i += 7) leaves[i] = leaves[i % 3000];
      const std::vector<Node> absent = make_leaves(50, 2);
      {
        Db db("/d", config);
        EXPECT_EQ(db.leaf_policy(), policy);
        const auto first = db.insert_many(std::span<const Node>(leaves.data(), 5000));
        EXPECT_EQ(first.first_index, 0u);
        db.checkpoint();  // 5000 leaves in data files, then 1000 in the log only
        for (std::size_t i = 5000; i < 6000; i += 100) {
          const auto r = db.insert_many(std::span<const Node>(leaves.data() + i, 99));
          EXPECT_EQ(r.first_index, i);
          EXPECT_EQ(db.insert(leaves[i + 99]).first_index, i + 99);
        }
        db.flush();
        ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, prefix_of(leaves, db.size()), absent));
        EXPECT_EQ(db.info().params.leaf_policy, policy);
        EXPECT_GT(db.index_bytes(), 0u);
        // A snapshot answers for its own size.
        const auto snap = db.snapshot().prefix(4500);
        EXPECT_EQ(snap.index_of(leaves[4600]), model_index_of(leaves, 4500, leaves[4600]));
      }
      const db::Meta meta = db::decode_meta(meta_bytes(env, "/d"), "meta");
      EXPECT_EQ(db::leaf_index(meta).policy, policy);
      EXPECT_EQ(db::leaf_index(meta).secret, *config.tree.leaf_secret);
      TestConfig reopen = test_config(&env, std::nullopt);  // whatever is stored
      reopen.pin_above_level = pin;
      {
        Db db("/d", reopen);
        EXPECT_EQ(db.leaf_policy(), policy);
        EXPECT_EQ(db.size(), 6000u);
        ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, prefix_of(leaves, db.size()), absent));
        db.checkpoint();  // the record survives checkpoints
      }
      TestConfig reader = reopen;
      reader.read_only = true;
      {
        Db db("/d", reader);
        ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, prefix_of(leaves, db.size()), absent));
      }
      // A policy given when opening must be the stored one.
      for (LeafPolicy other : {LeafPolicy::none, LeafPolicy::index, LeafPolicy::unique}) {
        if (other == policy) continue;
        try {
          Db db("/d", test_config(&env, other));
          ADD_FAILURE() << "opened with leaf policy " << to_string(other);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), Errc::parameter_mismatch) << e.what();
        }
      }
    }
  }
}

// Policy none stores no record, and lookups are refused with a clear error;
// databases created without a secret get different random ones.
TEST(DbLeafIndex, PolicyNoneAndRandomSecrets) {
  db::FaultInjectionEnv env;
  {
    Db db("/none", test_config(&env, std::nullopt));
    db.insert(make_leaves(1, 3)[0]);
    EXPECT_EQ(db.leaf_policy(), LeafPolicy::none);
    EXPECT_EQ(db.index_bytes(), 0u);
    EXPECT_THROW(db.index_of(make_leaves(1, 3)[0]), Error);
  }
  EXPECT_TRUE(db::decode_meta(meta_bytes(env, "/none"), "meta").extensions.empty());
  { Db a("/a", test_config(&env, LeafPolicy::index)); }
  { Db b("/b", test_config(&env, LeafPolicy::index)); }
  const auto secret_a = db::leaf_index(db::decode_meta(meta_bytes(env, "/a"), "meta")).secret;
  const auto secret_b = db::leaf_index(db::decode_meta(meta_bytes(env, "/b"), "meta")).secret;
  EXPECT_NE(secret_a, secret_b);
  EXPECT_NE(secret_a, LeafSecret{});
}

// A refused batch (a leaf the database holds, a leaf repeated inside it, a
// tree beyond the index's positions) is refused whole before logging:
// nothing in the log, the same state after reopening.
TEST(DbLeafIndex, UniqueRefusesBeforeAnythingIsLogged) {
  db::FaultInjectionEnv env;
  const TestConfig config = test_config(&env, LeafPolicy::unique);
  const std::vector<Node> leaves = make_leaves(3000, 4);
  const std::vector<Node> fresh = make_leaves(10, 5);
  Node root_before;
  {
    Db db("/u", config);
    db.insert_many(std::span<const Node>(leaves.data(), 2000));
    db.checkpoint();
    db.insert_many(std::span<const Node>(leaves.data() + 2000, 1000));
    db.flush();
    root_before = *db.root();
    const std::uint64_t seq = db.info().last_seq;
    const std::uint64_t log_bytes = db.info().log_bytes;
    auto expect_refused = [&](std::span<const Node> batch, std::uint64_t position, std::optional<std::uint64_t> tree_index,
                              std::optional<std::uint64_t> earlier) {
      const std::uint64_t size = db.size(), seq = db.info().last_seq;
      const Node root = *db.root();
      try {
        if (batch.size() == 1)
          db.insert(batch[0]);
        else
          db.insert_many(batch);
        ADD_FAILURE() << "a duplicate was inserted";
      } catch (const DuplicateLeafError& e) {
        EXPECT_EQ(e.code(), Errc::duplicate_leaf);
        EXPECT_EQ(e.duplicate().batch_position, position);
        EXPECT_EQ(e.duplicate().tree_index, tree_index);
        EXPECT_EQ(e.duplicate().earlier_batch_position, earlier);
      }
      EXPECT_EQ(db.size(), size);
      EXPECT_EQ(*db.root(), root);
      EXPECT_EQ(db.info().last_seq, seq);
      EXPECT_FALSE(db.background_error());
    };
    // In the checkpoint, in the log, in the batch.
    expect_refused(std::vector<Node>{fresh[0], leaves[17], fresh[1]}, 1, 17, std::nullopt);
    expect_refused(std::vector<Node>{fresh[0], fresh[1], leaves[2500]}, 2, 2500, std::nullopt);
    expect_refused(std::vector<Node>{fresh[0], fresh[1], fresh[2], fresh[1]}, 3, std::nullopt, 1);
    expect_refused(std::vector<Node>{leaves[2999]}, 0, 2999, std::nullopt);
    for (const Node& leaf : fresh) EXPECT_FALSE(db.contains(leaf));
    // The index's position width: a clear error, nothing logged.
    rotortree::testing::set_indexed_leaf_limit(3005);
    try {
      db.insert_many(std::span<const Node>(fresh.data(), 10));
      ADD_FAILURE() << "inserted beyond the index's positions";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::max_depth_exceeded) << e.what();
    }
    rotortree::testing::set_indexed_leaf_limit(0);
    EXPECT_EQ(db.info().last_seq, seq);
    db.flush();
    EXPECT_EQ(db.info().log_bytes, log_bytes);
    // A rewound leaf may be inserted again; the one before the cut may not.
    db.rewind(2990);
    EXPECT_EQ(db.insert(leaves[2995]).first_index, 2990u);
    expect_refused(std::vector<Node>{leaves[2989]}, 0, 2989, std::nullopt);
    db.rewind(3000 - 10);  // back to the first 2990 leaves
    db.insert_many(std::span<const Node>(leaves.data() + 2990, 10));
    db.flush();
  }
  Db db("/u", test_config(&env, std::nullopt));
  EXPECT_EQ(db.size(), 3000u);
  EXPECT_EQ(*db.root(), root_before);
  ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, prefix_of(leaves, db.size()), fresh));
  EXPECT_THROW(db.insert(leaves[0]), DuplicateLeafError);
}

// reserve() sizes the index once for a bulk load: nothing is logged, later
// batches up to the reserved size do not grow it, lookups and refusals are
// those of a database that never reserved, and bad calls are typed errors.
TEST(DbLeafIndex, ReserveSizesTheIndexOnceAndLogsNothing) {
  db::FaultInjectionEnv env;
  const TestConfig config = test_config(&env, LeafPolicy::unique);
  const std::vector<Node> leaves = make_leaves(20000, 6);
  Node root;
  {
    Db db("/r", config);
    db.insert_many(std::span<const Node>(leaves.data(), 100));
    db.flush();
    const std::uint64_t seq = db.info().last_seq, log_bytes = db.info().log_bytes;
    const std::size_t small = db.index_bytes();
    db.reserve(leaves.size());
    EXPECT_EQ(db.info().last_seq, seq);
    db.flush();
    EXPECT_EQ(db.info().log_bytes, log_bytes);
    EXPECT_EQ(db.size(), 100u);
    const std::size_t reserved = db.index_bytes();
    EXPECT_GT(reserved, small * 10);
    for (std::size_t done = 100; done < leaves.size(); done += 1990)
      db.insert_many(std::span<const Node>(leaves).subspan(done, std::min<std::size_t>(1990, leaves.size() - done)));
    EXPECT_EQ(db.index_bytes(), reserved);  // no growth on the way
    EXPECT_THROW(db.insert(leaves[5]), DuplicateLeafError);
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, leaves, make_leaves(10, 7)));
    try {
      db.reserve(db.capacity() + 1);
      ADD_FAILURE() << "reserved beyond the capacity";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::max_depth_exceeded) << e.what();
    }
    db.reserve(10);  // below the size: nothing to do
    EXPECT_EQ(db.index_bytes(), reserved);
    root = *db.root();
  }
  TestConfig reader = test_config(&env, std::nullopt);
  reader.read_only = true;
  Db db("/r", reader);
  EXPECT_EQ(*db.root(), root);
  ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, leaves, make_leaves(10, 7)));
  try {
    db.reserve(30000);
    ADD_FAILURE() << "a read-only database reserved";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::read_only) << e.what();
  }
}

// Two writers inserting the same leaves in different orders: each leaf is
// inserted exactly once (the check is atomic with the append).
TEST(DbLeafIndex, ConcurrentWritersNeverBothInsertOneLeaf) {
  const auto dir = fs::temp_directory_path() / ("rotortree-unique-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  TestConfig config = test_config(nullptr, LeafPolicy::unique);
  config.direct_log = false;
  const std::vector<Node> leaves = make_leaves(4000, 6);
  {
    Db db(dir.string(), config);
    // Writer 0 inserts every leaf one at a time, writer 1 in pairs, each in
    // its own order: every leaf ends up inserted by one of them, once.
    std::vector<std::thread> writers;
    for (unsigned t = 0; t < 2; ++t)
      writers.emplace_back([&, t] {
        std::vector<std::size_t> order(leaves.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937_64(t + 10));
        const std::size_t step = t == 0 ? 1 : 2;
        for (std::size_t i = 0; i + step <= order.size(); i += step) {
          try {
            if (step == 1)
              db.insert(leaves[order[i]]);
            else
              db.insert_many(std::vector<Node>{leaves[order[i]], leaves[order[i + 1]]});
          } catch (const DuplicateLeafError&) {
          }
        }
      });
    for (auto& w : writers) w.join();
    db.flush();
    EXPECT_EQ(db.size(), leaves.size());
    std::set<std::uint64_t> indices;
    for (const Node& leaf : leaves) {
      const auto index = db.index_of(leaf);
      ASSERT_TRUE(index.has_value());
      EXPECT_TRUE(indices.insert(*index).second);
    }
  }
  Db again(dir.string(), test_config(nullptr, std::nullopt));
  EXPECT_EQ(again.size(), leaves.size());
  fs::remove_all(dir);
}

// A crash at every counted operation of inserts, refused duplicates, rewinds
// and checkpoints: the recovered database holds an acknowledged state or a
// later one, its lookups are the model's, and it still refuses duplicates.
TEST(DbLeafIndex, CrashAtEveryOperation) {
  const std::vector<Node> leaves = make_leaves(1200, 7);
  const Node fresh = make_leaves(1, 99)[0];
  // Steps: (insert [begin, end)), or rewind to a size, or checkpoint.
  struct Step {
    enum { insert, duplicate, rewind, checkpoint } kind;
    std::size_t a = 0, b = 0;
  };
  const std::vector<Step> steps = {{Step::insert, 0, 600},  {Step::checkpoint}, {Step::duplicate, 10, 0},
                                   {Step::insert, 600, 900}, {Step::rewind, 700}, {Step::insert, 700, 1000},
                                   {Step::checkpoint},       {Step::rewind, 300}, {Step::insert, 300, 1200},
                                   {Step::duplicate, 1100, 0}};
  std::vector<std::uint64_t> sizes{0};  // the size after each step
  for (const Step& s : steps)
    sizes.push_back(s.kind == Step::insert ? s.b : s.kind == Step::rewind ? s.a : sizes.back());
  auto run = [&](db::FaultInjectionEnv& env, std::uint64_t fail_at) {
    std::size_t acked = 0;
    if (fail_at) env.fail_at(fail_at, db::FaultInjectionEnv::Fault::crash);
    try {
      Db db("/c", test_config(&env, LeafPolicy::unique));
      for (const Step& s : steps) {
        if (s.kind == Step::insert) {
          db.insert_many(std::span<const Node>(leaves.data() + s.a, s.b - s.a)).token.wait();
        } else if (s.kind == Step::duplicate) {
          try {  // a leaf never inserted, then one the database holds
            db.insert_many(std::vector<Node>{fresh, leaves[s.a]});
            ADD_FAILURE() << "a duplicate was inserted";
          } catch (const DuplicateLeafError&) {
          }
        } else if (s.kind == Step::rewind) {
          db.rewind(s.a).token.wait();
        } else {
          db.checkpoint();
        }
        ++acked;
      }
      db.close();
    } catch (const DuplicateLeafError& e) {
      ADD_FAILURE() << "a duplicate refused outside a duplicate step: " << e.what();
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == Errc::io_error || e.code() == Errc::no_space || e.code() == Errc::poisoned) << e.what();
    }
    return acked;
  };
  std::uint64_t total_ops;
  {
    db::FaultInjectionEnv env;
    ASSERT_EQ(run(env, 0), steps.size());
    total_ops = env.operations();
  }
  for (std::uint64_t k = 1; k <= total_ops + 1; ++k) {
    db::FaultInjectionEnv env;
    const std::size_t acked = run(env, k);
    env.crash(k % 2 ? k * 7919 : 0);
    SCOPED_TRACE("crash at operation " + std::to_string(k));
    // Unique explicitly: a stored policy must be it (a crash before creation
    // finished leaves no meta, and this open creates the database).
    Db db("/c", test_config(&env, LeafPolicy::unique));
    ASSERT_EQ(db.leaf_policy(), LeafPolicy::unique);
    // The state is that after some step >= acked; leaves [0, size) are the prefix of `leaves`.
    bool known = false;
    for (std::size_t i = acked; i < sizes.size(); ++i) known = known || db.size() == sizes[i];
    ASSERT_TRUE(known) << "size " << db.size() << " after " << acked << " acknowledged steps";
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, prefix_of(leaves, db.size()), {leaves.begin() + static_cast<std::ptrdiff_t>(db.size()), leaves.end()}));
    if (db.size() > 0) EXPECT_THROW(db.insert(leaves[db.size() - 1]), DuplicateLeafError);
  }
}

// Meta's leaf-index record: a malformed one is refused as corruption; a log
// that repeats a leaf of a unique database (only another writer could have
// written it) is refused on open.
TEST(DbLeafIndex, MalformedRecordsAndLogsAreRefused) {
  db::FaultInjectionEnv env;
  {
    Db db("/m", test_config(&env, LeafPolicy::index));
    const auto leaves = make_leaves(5, 8);
    db.insert_many(leaves);
    db.insert(leaves[2]);  // allowed with policy index
    db.flush();
  }
  const db::Meta meta = db::decode_meta(meta_bytes(env, "/m"), "meta");
  for (const std::vector<std::uint8_t>& bad :
       {std::vector<std::uint8_t>(20, 0), std::vector<std::uint8_t>(19, 1), std::vector<std::uint8_t>{3, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
        std::vector<std::uint8_t>{1, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}) {
    db::Meta edited = meta;
    edited.extensions[db::kExtLeafIndex] = bad;
    const auto bytes = db::encode_meta(edited);
    try {
      db::decode_meta(bytes, "meta");
      ADD_FAILURE() << "a malformed leaf index record was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::corruption) << e.what();
    }
  }
  // The same files with meta saying unique: the log's repeat is corruption.
  db::Meta unique = meta;
  db::set_leaf_index(unique, {LeafPolicy::unique, db::leaf_index(meta).secret});
  db::detail::write_atomically(env, "/m", "meta", db::encode_meta(unique));
  try {
    Db db("/m", test_config(&env, std::nullopt));
    ADD_FAILURE() << "a log repeating a leaf of a unique database was replayed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corruption) << e.what();
  }
}
