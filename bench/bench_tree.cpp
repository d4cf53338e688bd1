// Write-side benchmarks: the hashing limit, insert_many (sequential and
// parallel, N = 2/4/8/16, 1K..100M leaves), the parallel threshold, single
// inserts and concurrent writers.
//
// Timing: the insert benchmarks use manual time (steady clock around the
// timed work only) instead of PauseTiming/ResumeTiming, which cost more than
// a small insert. Tree destruction and the occasional rebuild are not timed.
// All rates are wall-clock (UseManualTime / UseRealTime): CPU time of the
// main thread means nothing for parallel hashing.
#include <string>

#include "bench_support.hpp"
#include "rotortree/concurrent.hpp"

namespace rtbench {
namespace {

using benchmark::Counter;

// --- BM_HashLimit ----------------------------------------------------------
// Blake3::hash_many over contiguous 128-byte messages (the N=4 full groups):
// the upper bound of a single core. A tree of L leaves (N=4) hashes L/3
// parents, so leaves/s = parents/s * 3 (items_per_second).
void BM_HashLimit(benchmark::State& state) {
  const auto parents = static_cast<std::size_t>(state.range(0));
  const auto src = leaves(parents * 4);
  std::vector<Node> out(parents);
  for (auto _ : state) {
    Blake3::hash_many(src.data()->data(), 128, 128, parents, out.data()->data());
    benchmark::ClobberMemory();
  }
  const auto iterations = static_cast<std::int64_t>(state.iterations());
  state.SetItemsProcessed(iterations * static_cast<std::int64_t>(parents) * 3);
  state.SetBytesProcessed(iterations * static_cast<std::int64_t>(parents) * 128);
  state.counters["parents/s"] = Counter(static_cast<double>(iterations) * parents, Counter::kIsRate);
  state.SetLabel(std::string(Blake3::kernel()));
}

// --- BM_InsertMany / BM_InsertManyThreshold -------------------------------
// A fresh tree per iteration gets range(0) leaves in batches of 1M (one batch
// if smaller). Timed: construction and the insert_many calls. The leaves are
// built once (static pool). Freed chunk slabs go to the library's slab cache
// (1 GiB by default): after one untimed warm-up build (before the loop), trees
// up to 10M leaves reuse faulted-in memory, as in a long-running process.
// Without it, a cold 10M iteration can take 10x a warm one in page faults on
// a VM and, being the only iteration, decide the result. (MinWarmUpTime of
// benchmark 1.7.1 did not help here: the reported iteration was still cold.)
// 100M-leaf trees exceed the cache: no warm-up, they always pay for fresh pages.
constexpr std::uint64_t kWarmUpLimit = 10'000'000;
template <std::size_t N>
void BM_InsertMany(benchmark::State& state, std::size_t threads, std::size_t threshold) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  const auto src = leaves(size);
  const rotortree::TreeOptions options{.threads = threads, .parallel_threshold = threshold};
  unsigned depth = 0;
  std::size_t used_threads = 1;
  if (size <= kWarmUpLimit) {
    Tree<N> warm(options);
    insert_batched(warm, src);
  }
  for (auto _ : state) {
    const auto start = Clock::now();
    {
      Tree<N> tree(options);
      insert_batched(tree, src);
      state.SetIterationTime(seconds_since(start));
      benchmark::DoNotOptimize(tree.root());
      depth = tree.depth();
      used_threads = tree.threads();
    }  // destroyed outside the timed region
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(size));
  state.counters["depth"] = depth;
  state.counters["hash_threads"] = static_cast<double>(used_threads);
}

template <std::size_t N>
void register_insert_many(const char* mode, std::size_t threads) {
  const std::string name = std::string("BM_InsertMany/") + mode + "/N:" + std::to_string(N);
  benchmark::RegisterBenchmark(name.c_str(), BM_InsertMany<N>, threads, std::size_t{0})
      ->ArgName("leaves")
      ->RangeMultiplier(10)
      ->Range(1'000, max_tree_size())
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

// --- BM_SingleInsert ---------------------------------------------------------
// One leaf at a time into a tree pre-filled with range(0) leaves (N=4). An
// iteration is kSingleBatch inserts (timed by hand). The tree is rebuilt
// (untimed) before it outgrows twice its starting size, so the depth stays
// that of the nominal size (+1 at most).
constexpr std::size_t kSingleBatch = 1000;

void BM_SingleInsert(benchmark::State& state) {
  const auto base = static_cast<std::uint64_t>(state.range(0));
  const std::uint64_t limit = base + std::max<std::uint64_t>(base, kSingleBatch);
  constexpr std::size_t kExtra = 1 << 16;  // leaves to insert, reused cyclically
  const auto pool = leaves(std::max<std::uint64_t>(base, kExtra));
  const auto fill = [&] {
    auto tree = std::make_unique<Tree<4>>(rotortree::TreeOptions{.threads = 0});
    insert_batched(*tree, pool.first(base));
    return tree;
  };
  auto tree = fill();
  std::size_t next = 0;
  std::uint64_t rebuilds = 0;
  for (auto _ : state) {
    if (tree->size() + kSingleBatch > limit) {
      tree.reset();
      tree = fill();
      ++rebuilds;
    }
    const auto start = Clock::now();
    for (std::size_t i = 0; i < kSingleBatch; ++i)
      benchmark::DoNotOptimize(tree->insert(pool[next++ % kExtra]));
    state.SetIterationTime(seconds_since(start));
  }
  const auto inserts = static_cast<double>(state.iterations()) * kSingleBatch;
  state.SetItemsProcessed(static_cast<std::int64_t>(inserts));
  state.counters["time/insert"] = Counter(inserts, Counter::kIsRate | Counter::kInvert);
  state.counters["rebuilds"] = static_cast<double>(rebuilds);
}

// --- BM_Concurrent -----------------------------------------------------------
// ConcurrentLeanIMT (N=4) shared by T benchmark threads, each inserting one
// batch of 100K leaves per iteration, kConcurrentIterations iterations each.
// `inner` = the tree's hashing threads: 1 = concurrency only, 0 = all cores
// inside every insert_many too (nested parallelism). Before the timed loop,
// thread 0 builds and drops a throwaway tree of the same final size, so every
// variant starts with the same warm slab cache (no first-touch page faults
// in one variant only).
constexpr std::size_t kConcurrentBatch = 100'000;
constexpr std::int64_t kConcurrentIterations = 50;
using SharedTree = rotortree::ConcurrentLeanIMT<Blake3, 4>;
std::unique_ptr<SharedTree> g_shared;  // created/destroyed by thread 0 outside the loop

void BM_Concurrent(benchmark::State& state, std::size_t inner) {
  const std::uint64_t total = kConcurrentIterations * kConcurrentBatch * state.threads();
  // Every thread asks for the same count, so none of them reallocates the pool
  // under another's span.
  const auto pool = leaves(total);
  const auto mine = pool.subspan(state.thread_index() * kConcurrentBatch, kConcurrentBatch);
  if (state.thread_index() == 0) {
    {
      Tree<4> warm(rotortree::TreeOptions{.threads = 0});
      insert_batched(warm, pool);
    }
    g_shared = std::make_unique<SharedTree>(rotortree::TreeOptions{.threads = inner});
  }
  // The loop's start barrier publishes g_shared to the other threads...
  for (auto _ : state) benchmark::DoNotOptimize(g_shared->insert_many(mine));
  // ...and its end barrier means every thread is done with it.
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kConcurrentBatch));
  if (state.thread_index() == 0) {
    state.counters["final_size"] = static_cast<double>(g_shared->size());
    g_shared.reset();
  }
}

}  // namespace

void register_write_benchmarks() {
  benchmark::RegisterBenchmark("BM_HashLimit", BM_HashLimit)
      ->ArgName("parents")
      ->Arg(1 << 10)    // 128 KiB of input: in cache
      ->Arg(1 << 14)    // 2 MiB
      ->Arg(1 << 20)    // 128 MiB: from memory
      ->Unit(benchmark::kMicrosecond);

  register_insert_many<2>("seq", 1);
  register_insert_many<4>("seq", 1);
  register_insert_many<8>("seq", 1);
  register_insert_many<16>("seq", 1);
  register_insert_many<2>("par", 0);
  register_insert_many<4>("par", 0);
  register_insert_many<8>("par", 0);
  register_insert_many<16>("par", 0);

  for (const std::size_t threshold : {64, 256, 1024, 4096, 16384, 1 << 30}) {
    const std::string name = "BM_InsertManyThreshold/N:4/threshold:" + std::to_string(threshold);
    benchmark::RegisterBenchmark(name.c_str(), BM_InsertMany<4>, std::size_t{0}, threshold)
        ->ArgName("leaves")
        ->Arg(10'000'000)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }

  benchmark::RegisterBenchmark("BM_SingleInsert/N:4", BM_SingleInsert)
      ->ArgName("prefilled")
      ->Arg(1'000)
      ->Arg(1'000'000)
      ->Arg(10'000'000)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);

  for (const auto& [mode, inner] : {std::pair{"seq_inside", std::size_t{1}}, std::pair{"par_inside", std::size_t{0}}}) {
    const std::string name = std::string("BM_Concurrent/N:4/batch:100000/") + mode;
    benchmark::RegisterBenchmark(name.c_str(), BM_Concurrent, inner)
        ->Threads(1)
        ->Threads(2)
        ->Iterations(kConcurrentIterations)  // per writer: 5M (T=1) / 10M (T=2) leaves in all
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace rtbench
