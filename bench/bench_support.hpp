// Shared helpers of the Google Benchmark suites: deterministic leaves, large
// prebuilt trees cached by size (built once, read by many benchmarks), and
// the ROTORTREE_BENCH_LARGE switch.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "rotortree/hash.hpp"
#include "rotortree/tree.hpp"

namespace rtbench {

using rotortree::Blake3;
using rotortree::Node;

template <std::size_t N>
using Tree = rotortree::LeanIMT<Blake3, N>;

inline constexpr std::uint64_t kBatch = 1'000'000;  ///< leaves per insert_many call

/// ROTORTREE_BENCH_LARGE=1: also run the 100M-leaf cases.
bool large_mode() noexcept;
/// Largest tree size of the size sweeps: 100M in large mode, else 10M.
std::int64_t max_tree_size() noexcept;

/// SplitMix64 (Steele, Lea, Flood 2014).
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// The first `count` leaves of one fixed pseudo-random stream (32 bytes of
/// SplitMix64 output each, not hashed). The pool only grows, so a prefix is
/// always the same leaves. Thread-safe; the span stays valid until a later
/// call asks for more leaves (benchmarks run one at a time, so it does).
std::span<const Node> leaves(std::uint64_t count);

/// `count` pseudo-random indices below `bound` (fixed seed per bound).
std::vector<std::uint64_t> random_indices(std::uint64_t bound, std::size_t count);

/// Insert `src` into `tree` in batches of at most kBatch leaves.
template <class T>
void insert_batched(T& tree, std::span<const Node> src) {
  for (std::uint64_t done = 0; done < src.size(); done += kBatch)
    tree.insert_many(src.subspan(done, std::min<std::uint64_t>(kBatch, src.size() - done)));
}

/// A read-only tree of arity N with the first `size` leaves, built once (in
/// parallel) and kept for the rest of the run.
template <std::size_t N>
const Tree<N>& cached_tree(std::uint64_t size) {
  static std::mutex mutex;
  static std::map<std::uint64_t, std::unique_ptr<Tree<N>>> trees;
  std::lock_guard lock(mutex);
  auto& slot = trees[size];
  if (!slot) {
    auto tree = std::make_unique<Tree<N>>(rotortree::TreeOptions{.threads = 0});
    tree->reserve(size);
    insert_batched(*tree, leaves(size));
    slot = std::move(tree);
  }
  return *slot;
}

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void register_write_benchmarks();
void register_read_benchmarks();
void register_index_benchmarks();

}  // namespace rtbench
