// rotortree_side_store_bench: the setup users run today -- a Merkle tree plus
// a key-value store (RocksDB) that refuses repeated leaves -- against one
// rotortree database with the `unique` leaf policy, on the same leaves in one
// run. Prints one JSON object. Design, durability and RocksDB options:
// docs/side-store-benchmark.md.
//
//   rotortree_side_store_bench [--leaves 2000000] [--batch 10000] [--dir DIR]
//                              [--lookups 1000000] [--lookup-batch 1024]
//                              [--check multiget|get] [--no-memory-pair] [--keep]
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "rotortree/db.hpp"
#include "rotortree/parallel.hpp"

namespace rtbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using rotortree::Error;
using rotortree::Errc;

constexpr std::size_t kArity = 4;
using Database = rotortree::RotorTree<Blake3, kArity>;
using MemoryTree = rotortree::LeanIMT<Blake3, kArity>;

struct Options {
  std::uint64_t leaves = 2'000'000;
  std::size_t batch = 10'000;
  std::string dir;
  std::size_t lookups = 1'000'000;
  std::size_t lookup_batch = 1024;
  std::string check = "multiget";
  bool memory_pair = true;
  bool keep = false;
};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "rotortree_side_store_bench: " << what << "\n";
  std::exit(2);
}

void check_ok(const rocksdb::Status& status, const char* what) {
  if (!status.ok()) fail(std::string(what) + ": " + status.ToString());
}

rocksdb::Slice key_of(const Node& leaf) { return {reinterpret_cast<const char*>(leaf.data()), leaf.size()}; }

std::uint64_t bytes_under(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

// Durability of both sides (docs/side-store-benchmark.md): a batch is
// acknowledged only when it is on stable storage. rotortree: flush::Manual,
// token.wait() = one log write + fdatasync per batch. RocksDB: WAL on,
// WriteOptions::sync = one WAL write + fdatasync per WriteBatch.
rotortree::DbConfig durable_config() {
  rotortree::DbConfig config;
  config.flush = rotortree::flush::Manual{};
  config.checkpoint = rotortree::checkpoint::Manual{};  // closing writes no checkpoint (not timed anyway)
  config.tree.threads = 0;
  return config;
}

// RocksDB configured as a user refusing nullifiers would: a Bloom filter
// (nearly every check is for an absent key), a block cache that holds the
// whole database (lookups are served from memory), no compression (random
// 32-byte keys do not compress), background threads for every core.
class SideStore {
 public:
  explicit SideStore(const fs::path& dir) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.error_if_exists = true;
    options.IncreaseParallelism(static_cast<int>(rotortree::hardware_threads()));
    options.compression = rocksdb::kNoCompression;
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.block_cache = rocksdb::NewLRUCache(std::size_t{2} << 30);
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    rocksdb::DB* db = nullptr;
    check_ok(rocksdb::DB::Open(options, dir.string(), &db), "RocksDB open");
    db_.reset(db);
    write_options_.sync = true;
    write_options_.disableWAL = false;
  }
  ~SideStore() {
    if (db_) db_->Close().PermitUncheckedError();
  }

  // The duplicate check of a batch: a leaf repeated inside it, or already
  // stored. Returns the position of the first offending leaf found.
  std::optional<std::size_t> find_duplicate(std::span<const Node> batch, bool multiget) {
    order_.resize(batch.size());
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    std::sort(order_.begin(), order_.end(),
              [&](std::size_t a, std::size_t b) { return batch[a] < batch[b]; });
    for (std::size_t i = 1; i < order_.size(); ++i)
      if (batch[order_[i]] == batch[order_[i - 1]]) return std::max(order_[i], order_[i - 1]);
    if (!multiget) {
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (get(batch[i])) return i;
      return std::nullopt;
    }
    keys_.clear();
    for (std::size_t position : order_) keys_.push_back(key_of(batch[position]));
    values_.resize(keys_.size());
    statuses_.resize(keys_.size());
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), keys_.size(), keys_.data(),
                  values_.data(), statuses_.data(), /*sorted_input=*/true);
    std::optional<std::size_t> found;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (statuses_[i].ok()) {
        if (!found || order_[i] < *found) found = order_[i];
      } else if (!statuses_[i].IsNotFound()) {
        check_ok(statuses_[i], "RocksDB MultiGet");
      }
      values_[i].Reset();
    }
    return found;
  }

  // leaf -> its index, 8 bytes little-endian; durable when it returns.
  void put_batch(std::span<const Node> batch, std::uint64_t first_index) {
    rocksdb::WriteBatch write;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::uint64_t index = first_index + i;
      write.Put(key_of(batch[i]), rocksdb::Slice(reinterpret_cast<const char*>(&index), sizeof index));
    }
    check_ok(db_->Write(write_options_, &write), "RocksDB write");
  }

  std::optional<std::uint64_t> get(const Node& leaf) {
    rocksdb::PinnableSlice value;
    const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key_of(leaf), &value);
    if (status.IsNotFound()) return std::nullopt;
    check_ok(status, "RocksDB Get");
    return decode(value);
  }

  // Lookups of many leaves, in the caller's order (RocksDB sorts them).
  void multi_get(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) {
    keys_.clear();
    for (const Node& leaf : leaves) keys_.push_back(key_of(leaf));
    values_.resize(keys_.size());
    statuses_.resize(keys_.size());
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), keys_.size(), keys_.data(),
                  values_.data(), statuses_.data(), /*sorted_input=*/false);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (statuses_[i].IsNotFound()) {
        out[i] = std::nullopt;
      } else {
        check_ok(statuses_[i], "RocksDB MultiGet");
        out[i] = decode(values_[i]);
      }
      values_[i].Reset();
    }
  }

  // Everything into one sorted run at the bottom level: the database's most
  // compact and fastest-to-read shape.
  void compact() {
    check_ok(db_->Flush(rocksdb::FlushOptions()), "RocksDB flush");
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    check_ok(db_->CompactRange(options, nullptr, nullptr), "RocksDB compaction");
  }

  // Read every block once, so lookups are timed against a warm block cache.
  std::uint64_t warm() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    std::uint64_t keys = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++keys;
    check_ok(it->status(), "RocksDB scan");
    return keys;
  }

  std::uint64_t property(const char* name) {
    std::uint64_t value = 0;
    if (!db_->GetIntProperty(name, &value)) fail(std::string("RocksDB property ") + name);
    return value;
  }

 private:
  static std::uint64_t decode(const rocksdb::Slice& value) {
    if (value.size() != sizeof(std::uint64_t)) fail("RocksDB value of unexpected size");
    std::uint64_t index;
    std::memcpy(&index, value.data(), sizeof index);
    return index;
  }

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
  std::vector<std::size_t> order_;
  std::vector<rocksdb::Slice> keys_;
  std::vector<rocksdb::PinnableSlice> values_;
  std::vector<rocksdb::Status> statuses_;
};

// Wall-clock and process CPU time (every thread: RocksDB's background jobs,
// the hashing threads, the log writer) since construction. The machine may
// be shared: CPU time is the cross-check that does not count waiting for a core.
struct Stopwatch {
  Clock::time_point wall_start = Clock::now();
  double cpu_start = process_cpu_seconds();

  static double process_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
  }
  double wall() const { return seconds_since(wall_start); }
  double cpu() const { return process_cpu_seconds() - cpu_start; }
};

struct InsertFigures {
  double seconds = 0;
  double cpu_seconds = 0;
  double check_seconds = 0;  // the pair's duplicate check (part of `seconds`)
  std::optional<Node> root;

  void stop(const Stopwatch& watch) {
    seconds = watch.wall();
    cpu_seconds = watch.cpu();
  }
  json to_json(std::uint64_t leaves) const {
    json out{{"seconds", seconds}, {"cpu_seconds", cpu_seconds},
             {"leaves_per_sec", static_cast<double>(leaves) / seconds}};
    if (check_seconds > 0) out["check_seconds"] = check_seconds;
    return out;
  }
};

std::span<const Node> batch_at(std::span<const Node> leaves, std::uint64_t done, std::size_t batch) {
  return leaves.subspan(done, std::min<std::uint64_t>(batch, leaves.size() - done));
}

// The pair with a durable tree: check, then the RocksDB write and the tree's
// log write overlapped (the tree's log is written while RocksDB syncs), a
// batch acknowledged when both are durable.
InsertFigures run_pair_db(std::span<const Node> leaves, const Options& options, Database& tree, SideStore& store) {
  InsertFigures figures;
  const bool multiget = options.check == "multiget";
  const Stopwatch watch;
  for (std::uint64_t done = 0; done < leaves.size(); done += options.batch) {
    const auto batch = batch_at(leaves, done, options.batch);
    const auto check_start = Clock::now();
    if (store.find_duplicate(batch, multiget)) fail("pair: a leaf of the stream was refused");
    figures.check_seconds += seconds_since(check_start);
    const auto result = tree.insert_many(batch);
    store.put_batch(batch, done);
    result.token.wait();
  }
  figures.stop(watch);
  figures.root = tree.root();
  return figures;
}

// The pair with an in-memory tree: RocksDB is the only durable store (the
// tree is rebuilt from its leaf -> index entries on restart). The cheapest
// form of the pair; a batch is acknowledged when RocksDB synced it.
InsertFigures run_pair_memory(std::span<const Node> leaves, const Options& options, SideStore& store) {
  InsertFigures figures;
  const bool multiget = options.check == "multiget";
  MemoryTree tree(rotortree::TreeOptions{.threads = 0});
  const Stopwatch watch;
  for (std::uint64_t done = 0; done < leaves.size(); done += options.batch) {
    const auto batch = batch_at(leaves, done, options.batch);
    const auto check_start = Clock::now();
    if (store.find_duplicate(batch, multiget)) fail("pair: a leaf of the stream was refused");
    figures.check_seconds += seconds_since(check_start);
    store.put_batch(batch, done);
    tree.insert_many(batch);
  }
  figures.stop(watch);
  figures.root = tree.root();
  return figures;
}

// One rotortree database, every batch durable before the next: the plain
// policy (no check; the tree half of the pair) or `unique` (check inside).
InsertFigures run_database(std::span<const Node> leaves, const Options& options, Database& db) {
  InsertFigures figures;
  const Stopwatch watch;
  for (std::uint64_t done = 0; done < leaves.size(); done += options.batch)
    db.insert_many(batch_at(leaves, done, options.batch)).token.wait();
  figures.stop(watch);
  figures.root = db.root();
  return figures;
}

struct LookupKeys {
  std::vector<Node> present;
  std::vector<std::uint64_t> present_index;
  std::span<const Node> absent;
};

// Checks each answer against the stream's ground truth.
struct Verifier {
  const LookupKeys& keys;
  void present(std::size_t i, const std::optional<std::uint64_t>& got) const {
    if (!got || *got != keys.present_index[i]) fail("lookup of a present leaf gave a wrong answer");
  }
  void absent(const std::optional<std::uint64_t>& got) const {
    if (got) fail("lookup of an absent leaf found it");
  }
};

struct LookupFigures {
  double ns = 0;      // wall-clock per lookup
  double cpu_ns = 0;  // process CPU per lookup
  json to_json() const { return {{"ns_per_lookup", ns}, {"cpu_ns_per_lookup", cpu_ns}, {"lookups_per_sec", 1e9 / ns}}; }
};

LookupFigures per_lookup(const Stopwatch& watch, std::size_t count) {
  const double n = static_cast<double>(count);
  return {watch.wall() * 1e9 / n, watch.cpu() * 1e9 / n};
}

// One lookup at a time.
template <class Lookup>
LookupFigures time_single(std::span<const Node> keys, Lookup&& lookup) {
  const Stopwatch watch;
  for (std::size_t i = 0; i < keys.size(); ++i) lookup(i, keys[i]);
  return per_lookup(watch, keys.size());
}

// Lookups in batches of `batch`.
template <class Lookup>
LookupFigures time_batched(std::span<const Node> keys, std::size_t batch, Lookup&& lookup) {
  std::vector<std::optional<std::uint64_t>> out(batch);
  const Stopwatch watch;
  for (std::size_t done = 0; done < keys.size(); done += batch) {
    const std::size_t count = std::min(batch, keys.size() - done);
    lookup(done, keys.subspan(done, count), std::span(out).first(count));
  }
  return per_lookup(watch, keys.size());
}

// NAME_present, NAME_absent (one `single(leaf)` at a time) and BATCHED_present,
// BATCHED_absent (`batched(leaves, answers)`), every answer verified.
template <class Single, class Batched>
std::map<std::string, LookupFigures> time_lookups(const LookupKeys& keys, std::size_t batch, const std::string& name,
                                                  const std::string& batched_name, const Single& single,
                                                  const Batched& batched) {
  const Verifier verify{keys};
  std::map<std::string, LookupFigures> out;
  out[name + "_present"] = time_single(keys.present, [&](std::size_t i, const Node& leaf) {
    verify.present(i, single(leaf));
  });
  out[name + "_absent"] = time_single(keys.absent, [&](std::size_t, const Node& leaf) {
    verify.absent(single(leaf));
  });
  out[batched_name + "_present"] = time_batched(keys.present, batch, [&](std::size_t first, auto leaves, auto answers) {
    batched(leaves, answers);
    for (std::size_t i = 0; i < answers.size(); ++i) verify.present(first + i, answers[i]);
  });
  out[batched_name + "_absent"] = time_batched(keys.absent, batch, [&](std::size_t, auto leaves, auto answers) {
    batched(leaves, answers);
    for (const auto& answer : answers) verify.absent(answer);
  });
  return out;
}

// get_present, get_absent (one Get at a time), multiget_present, multiget_absent.
std::map<std::string, LookupFigures> rocksdb_lookups(SideStore& store, const LookupKeys& keys, std::size_t batch) {
  return time_lookups(
      keys, batch, "get", "multiget", [&](const Node& leaf) { return store.get(leaf); },
      [&](auto leaves, auto answers) { store.multi_get(leaves, answers); });
}


// index_of_present, index_of_absent (one at a time), batched_present, batched_absent.
template <class Indexed>
std::map<std::string, LookupFigures> rotortree_lookups(const Indexed& db, const LookupKeys& keys, std::size_t batch) {
  return time_lookups(
      keys, batch, "index_of", "batched", [&](const Node& leaf) { return db.index_of(leaf); },
      [&](auto leaves, auto answers) { db.index_of(leaves, answers); });
}

json ratio(double slower, double faster, double slower_cpu, double faster_cpu) {
  return {{"wall", slower / faster}, {"cpu", slower_cpu / faster_cpu}};
}
json ratio(const LookupFigures& slower, const LookupFigures& faster) {
  return ratio(slower.ns, faster.ns, slower.cpu_ns, faster.cpu_ns);
}
json ratio(const InsertFigures& slower, const InsertFigures& faster) {
  return ratio(slower.seconds, faster.seconds, slower.cpu_seconds, faster.cpu_seconds);
}

json to_json(const std::map<std::string, LookupFigures>& figures) {
  json out = json::object();
  for (const auto& [name, value] : figures) out[name] = value.to_json();
  return out;
}

// A side must refuse a batch holding a stored leaf, and one repeating a leaf
// inside it, and store nothing of it.
bool pair_refuses_duplicates(std::span<const Node> stored, std::span<const Node> fresh, SideStore& store) {
  const std::vector<Node> with_stored{fresh[0], stored[stored.size() / 2]};
  const std::vector<Node> repeated{fresh[1], fresh[1]};
  return store.find_duplicate(with_stored, true) == 1 && store.find_duplicate(with_stored, false) == 1 &&
         store.find_duplicate(repeated, true) == 1 && !store.get(fresh[0]) && !store.get(fresh[1]);
}

template <class Db>
bool database_refuses_duplicates(std::span<const Node> stored, std::span<const Node> fresh, Db& db) {
  const std::vector<Node> with_stored{fresh[0], stored[stored.size() / 2]};
  const std::vector<Node> repeated{fresh[1], fresh[1]};
  const std::uint64_t size = db.size();
  bool refused = true;
  for (const auto& batch : {with_stored, repeated}) {
    try {
      db.insert_many(batch);
      refused = false;
    } catch (const Error& e) {
      refused = refused && e.code() == Errc::duplicate_leaf;
    }
  }
  return refused && db.size() == size && !db.index_of(fresh[0]) && !db.index_of(fresh[1]) && !db.background_error();
}

int run(const Options& options) {
  if (options.leaves < 2 || options.batch == 0 || options.lookups == 0 || options.lookup_batch == 0)
    fail("--leaves must be at least 2; --batch, --lookups and --lookup-batch at least 1");
  // Leaves [0, L) are inserted; the next `lookups` leaves of the same stream are the absent keys.
  const auto stream = leaves(options.leaves + std::max<std::size_t>(options.lookups, 2));
  const auto inserted = stream.first(options.leaves);
  LookupKeys keys;
  keys.present_index = random_indices(options.leaves, options.lookups);
  for (std::uint64_t index : keys.present_index) keys.present.push_back(inserted[index]);
  keys.absent = stream.subspan(options.leaves, options.lookups);

  fs::path root_dir;
  if (options.dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "rotortree-side-store-XXXXXX").string();
    if (!mkdtemp(pattern.data())) fail("cannot create a temporary directory");
    root_dir = pattern;
  } else {
    root_dir = options.dir;
    if (fs::exists(root_dir) && !fs::is_empty(root_dir)) fail(root_dir.string() + " exists and is not empty");
    fs::create_directories(root_dir);
  }

  json out;
  out["leaves"] = options.leaves;
  out["batch"] = options.batch;
  out["lookups"] = options.lookups;
  out["lookup_batch"] = options.lookup_batch;
  out["check"] = options.check;
  out["arity"] = kArity;
  out["hash"] = "blake3";
  out["hardware_threads"] = rotortree::hardware_threads();
  out["rocksdb_version"] = std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
                           std::to_string(ROCKSDB_PATCH);
  out["durability"] = "every batch acknowledged after fdatasync on both sides";

  // 1. The pair with an in-memory tree (its RocksDB is dropped afterwards).
  std::optional<InsertFigures> pair_memory;
  if (options.memory_pair) {
    SideStore store(root_dir / "pair-memory-rocksdb");
    pair_memory = run_pair_memory(inserted, options, store);
  }
  fs::remove_all(root_dir / "pair-memory-rocksdb");

  // 2. The pair with the durable tree; its RocksDB is kept for the lookups,
  // compacted first so no background work runs during the next phases.
  auto store = std::make_unique<SideStore>(root_dir / "pair-rocksdb");
  InsertFigures pair_db;
  {
    Database tree((root_dir / "pair-tree").string(), durable_config());
    pair_db = run_pair_db(inserted, options, tree, *store);
  }
  fs::remove_all(root_dir / "pair-tree");
  const auto compact_start = Clock::now();
  store->compact();
  out["rocksdb_compaction_seconds"] = seconds_since(compact_start);

  // 3. The plain database alone: what the tree half of the pair costs.
  InsertFigures plain_db;
  {
    Database db((root_dir / "plain-db").string(), durable_config());
    plain_db = run_database(inserted, options, db);
  }
  fs::remove_all(root_dir / "plain-db");

  json insert{{"pair_durable_tree_rocksdb", pair_db.to_json(options.leaves)},
              {"plain_db", plain_db.to_json(options.leaves)}};
  if (pair_memory) insert["pair_memory_tree_rocksdb"] = pair_memory->to_json(options.leaves);
  bool roots_equal = (!pair_memory || pair_memory->root == pair_db.root) && pair_db.root == plain_db.root;

  // 4. Ours: the unique database (kept open for the lookups).
  auto unique_owner = std::make_unique<Database>(
      (root_dir / "unique-db").string(),
      rotortree::tree_params<Blake3, kArity>(rotortree::NodeHash::lean_imt, rotortree::LeafPolicy::unique),
      durable_config());
  Database& unique = *unique_owner;
  const InsertFigures unique_db = run_database(inserted, options, unique);
  insert["unique_db"] = unique_db.to_json(options.leaves);
  out["insert"] = insert;
  out["roots_equal"] = roots_equal = roots_equal && unique_db.root == plain_db.root;

  // 5. Lookups of the same keys, verified.
  if (store->warm() != options.leaves) fail("RocksDB holds a different number of keys than were inserted");
  const auto rocks = rocksdb_lookups(*store, keys, options.lookup_batch);
  const std::map<std::string, LookupFigures> ours = rotortree_lookups(unique, keys, options.lookup_batch);
  out["lookup"] = {{"rocksdb", to_json(rocks)}, {"rotortree", to_json(ours)}};

  // 6. Refusals (after the lookups: a refused batch must leave everything as it was).
  const auto fresh = stream.subspan(options.leaves);
  const bool refused =
      pair_refuses_duplicates(inserted, fresh, *store) && database_refuses_duplicates(inserted, fresh, unique);
  out["refused_duplicates"] = refused;

  // 7. Sizes.
  const double keys_count = static_cast<double>(options.leaves);
  out["rocksdb_sst_bytes_per_key"] = static_cast<double>(store->property("rocksdb.total-sst-files-size")) / keys_count;
  out["rocksdb_table_readers_memory_bytes_per_key"] =
      static_cast<double>(store->property("rocksdb.estimate-table-readers-mem")) / keys_count;
  store.reset();
  out["rocksdb_directory_bytes_per_key"] = static_cast<double>(bytes_under(root_dir / "pair-rocksdb")) / keys_count;
  out["unique_index_bytes_per_leaf"] = static_cast<double>(unique.index_bytes()) / keys_count;

  // Each ratio: how many times faster ours is (wall clock, and process CPU).
  json ratios = json::object();
  ratios["check_then_insert_vs_durable_tree_rocksdb"] = ratio(pair_db, unique_db);
  if (pair_memory) ratios["check_then_insert_vs_memory_tree_rocksdb"] = ratio(*pair_memory, unique_db);
  ratios["plain_db_vs_durable_tree_rocksdb"] = ratio(pair_db, plain_db);
  ratios["unique_vs_plain_db"] = ratio(plain_db, unique_db);  // rate / plain rate: below 1 by what the check costs
  ratios["index_of_vs_get_present"] = ratio(rocks.at("get_present"), ours.at("index_of_present"));
  ratios["index_of_vs_get_absent"] = ratio(rocks.at("get_absent"), ours.at("index_of_absent"));
  ratios["batched_vs_multiget_present"] = ratio(rocks.at("multiget_present"), ours.at("batched_present"));
  ratios["batched_vs_multiget_absent"] = ratio(rocks.at("multiget_absent"), ours.at("batched_absent"));
  ratios["batched_vs_get_present"] = ratio(rocks.at("get_present"), ours.at("batched_present"));
  out["ratios"] = ratios;

  unique_owner.reset();
  if (!options.keep) fs::remove_all(root_dir);
  std::cout << out.dump(2) << "\n";
  return roots_equal && refused ? 0 : 1;
}

}  // namespace
}  // namespace rtbench

int main(int argc, char** argv) {
  rtbench::Options options;
  CLI::App app{"Tree + RocksDB (the duplicate check users run today) against one rotortree `unique` database"};
  app.add_option("--leaves", options.leaves, "leaves inserted (default 2000000)");
  app.add_option("--batch", options.batch, "leaves per batch, each acknowledged durable (default 10000)");
  app.add_option("--dir", options.dir, "an empty or new directory for the stores (default: a temporary one)");
  app.add_option("--lookups", options.lookups, "present and absent lookups each (default 1000000)");
  app.add_option("--lookup-batch", options.lookup_batch, "leaves per MultiGet / batched index_of (default 1024)");
  app.add_option("--check", options.check, "the pair's duplicate check: one MultiGet per batch or a Get per leaf")
      ->check(CLI::IsMember({"multiget", "get"}));
  app.add_flag("!--no-memory-pair", options.memory_pair, "skip the pair whose tree is in memory only");
  app.add_flag("--keep", options.keep, "keep the stores in --dir afterwards");
  CLI11_PARSE(app, argc, argv);
  try {
    return rtbench::run(options);
  } catch (const std::exception& e) {
    std::cerr << "rotortree_side_store_bench: " << e.what() << "\n";
    return 2;
  }
}
