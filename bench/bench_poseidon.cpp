// Poseidon over BN254: one field multiplication (each implementation), one
// permutation per width, one 2-input hash from bytes, and insert_many of
// field-element leaves (N = 2) against the hashing limit at 1 and 2 threads.
//
//   build/bench/rotortree_poseidon_gbench
//   build/bench/rotortree_poseidon_gbench --benchmark_filter='Mul|Permute/width:3|Hash2'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "poseidon/field.hpp"
#include "poseidon/poseidon.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/parallel.hpp"
#include "rotortree/tree.hpp"

namespace {

using rotortree::Node;
using rotortree::Poseidon;
using rotortree::bn254::Fe;
using rotortree::bn254::FieldOps;

std::vector<Node> field_leaves(std::size_t count) {
  std::vector<Node> leaves(count);
  std::uint64_t state = 1;
  for (Node& leaf : leaves) {
    for (std::size_t i = 0; i < 32; i += 8) {
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::memcpy(leaf.data() + i, &z, 8);
    }
    leaf[0] &= 0x2f;  // below p
  }
  return leaves;
}

// A dependent chain of multiplications (latency, through the function pointer
// the dispatch uses elsewhere only once per permutation).
void BM_Mul(benchmark::State& state, const FieldOps* ops) {
  if (ops == nullptr) {
    state.SkipWithError("the CPU lacks BMI2/ADX");
    return;
  }
  Fe x = rotortree::bn254::to_montgomery({3, 5, 7, 11});
  const Fe y = rotortree::bn254::to_montgomery({0x1234567890abcdefu, 13, 17, 0x0123456789abcdefu});
  constexpr int kChain = 1000;
  for (auto _ : state) {
    for (int i = 0; i < kChain; ++i) ops->mul(x, y, x);
    benchmark::DoNotOptimize(x);
  }
  state.SetItemsProcessed(state.iterations() * kChain);
  state.SetLabel(ops->name);
}

void BM_Permute(benchmark::State& state) {
  const auto width = static_cast<unsigned>(state.range(0));
  const auto& tables = rotortree::bn254::mont_tables(width);
  const FieldOps& ops = rotortree::bn254::ops();
  Fe s[rotortree::poseidon::kMaxWidth];
  for (unsigned i = 0; i < width; ++i) s[i] = rotortree::bn254::to_montgomery({i + 1, 0, 0, 0});
  for (auto _ : state) {
    ops.permute(tables, s);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(ops.name);
}

// poseidon2([a, b]) from 64 bytes to 32, conversions included: a tree parent.
void BM_Hash2(benchmark::State& state) {
  std::vector<Node> in = field_leaves(2);
  Node out;
  for (auto _ : state) {
    Poseidon::hash(in[0].data(), 64, out.data());
    in[0] = out;  // dependent, like a single insert's path
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(Poseidon::kernel()));
}

// L leaves into an empty N=2 tree (batches of 100,000) vs the hashing limit:
// the same L-1 parent hashes of contiguous 64-byte inputs, split over the
// same threads. Both as leaves per second.
constexpr std::size_t kLeaves = 200'000, kBatch = 100'000;

void BM_InsertMany(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const std::vector<Node> leaves = field_leaves(kLeaves);
  for (auto _ : state) {
    rotortree::TreeOptions options;
    options.threads = threads;
    rotortree::LeanIMT<Poseidon, 2> tree(options);
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t done = 0; done < kLeaves; done += kBatch)
      tree.insert_many(std::span<const Node>(leaves).subspan(done, kBatch));
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * kLeaves);
}

void BM_HashLimit(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const std::vector<Node> src = field_leaves(kLeaves);
  std::vector<Node> out(kLeaves / 2);
  rotortree::Executor executor(threads);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    // A tree of L leaves hashes L-1 parents: L/2 + L/4 + ...
    // In work units of 64 parents (whole 8-lane batches), as the tree's.
    for (std::size_t parents = kLeaves / 2; parents > 0; parents /= 2)
      executor.for_ranges(0, (parents + 63) / 64, 1, [&](std::size_t b, std::size_t e) {
        const std::size_t first = 64 * b, last = std::min(parents, 64 * e);
        Poseidon::hash_many(src[2 * first].data(), 64, 64, last - first, out[first].data());
      });
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * kLeaves);
}

// The parallel break-even: one level of `parents` parent hashes (N = 2),
// sequential or split over 2 threads in units of `grain`, wall time. The
// fixed cost of handing work to the pool against ~parents * hash / 2 saved.
void BM_LevelSplit(benchmark::State& state) {
  const auto parents = static_cast<std::size_t>(state.range(0));
  const auto grain = static_cast<std::size_t>(state.range(1));  // 0: sequential
  const std::vector<Node> src = field_leaves(2 * parents);
  std::vector<Node> out(parents);
  rotortree::Executor executor(2);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (grain == 0)
      Poseidon::hash_many(src[0].data(), 64, 64, parents, out[0].data());
    else
      executor.for_ranges(0, parents, grain, [&](std::size_t b, std::size_t e) {
        Poseidon::hash_many(src[2 * b].data(), 64, 64, e - b, out[b].data());
      });
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * parents);
}

const bool kRegistered = [] {
  benchmark::RegisterBenchmark("BM_LevelSplit", BM_LevelSplit)
      ->ArgNames({"parents", "grain"})
      ->ArgsProduct({{2, 4, 8, 16, 32, 64}, {0, 1, 4, 8, 16}})
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Mul/portable", BM_Mul, &rotortree::bn254::portable_ops());
  benchmark::RegisterBenchmark("BM_Mul/mulx-adx", BM_Mul, rotortree::bn254::adx_ops());
  benchmark::RegisterBenchmark("BM_Permute", BM_Permute)->ArgName("width")->DenseRange(2, 17)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Hash2", BM_Hash2)->Unit(benchmark::kMicrosecond);
  for (const char* name : {"BM_InsertMany/N:2", "BM_HashLimit/N:2"})
    benchmark::RegisterBenchmark(name, name[3] == 'I' ? BM_InsertMany : BM_HashLimit)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
