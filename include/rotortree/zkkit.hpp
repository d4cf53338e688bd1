// @zk-kit/lean-imt's proof shape (LeanIMTMerkleProof, SPEC §6), for N = 2
// trees with the lean-imt node hash: what `generateProof` returns and
// `verifyProof` checks, so Semaphore-style tooling and rotortree exchange
// proofs.
//
// JSON: {"root":"…","leaf":"…","index":I,"siblings":["…",…]}, values as
// decimal strings. Levels where the node is lifted (no sibling) are left out;
// bit i of `index` is 1 when the node is the right child at the i-th level
// that has a sibling. The form carries no parameters: arity 2, lean-imt, and
// the hash the caller names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rotortree/proof.hpp"

namespace rotortree {

struct ZkKitProof {
  Node root{};
  Node leaf{};
  std::uint64_t index = 0;
  std::vector<Node> siblings;  // at most kMaxLevels
  bool operator==(const ZkKitProof&) const = default;
};

/// The zk-kit form of an inclusion proof. Throws Error(invalid_argument)
/// unless the proof is for arity 2 with the lean-imt node hash.
ZkKitProof to_zkkit(const InclusionProof& proof);

/// One-line JSON, decimal strings.
std::string to_json(const ZkKitProof& proof);

/// Parse the JSON form. Values are decimal strings of integers below 2^256
/// (below p for `HashId::poseidon`: a value >= p is no field element), no
/// leading zeros, no sign; `index` a number below 2^siblings; nothing else.
/// Throws Error(malformed_proof).
ZkKitProof zkkit_from_json(std::string_view json, HashId hash);

/// Whether `json` has the zk-kit shape (an object with "siblings" and no
/// "type"), told apart from rotortree's own JSON proofs without parsing fully.
bool looks_like_zkkit_json(std::string_view json) noexcept;

/// Recompute the root as zk-kit's verifyProof does, hashing pairs with `hash`.
Verdict verify(const ZkKitProof& proof, HashId hash);

/// Decimal string of a 32-byte big-endian value, and back (nullopt unless
/// canonical decimal below 2^256).
std::string to_decimal(const Node& value);
std::optional<Node> node_from_decimal(std::string_view text) noexcept;

}  // namespace rotortree
