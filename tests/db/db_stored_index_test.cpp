// The stored leaf index (docs/leaf-index.md, *Stored with the checkpoint*):
// an open that loads it answers exactly as one that rebuilds the index, after
// log replay, rewinds below the file and regrowth with other leaves; a
// damaged, foreign or stale file is not used (a warning, then the rebuild).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../support.hpp"
#include "fault_injection_env.hpp"
#include "lookup_checks.hpp"
#include "db/coding.hpp"
#include "db/format.hpp"
#include "rotortree/db.hpp"

using namespace rotortree;

namespace {

constexpr std::size_t A = 2;
using Db = RotorTree<Blake3, A>;

struct Fixture {
  db::FaultInjectionEnv env;
  std::vector<std::string> warnings;
  DbConfig config() {
    DbConfig c;
    c.env = &env;
    c.flush = flush::Manual{};
    c.checkpoint = checkpoint::Manual{};
    c.tree.threads = 1;
    c.on_warning = [this](const Error& e) { warnings.push_back(e.what()); };
    return c;
  }
  Db open(LeafPolicy policy, const DbConfig& c) {
    return Db("/d", tree_params<Blake3, A>(NodeHash::lean_imt, policy), c);
  }
  db::Meta meta() { return db::decode_meta(env.contents("/d/meta"), "meta"); }
  /// The file meta names, or "".
  std::string index_file() {
    const auto record = db::stored_index(meta());
    return record ? "/d/" + db::index_name(record->file_id) : std::string();
  }
  std::vector<std::string> index_files() {
    std::vector<std::string> out;
    std::uint64_t id;
    for (const std::string& name : env.list("/d"))
      if (db::parse_index_name(name, id)) out.push_back(name);
    return out;
  }
  /// Create or replace a file (synced).
  void put(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    auto file = env.open(path, db::OpenMode::create_truncate);
    file->write_at(0, bytes);
    file->sync();
    env.sync_dir("/d");
  }
  std::uint64_t stored_buckets() {
    return db::decode_index_header(env.contents(index_file()), index_file()).buckets;
  }
};

/// The buckets a rebuild of `size` leaves allocates (LeanIMT::reserve_index):
/// an open that has other ones used the stored table.
std::uint64_t rebuilt_buckets(std::uint64_t size) { return std::max<std::uint64_t>(4, (size * 10 / 7 + 11) / 12); }

// A unique database refuses each leaf of `model` (sampled) with its index,
// and accepts a new one.
void expect_refusals(Db& db, std::vector<Node>& model, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 20; ++k) {
    const std::uint64_t i = rng() % model.size();
    try {
      db.insert(model[i]);
      ADD_FAILURE() << "leaf " << i << " inserted twice";
    } catch (const DuplicateLeafError& e) {
      EXPECT_EQ(e.duplicate().tree_index, std::optional<std::uint64_t>(i));
    }
  }
  const Node fresh = test::random_leaves(1, seed ^ 0x5eed)[0];
  EXPECT_EQ(db.insert(fresh).first_index, model.size());
  model.push_back(fresh);
}

}  // namespace

// Random sizes and policies: the checkpoint writes the file, the reopen
// loads it (its bucket count, not a rebuild's) and replays the log's
// leaves after it; lookups and refusals are the model's, for the writer and
// a reader, and equal those of an open that rebuilds.
TEST(DbStoredIndex, ReopenWithTheStoredIndexAnswersAsTheModel) {
  std::mt19937_64 rng(7);
  int used_checks = 0;
  for (int round = 0; round < 8; ++round) {
    const LeafPolicy policy = round % 2 ? LeafPolicy::unique : LeafPolicy::index;
    const unsigned pin = round % 4 < 2 ? 0u : 3u;
    const std::uint64_t n = 200 + rng() % 6000, more = round % 3 ? rng() % 40 : rng() % 800;
    SCOPED_TRACE("round " + std::to_string(round) + " n " + std::to_string(n) + " more " + std::to_string(more));
    Fixture f;
    DbConfig c = f.config();
    c.pin_above_level = pin;
    std::vector<Node> model = test::random_leaves(n + more, 100 + round);
    if (policy == LeafPolicy::index)
      for (std::uint64_t i = 1; i < model.size(); i += 5) model[i] = model[rng() % i];  // repeats
    const std::vector<Node> absent = test::random_leaves(40, 900 + round);
    {
      Db db = f.open(policy, c);
      // Batches of random sizes: the table's growth then leaves it with
      // another bucket count than a rebuild of the same leaves.
      for (std::uint64_t i = 0; i < n;) {
        const std::uint64_t k = std::min<std::uint64_t>(n - i, 1 + rng() % 97);
        db.insert_many(std::span<const Node>(model.data() + i, k));
        i += k;
      }
      db.checkpoint();
      for (std::uint64_t i = n; i < n + more; ++i) db.insert(model[i]);
      db.flush();
    }  // no checkpoint at close (Manual): `more` leaves are in the log only
    ASSERT_NE(f.index_file(), "");
    ASSERT_EQ(f.index_files().size(), 1u);
    EXPECT_EQ(db::stored_index(f.meta())->valid, n);
    const std::uint64_t stored = f.stored_buckets();
    // The opens below use the stored table: its bucket count shows it unless
    // replaying the log's leaves grew it.
    const db::IndexHeader header = db::decode_index_header(f.env.contents(f.index_file()), "index");
    const bool fits = stored != rebuilt_buckets(n) && header.entries + more + 1 <= stored * 12 / 10 * 9;
    used_checks += fits;
    {
      Db db = f.open(policy, c);
      if (fits) {
        EXPECT_EQ(db.index_bytes(), stored * 64) << "the stored table was not used";
      }
      ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, absent));
      if (policy == LeafPolicy::unique) expect_refusals(db, model, round);
      db.flush();
    }
    DbConfig reader = c;
    reader.read_only = true;
    {
      Db db("/d", std::nullopt, reader);
      if (fits) {
        EXPECT_EQ(db.index_bytes(), stored * 64);
      }
      ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, absent));
    }
    // The same database without the file: rebuilt, same answers.
    f.env.remove(f.index_file());
    {
      Db db = f.open(policy, c);
      if (fits) {
        EXPECT_NE(db.index_bytes(), stored * 64);
      }
      ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, absent));
    }
    EXPECT_EQ(f.warnings.size(), 1u);  // the missing file, once
  }
  EXPECT_GE(used_checks, 3);
}

// A requested checkpoint writes the file when more than 1/64 of the tree is
// not in it, an automatic one past 1/4; each new file replaces the old one.
TEST(DbStoredIndex, WhenTheCheckpointWritesIt) {
  Fixture f;
  DbConfig c = f.config();
  const std::vector<Node> leaves = test::random_leaves(20000, 3);
  std::size_t at = 0;
  auto add = [&](Db& db, std::size_t k) {
    db.insert_many(std::span<const Node>(leaves.data() + at, k));
    at += k;
  };
  {
    Db db = f.open(LeafPolicy::unique, c);
    add(db, 6400);
    db.checkpoint();
    const std::string first = f.index_file();
    add(db, 100);  // 100 = 6400 / 64: not more
    db.checkpoint();
    EXPECT_EQ(f.index_file(), first);
    EXPECT_EQ(db::stored_index(f.meta())->valid, 6400u);
    add(db, 1);
    db.checkpoint();
    EXPECT_NE(f.index_file(), first);
    EXPECT_EQ(db::stored_index(f.meta())->valid, 6501u);
    EXPECT_EQ(f.index_files(), std::vector<std::string>{f.index_file().substr(3)});
  }
  c.checkpoint = checkpoint::EveryNEntries{1};
  {
    Db db = f.open(LeafPolicy::unique, c);
    add(db, 6501 / 4);  // automatic checkpoint: not due
    EXPECT_EQ(db::stored_index(f.meta())->valid, 6501u);
    EXPECT_EQ(f.meta().size, at);
    add(db, 1);
    EXPECT_EQ(db::stored_index(f.meta())->valid, at);
  }
  {
    Db db = f.open(LeafPolicy::unique, c);
    std::vector<Node> model(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(at));
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, {}));
  }
  EXPECT_TRUE(f.warnings.empty());
}

// A rewind below the file's leaves, then other leaves at those positions
// (some of them rewound ones): every open — after a checkpoint that kept the
// file with fewer valid leaves, or with the rewind replayed from the log —
// finds the new leaves and refuses their repeats.
TEST(DbStoredIndex, RewindBelowTheStoredLeavesThenRegrow) {
  // to 1000: below the checkpoint's full chunks (the rewind writes a
  // checkpoint); to 2950: inside the tails (only logged).
  for (const std::uint64_t to : {std::uint64_t{1000}, std::uint64_t{2950}, std::uint64_t{0}}) {
    for (const bool checkpoint_after : {false, true}) {
      SCOPED_TRACE("rewind to " + std::to_string(to) + (checkpoint_after ? ", checkpoint after" : ""));
      Fixture f;
      DbConfig c = f.config();
      if (checkpoint_after) c.checkpoint = checkpoint::EveryNEntries{1};  // automatic: the file is not rewritten
      const std::vector<Node> old_leaves = test::random_leaves(3000, 11);
      std::vector<Node> model(old_leaves.begin(), old_leaves.begin() + static_cast<std::ptrdiff_t>(to));
      // New leaves: fresh ones, and rewound ones at other positions.
      std::vector<Node> regrow = test::random_leaves(600, 12);
      for (std::size_t i = 0; to + i / 3 < 3000 && i < 60; i += 3) regrow[i] = old_leaves[to + i / 3];
      {
        Db db = f.open(LeafPolicy::unique, c);
        db.insert_many(old_leaves);
        db.checkpoint();
        db.rewind(to);
        db.insert_many(regrow);
        model.insert(model.end(), regrow.begin(), regrow.end());
        db.flush();
      }
      if (to > 0 && (to == 1000 || checkpoint_after)) {  // a meta written after the rewind
        ASSERT_TRUE(db::stored_index(f.meta()).has_value());
        // The automatic checkpoints rewrite the file once 600 > to / 4.
        EXPECT_EQ(db::stored_index(f.meta())->valid, checkpoint_after && 600 > to / 4 ? to + 600 : to);
      }
      // Rewound leaves not inserted again are absent.
      std::vector<Node> absent;
      for (std::uint64_t i = to; i < 3000; ++i)
        if (std::find(regrow.begin(), regrow.end(), old_leaves[i]) == regrow.end()) absent.push_back(old_leaves[i]);
      {
        Db db = f.open(LeafPolicy::unique, c);
        ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, absent));
        expect_refusals(db, model, to);
        ASSERT_FALSE(absent.empty());
        EXPECT_EQ(db.insert(absent.front()).first_index, model.size());
        model.push_back(absent.front());
        absent.erase(absent.begin());
      }
      {
        Db db = f.open(LeafPolicy::unique, c);
        ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, absent));
      }
      EXPECT_TRUE(f.warnings.empty()) << f.warnings.front();
    }
  }
}

// A version that does not know the record keeps it unchanged across a
// rewind: the root of the leaves it names then differs, and the file is not
// used.
TEST(DbStoredIndex, ARecordKeptAcrossARewindByAnotherVersionIsNotUsed) {
  Fixture f;
  DbConfig c = f.config();
  const std::vector<Node> old_leaves = test::random_leaves(3000, 21);
  const std::vector<Node> regrow = test::random_leaves(3000, 22);
  std::vector<Node> model(old_leaves.begin(), old_leaves.begin() + 500);
  model.insert(model.end(), regrow.begin(), regrow.end());
  std::vector<std::uint8_t> old_record;
  {
    Db db = f.open(LeafPolicy::unique, c);
    db.insert_many(old_leaves);
    db.checkpoint();
    old_record = f.meta().extensions.at(db::kExtStoredIndex);
    const std::string file = f.index_file();
    db.rewind(500);
    db.insert_many(regrow);
    // The other version's checkpoint: meta with the old record, the old file kept.
    const auto kept = f.env.contents(file);
    db.checkpoint();
    f.put(file, kept);
  }
  db::Meta meta = f.meta();
  meta.extensions[db::kExtStoredIndex] = old_record;
  f.env.contents("/d/meta") = db::encode_meta(meta);
  {
    Db db = f.open(LeafPolicy::unique, c);
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, std::vector<Node>(old_leaves.begin() + 500, old_leaves.end())));
    expect_refusals(db, model, 5);
  }
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("another root"), std::string::npos) << f.warnings[0];
}

// Damage of every kind: the file is not used (one warning naming it), the
// index is rebuilt, answers are the model's; the next requested checkpoint
// writes a good file again.
TEST(DbStoredIndex, DamagedOrForeignFilesFallBackToTheRebuild) {
  enum Damage { body_byte, header_byte, block_crc, truncated, extended, missing, other_secret, other_database, entries };
  for (int damage = body_byte; damage <= entries; ++damage) {
    SCOPED_TRACE("damage " + std::to_string(damage));
    Fixture f;
    DbConfig c = f.config();
    std::vector<Node> model = test::random_leaves(5000, 31);
    {
      Db db = f.open(LeafPolicy::unique, c);
      db.insert_many(model);
      db.checkpoint();
    }
    const std::string file = f.index_file();
    auto& bytes = f.env.contents(file);
    const std::uint64_t buckets = f.stored_buckets();
    auto reseal = [&] {  // a header changed on purpose keeps a valid checksum
      db::put32(bytes.data() + db::kIndexHeaderBytes - 4, db::crc32c(bytes.data(), db::kIndexHeaderBytes - 4));
    };
    switch (damage) {
      case body_byte: bytes[db::kIndexHeaderBytes + 64 * (buckets / 2) + 3] ^= 0x10; break;
      case header_byte: bytes[60] ^= 1; break;
      case block_crc: bytes[bytes.size() - 2] ^= 1; break;
      case truncated: bytes.resize(bytes.size() - 100); break;
      case extended: bytes.push_back(0); break;
      case missing: f.env.remove(file); break;
      case other_secret: bytes[72] ^= 1; reseal(); break;
      case entries: bytes[56] ^= 1; reseal(); break;
      case other_database: {  // the same leaves and secret in another database
        db::FaultInjectionEnv other;
        DbConfig oc = c;
        oc.env = &other;
        oc.tree.leaf_secret = db::leaf_index(f.meta()).secret;
        {
          Db db("/d", tree_params<Blake3, A>(NodeHash::lean_imt, LeafPolicy::unique), oc);
          db.insert_many(model);
          db.checkpoint();
        }
        const auto record = db::stored_index(db::decode_meta(other.contents("/d/meta"), "meta"));
        bytes = other.contents("/d/" + db::index_name(record->file_id));
        break;
      }
    }
    {
      Db db = f.open(LeafPolicy::unique, c);
      EXPECT_EQ(db.index_bytes(), rebuilt_buckets(5000) * 64);
      ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, test::random_leaves(30, 32)));
      expect_refusals(db, model, damage);
      db.checkpoint();  // 5001 leaves: a new file (the stored one was dropped)
    }
    ASSERT_EQ(f.warnings.size(), 1u);
    EXPECT_NE(f.warnings[0].find(file), std::string::npos) << f.warnings[0];
    EXPECT_NE(f.index_file(), file);
    {
      Db db = f.open(LeafPolicy::unique, c);
      EXPECT_EQ(db.index_bytes(), f.stored_buckets() * 64);
      ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, {}));
    }
    EXPECT_EQ(f.warnings.size(), 1u);
  }
}

// What a checkpoint that crashed before its meta leaves — an index file meta
// does not name, whole or cut — is ignored by readers and removed by the
// next writer's open.
TEST(DbStoredIndex, FilesMetaDoesNotNameAreIgnoredAndRemoved) {
  Fixture f;
  DbConfig c = f.config();
  std::vector<Node> model = test::random_leaves(3000, 41);
  {
    Db db = f.open(LeafPolicy::unique, c);
    db.insert_many(model);
    db.checkpoint();
  }
  const std::string named = f.index_file();
  const auto whole = f.env.contents(named);
  f.put("/d/" + db::index_name(900), whole);
  f.put("/d/" + db::index_name(901), std::vector<std::uint8_t>(whole.begin(), whole.begin() + 5000));
  DbConfig reader = c;
  reader.read_only = true;
  {
    Db db("/d", std::nullopt, reader);
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, {}));
  }
  EXPECT_EQ(f.index_files().size(), 3u);
  {
    Db db = f.open(LeafPolicy::unique, c);
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, {}));
  }
  EXPECT_EQ(f.index_files(), std::vector<std::string>{named.substr(3)});
  EXPECT_TRUE(f.warnings.empty());
}

// Power loss at every operation of a checkpoint that writes the index: the
// reopen has every acknowledged leaf and answers lookups as the model.
TEST(DbStoredIndex, CrashWhileWritingTheIndex) {
  const std::vector<Node> first = test::random_leaves(2000, 51), second = test::random_leaves(1000, 52);
  std::uint64_t operations = 0;
  for (std::uint64_t crash_at = 1;; ++crash_at) {
    Fixture f;
    DbConfig c = f.config();
    {
      Db db = f.open(LeafPolicy::unique, c);
      db.insert_many(first);
      db.checkpoint();
      db.insert_many(second);
      db.flush();
      f.env.fail_at(crash_at, db::FaultInjectionEnv::Fault::crash);
      try {
        db.checkpoint();
      } catch (const Error&) {
      }
      if (!f.env.crashed()) {
        operations = crash_at;
        break;
      }
    }
    f.env.crash(crash_at);
    std::vector<Node> model = first;
    model.insert(model.end(), second.begin(), second.end());
    Db db = f.open(LeafPolicy::unique, c);
    ASSERT_NO_FATAL_FAILURE(test::expect_lookups(db, model, {}));
    expect_refusals(db, model, crash_at);
    ASSERT_LE(f.index_files().size(), 1u);
  }
  EXPECT_GT(operations, 3u);
}
