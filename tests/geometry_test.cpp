// rotortree/geometry.hpp against naive models: trees built level by level
// (small sizes, every node counted), repeated division in 128-bit arithmetic
// (any u64 size), and the edge cases 0, 1, N^k, N^k + 1, 2^64 - 1.
#include "rotortree/geometry.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace rotortree {
namespace {

using U128 = unsigned __int128;

constexpr unsigned kArities[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/// Level lengths of a tree of `size` leaves: every level's nodes grouped one
/// by one into parents, up to the level of one node (size 0: no level).
std::vector<std::uint64_t> naive_levels(std::uint64_t size, unsigned arity) {
  std::vector<std::uint64_t> lengths;
  if (size == 0) return lengths;
  lengths.push_back(size);
  while (lengths.back() > 1) {
    std::uint64_t parents = 0, in_group = 0;
    for (std::uint64_t node = 0; node < lengths.back(); ++node) {
      if (in_group == 0) ++parents;
      in_group = (in_group + 1) % arity;
    }
    lengths.push_back(parents);
  }
  return lengths;
}

/// Level `level`'s length by repeated division in 128 bits (no overflow).
std::uint64_t wide_level_length(std::uint64_t size, unsigned arity, unsigned level) {
  U128 length = size;
  for (unsigned l = 0; l < level; ++l) length = (length + arity - 1) / arity;
  return static_cast<std::uint64_t>(length);
}

/// Smallest d with arity^d >= size (0 for size <= 1), in 128 bits.
unsigned wide_depth(std::uint64_t size, unsigned arity) {
  unsigned depth = 0;
  for (U128 reach = 1; reach < size; reach *= arity) ++depth;
  return depth;
}

std::uint64_t wide_capacity(unsigned arity, unsigned max_depth) {
  U128 capacity = 1;
  for (unsigned i = 0; i < max_depth; ++i) {
    capacity *= arity;
    if (capacity > UINT64_MAX) return UINT64_MAX;
  }
  return static_cast<std::uint64_t>(capacity);
}

/// Sizes to try for `arity`: small ones, N^k - 1, N^k, N^k + 1 for every k,
/// chunk boundaries, the top of u64, and random sizes of every magnitude.
std::vector<std::uint64_t> sizes_for(unsigned arity, std::mt19937_64& rng) {
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t s = 0; s <= 300; ++s) sizes.push_back(s);
  for (U128 power = 1; power <= UINT64_MAX; power *= arity) {
    const auto p = static_cast<std::uint64_t>(power);
    sizes.push_back(p - 1);
    sizes.push_back(p);
    if (p != UINT64_MAX) sizes.push_back(p + 1);
  }
  const std::uint64_t chunk = std::uint64_t{arity} * 128;
  for (std::uint64_t k = 1; k <= 3; ++k)
    for (std::uint64_t s : {k * chunk - 1, k * chunk, k * chunk + 1}) sizes.push_back(s);
  for (std::uint64_t s : {UINT64_MAX, UINT64_MAX - 1, std::uint64_t{1} << 63, (std::uint64_t{1} << 63) + 1})
    sizes.push_back(s);
  for (int i = 0; i < 2000; ++i) sizes.push_back(rng() >> (rng() % 64));
  return sizes;
}

TEST(Geometry, CeilDivAgainstWideArithmetic) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(geometry::ceil_div(0, 7u), 0u);
  EXPECT_EQ(geometry::ceil_div(1, 7u), 1u);
  EXPECT_EQ(geometry::ceil_div(7, 7u), 1u);
  EXPECT_EQ(geometry::ceil_div(8, 7u), 2u);
  EXPECT_EQ(geometry::ceil_div(UINT64_MAX, 2u), std::uint64_t{1} << 63);  // (a + b - 1) / b would wrap
  EXPECT_EQ(geometry::ceil_div(UINT64_MAX, std::uint64_t{1}), UINT64_MAX);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t a = rng() >> (rng() % 64);
    const std::uint64_t b = 1 + (rng() >> (rng() % 63 + 1));
    ASSERT_EQ(geometry::ceil_div(a, b), static_cast<std::uint64_t>((U128{a} + b - 1) / b)) << a << " / " << b;
  }
}

TEST(Geometry, LevelsAgainstANaiveTreeOfEverySmallSize) {
  for (unsigned arity : kArities)
    for (std::uint64_t size = 0; size <= 2500; ++size) {
      const std::vector<std::uint64_t> levels = naive_levels(size, arity);
      const unsigned depth = size == 0 ? 0 : static_cast<unsigned>(levels.size() - 1);
      ASSERT_EQ(geometry::depth_for_size(size, arity), depth) << "arity " << arity << " size " << size;
      for (unsigned l = 0; l < levels.size(); ++l) {
        ASSERT_EQ(geometry::level_length(size, arity, l), levels[l]) << "arity " << arity << " size " << size << " level " << l;
        ASSERT_EQ(geometry::full_groups(levels[l], arity), levels[l] / arity);
        if (l + 1 < levels.size()) {
          ASSERT_EQ(geometry::parent_count(levels[l], arity), levels[l + 1]);
        }
      }
      // Above the root a level stays one node long.
      if (size > 0) {
        ASSERT_EQ(geometry::level_length(size, arity, depth + 3), 1u);
      }
    }
}

TEST(Geometry, LevelsAndDepthAgainstWideDivisionForRandomSizes) {
  std::mt19937_64 rng(2);
  for (unsigned arity : kArities)
    for (std::uint64_t size : sizes_for(arity, rng)) {
      const unsigned depth = wide_depth(size, arity);
      ASSERT_EQ(geometry::depth_for_size(size, arity), depth) << "arity " << arity << " size " << size;
      ASSERT_EQ(rotortree::depth_for_size(size, arity), depth);  // the public name
      for (unsigned l = 0; l <= depth + 1; ++l)
        ASSERT_EQ(geometry::level_length(size, arity, l), wide_level_length(size, arity, l))
            << "arity " << arity << " size " << size << " level " << l;
      if (size > 1) {
        ASSERT_EQ(geometry::level_length(size, arity, depth), 1u);
      }
      if (size > 1) {
        ASSERT_GT(geometry::level_length(size, arity, depth - 1), 1u);
      }
    }
}

TEST(Geometry, DepthEdgeCases) {
  EXPECT_EQ(geometry::depth_for_size(0, 2u), 0u);
  EXPECT_EQ(geometry::depth_for_size(1, 2u), 0u);
  EXPECT_EQ(geometry::depth_for_size(2, 2u), 1u);
  EXPECT_EQ(geometry::depth_for_size(3, 2u), 2u);
  EXPECT_EQ(geometry::depth_for_size(UINT64_MAX, 2u), 64u);
  EXPECT_EQ(geometry::depth_for_size(std::uint64_t{1} << 63, 2u), 63u);
  EXPECT_EQ(geometry::depth_for_size((std::uint64_t{1} << 63) + 1, 2u), 64u);
  EXPECT_EQ(geometry::depth_for_size(UINT64_MAX, 16u), 16u);
  EXPECT_EQ(geometry::depth_for_size(std::uint64_t{1} << 60, 16u), 15u);
  EXPECT_EQ(geometry::depth_for_size((std::uint64_t{1} << 60) + 1, 16u), 16u);
  for (unsigned arity : kArities) {
    std::uint64_t power = 1;
    for (unsigned k = 0; power <= UINT64_MAX / arity; ++k, power *= arity) {
      ASSERT_EQ(geometry::depth_for_size(power, arity), k) << arity << "^" << k;
      ASSERT_EQ(geometry::depth_for_size(power + 1, arity), k + 1) << arity << "^" << k << " + 1";
    }
  }
}

TEST(Geometry, CapacityAgainstWideProductAndSaturation) {
  for (unsigned arity : kArities)
    for (unsigned depth = 0; depth <= 70; ++depth) {
      ASSERT_EQ(geometry::capacity_for_depth(arity, depth), wide_capacity(arity, depth)) << arity << "^" << depth;
      ASSERT_EQ(rotortree::capacity_for_depth(arity, depth), wide_capacity(arity, depth));
      // The capacity is exactly the largest size of that depth (below saturation).
      const std::uint64_t capacity = geometry::capacity_for_depth(arity, depth);
      if (capacity != UINT64_MAX) {
        ASSERT_EQ(geometry::depth_for_size(capacity, arity), depth);
        ASSERT_EQ(geometry::depth_for_size(capacity + 1, arity), depth + 1);
      }
    }
  EXPECT_EQ(geometry::capacity_for_depth(2u, 0), 1u);
  EXPECT_EQ(geometry::capacity_for_depth(2u, 63), std::uint64_t{1} << 63);
  EXPECT_EQ(geometry::capacity_for_depth(2u, 64), UINT64_MAX);  // 2^64 saturates
  EXPECT_EQ(geometry::capacity_for_depth(16u, 15), std::uint64_t{1} << 60);
  EXPECT_EQ(geometry::capacity_for_depth(16u, 16), UINT64_MAX);
  EXPECT_EQ(geometry::capacity_for_depth(3u, 40), 12157665459056928801ull);  // 3^40 < 2^64
  EXPECT_EQ(geometry::capacity_for_depth(3u, 41), UINT64_MAX);
}

TEST(Geometry, PowersOfTheArity) {
  std::mt19937_64 rng(3);
  for (unsigned arity : kArities) {
    std::vector<std::uint64_t> powers;
    for (U128 power = 1; power <= UINT64_MAX; power *= arity) powers.push_back(static_cast<std::uint64_t>(power));
    auto naive = [&](std::uint64_t value) {
      for (std::uint64_t p : powers)
        if (p == value) return true;
      return false;
    };
    EXPECT_FALSE(geometry::is_power_of(0, arity));
    for (std::uint64_t p : powers) {
      ASSERT_TRUE(geometry::is_power_of(p, arity)) << p << " of " << arity;
      ASSERT_FALSE(geometry::is_power_of(p + 1, arity) && p + 1 != arity) << p + 1 << " of " << arity;
    }
    for (std::uint64_t size : sizes_for(arity, rng)) ASSERT_EQ(geometry::is_power_of(size, arity), naive(size)) << size;
  }
}

/// The path of leaf `index` in a tree of `size` leaves, from the naive tree:
/// on every level below the root, the group holding the path's node is the
/// run of nodes sharing its parent.
struct NaiveStep {
  std::uint64_t group_start;
  unsigned position, sibling_count;
  bool edge;
  bool operator==(const NaiveStep&) const = default;
};
std::vector<NaiveStep> naive_path(std::uint64_t index, std::uint64_t size, unsigned arity) {
  const std::vector<std::uint64_t> levels = naive_levels(size, arity);
  std::vector<NaiveStep> path;
  for (std::size_t l = 0; l + 1 < levels.size(); ++l) {
    // Parents by walking the level: node j's parent counts the groups closed before it.
    std::vector<std::uint64_t> members;
    for (std::uint64_t j = 0; j < levels[l]; ++j)
      if (j / arity == index / arity) members.push_back(j);
    NaiveStep step{members.front(), static_cast<unsigned>(index - members.front()),
                   static_cast<unsigned>(members.size() - 1), members.back() == levels[l] - 1};
    path.push_back(step);
    index /= arity;
  }
  return path;
}

std::vector<NaiveStep> geometry_path(std::uint64_t index, std::uint64_t size, unsigned arity) {
  std::vector<NaiveStep> path;
  geometry::for_each_path_level(index, size, arity, [&](unsigned l, const geometry::PathLevel& at) {
    EXPECT_EQ(l, path.size());
    path.push_back({at.group_start, at.position, at.sibling_count, at.edge});
  });
  return path;
}

TEST(Geometry, PathShapeAgainstANaiveTree) {
  for (unsigned arity : kArities)
    for (std::uint64_t size = 1; size <= 300; ++size)
      for (std::uint64_t index = 0; index < size; ++index) {
        const std::vector<NaiveStep> expected = naive_path(index, size, arity);
        ASSERT_EQ(geometry_path(index, size, arity), expected) << "arity " << arity << " size " << size << " index " << index;
        ASSERT_EQ(expected.size(), geometry::depth_for_size(size, arity));
      }
}

TEST(Geometry, PathShapeOfLargeTrees) {
  std::mt19937_64 rng(4);
  for (unsigned arity : kArities)
    for (std::uint64_t size : sizes_for(arity, rng)) {
      if (size == 0) continue;
      for (std::uint64_t index : {std::uint64_t{0}, size - 1, size / 2, rng() % size}) {
        const std::vector<NaiveStep> path = geometry_path(index, size, arity);
        ASSERT_EQ(path.size(), geometry::depth_for_size(size, arity)) << arity << " " << size;
        std::uint64_t node = index;
        for (unsigned l = 0; l < path.size(); ++l) {
          const std::uint64_t length = wide_level_length(size, arity, l);
          const std::uint64_t start = node / arity * arity;
          const std::uint64_t members = std::min<std::uint64_t>(arity, length - start);
          ASSERT_EQ(path[l].group_start, start);
          ASSERT_EQ(path[l].position, node - start);
          ASSERT_EQ(path[l].sibling_count, members - 1) << "arity " << arity << " size " << size << " level " << l;
          ASSERT_EQ(path[l].edge, start + members == length);
          ASSERT_LE(path[l].sibling_count, geometry::max_siblings(arity));
          node /= arity;
        }
        // The last leaf's path runs along the right edge.
        if (index == size - 1) {
          for (const NaiveStep& step : path) ASSERT_TRUE(step.edge);
        }
      }
    }
  EXPECT_EQ(geometry::max_siblings(2u), 1u);
  EXPECT_EQ(geometry::max_siblings(16u), 15u);
}

TEST(Geometry, ChunkConstants) {
  for (unsigned arity : kArities) {
    EXPECT_EQ(geometry::chunk_nodes(arity), std::size_t{arity} * 128);
    EXPECT_EQ(geometry::chunk_nodes(arity) % arity, 0u);  // whole groups
    EXPECT_EQ(geometry::chunk_bytes(arity), geometry::chunk_nodes(arity) * 32);
    EXPECT_EQ(geometry::chunk_bytes(arity) % 4096, 0u);  // whole pages
    EXPECT_EQ(geometry::shard_chunks(arity) * geometry::chunk_bytes(arity) <= std::size_t{256} << 20, true);
    EXPECT_GT((geometry::shard_chunks(arity) + 1) * geometry::chunk_bytes(arity), std::size_t{256} << 20);
  }
  EXPECT_EQ(geometry::shard_chunks(2u), 256u * 1024 * 1024 / (2 * 128 * 32));
  EXPECT_EQ(geometry::shard_chunks(16u), 4096u);  // 64 KiB chunks
  EXPECT_EQ(geometry::kGroupsPerChunk, 128u);
}

TEST(Geometry, ChunkCountsAgainstCounting) {
  std::mt19937_64 rng(5);
  for (unsigned arity : kArities) {
    const std::uint64_t chunk = geometry::chunk_nodes(arity);
    for (std::uint64_t length = 0; length <= 5 * chunk + 3; ++length) {
      // Chunks that hold [0, length): counted chunk by chunk.
      std::uint64_t chunks = 0;
      while (chunks * chunk < length) ++chunks;
      ASSERT_EQ(geometry::chunks_for(length, arity), chunks) << arity << " " << length;
      // Full chunks: those wholly before the chunk of the last node.
      std::uint64_t full = 0;
      while (length > 0 && (full + 1) * chunk <= length - 1) ++full;
      ASSERT_EQ(geometry::full_chunks(length, arity), full) << arity << " " << length;
      if (length > 0) {
        ASSERT_EQ(geometry::full_chunks(length, arity), (length - 1) / chunk);  // the last node's chunk
      }
    }
    for (std::uint64_t length : sizes_for(arity, rng)) {
      ASSERT_EQ(geometry::chunks_for(length, arity), static_cast<std::uint64_t>((U128{length} + chunk - 1) / chunk));
      ASSERT_LE(geometry::full_chunks(length, arity), geometry::chunks_for(length, arity));
      if (length > 0) {
        ASSERT_EQ(geometry::full_chunks(length, arity) + 1, geometry::chunks_for(length, arity));
      }
    }
  }
}

TEST(Geometry, ChunkRunsStopAtChunkEnds) {
  std::mt19937_64 rng(6);
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t parent = rng() % 100000, end = parent + 1 + rng() % 1000;
    std::uint64_t naive = parent;
    while (naive < end && naive / 128 == parent / 128) ++naive;
    ASSERT_EQ(geometry::chunk_run_end(parent, end), naive) << parent << " " << end;
  }
  EXPECT_EQ(geometry::chunk_run_end(0, 1000), 128u);
  EXPECT_EQ(geometry::chunk_run_end(127, 1000), 128u);
  EXPECT_EQ(geometry::chunk_run_end(128, 1000), 256u);
  EXPECT_EQ(geometry::chunk_run_end(5, 9), 9u);
}

TEST(Geometry, AppendNeedsAChunkExactlyWhenSomeLevelGrowsAChunk) {
  // Model: a tree of s leaves holds, per level up to the root, the chunks
  // its level length needs; appending needs a chunk iff one of them grows.
  auto chunk_counts = [](std::uint64_t size, unsigned arity) {
    std::vector<std::uint64_t> counts;
    const std::uint64_t chunk = std::uint64_t{arity} * 128;
    for (unsigned l = 0; size > 0; ++l) {
      const std::uint64_t length = wide_level_length(size, arity, l);
      counts.push_back((length + chunk - 1) / chunk);
      if (length == 1) break;
    }
    return counts;
  };
  for (unsigned arity : {2u, 3u, 4u, 16u}) {
    const std::uint64_t limit = 300000;
    std::vector<std::uint64_t> before = chunk_counts(0, arity);
    for (std::uint64_t size = 0; size < limit; ++size) {
      const std::vector<std::uint64_t> after = chunk_counts(size + 1, arity);
      bool grows = after.size() > before.size();
      for (std::size_t l = 0; l < before.size(); ++l) grows |= after[l] > before[l];
      ASSERT_EQ(geometry::append_needs_chunk(size, arity), grows) << "arity " << arity << " size " << size;
      before = after;
    }
  }
}

/// The compile-time arity gives what the runtime one gives.
template <std::size_t N>
void expect_fixed_arity_matches(std::mt19937_64& rng) {
  constexpr geometry::Arity<N> fixed{};
  static_assert(geometry::chunk_nodes(fixed) == N * 128);
  static_assert(geometry::capacity_for_depth(fixed, 2) == N * N);
  static_assert(geometry::depth_for_size(N * N + 1, fixed) == 3);
  for (int i = 0; i < 500; ++i) {
    const std::uint64_t size = 1 + (rng() >> (rng() % 63 + 1));
    const std::uint64_t index = rng() % size;
    const unsigned arity = N;
    ASSERT_EQ(geometry::depth_for_size(size, fixed), geometry::depth_for_size(size, arity));
    ASSERT_EQ(geometry::level_length(size, fixed, 3), geometry::level_length(size, arity, 3));
    ASSERT_EQ(geometry::append_needs_chunk(size, fixed), geometry::append_needs_chunk(size, arity));
    ASSERT_EQ(geometry::full_chunks(size, fixed), geometry::full_chunks(size, arity));
    ASSERT_EQ(geometry_path(index, size, arity).size(), geometry::depth_for_size(size, fixed));
  }
}

TEST(Geometry, CompileTimeArityMatchesRuntimeArity) {
  std::mt19937_64 rng(7);
  [&]<std::size_t... I>(std::index_sequence<I...>) { (expect_fixed_arity_matches<I + 2>(rng), ...); }(
      std::make_index_sequence<15>{});
}

}  // namespace
}  // namespace rotortree
