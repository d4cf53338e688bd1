// Read-side benchmarks on prebuilt trees (built once per arity and size, then
// shared): snapshot(), prove() and verify().
#include <string>

#include "bench_support.hpp"
#include "rotortree/proof.hpp"

namespace rtbench {
namespace {

using benchmark::Counter;

// --- BM_Snapshot ---------------------------------------------------------------
// Taking (and dropping) a snapshot: a shared_ptr copy plus the last node of
// every level, O(depth) and independent of the number of leaves.
void BM_Snapshot(benchmark::State& state) {
  const auto& tree = cached_tree<4>(static_cast<std::uint64_t>(state.range(0)));
  for (auto _ : state) {
    auto snapshot = tree.snapshot();
    benchmark::DoNotOptimize(snapshot);
  }
  state.counters["depth"] = tree.depth();
  state.counters["storage_MiB"] = static_cast<double>(tree.storage_bytes()) / (1 << 20);
}

// --- BM_Prove ------------------------------------------------------------------
// Inclusion proofs of random leaves (2^20 precomputed indices, cycled, so a
// large tree's paths are not all in cache) from one snapshot of the tree.
constexpr std::size_t kIndices = std::size_t{1} << 20;

template <std::size_t N>
void BM_Prove(benchmark::State& state) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  const auto snapshot = cached_tree<N>(size).snapshot();
  const auto indices = random_indices(size, kIndices);
  std::size_t i = 0;
  for (auto _ : state) {
    auto proof = snapshot.prove(indices[i++ & (kIndices - 1)]);
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["depth"] = snapshot.depth();
}

// --- BM_Verify -----------------------------------------------------------------
// rotortree::verify on precomputed proofs of random leaves (hashing bound:
// depth group hashes per proof).
constexpr std::size_t kProofs = 1024;

template <std::size_t N>
void BM_Verify(benchmark::State& state) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  const auto snapshot = cached_tree<N>(size).snapshot();
  std::vector<rotortree::InclusionProof> proofs;
  proofs.reserve(kProofs);
  for (const auto index : random_indices(size, kProofs)) proofs.push_back(snapshot.prove(index));
  for (const auto& proof : proofs)
    if (!rotortree::verify(proof)) {
      state.SkipWithError("a freshly made proof does not verify");
      return;
    }
  std::size_t i = 0;
  for (auto _ : state) {
    auto verdict = rotortree::verify(proofs[i++ & (kProofs - 1)]);
    benchmark::DoNotOptimize(verdict);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["depth"] = snapshot.depth();
}

template <std::size_t N>
void register_proofs(std::initializer_list<std::int64_t> sizes) {
  const std::string suffix = "/N:" + std::to_string(N);
  auto* prove = benchmark::RegisterBenchmark(("BM_Prove" + suffix).c_str(), BM_Prove<N>);
  auto* verify = benchmark::RegisterBenchmark(("BM_Verify" + suffix).c_str(), BM_Verify<N>);
  for (auto* b : {prove, verify}) {
    b->ArgName("leaves")->Unit(benchmark::kNanosecond);
    for (const auto size : sizes) b->Arg(size);
  }
}

}  // namespace

void register_read_benchmarks() {
  auto* snapshot = benchmark::RegisterBenchmark("BM_Snapshot/N:4", BM_Snapshot);
  snapshot->ArgName("leaves")->Arg(1'000)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kNanosecond);
  if (large_mode()) snapshot->Arg(100'000'000);

  if (large_mode())
    register_proofs<4>({1'000, 1'000'000, 10'000'000, 100'000'000});
  else
    register_proofs<4>({1'000, 1'000'000, 10'000'000});
  register_proofs<2>({1'000'000});
  register_proofs<8>({1'000'000});
  register_proofs<16>({1'000'000});
}

}  // namespace rtbench
