// `rotortree bench`: the figures of SPEC §4, measured in one run.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "rotortree/geometry.hpp"
#include "db/log_writer.hpp"
#include "dispatch.hpp"
#include "rotortree/db.hpp"
#include "rotortree/rotortree.hpp"

namespace rotortree::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct BenchOptions {
  std::uint64_t leaves = 10'000'000;
  std::uint64_t batch = 1'000'000;
  unsigned arity = 4;
  std::size_t threads = 0;  // 0: all cores
  std::size_t parallel_threshold = 0;  // 0: ROTORTREE_PARALLEL_THRESHOLD or 1024
  std::string hash = "blake3";
  bool json = false;
  bool storage = false;
  std::uint64_t reopen_leaves = 100'000'000;
  std::string dir;  // storage mode: where the databases go (default: a temp dir)
  std::uint64_t single_inserts = 1'000'000;
  std::uint64_t proofs = 200'000;
  std::uint64_t snapshots = 1'000'000;
  std::string leaf_policy = "none";  // index / unique: also the lookup figures of SPEC §5
  std::uint64_t lookups = 2'000'000;
};

/// Progress on stderr, only when a person is watching.
class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), enabled_(isatty(2) != 0) {}
  void update(double fraction) {
    if (!enabled_) return;
    std::fprintf(stderr, "\r%-34s %5.1f%%", what_.c_str(), 100.0 * fraction);
    std::fflush(stderr);
  }
  ~Progress() {
    if (enabled_) std::fprintf(stderr, "\r%-34s done  \n", what_.c_str());
  }

 private:
  std::string what_;
  bool enabled_;
};

// Rewinds the benches time: 1,000 leaves (a reorganisation of a few blocks).
constexpr std::uint64_t kRewound = 1000;
constexpr int kRewinds = 64;

/// Pseudo-random prehashed leaves; never hashed by the tree. For a hash of
/// field elements (Poseidon) the top byte is masked below p's (0x30).
template <Hasher H>
std::vector<Node> make_leaves(std::uint64_t count, std::uint64_t seed) {
  std::vector<Node> leaves(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    leaves[i] = pseudo_random_leaf(seed, i);
    if constexpr (DomainHasher<H>) leaves[i][0] &= 0x2f;
  }
  return leaves;
}

/// The kernel batches of H go through.
template <Hasher H>
std::string kernel_name() {
  if constexpr (requires { H::kernel(); }) return std::string(H::kernel());
  else return "openssl";
}

/// The fields every bench result starts with (SPEC §4).
template <Hasher H, std::size_t N>
nlohmann::ordered_json result_header(const BenchOptions& options, std::size_t threads) {
  nlohmann::ordered_json result;
  result["arity"] = N;
  result["hash"] = std::string(H::name);
  result["leaves"] = options.leaves;
  result["batch"] = options.batch;
  result["threads"] = threads;
  return result;
}

/// How many groups of each size (2..N) inserting `leaves` in batches hashes.
std::map<unsigned, std::uint64_t> groups_hashed(std::uint64_t leaves, std::uint64_t batch, unsigned n) {
  std::map<unsigned, std::uint64_t> groups;
  for (std::uint64_t old_size = 0; old_size < leaves;) {
    const std::uint64_t new_size = std::min(leaves, old_size + batch);
    std::uint64_t first = old_size, length = new_size;
    while (length > 1) {
      const std::uint64_t parent_first = geometry::parent_of(first, n);
      const std::uint64_t parent_end = geometry::parent_count(length, n);
      const std::uint64_t full_end = std::min(parent_end, geometry::full_groups(length, n));
      if (parent_first < full_end) groups[n] += full_end - parent_first;
      if (full_end < parent_end && length % n >= 2) groups[static_cast<unsigned>(length % n)] += 1;
      first = parent_first;
      length = parent_end;
    }
    old_size = new_size;
  }
  return groups;
}

/// The hashing limit: the same parent hashes, from contiguous input, with
/// the library's fastest kernel (Hasher::hash_many) on `threads` threads.
template <Hasher H>
double hash_limit_seconds(const std::map<unsigned, std::uint64_t>& groups,
                          const std::vector<Node>& input, std::size_t threads) {
  // Short inputs (small trees) are repeated to a buffer every group size fits.
  std::vector<Node> repeated;
  const std::vector<Node>* source = &input;
  if (input.size() < kMaxArity * 4096) {
    repeated.resize(kMaxArity * 4096);
    for (std::size_t i = 0; i < repeated.size(); ++i) repeated[i] = input[i % input.size()];
    source = &repeated;
  }
  const std::vector<Node>& data = *source;
  const std::size_t input_nodes = data.size();
  std::uint64_t total = 0;
  for (const auto& [k, count] : groups) total += count;
  std::vector<Node> output(total);
  std::fill(output.begin(), output.end(), Node{});  // fault the pages in before timing
  Executor executor(threads);
  executor.for_ranges(0, 64 * threads, 1, [](std::size_t, std::size_t) {});  // start the workers untimed
  const auto start = Clock::now();
  std::uint64_t out_offset = 0;
  for (const auto& [k, count] : groups) {
    // Messages per kernel call, and where each call reads: consecutive groups
    // of the leaf buffer, wrapping around when it is shorter than the input.
    const std::uint64_t per_block = std::max<std::uint64_t>(1, std::min<std::uint64_t>(4096, input_nodes / k));
    const std::uint64_t block_starts = input_nodes / k - per_block + 1;  // >= 1
    const std::uint64_t blocks = geometry::ceil_div(count, per_block);
    auto hash_blocks = [&, k = k, count = count, out_offset](std::size_t b, std::size_t e) {
      for (std::size_t block = b; block < e; ++block) {
        const std::uint64_t first = block * per_block;
        const std::uint64_t n = std::min<std::uint64_t>(per_block, count - first);
        const std::uint64_t base = (first % block_starts) * k;
        H::hash_many(data[base].data(), 32u * k, 32u * k, n, output[out_offset + first].data());
      }
    };
    if (threads > 1)
      executor.for_ranges(0, blocks, 1, hash_blocks);
    else
      hash_blocks(0, blocks);
    out_offset += count;
  }
  return seconds_since(start);
}

template <Hasher H, std::size_t N>
nlohmann::ordered_json run(const BenchOptions& options) {
  const std::size_t threads = options.threads == 0 ? hardware_threads() : options.threads;
  const std::vector<Node> leaves = make_leaves<H>(options.leaves, 42);
  const std::vector<Node> extra = make_leaves<H>(options.single_inserts, 4242);
  const TreeOptions tree_options{.threads = threads, .parallel_threshold = options.parallel_threshold};

  // Keep the tree's slabs for reuse: the timed run then measures insertion,
  // not the kernel's page faults (reported separately as the cold figure).
  const std::size_t expected_bytes =
      static_cast<std::size_t>(options.leaves * 32.0 * N / (N - 1) * 1.1) + (64u << 20);
  memory::set_slab_cache_limit(std::max(memory::slab_cache_limit(), expected_bytes));

  const LeafPolicy leaf_policy = parse_leaf_policy(options.leaf_policy);
  auto insert_all = [&](LeanIMT<H, N>& tree, const char* label) {
    Progress progress(label);
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < options.leaves; done += options.batch) {
      const std::uint64_t n = std::min(options.batch, options.leaves - done);
      tree.insert_many(std::span<const Node>(leaves).subspan(done, n));
      progress.update(static_cast<double>(done + n) / options.leaves);
    }
    return seconds_since(start);
  };

  double cold_seconds;
  {
    LeanIMT<H, N> warmup(tree_options);
    cold_seconds = insert_all(warmup, "insert_many (cold memory)");
  }
  // With several threads, the same run also measures one thread: the
  // speed-up is a ratio of two figures taken minutes apart at most.
  double one_thread_seconds = 0;
  if (threads > 1) {
    one_thread_seconds = 1e300;
    for (int repeat = 0; repeat < 3; ++repeat) {
      LeanIMT<H, N> sequential(TreeOptions{.threads = 1});
      one_thread_seconds = std::min(one_thread_seconds, insert_all(sequential, "insert_many (1 thread)"));
    }
  }
  // Insertion and its hashing limit, alternately, best of kRepeats each: the
  // machine is shared, and the ratio of two minima is the stable figure.
  constexpr int kRepeats = 3;
  const auto groups = groups_hashed(options.leaves, options.batch, N);
  double insert_seconds = 1e300, limit_seconds = 1e300, indexed_seconds = 1e300;
  std::unique_ptr<LeanIMT<H, N>> kept, indexed;
  for (int repeat = 0; repeat < kRepeats; ++repeat) {
    auto candidate = std::make_unique<LeanIMT<H, N>>(tree_options);
    insert_seconds = std::min(insert_seconds, insert_all(*candidate, "insert_many"));
    kept.reset();  // its slabs go back to the cache for the next run
    kept = std::move(candidate);
    if (leaf_policy != LeafPolicy::none) {  // the same batches with the leaf policy, alternately
      indexed.reset();
      auto with_index = std::make_unique<LeanIMT<H, N>>(tree_params<H, N>(NodeHash::lean_imt, leaf_policy), tree_options);
      indexed_seconds = std::min(indexed_seconds, insert_all(*with_index, "insert_many (leaf policy)"));
      indexed = std::move(with_index);
    }
    Progress progress("hashing limit");
    limit_seconds = std::min(limit_seconds, hash_limit_seconds<H>(groups, leaves, threads));
  }
  LeanIMT<H, N>& tree = *kept;
  const std::size_t storage_bytes = tree.storage_bytes();

  // Snapshots of the L-leaf tree.
  const auto snapshot_start = Clock::now();
  std::uint64_t checksum = 0;
  for (std::uint64_t i = 0; i < options.snapshots; ++i) checksum += tree.snapshot().size();
  const double snapshot_ns = seconds_since(snapshot_start) * 1e9 / options.snapshots;

  // Proofs of random leaves from one snapshot, then their verification.
  const auto snapshot = tree.snapshot();
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> indices(options.proofs);
  for (auto& index : indices) index = random() % options.leaves;
  const auto prove_start = Clock::now();
  for (std::uint64_t i = 0; i < options.proofs; ++i) checksum += snapshot.prove(indices[i]).path.siblings.size();
  const double proof_ns = seconds_since(prove_start) * 1e9 / options.proofs;
  // Proofs to verify, made outside the timed loops.
  std::vector<InclusionProof> proofs;
  proofs.reserve(std::min<std::uint64_t>(options.proofs, 20'000));
  for (std::uint64_t i = 0; i < proofs.capacity(); ++i) proofs.push_back(snapshot.prove(indices[i]));
  const auto verify_start = Clock::now();
  std::uint64_t valid = 0;
  for (const InclusionProof& proof : proofs) valid += verify(proof).valid;
  const double verify_ns = seconds_since(verify_start) * 1e9 / proofs.size();
  if (valid != proofs.size()) throw Error(Errc::invalid_argument, "bench: a generated proof did not verify");

  // Latency of one hash of a full group: a single insert chains one such hash
  // per level whose edge group has two or more nodes.
  double group_hash_ns;
  {
    Node group[N]{};
    const int rounds = 200'000;
    const auto start = Clock::now();
    for (int i = 0; i < rounds; ++i) hash_group<H>(tree.node_hash(), group, N, group[0]);
    group_hash_ns = seconds_since(start) * 1e9 / rounds;
    checksum += group[0][0];
  }
  unsigned hashing_levels = 0;
  for (std::uint64_t length = tree.size(); length > 1; length = geometry::parent_count(length, N))
    hashing_levels += length % N != 1;

  // Single inserts into the L-leaf tree.
  double single_seconds;
  {
    Progress progress("single inserts");
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < options.single_inserts; ++i) {
      checksum += tree.insert(extra[i])[0];
      if (i % 65536 == 0) progress.update(static_cast<double>(i) / options.single_inserts);
    }
    single_seconds = seconds_since(start);
  }

  // Rewinds of 1,000 leaves (a reorganisation of a few blocks), each followed
  // by regrowth with other leaves (not timed); then proofs from the snapshot
  // taken before them all, which resolve the replaced chunks through every
  // rewind's record.
  double rewind_seconds = 0, proof_after_rewinds_ns = 0;
  if (tree.size() >= kRewound) {
    const std::vector<Node> regrowth = make_leaves<H>(kRewound, 777);
    for (int r = 0; r < kRewinds; ++r) {
      const auto start = Clock::now();
      checksum += tree.rewind(tree.size() - kRewound).value_or(Node{})[0];
      rewind_seconds += seconds_since(start);
      checksum += tree.insert_many(regrowth)[0];
    }
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < options.proofs; ++i) checksum += snapshot.prove(indices[i]).path.siblings.size();
    proof_after_rewinds_ns = seconds_since(start) * 1e9 / options.proofs;
  }

  // Lookups (SPEC §5): batched, of random present and of absent leaves, on
  // `threads` threads; one at a time; the index's memory.
  double lookup_seconds = 0, absent_seconds = 0, single_lookup_ns = 0;
  if (indexed) {
    const auto view = indexed->snapshot();
    const std::uint64_t lookups = options.lookups;
    std::vector<Node> present(lookups), absent = make_leaves<H>(lookups, 4343);
    for (std::uint64_t i = 0; i < lookups; ++i) present[i] = leaves[random() % options.leaves];
    std::vector<std::optional<std::uint64_t>> out(lookups);
    Executor executor(threads);
    auto batched = [&](const std::vector<Node>& queries, const char* label) {
      Progress progress(label);
      double best = 1e300;
      for (int repeat = 0; repeat < 3; ++repeat) {
        const auto start = Clock::now();
        auto run_range = [&](std::size_t b, std::size_t e) {
          view.index_of(std::span<const Node>(queries).subspan(b, e - b),
                        std::span<std::optional<std::uint64_t>>(out).subspan(b, e - b));
        };
        if (threads > 1)
          executor.for_ranges(0, lookups, 65536, run_range);
        else
          run_range(0, lookups);
        best = std::min(best, seconds_since(start));
      }
      return best;
    };
    lookup_seconds = batched(present, "index_of (batched)");
    for (std::uint64_t i = 0; i < lookups; ++i)
      if (!out[i] || leaves[*out[i]] != present[i]) throw Error(Errc::invalid_argument, "bench: a lookup failed");
    absent_seconds = batched(absent, "index_of (absent)");
    for (std::uint64_t i = 0; i < lookups; ++i) checksum += out[i].has_value();
    const std::uint64_t singles = std::min<std::uint64_t>(lookups, 1'000'000);
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < singles; ++i) checksum += *view.index_of(present[i]);
    single_lookup_ns = seconds_since(start) * 1e9 / singles;
  }

  const double leaves_d = static_cast<double>(options.leaves);
  nlohmann::ordered_json result = result_header<H, N>(options, threads);
  result["insert_many_leaves_per_sec"] = leaves_d / insert_seconds;
  if (indexed) {
    result["leaf_policy"] = std::string(to_string(leaf_policy));
    result["unique_insert_many_leaves_per_sec"] = leaves_d / indexed_seconds;
    result["unique_to_plain_insert_ratio"] = insert_seconds / indexed_seconds;
    result["index_of_per_sec"] = options.lookups / lookup_seconds;
    result["index_of_absent_per_sec"] = options.lookups / absent_seconds;
    result["index_of_ns"] = single_lookup_ns;
    result["index_bytes_per_leaf"] = static_cast<double>(indexed->index_bytes()) / leaves_d;
  }
  result["hash_limit_leaves_per_sec"] = leaves_d / limit_seconds;
  result["single_insert_per_sec"] = options.single_inserts / single_seconds;
  result["proof_ns"] = proof_ns;
  result["verify_ns"] = verify_ns;
  result["snapshot_ns"] = snapshot_ns;
  if (rewind_seconds > 0) {
    result["rewind_1000_us"] = rewind_seconds * 1e6 / kRewinds;
    result["proof_after_64_rewinds_ns"] = proof_after_rewinds_ns;
  }
  result["bytes_per_leaf"] = static_cast<double>(storage_bytes) / leaves_d;
  // Context for the figures above.
  result["insert_many_to_limit_ratio"] = limit_seconds / insert_seconds;
  result["insert_many_cold_leaves_per_sec"] = leaves_d / cold_seconds;
  if (one_thread_seconds > 0) {
    result["insert_many_1thread_leaves_per_sec"] = leaves_d / one_thread_seconds;
    result["thread_speedup"] = one_thread_seconds / insert_seconds;
  }
  result["group_hash_latency_ns"] = group_hash_ns;
  result["hashing_levels_at_size"] = hashing_levels;
  result["kernel"] = kernel_name<H>();
  result["parallel_threshold"] = tree.parallel_threshold();
  result["checksum"] = checksum % 1000;  // keeps the timed loops from being optimised away
  return result;
}

/// A scratch directory for the storage benchmark, removed afterwards.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent) {
    namespace fs = std::filesystem;
    const fs::path base = parent.empty() ? fs::temp_directory_path() : fs::path(parent);
    path_ = base / ("rotortree-bench-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::uint64_t directory_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

/// The database figures of the durable-database issue, each beside the
/// in-memory figure it is judged against, measured in the same run.
template <Hasher H, std::size_t N>
nlohmann::ordered_json run_storage(const BenchOptions& options) {
  using Db = RotorTree<H, N>;
  const std::size_t threads = options.threads == 0 ? hardware_threads() : options.threads;
  const TreeOptions tree_options{.threads = threads, .parallel_threshold = options.parallel_threshold};
  const std::vector<Node> leaves = make_leaves<H>(options.leaves, 42);
  const std::vector<Node> extra = make_leaves<H>(options.single_inserts, 4242);
  const ScratchDir scratch(options.dir);
  const std::size_t expected_bytes =
      static_cast<std::size_t>(std::max(options.leaves, options.reopen_leaves) * 32.0 * N / (N - 1) * 1.1);
  memory::set_slab_cache_limit(std::max(memory::slab_cache_limit(), expected_bytes));
  {  // warm the slab cache so both sides start from reused memory
    LeanIMT<H, N> warmup(tree_options);
    warmup.insert_many(leaves);
  }
  auto batches = [&](auto&& insert_batch, const char* label) {
    Progress progress(label);
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < options.leaves; done += options.batch) {
      const std::uint64_t n = std::min(options.batch, options.leaves - done);
      insert_batch(std::span<const Node>(leaves).subspan(done, n));
      progress.update(static_cast<double>(done + n) / options.leaves);
    }
    return seconds_since(start);
  };
  auto singles = [&](auto&& insert_one, const char* label) {
    Progress progress(label);
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < options.single_inserts; ++i) {
      insert_one(extra[i]);
      if (i % 65536 == 0) progress.update(static_cast<double>(i) / options.single_inserts);
    }
    return seconds_since(start);
  };

  // 1. Batches: in memory, then durable with every token awaited.
  double memory_batches, memory_singles;
  {  // destroyed before the database opens: its slabs, cached, serve the database's tree warm as well
    ConcurrentLeanIMT<H, N> memory_tree(tree_options);
    memory_batches = batches([&](auto batch) { memory_tree.insert_many(batch); }, "insert_many (memory)");
    memory_singles = singles([&](const Node& leaf) { memory_tree.insert(leaf); }, "single inserts (memory)");
  }
  double durable_batches, durable_singles, durable_recycled_batches;
  std::uint64_t disk_bytes, data_bytes;
  {
    DbConfig config;
    config.tree = tree_options;
    config.flush = flush::Interval{std::chrono::milliseconds(10)};
    Db db(scratch.sub("batches"), config);
    durable_batches = batches([&](auto batch) { db.insert_many(batch).token.wait(); }, "insert_many (durable)");
    // 2. Single inserts, Interval(10 ms), tokens not awaited.
    durable_singles = singles([&](const Node& leaf) { db.insert(leaf); }, "single inserts (durable)");
    db.checkpoint();
    const DbInfo info = db.info();
    data_bytes = info.data_bytes;
    disk_bytes = directory_bytes(scratch.sub("batches"));
    // 1b. The same batches again into a recycled log: the checkpoint kept
    // the batches' log as the spare, and the rewind to 0 (below the
    // checkpoint, so it checkpoints and rotates) writes the next log over it.
    db.rewind(0).token.wait();
    durable_recycled_batches = batches([&](auto batch) { db.insert_many(batch).token.wait(); },
                                       "insert_many (durable, recycled log)");
  }

  // The disk's share: the same batches through the log alone (no tree), every
  // flush awaited. Durable insertion can't beat this, whatever the hashing does.
  double log_only_batches;
  {
    const std::string dir = scratch.sub("log-only");
    std::filesystem::create_directories(dir);
    db::WalWriter log(db::Env::posix(), dir, tree_params<H, N>(), db::random_db_id(), 1, 1, 0, true);
    log.start_interval(std::chrono::milliseconds(10));
    log_only_batches = batches([&](auto batch) { log.flush_to(log.append(batch)); }, "log writes alone");
  }

  // 3./4. Reopen a checkpointed database of reopen_leaves leaves.
  const std::uint64_t reopen_leaves = options.reopen_leaves;
  double reopen_seconds, reopen_mapped_seconds, reopen_verify_seconds, limit_seconds;
  constexpr int kDeepRewinds = 8;
  double rewind_call_seconds = 0, rewind_flush_seconds = 0, deep_rewind_seconds = 0, deep_rewind_flush_seconds = 0;
  {
    const std::string dir = scratch.sub("reopen");
    {
      DbConfig config;
      config.tree = tree_options;
      config.flush = flush::Manual{};
      Db db(dir, config);
      Progress progress("building the reopen database");
      for (std::uint64_t done = 0; done < reopen_leaves; done += options.leaves) {
        const std::uint64_t n = std::min<std::uint64_t>(options.leaves, reopen_leaves - done);
        for (std::uint64_t b = 0; b < n; b += options.batch)
          db.insert_many(std::span<const Node>(leaves).subspan(b, std::min(options.batch, n - b)));
        progress.update(static_cast<double>(done + n) / reopen_leaves);
      }
      db.flush();
    }  // closes with a checkpoint (OnClose)
    auto time_open = [&](DbConfig config) {
      config.tree = tree_options;
      config.flush = flush::Manual{};
      config.checkpoint = checkpoint::Manual{};
      const auto start = Clock::now();
      Db db(dir, config);
      const double seconds = seconds_since(start);
      if (db.size() != reopen_leaves) throw Error(Errc::corruption, "bench: reopened size differs");
      return seconds;
    };
    DbConfig mapped;
    mapped.pin_above_level = 33;  // every checkpointed chunk served from the data files
    DbConfig verifying;  // verify what a large database is reopened with: mapped levels
    verifying.pin_above_level = 33;
    verifying.verify_on_open = true;
    // Best of three of each, verification and its hashing limit alternately
    // (as insertion and its limit above): the ratio of two minima.
    reopen_seconds = reopen_mapped_seconds = reopen_verify_seconds = limit_seconds = 1e300;
    for (int repeat = 0; repeat < 3; ++repeat) {
      reopen_seconds = std::min(reopen_seconds, time_open(DbConfig{}));
      reopen_mapped_seconds = std::min(reopen_mapped_seconds, time_open(mapped));
      reopen_verify_seconds = std::min(reopen_verify_seconds, time_open(verifying));
      limit_seconds = std::min(limit_seconds, hash_limit_seconds<H>(groups_hashed(reopen_leaves, reopen_leaves, N),
                                                                    leaves, threads));
    }
    // 5. Durable rewinds of 1,000 leaves (a reorganisation of a few blocks)
    // in that database, each followed by regrowth (not timed). Shallow: above
    // the last checkpoint's full chunks, only the log record (the call, then
    // the wait for its flush, timed apart). Deep: below them, so the call also
    // rotates the log and writes meta; a checkpoint before each one.
    DbConfig config;
    config.tree = tree_options;
    config.flush = flush::Interval{std::chrono::milliseconds(10)};
    config.checkpoint = checkpoint::Manual{};
    Db db(dir, config);
    const std::vector<Node> regrowth = make_leaves<H>(kRewound, 777);
    const std::uint64_t fresh = std::min<std::uint64_t>(options.batch, leaves.size());
    db.insert_many(std::span<const Node>(leaves).first(fresh)).token.wait();  // beyond the checkpoint
    auto rewinds = [&](int count, bool deep, double& call_seconds, double& flush_seconds) {
      call_seconds = flush_seconds = 0;
      for (int r = 0; r < count; ++r) {
        if (deep) db.checkpoint();
        const auto start = Clock::now();
        auto rewound = db.rewind(db.size() - kRewound);
        call_seconds += seconds_since(start);
        const auto flushing = Clock::now();
        rewound.token.wait();
        flush_seconds += seconds_since(flushing);
        db.insert_many(regrowth).token.wait();
      }
    };
    if (fresh >= 2 * kRewound) rewinds(kRewinds, false, rewind_call_seconds, rewind_flush_seconds);
    if (db.size() >= kRewound) rewinds(kDeepRewinds, true, deep_rewind_seconds, deep_rewind_flush_seconds);
  }

  const double leaves_d = static_cast<double>(options.leaves);
  nlohmann::ordered_json result = result_header<H, N>(options, threads);
  result["memory_insert_many_leaves_per_sec"] = leaves_d / memory_batches;
  result["durable_insert_many_leaves_per_sec"] = leaves_d / durable_batches;
  result["durable_to_memory_batch_ratio"] = memory_batches / durable_batches;
  result["durable_recycled_insert_many_leaves_per_sec"] = leaves_d / durable_recycled_batches;
  result["durable_recycled_to_memory_batch_ratio"] = memory_batches / durable_recycled_batches;
  result["log_only_leaves_per_sec"] = leaves_d / log_only_batches;
  result["log_only_to_memory_batch_ratio"] = memory_batches / log_only_batches;
  result["memory_single_insert_per_sec"] = options.single_inserts / memory_singles;
  result["durable_single_insert_per_sec"] = options.single_inserts / durable_singles;
  result["durable_to_memory_single_ratio"] = memory_singles / durable_singles;
  result["reopen_leaves"] = reopen_leaves;
  result["reopen_ms"] = reopen_seconds * 1e3;
  result["reopen_mapped_ms"] = reopen_mapped_seconds * 1e3;
  result["reopen_verify_ms"] = reopen_verify_seconds * 1e3;
  result["recompute_at_hash_limit_ms"] = limit_seconds * 1e3;
  result["verify_to_limit_ratio"] = reopen_verify_seconds / limit_seconds;
  if (rewind_call_seconds > 0) {
    result["durable_rewind_1000_us"] = rewind_call_seconds * 1e6 / kRewinds;
    result["durable_rewind_1000_flush_us"] = rewind_flush_seconds * 1e6 / kRewinds;
  }
  if (deep_rewind_seconds > 0) {
    result["durable_deep_rewind_1000_us"] = deep_rewind_seconds * 1e6 / kDeepRewinds;
    result["durable_deep_rewind_1000_flush_us"] = deep_rewind_flush_seconds * 1e6 / kDeepRewinds;
  }
  const double stored = static_cast<double>(options.leaves + options.single_inserts);
  result["disk_bytes_per_leaf"] = static_cast<double>(disk_bytes) / stored;
  result["data_bytes_per_leaf"] = static_cast<double>(data_bytes) / stored;
  return result;
}


void print_table(const nlohmann::ordered_json& r) {
  auto millions = [](double v) { return std::to_string(v / 1e6).substr(0, 6) + " M/s"; };
  std::printf("rotortree bench: N=%u, %s (%s), %llu leaves in batches of %llu, %u threads\n",
              r["arity"].get<unsigned>(), r["hash"].get<std::string>().c_str(),
              r["kernel"].get<std::string>().c_str(), r["leaves"].get<unsigned long long>(),
              r["batch"].get<unsigned long long>(), r["threads"].get<unsigned>());
  std::printf("  %-34s %s\n", "insert_many", millions(r["insert_many_leaves_per_sec"]).c_str());
  std::printf("  %-34s %s\n", "hashing limit", millions(r["hash_limit_leaves_per_sec"]).c_str());
  std::printf("  %-34s %.2f\n", "insert_many / limit", r["insert_many_to_limit_ratio"].get<double>());
  std::printf("  %-34s %s\n", "insert_many, cold memory", millions(r["insert_many_cold_leaves_per_sec"]).c_str());
  if (r.contains("thread_speedup")) {
    std::printf("  %-34s %s\n", "insert_many, 1 thread", millions(r["insert_many_1thread_leaves_per_sec"]).c_str());
    std::printf("  %-34s %.2f\n", "speed-up over 1 thread", r["thread_speedup"].get<double>());
  }
  std::printf("  %-34s %s\n", "single insert", millions(r["single_insert_per_sec"]).c_str());
  std::printf("  %-34s %.0f ns x %u levels\n", "  latency bound: group hash", r["group_hash_latency_ns"].get<double>(),
              r["hashing_levels_at_size"].get<unsigned>());
  std::printf("  %-34s %.0f ns\n", "inclusion proof", r["proof_ns"].get<double>());
  std::printf("  %-34s %.0f ns\n", "verify", r["verify_ns"].get<double>());
  std::printf("  %-34s %.0f ns\n", "snapshot", r["snapshot_ns"].get<double>());
  if (r.contains("rewind_1000_us")) {
    std::printf("  %-34s %.1f us\n", "rewind of 1,000 leaves", r["rewind_1000_us"].get<double>());
    std::printf("  %-34s %.0f ns\n", "proof after 64 rewinds", r["proof_after_64_rewinds_ns"].get<double>());
  }
  std::printf("  %-34s %.2f\n", "bytes per leaf", r["bytes_per_leaf"].get<double>());
  if (r.contains("index_of_ns")) {
    std::printf("  %-34s %s\n", "insert_many with the leaf policy", millions(r["unique_insert_many_leaves_per_sec"]).c_str());
    std::printf("  %-34s %.2f\n", "  / plain insert_many", r["unique_to_plain_insert_ratio"].get<double>());
    std::printf("  %-34s %s\n", "index_of, batched", millions(r["index_of_per_sec"]).c_str());
    std::printf("  %-34s %s\n", "index_of, batched, absent", millions(r["index_of_absent_per_sec"]).c_str());
    std::printf("  %-34s %.0f ns\n", "index_of, one at a time", r["index_of_ns"].get<double>());
    std::printf("  %-34s %.2f\n", "index bytes per leaf", r["index_bytes_per_leaf"].get<double>());
  }
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand("bench", "Measure insertion, proofs and snapshots (README.md, Performance)");
  CLI::Option* leaves_option =
      bench->add_option("--leaves", options->leaves, "Leaves to insert (poseidon: default 1000000)")
          ->capture_default_str()
          ->check(CLI::Range(1ULL, 1ULL << 40));
  CLI::Option* batch_option =
      bench->add_option("--batch", options->batch, "Leaves per insert_many call (poseidon: default 100000)")
          ->capture_default_str()
          ->check(CLI::Range(1ULL, 1ULL << 40));
  CLI::Option* arity_option =
      bench->add_option("--arity", options->arity, "Arity: 2, 3, 4, 8 or 16 (poseidon: default 2)")->capture_default_str();
  bench->add_option("--threads", options->threads, "Hashing threads (default: all cores; 1 = sequential)");
  bench->add_option("--hash", options->hash, "blake3, sha256 or poseidon")->capture_default_str();
  bench->add_option("--parallel-threshold", options->parallel_threshold,
                    "New parents a level needs to be hashed in parallel (default: ROTORTREE_PARALLEL_THRESHOLD or 1024)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  bench->add_option("--single-inserts", options->single_inserts, "Timed single inserts")->capture_default_str()->check(CLI::Range(1ULL, 1ULL << 32));
  bench->add_option("--proofs", options->proofs, "Timed proofs")->capture_default_str()->check(CLI::Range(1ULL, 1ULL << 32));
  bench->add_flag("--json", options->json, "Print one JSON object instead of a table");
  bench->add_option("--leaf-policy", options->leaf_policy,
                    "index or unique: also insert with that leaf policy and measure lookups (docs/leaf-index.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "index", "unique"}));
  bench->add_option("--lookups", options->lookups, "Timed lookups with --leaf-policy")
      ->capture_default_str()
      ->check(CLI::Range(1ULL, 1ULL << 32));
  bench->add_flag("--storage", options->storage,
                  "Measure the durable database: durable batches and single inserts against memory, "
                  "reopen (plain, mapped, verified) of a checkpointed database of --reopen-leaves leaves");
  bench->add_option("--reopen-leaves", options->reopen_leaves, "Leaves of the database reopened in --storage mode")
      ->capture_default_str()
      ->check(CLI::Range(1ULL, 1ULL << 40));
  bench->add_option("--dir", options->dir, "Where --storage puts its databases (default: the temp directory)");
  // The sweep with plots (cli/bench_report.cpp).
  auto report = std::make_shared<std::string>();
  auto quick = std::make_shared<bool>(false);
  bench->add_option("--report", *report,
                    "Run the whole sweep (tree size, arity, threads, storage) and write results.csv, PNG plots "
                    "and summary.md to this directory")
      ->type_name("DIR");
  bench->add_flag("--quick", *quick, "With --report: a shorter sweep (tree sizes up to 10^6)");
  bench->callback([options, report, quick, leaves_option, batch_option, arity_option] {
    if (!report->empty()) {
      write_bench_report(*report, *quick);
      return;
    }
    const HashId hash = parse_hash_id(options->hash);
    if (hash == HashId::poseidon) {  // SPEC §6: a Poseidon parent costs ~1000 BLAKE3 parents
      if (leaves_option->count() == 0) options->leaves = 1'000'000;
      if (batch_option->count() == 0) options->batch = 100'000;
      if (arity_option->count() == 0) options->arity = 2;
    }
    const nlohmann::ordered_json result =
        detail::dispatch(hash, options->arity, [&]<Hasher H, std::size_t N>() {
          return options->storage ? run_storage<H, N>(*options) : run<H, N>(*options);
        });
    if (options->json || options->storage)
      std::cout << (options->json ? result.dump() : result.dump(2)) << std::endl;
    else
      print_table(result);
  });
}

}  // namespace rotortree::cli
