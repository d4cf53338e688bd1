// The 8-lane AVX-512 IFMA path of Poseidon, beside the scalar path's
// BM_Mul, BM_Permute and BM_Hash2 (bench_poseidon.cpp) in the same executable:
// one 8-lane Montgomery multiplication (latency: one dependent chain;
// throughput: four chains), the permutation of every width on 8 lanes, and
// k-input hashing of a batch (time per hash). Skipped on a CPU without IFMA.
//   build/bench/rotortree_poseidon_gbench --benchmark_filter='Ifma|Mul|Permute/width:3$|Hash2'
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "poseidon/ifma.hpp"
#include "poseidon/poseidon.hpp"

namespace {

namespace ifma = rotortree::detail::poseidon_ifma;
using ifma::kLanes;
using ifma::Words;

constexpr std::size_t kMulRounds = 1000;
constexpr std::size_t kBatchHashes = 1024;

/// Values below 2^253 < p.
Words random_element(std::mt19937_64& rng) { return Words{rng(), rng(), rng(), rng() >> 3}; }

bool skip_without_ifma(benchmark::State& state) {
  if (ifma::available()) return false;
  state.SkipWithError("no AVX-512 IFMA on this CPU");
  return true;
}

void per_item(benchmark::State& state, double items_per_iteration, const char* name) {
  state.counters[name] =
      benchmark::Counter(items_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}

void BM_IfmaMul8Latency(benchmark::State& state) {
  if (skip_without_ifma(state)) return;
  std::mt19937_64 rng(1);
  std::array<Words, kLanes> acc, b;
  for (auto& w : acc) w = random_element(rng);
  for (auto& w : b) w = random_element(rng);
  for (auto _ : state) {
    ifma::lanes_mul_chain(acc.data(), b.data(), kMulRounds);
    benchmark::DoNotOptimize(acc);
  }
  per_item(state, kMulRounds, "s/mul8");
}
BENCHMARK(BM_IfmaMul8Latency);

void BM_IfmaMul8Throughput(benchmark::State& state) {
  if (skip_without_ifma(state)) return;
  std::mt19937_64 rng(2);
  std::array<Words, 4 * kLanes> acc;
  std::array<Words, kLanes> b;
  for (auto& w : acc) w = random_element(rng);
  for (auto& w : b) w = random_element(rng);
  for (auto _ : state) {
    ifma::lanes_mul_chains4(acc.data(), b.data(), kMulRounds);
    benchmark::DoNotOptimize(acc);
  }
  per_item(state, 4.0 * kMulRounds, "s/mul8");
  per_item(state, 4.0 * kMulRounds * kLanes, "s/lane-mul");
}
BENCHMARK(BM_IfmaMul8Throughput);

void BM_IfmaPermute8(benchmark::State& state) {
  if (skip_without_ifma(state)) return;
  const auto width = static_cast<unsigned>(state.range(0));
  std::mt19937_64 rng(4);
  std::vector<Words> s(width * kLanes);
  for (auto& w : s) w = random_element(rng);
  ifma::permute(width, s.data());  // converts the tables outside the timing
  for (auto _ : state) {
    ifma::permute(width, s.data());
    benchmark::DoNotOptimize(s.data());
  }
  per_item(state, kLanes, "s/permutation");
}
BENCHMARK(BM_IfmaPermute8)->DenseRange(2, 17);

std::vector<std::uint8_t> random_messages(unsigned k, std::size_t count) {
  std::mt19937_64 rng(6);
  std::vector<std::uint8_t> data(32 * k * count);
  for (std::size_t e = 0; e < k * count; ++e) {
    for (int i = 0; i < 32; ++i) data[32 * e + i] = static_cast<std::uint8_t>(rng());
    data[32 * e] &= 0x1f;  // below 2^253 < p
  }
  return data;
}

/// k-input hashes of a batch, 8 at a time on IFMA: amortised time per hash.
void BM_IfmaHashBatch(benchmark::State& state) {
  if (skip_without_ifma(state)) return;
  const auto k = static_cast<unsigned>(state.range(0));
  const auto data = random_messages(k, kBatchHashes);
  std::vector<std::uint8_t> out(32 * kBatchHashes);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ifma::hash_batch(k, data.data(), 32 * k, kBatchHashes, out.data()));
    benchmark::ClobberMemory();
  }
  per_item(state, kBatchHashes, "s/hash");
}
BENCHMARK(BM_IfmaHashBatch)->Arg(2)->Arg(4)->Arg(8)->Arg(16);

}  // namespace
