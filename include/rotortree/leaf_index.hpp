// The leaf index's public vocabulary (docs/leaf-index.md): its secret, its
// position width, and the test hooks that count probes and lower the limit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "rotortree/types.hpp"

namespace rotortree {

/// The per-tree secret that keys the index's hash (placement of leaves an
/// attacker may choose). Random at creation unless given; a database stores it.
using LeafSecret = std::array<std::uint8_t, 16>;

/// A fresh secret from the operating system's random source.
LeafSecret random_leaf_secret();

/// Positions in the index are 4 bytes: an indexed tree holds at most 2^32 leaves.
inline constexpr std::uint64_t kMaxIndexedLeaves = std::uint64_t{1} << 32;

/// The limit in force: kMaxIndexedLeaves unless a test lowered it.
std::uint64_t indexed_leaf_limit() noexcept;

/// The result of an insertion: the new root and the index of the first leaf inserted.
struct InsertResult {
  Node root{};
  std::uint64_t first_index = 0;
};

/// What one lookup did: buckets read and candidates verified against leaves.
struct ProbeCount {
  std::uint64_t buckets = 0;
  std::uint64_t candidates = 0;
};

namespace testing {
/// Lower the indexed-leaf limit (0 restores kMaxIndexedLeaves). Tests only.
void set_indexed_leaf_limit(std::uint64_t limit) noexcept;
}  // namespace testing

}  // namespace rotortree
