// Proof encodings: JSON (SPEC §2) and the compact binary format (docs/proof-format.md).
//
// Decoders accept hostile input: they never crash, never allocate more than the
// input justifies (a proof has at most kMaxLevels levels of at most 15
// siblings), and throw Error(malformed_proof) with a precise message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rotortree/proof.hpp"

namespace rotortree {

using AnyProof = std::variant<InclusionProof, ConsistencyProof>;

/// JSON text of a proof (one line, no trailing newline).
std::string to_json(const InclusionProof& proof);
std::string to_json(const ConsistencyProof& proof);
/// Parse a JSON proof of either type (by its "type" field).
AnyProof proof_from_json(std::string_view json);
InclusionProof inclusion_from_json(std::string_view json);
ConsistencyProof consistency_from_json(std::string_view json);

/// Compact binary encoding, versioned (magic "RTPF", version 1).
std::vector<std::uint8_t> to_binary(const InclusionProof& proof);
std::vector<std::uint8_t> to_binary(const ConsistencyProof& proof);
AnyProof proof_from_binary(std::span<const std::uint8_t> bytes);
InclusionProof inclusion_from_binary(std::span<const std::uint8_t> bytes);
ConsistencyProof consistency_from_binary(std::span<const std::uint8_t> bytes);

/// Either encoding, told apart by the binary magic.
AnyProof decode_proof(std::span<const std::uint8_t> bytes);

}  // namespace rotortree
