#include "rotortree/zkkit.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <unordered_set>

#include "rotortree/hash.hpp"

namespace rotortree {

namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void malformed(const std::string& why) { throw Error(Errc::malformed_proof, "zk-kit proof: " + why); }

// Bounded like the rotortree JSON proofs: 64 siblings of at most 78 digits.
constexpr std::size_t kMaxZkKitJsonBytes = 16 * 1024;

// A 256-bit value as four little-endian limbs.
using Wide = std::array<std::uint64_t, 4>;
__extension__ using U128 = unsigned __int128;  // 64x64->128-bit steps of decimal conversion

Wide wide_from_node(const Node& n) {
  Wide w{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) w[3 - i] = w[3 - i] << 8 | n[8 * i + j];
  return w;
}

Node node_from_wide(const Wide& w) {
  Node n{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) n[8 * i + j] = static_cast<std::uint8_t>(w[3 - i] >> (56 - 8 * j));
  return n;
}

}  // namespace

std::string to_decimal(const Node& value) {
  Wide w = wide_from_node(value);
  std::string digits;
  auto is_zero = [&] { return w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0; };
  do {
    // w /= 10, collecting the remainder.
    U128 rem = 0;
    for (int i = 3; i >= 0; --i) {
      const U128 cur = rem << 64 | w[i];
      w[i] = static_cast<std::uint64_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + static_cast<int>(rem)));
  } while (!is_zero());
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::optional<Node> node_from_decimal(std::string_view text) noexcept {
  if (text.empty() || text.size() > 78 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  Wide w{};
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    // w = w * 10 + digit, refusing overflow past 2^256.
    U128 carry = static_cast<unsigned>(c - '0');
    for (int i = 0; i < 4; ++i) {
      const U128 cur = static_cast<U128>(w[i]) * 10 + carry;
      w[i] = static_cast<std::uint64_t>(cur);
      carry = cur >> 64;
    }
    if (carry != 0) return std::nullopt;
  }
  return node_from_wide(w);
}

ZkKitProof to_zkkit(const InclusionProof& proof) {
  if (proof.params.arity != 2 || proof.params.node_hash != NodeHash::lean_imt)
    throw Error(Errc::invalid_argument, "the zk-kit proof format is for arity 2 with the lean-imt node hash");
  ZkKitProof out;
  out.root = proof.root;
  out.leaf = proof.leaf;
  std::size_t offset = 0;
  for (const ProofLevel& level : proof.path.levels) {
    if (level.sibling_count == 1) {
      if (level.position == 1) out.index |= std::uint64_t{1} << out.siblings.size();
      out.siblings.push_back(proof.path.siblings[offset]);
    }
    offset += level.sibling_count;
  }
  return out;
}

std::string to_json(const ZkKitProof& proof) {
  json out;
  out["root"] = to_decimal(proof.root);
  out["leaf"] = to_decimal(proof.leaf);
  out["index"] = proof.index;
  json siblings = json::array();
  for (const Node& s : proof.siblings) siblings.push_back(to_decimal(s));
  out["siblings"] = std::move(siblings);
  return out.dump();
}

bool looks_like_zkkit_json(std::string_view text) noexcept {
  if (text.size() > kMaxZkKitJsonBytes) return false;
  try {
    const json parsed = json::parse(text);
    return parsed.is_object() && parsed.contains("siblings") && !parsed.contains("type");
  } catch (...) {
    return false;
  }
}

ZkKitProof zkkit_from_json(std::string_view text, HashId hash) {
  if (text.size() > kMaxZkKitJsonBytes)
    malformed(std::to_string(text.size()) + " bytes, at most " + std::to_string(kMaxZkKitJsonBytes) + " allowed");
  std::vector<std::unordered_set<std::string>> open_objects;
  bool duplicate = false;
  auto reject_duplicates = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end) open_objects.pop_back();
    if (event == json::parse_event_t::key && !open_objects.back().insert(parsed.get<std::string>()).second)
      duplicate = true;
    return true;
  };
  json parsed;
  try {
    parsed = json::parse(text, reject_duplicates);
  } catch (const json::exception& e) {
    malformed(std::string("not JSON: ") + e.what());
  }
  if (duplicate) malformed("duplicate field");
  if (!parsed.is_object()) malformed("not a JSON object");
  for (const auto& [key, value] : parsed.items())
    if (key != "root" && key != "leaf" && key != "index" && key != "siblings") malformed("unknown field '" + key + "'");
  auto value_of = [&](const json& v, const std::string& what) {
    if (!v.is_string()) malformed(what + " is not a decimal string");
    const std::optional<Node> node = node_from_decimal(v.get<std::string>());
    if (!node) malformed(what + " '" + v.get<std::string>() + "' is not a decimal integer below 2^256");
    if (hash == HashId::poseidon && !Poseidon::is_field_element(*node))
      malformed(what + " " + v.get<std::string>() + " is not a field element (not below p)");
    return *node;
  };
  auto field = [&](const char* name) -> const json& {
    if (!parsed.contains(name)) malformed(std::string("missing field '") + name + "'");
    return parsed[name];
  };
  ZkKitProof proof;
  proof.root = value_of(field("root"), "root");
  proof.leaf = value_of(field("leaf"), "leaf");
  const json& siblings = field("siblings");
  if (!siblings.is_array()) malformed("siblings is not an array");
  if (siblings.size() > kMaxLevels)
    malformed(std::to_string(siblings.size()) + " siblings, at most " + std::to_string(kMaxLevels) + " allowed");
  for (std::size_t i = 0; i < siblings.size(); ++i)
    proof.siblings.push_back(value_of(siblings[i], "sibling " + std::to_string(i)));
  const json& index = field("index");
  if (!index.is_number_unsigned()) malformed("index is not a non-negative integer");
  proof.index = index.get<std::uint64_t>();
  if (siblings.size() < 64 && proof.index >> siblings.size() != 0)
    malformed("index " + std::to_string(proof.index) + " has bits beyond its " + std::to_string(siblings.size()) +
              " siblings");
  return proof;
}

Verdict verify(const ZkKitProof& proof, HashId hash) {
  if (proof.siblings.size() > kMaxLevels) throw Error(Errc::malformed_proof, "zk-kit proof: too many siblings");
  if (hash == HashId::poseidon) {
    auto check = [](const Node& v) {
      if (!Poseidon::is_field_element(v))
        throw Error(Errc::malformed_proof, "zk-kit proof: " + to_hex(v) + " is not a field element");
    };
    check(proof.root);
    check(proof.leaf);
    std::for_each(proof.siblings.begin(), proof.siblings.end(), check);
  }
  Node node = proof.leaf;
  for (std::size_t i = 0; i < proof.siblings.size(); ++i) {
    const bool right = (proof.index >> i) & 1;
    const Node group[2] = {right ? proof.siblings[i] : node, right ? node : proof.siblings[i]};
    hash_group(hash, NodeHash::lean_imt, group, 2, node);
  }
  if (node != proof.root) return Verdict::fail("the recomputed root differs from the proof's root");
  return Verdict::ok();
}

}  // namespace rotortree
