// The 8-lane AVX-512 IFMA path of Poseidon against the scalar path, same run:
// one 8-lane Montgomery multiplication (latency: one dependent chain;
// throughput: four chains), the permutation of every width on 8 lanes, and
// 2-input hashing of a batch (ns per hash). Skipped on a CPU without IFMA.
//   rotortree_gbench --benchmark_filter='Ifma|PoseidonScalar'
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "poseidon/field.hpp"
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

/// The scalar path's multiplication, one dependent chain (for the ratio).
void BM_PoseidonScalarMulLatency(benchmark::State& state) {
  const auto& ops = rotortree::bn254::ops();
  std::mt19937_64 rng(3);
  rotortree::bn254::Fe a = rotortree::bn254::to_montgomery(random_element(rng));
  const rotortree::bn254::Fe b = rotortree::bn254::to_montgomery(random_element(rng));
  for (auto _ : state) {
    for (std::size_t r = 0; r < kMulRounds; ++r) ops.mul(a, b, a);
    benchmark::DoNotOptimize(a);
  }
  per_item(state, kMulRounds, "s/mul");
  state.SetLabel(ops.name);
}
BENCHMARK(BM_PoseidonScalarMulLatency);

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

void BM_PoseidonScalarPermute(benchmark::State& state) {
  const auto width = static_cast<unsigned>(state.range(0));
  std::mt19937_64 rng(5);
  std::vector<Words> s(width);
  for (auto& w : s) w = random_element(rng);
  for (auto _ : state) {
    rotortree::poseidon::permute(width, s.data());
    benchmark::DoNotOptimize(s.data());
  }
  per_item(state, 1, "s/permutation");
}
BENCHMARK(BM_PoseidonScalarPermute)->DenseRange(2, 17);

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

/// The same hashes one by one on the scalar path.
void BM_PoseidonScalarHashBatch(benchmark::State& state) {
  const auto k = static_cast<unsigned>(state.range(0));
  const auto data = random_messages(k, kBatchHashes);
  std::vector<std::uint8_t> out(32 * kBatchHashes);
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatchHashes; ++i) {
      rotortree::poseidon::hash(k, data.data() + 32 * k * i, out.data() + 32 * i);
    }
    benchmark::ClobberMemory();
  }
  per_item(state, kBatchHashes, "s/hash");
}
BENCHMARK(BM_PoseidonScalarHashBatch)->Arg(2)->Arg(4)->Arg(8)->Arg(16);

}  // namespace
