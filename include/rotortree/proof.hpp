// Inclusion and consistency proofs (SPEC §2), verified at run-time arity.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rotortree/small_vector.hpp"
#include "rotortree/types.hpp"

namespace rotortree {

/// One level of a path: the node's position in its group and the other members.
struct ProofLevel {
  std::uint8_t position = 0;
  std::uint8_t sibling_count = 0;  ///< siblings of this level, stored in Path::siblings
  bool operator==(const ProofLevel&) const = default;
};

/// A path from a leaf to the root. Siblings of all levels are stored
/// contiguously, bottom-up, inside the proof object for ordinary depths (a
/// 4-ary tree of 4^21 leaves): generating a proof does not touch the heap.
using LevelList = SmallVector<ProofLevel, kMaxLevels>;
using SiblingList = SmallVector<Node, 64>;
struct Path {
  LevelList levels;
  SiblingList siblings;
  /// Siblings of level `l` (requires well-formed sibling counts).
  std::span<const Node> siblings_of(std::size_t level) const;
  bool operator==(const Path&) const = default;
};

struct InclusionProof {
  ProofParams params;
  Node root{};
  Node leaf{};
  std::uint64_t leaf_index = 0;
  std::uint64_t tree_size = 0;
  Path path;  ///< exactly depth(tree_size) levels
  bool operator==(const InclusionProof&) const = default;
};

/// Proves that the tree of `old_size` leaves (root `old_root`) is a prefix of
/// the tree of `new_size` leaves (root `new_root`). `path` is the new tree's
/// inclusion path of leaf `old_size - 1` (whose value is `leaf`): the siblings
/// left of the path are nodes both trees share, so folding `leaf` with only
/// those gives `old_root`, and with all of them `new_root`.
struct ConsistencyProof {
  ProofParams params;
  std::uint64_t old_size = 0;
  Node old_root{};
  std::uint64_t new_size = 0;
  Node new_root{};
  Node leaf{};  ///< leaf old_size - 1, the last leaf of the old tree
  Path path;    ///< depth(new_size) levels
  bool operator==(const ConsistencyProof&) const = default;
};

/// The result of verifying a proof: valid, or the reason it is not.
struct Verdict {
  bool valid = false;
  std::string reason;
  explicit operator bool() const noexcept { return valid; }
  static Verdict ok() { return {true, {}}; }
  static Verdict fail(std::string why) { return {false, std::move(why)}; }
};

/// Check that a proof can be a proof at all: arity in 2..16, known hash and
/// scheme, positions < arity, at most arity-1 siblings per level, at most
/// kMaxLevels levels, sibling counts adding up. Throws Error(malformed_proof).
void check_well_formed(const InclusionProof& proof);
void check_well_formed(const ConsistencyProof& proof);

/// Recompute the root from the proof alone and compare with proof.root; check
/// positions against the digits of leaf_index and the level count against
/// tree_size. Throws Error(malformed_proof) only for malformed input.
Verdict verify(const InclusionProof& proof);
/// As verify(proof), and the root must also equal the trusted one.
Verdict verify(const InclusionProof& proof, const Node& trusted_root);
/// As verify(proof, trusted_root), and tree_size must equal the trusted size.
/// A Lean IMT root does not bind its size (leaves and inner nodes share one
/// hash domain), and a path only constrains the sizes that give it the same
/// shape: take the size from the same trusted source as the root.
Verdict verify(const InclusionProof& proof, const Node& trusted_root, std::uint64_t trusted_size);

/// Recompute both roots from the proof alone.
Verdict verify(const ConsistencyProof& proof);
/// As verify(proof), and old_root must equal the trusted old root.
Verdict verify(const ConsistencyProof& proof, const Node& trusted_old_root);
/// As verify(proof, trusted_old_root), and old_size must equal the trusted
/// old size. new_size is bound only as far as the path's shape: a client that
/// accepts the new root must take new_size from the same source as new_root.
Verdict verify(const ConsistencyProof& proof, const Node& trusted_old_root, std::uint64_t trusted_old_size);

/// Turn an inclusion proof for the old tree into one for the new tree, using
/// only the consistency proof. Throws Error(parameter_mismatch) if the proofs
/// do not fit together, Error(malformed_proof) if either fails verification.
InclusionProof update_inclusion_proof(const InclusionProof& old_proof,
                                      const ConsistencyProof& consistency);

}  // namespace rotortree
