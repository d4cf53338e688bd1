// The leaf index (SPEC §5): unique insertion against plain insertion, and
// lookups (batched present, batched absent, one at a time) on a unique tree.
#include <optional>
#include <string>

#include "bench_support.hpp"

namespace rtbench {
namespace {

using rotortree::LeafPolicy;

// --- BM_InsertManyPolicy -------------------------------------------------------
// `size` leaves in batches of kBatch into a fresh tree, by leaf policy.
void BM_InsertManyPolicy(benchmark::State& state) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  const auto policy = static_cast<LeafPolicy>(state.range(1));
  const auto src = leaves(size);
  for (auto _ : state) {
    Tree<4> tree(rotortree::tree_params<rotortree::Blake3, 4>(rotortree::NodeHash::lean_imt, policy),
                 rotortree::TreeOptions{.threads = 1});
    insert_batched(tree, src);
    benchmark::DoNotOptimize(tree.root());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(size));
  state.SetLabel(std::string(rotortree::to_string(policy)));
}

/// A unique tree of `size` leaves, built once.
const Tree<4>& unique_tree(std::uint64_t size) {
  static std::map<std::uint64_t, std::unique_ptr<Tree<4>>> trees;
  auto& slot = trees[size];
  if (!slot) {
    slot = std::make_unique<Tree<4>>(
        rotortree::tree_params<rotortree::Blake3, 4>(rotortree::NodeHash::lean_imt, LeafPolicy::unique),
        rotortree::TreeOptions{.threads = 0});
    insert_batched(*slot, leaves(size));
  }
  return *slot;
}

// --- BM_IndexOf ----------------------------------------------------------------
// Batches of 4096 lookups of random present (absent = 0) or absent (1) leaves,
// or (2) the same present leaves one at a time.
void BM_IndexOf(benchmark::State& state) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  const auto mode = state.range(1);
  const auto snapshot = unique_tree(size).snapshot();
  constexpr std::size_t kQueries = 4096;
  const auto all = leaves(size + kQueries);
  std::vector<rotortree::Node> queries;
  for (const auto index : random_indices(size, kQueries)) queries.push_back(all[index]);
  if (mode == 1)
    for (std::size_t i = 0; i < kQueries; ++i) queries[i] = all[size + i];  // never inserted
  std::vector<std::optional<std::uint64_t>> out(kQueries);
  for (auto _ : state) {
    if (mode == 2)
      for (std::size_t i = 0; i < kQueries; ++i) out[i] = snapshot.index_of(queries[i]);
    else
      snapshot.index_of(queries, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kQueries);
  state.SetLabel(mode == 0 ? "batched present" : mode == 1 ? "batched absent" : "one at a time");
  state.counters["index_bytes_per_leaf"] = static_cast<double>(unique_tree(size).index_bytes()) / size;
}

}  // namespace

void register_index_benchmarks() {
  auto* insert = benchmark::RegisterBenchmark("BM_InsertManyPolicy/N:4", BM_InsertManyPolicy);
  insert->ArgNames({"leaves", "policy"})->Unit(benchmark::kMillisecond);
  for (const std::int64_t policy : {0, 2}) insert->Args({10'000'000, policy});
  auto* lookup = benchmark::RegisterBenchmark("BM_IndexOf/N:4", BM_IndexOf);
  lookup->ArgNames({"leaves", "mode"})->Unit(benchmark::kNanosecond);
  for (const std::int64_t mode : {0, 1, 2}) {
    lookup->Args({10'000'000, mode});
    if (large_mode()) lookup->Args({100'000'000, mode});
  }
}

}  // namespace rtbench
