// The shape of an N-ary Lean IMT, written once: level lengths and groups,
// the path of a proof, and how levels are cut into chunks (in memory and in
// data files). The tree, proofs, the codec, checkpoints and the data files
// all ask here.
//
// Every function takes the arity as a value of any integer-like type: a tree
// passes Arity<N>{} (a compile-time constant, so its divisions stay divisions
// by a constant on the insert path), proofs and the database a runtime unsigned.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "rotortree/types.hpp"

namespace rotortree::geometry {

/// The arity N as a compile-time constant (converts to its value).
template <std::size_t N>
using Arity = std::integral_constant<std::uint64_t, N>;
/// An arity: an integer, or Arity<N>.
template <class A>
concept ArityValue = std::is_convertible_v<A, std::uint64_t>;

/// ceil(a / b) for b > 0 (no overflow near 2^64, unlike (a + b - 1) / b).
template <ArityValue B>
constexpr std::uint64_t ceil_div(std::uint64_t a, B b) noexcept {
  return a / b + (a % b != 0);
}

// --- Levels and groups ------------------------------------------------------

/// The parent of node `index`: nodes [k*N, k*N + N) of a level hash into node k above.
template <ArityValue A>
constexpr std::uint64_t parent_of(std::uint64_t index, A arity) noexcept {
  return index / arity;
}
/// The first node of the group holding node `index`.
template <ArityValue A>
constexpr std::uint64_t group_start(std::uint64_t index, A arity) noexcept {
  return index / arity * arity;
}
/// Length of the level above a level of `length` nodes (a partial last group has a parent too).
template <ArityValue A>
constexpr std::uint64_t parent_count(std::uint64_t length, A arity) noexcept {
  return ceil_div(length, arity);
}
/// Full groups of a level of `length` nodes: the parents hashed from N children.
template <ArityValue A>
constexpr std::uint64_t full_groups(std::uint64_t length, A arity) noexcept {
  return length / arity;
}
/// Length of `level` in a tree of `size` leaves (level 0 = size).
template <ArityValue A>
constexpr std::uint64_t level_length(std::uint64_t size, A arity, unsigned level) noexcept {
  for (unsigned l = 0; l < level; ++l) size = parent_count(size, arity);
  return size;
}
/// depth(size) = ceil(log_N(size)), 0 for size 0 or 1: the levels above the leaves.
template <ArityValue A>
constexpr unsigned depth_for_size(std::uint64_t size, A arity) noexcept {
  unsigned depth = 0;
  for (; size > 1; size = parent_count(size, arity)) ++depth;
  return depth;
}
/// Largest number of leaves a tree of arity N and max_depth may hold: N^max_depth (saturating at 2^64-1).
template <ArityValue A>
constexpr std::uint64_t capacity_for_depth(A arity, unsigned max_depth) noexcept {
  std::uint64_t capacity = 1;
  for (unsigned i = 0; i < max_depth; ++i) {
    if (capacity > UINT64_MAX / arity) return UINT64_MAX;
    capacity *= arity;
  }
  return capacity;
}
/// Whether `value` is N^k for some k >= 0 (one division for most values).
template <ArityValue A>
constexpr bool is_power_of(std::uint64_t value, A arity) noexcept {
  if (value == 0) return false;
  while (value % arity == 0) value /= arity;
  return value == 1;
}

// --- The path of a proof ----------------------------------------------------

/// Most siblings a path has on one level: the other members of a full group.
template <ArityValue A>
constexpr unsigned max_siblings(A arity) noexcept {
  return static_cast<unsigned>(arity - 1);
}
/// One level of the path of node `index`.
struct PathLevel {
  std::uint64_t group_start;  ///< first node of the group
  unsigned position;          ///< of the path's node in its group
  unsigned sibling_count;     ///< the group's other members
  bool edge;                  ///< the group holds the level's last node (it may be partial)
};
/// The path's level through node `index` of a level whose last node is `last` (index <= last).
template <ArityValue A>
constexpr PathLevel path_level(std::uint64_t index, std::uint64_t last, A arity) noexcept {
  const std::uint64_t parent = parent_of(index, arity), start = parent * arity;
  const bool edge = parent == parent_of(last, arity);
  return {start, static_cast<unsigned>(index - start),
          edge ? static_cast<unsigned>(last - start) : max_siblings(arity), edge};
}
/// visit(l, path_level) for every level l of the path of leaf `index` in a
/// tree of `size` leaves (index < size): depth_for_size(size) levels, bottom up.
template <ArityValue A, class Visit>
constexpr void for_each_path_level(std::uint64_t index, std::uint64_t size, A arity, Visit&& visit) {
  std::uint64_t last = size - 1;  // the level's last node
  for (unsigned l = 0; last > 0; ++l) {  // a level of one node is the root
    visit(l, path_level(index, last, arity));
    index = parent_of(index, arity);
    last = parent_of(last, arity);
  }
}

// --- Chunks -----------------------------------------------------------------

/// Groups per chunk: a chunk holds whole groups (a full group is contiguous
/// for the batch kernel), N * 128 nodes = N * 4 KiB, a whole number of pages
/// (a checkpointed chunk is mapped from a data file in its place).
inline constexpr std::size_t kGroupsPerChunk = 128;
/// Nodes per chunk of a level.
template <ArityValue A>
constexpr std::size_t chunk_nodes(A arity) noexcept {
  return static_cast<std::size_t>(arity * kGroupsPerChunk);
}
/// Bytes per chunk.
template <ArityValue A>
constexpr std::size_t chunk_bytes(A arity) noexcept {
  return chunk_nodes(arity) * sizeof(Node);
}
/// Chunks that hold nodes [0, length) of a level.
template <ArityValue A>
constexpr std::uint64_t chunks_for(std::uint64_t length, A arity) noexcept {
  return ceil_div(length, chunk_nodes(arity));
}
/// Full (immutable) chunks of a level of `length` nodes: every chunk before
/// the one holding the level's last node, which is also that chunk's index.
template <ArityValue A>
constexpr std::uint64_t full_chunks(std::uint64_t length, A arity) noexcept {
  return length == 0 ? 0 : (length - 1) / chunk_nodes(arity);
}
/// End of the run of parents from `parent` on, up to `end`, whose children
/// lie in one chunk (so do the parents: kGroupsPerChunk divides chunk_nodes).
constexpr std::uint64_t chunk_run_end(std::uint64_t parent, std::uint64_t end) noexcept {
  return std::min(end, (parent / kGroupsPerChunk + 1) * kGroupsPerChunk);
}
/// Whether appending a leaf to a tree of `size` leaves needs a new chunk on
/// some level: level 0 starts one (a chunk of level l covers exactly N^l
/// chunks of level 0), or a new root level appears (size is a power of N).
template <ArityValue A>
constexpr bool append_needs_chunk(std::uint64_t size, A arity) noexcept {
  return size % chunk_nodes(arity) == 0 || is_power_of(size, arity);
}

/// Bytes of chunks per data file (shard) of a database.
inline constexpr std::size_t kShardBytes = std::size_t{256} << 20;
/// Chunks per data file.
template <ArityValue A>
constexpr std::size_t shard_chunks(A arity) noexcept {
  return kShardBytes / chunk_bytes(arity);
}

}  // namespace rotortree::geometry

namespace rotortree {
using geometry::capacity_for_depth;
using geometry::depth_for_size;
}  // namespace rotortree
