// The naive model the tests compare the library against.
//
// It follows SPEC §1 literally and shares none of the library's tree code:
// every level is a std::vector rebuilt from the whole level below it; a group
// is hashed by concatenating its bytes into a buffer (with the `tagged` prefix
// built here) and calling the plain one-message hash function (Blake3::hash /
// Sha256::hash, themselves checked against published test vectors in
// hash_test.cpp). No hash_group, hash_many, chunk storage, edge copies or
// parallel code is involved.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "rotortree/hash.hpp"
#include "rotortree/types.hpp"

namespace rotortree::test {

/// The depth of a tree by its definition: the smallest d with arity^d >= size
/// (0 for sizes 0 and 1), computed by repeated multiplication.
inline unsigned model_depth(std::uint64_t size, unsigned arity) {
  unsigned depth = 0;
  unsigned __int128 reach = 1;
  while (reach < size) {
    reach *= arity;
    ++depth;
  }
  return depth;
}

/// One level of an expected inclusion path.
struct ModelLevel {
  unsigned position = 0;
  std::vector<Node> siblings;
};

/// Position and sibling count of one level of the path of a leaf.
struct ModelShapeLevel {
  unsigned position = 0;
  unsigned sibling_count = 0;
  bool operator==(const ModelShapeLevel&) const = default;
};

class NaiveModel {
 public:
  NaiveModel(unsigned arity, HashId hash, NodeHash scheme)
      : arity_(arity), hash_(hash), scheme_(scheme) {
    if (arity < 2 || arity > 16) throw std::invalid_argument("model arity must be 2..16");
  }

  unsigned arity() const { return arity_; }
  HashId hash() const { return hash_; }
  NodeHash scheme() const { return scheme_; }

  /// The plain hash function over a byte string.
  Node hash_bytes(const std::vector<std::uint8_t>& bytes) const {
    Node out{};
    if (hash_ == HashId::blake3)
      Blake3::hash(bytes.data(), bytes.size(), out.data());
    else
      Sha256::hash(bytes.data(), bytes.size(), out.data());
    return out;
  }

  /// The parent of a group of k >= 2 children, built byte by byte from SPEC §1.
  Node parent_of(std::span<const Node> group) const {
    std::vector<std::uint8_t> bytes;
    if (scheme_ == NodeHash::tagged) {
      bytes.push_back(0x01);
      bytes.push_back(static_cast<std::uint8_t>(group.size()));
    }
    for (const Node& child : group) bytes.insert(bytes.end(), child.begin(), child.end());
    return hash_bytes(bytes);
  }

  /// Every level of the tree, level 0 = the leaves, the last level = {root}.
  /// An empty tree has the single empty level 0.
  std::vector<std::vector<Node>> levels(std::span<const Node> leaves) const {
    std::vector<std::vector<Node>> result;
    result.emplace_back(leaves.begin(), leaves.end());
    while (result.back().size() > 1) {
      const std::vector<Node>& below = result.back();
      std::vector<Node> above;
      for (std::size_t start = 0; start < below.size(); start += arity_) {
        const std::size_t end = std::min<std::size_t>(start + arity_, below.size());
        if (end - start == 1)
          above.push_back(below[start]);  // lifted, not hashed
        else
          above.push_back(parent_of(std::span<const Node>(below).subspan(start, end - start)));
      }
      result.push_back(std::move(above));
    }
    return result;
  }

  std::optional<Node> root(std::span<const Node> leaves) const {
    if (leaves.empty()) return std::nullopt;
    return levels(leaves).back().front();
  }

  /// The expected inclusion path of leaf `index`, bottom-up.
  std::vector<ModelLevel> path(std::span<const Node> leaves, std::uint64_t index) const {
    return path_in(levels(leaves), index);
  }
  std::vector<ModelLevel> path_in(const std::vector<std::vector<Node>>& tree,
                                  std::uint64_t index) const {
    std::vector<ModelLevel> path;
    for (std::size_t l = 0; l + 1 < tree.size(); ++l) {
      const std::uint64_t start = index - index % arity_;
      const std::uint64_t end = std::min<std::uint64_t>(start + arity_, tree[l].size());
      ModelLevel level;
      level.position = static_cast<unsigned>(index - start);
      for (std::uint64_t j = start; j < end; ++j)
        if (j != index) level.siblings.push_back(tree[l][j]);
      path.push_back(std::move(level));
      index /= arity_;
    }
    return path;
  }

 private:
  unsigned arity_;
  HashId hash_;
  NodeHash scheme_;
};

/// The shape of the inclusion path of leaf `index` in a tree of `size` leaves:
/// from the level lengths alone, without hashing.
inline std::vector<ModelShapeLevel> model_path_shape(unsigned arity, std::uint64_t index,
                                                     std::uint64_t size) {
  std::vector<ModelShapeLevel> shape;
  std::uint64_t length = size;
  while (length > 1) {
    const std::uint64_t start = index - index % arity;
    const std::uint64_t end = std::min<std::uint64_t>(start + arity, length);
    shape.push_back({static_cast<unsigned>(index - start), static_cast<unsigned>(end - start - 1)});
    index /= arity;
    length = (length + arity - 1) / arity;
  }
  return shape;
}

}  // namespace rotortree::test
