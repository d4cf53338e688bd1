#include "rotortree/types.hpp"

namespace rotortree {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::empty_batch: return "empty_batch";
    case Errc::max_depth_exceeded: return "max_depth_exceeded";
    case Errc::index_out_of_range: return "index_out_of_range";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::malformed_proof: return "malformed_proof";
    case Errc::parameter_mismatch: return "parameter_mismatch";
    case Errc::not_a_prefix: return "not_a_prefix";
    case Errc::batch_too_large: return "batch_too_large";
    case Errc::io_error: return "io_error";
    case Errc::no_space: return "no_space";
    case Errc::corruption: return "corruption";
    case Errc::locked: return "locked";
    case Errc::closed: return "closed";
    case Errc::not_found: return "not_found";
    case Errc::read_only: return "read_only";
    case Errc::invalid_leaf: return "invalid_leaf";
    case Errc::duplicate_leaf: return "duplicate_leaf";
    case Errc::poisoned: return "poisoned";
  }
  return "unknown";
}

std::string_view to_string(HashId id) noexcept {
  switch (id) {
    case HashId::blake3: return "blake3";
    case HashId::sha256: return "sha256";
    case HashId::poseidon: return "poseidon";
  }
  return "unknown";
}

std::string_view to_string(NodeHash scheme) noexcept {
  switch (scheme) {
    case NodeHash::lean_imt: return "lean-imt";
    case NodeHash::tagged: return "tagged";
  }
  return "unknown";
}

HashId parse_hash_id(std::string_view name) {
  if (name == "blake3") return HashId::blake3;
  if (name == "sha256") return HashId::sha256;
  if (name == "poseidon") return HashId::poseidon;
  throw Error(Errc::invalid_argument,
              "unknown hash '" + std::string(name) + "' (expected blake3, sha256 or poseidon)");
}

NodeHash parse_node_hash(std::string_view name) {
  if (name == "lean-imt") return NodeHash::lean_imt;
  if (name == "tagged") return NodeHash::tagged;
  throw Error(Errc::invalid_argument,
              "unknown node hash '" + std::string(name) + "' (expected lean-imt or tagged)");
}

std::string_view to_string(LeafPolicy policy) noexcept {
  switch (policy) {
    case LeafPolicy::none: return "none";
    case LeafPolicy::index: return "index";
    case LeafPolicy::unique: return "unique";
  }
  return "unknown";
}

LeafPolicy parse_leaf_policy(std::string_view name) {
  if (name == "none") return LeafPolicy::none;
  if (name == "index") return LeafPolicy::index;
  if (name == "unique") return LeafPolicy::unique;
  throw Error(Errc::invalid_argument,
              "unknown leaf policy '" + std::string(name) + "' (expected none, index or unique)");
}

namespace {
std::string describe(const DuplicateLeaf& d) {
  std::string text = "duplicate leaf " + to_hex(d.leaf) + " at batch position " +
                     std::to_string(d.batch_position);
  if (d.tree_index) text += ": the tree already holds it at index " + std::to_string(*d.tree_index);
  if (d.earlier_batch_position)
    text += ": the batch holds it at position " + std::to_string(*d.earlier_batch_position) + " too";
  return text;
}
}  // namespace

DuplicateLeafError::DuplicateLeafError(const DuplicateLeaf& duplicate)
    : Error(Errc::duplicate_leaf, describe(duplicate)), duplicate_(duplicate) {}

void append_hex(std::string& out, const Node& node) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + 64);
  for (std::size_t i = 0; i < 32; ++i) {
    out[at + 2 * i] = kDigits[node[i] >> 4];
    out[at + 2 * i + 1] = kDigits[node[i] & 15];
  }
}

std::string to_hex(const Node& node) {
  std::string hex;
  append_hex(hex, node);
  return hex;
}

std::optional<Node> node_from_hex(std::string_view hex) noexcept {
  if (hex.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Node node;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    node[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return node;
}

}  // namespace rotortree
