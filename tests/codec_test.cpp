// Proof encodings: JSON (SPEC §2) and binary round trips of random proofs;
// hostile input (random bytes, mutated encodings) never crashes and only ever
// throws Error(malformed_proof).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "property_support.hpp"
#include "rotortree/codec.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

/// A random tree of any arity 2..16, hash and scheme: an inclusion proof of a
/// random leaf and a consistency proof from a random older size.
struct RandomProofs {
  InclusionProof inclusion;
  ConsistencyProof consistency;
};

template <class H, std::size_t N>
RandomProofs random_proofs_of(NodeHash scheme, std::size_t size, std::uint64_t seed) {
  LeanIMT<H, N> tree(tree_params<H, N>(scheme), TreeOptions{.threads = 1});
  tree.insert_many(random_leaves(size, seed));
  const auto snapshot = tree.snapshot();
  const std::uint64_t index = *rc::gen::inRange<std::uint64_t>(0, size);
  const std::uint64_t old_size = *rc::gen::inRange<std::uint64_t>(1, size + 1);
  return {snapshot.prove(index), snapshot.consistency(old_size)};
}

template <class H, std::size_t... Is>
RandomProofs random_proofs_any_arity(unsigned arity, NodeHash scheme, std::size_t size,
                                     std::uint64_t seed, std::index_sequence<Is...>) {
  RandomProofs proofs;
  ((arity == Is + 2 ? (proofs = random_proofs_of<H, Is + 2>(scheme, size, seed), true) : false) || ...);
  return proofs;
}

RandomProofs random_proofs() {
  const unsigned arity = *rc::gen::inRange(2u, 17u);
  const bool sha256 = *rc::gen::arbitrary<bool>();
  const NodeHash scheme = *rc::gen::element(NodeHash::lean_imt, NodeHash::tagged);
  const std::size_t size = *rc::gen::weightedOneOf<std::size_t>({
      {4, rc::gen::inRange<std::size_t>(1, 40)},
      {1, rc::gen::inRange<std::size_t>(40, 3000)},
  });
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  return sha256 ? random_proofs_any_arity<Sha256>(arity, scheme, size, seed, std::make_index_sequence<15>{})
                : random_proofs_any_arity<Blake3>(arity, scheme, size, seed, std::make_index_sequence<15>{});
}

Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }

/// Decode hostile input with `decode`: it either succeeds with a well-formed
/// proof (whose verification then gives a verdict or malformed_proof, nothing
/// else), or throws Error(malformed_proof). Any other outcome fails the property.
/// Returns whether decoding succeeded.
template <class Decode>
bool decodes_or_is_malformed(Decode&& decode) {
  try {
    const AnyProof proof = decode();
    std::visit(
        [](const auto& p) {
          check_well_formed(p);  // a decoded proof is well formed: must not throw
          try {
            (void)verify(p);
          } catch (const Error& e) {
            RC_ASSERT(e.code() == Errc::malformed_proof);
          }
        },
        proof);
    return true;
  } catch (const Error& e) {
    if (e.code() != Errc::malformed_proof)
      RC_FAIL(std::string("threw Errc::") + std::string(to_string(e.code())) + ": " + e.what());
    RC_ASSERT(std::string(e.what()).size() > 0u);
    return false;
  } catch (const rc::detail::CaseResult&) {
    throw;  // RapidCheck's own failure report
  } catch (const std::exception& e) {
    RC_FAIL(std::string("threw a non-rotortree exception: ") + e.what());
  }
  return false;
}

AnyProof as_any(const InclusionProof& p) { return p; }
AnyProof as_any(const ConsistencyProof& p) { return p; }

TEST(CodecProperty, JsonAndBinaryRoundTripEveryProof) {
  check_property("decode(encode(p)) == p", 5, [] {
    const RandomProofs proofs = random_proofs();
    const InclusionProof& inclusion = proofs.inclusion;
    const ConsistencyProof& consistency = proofs.consistency;

    const std::string inclusion_json = to_json(inclusion);
    RC_ASSERT(inclusion_from_json(inclusion_json) == inclusion);
    RC_ASSERT(proof_from_json(inclusion_json) == as_any(inclusion));
    RC_ASSERT(decode_proof(bytes_of(inclusion_json)) == as_any(inclusion));
    const std::string consistency_json = to_json(consistency);
    RC_ASSERT(consistency_from_json(consistency_json) == consistency);
    RC_ASSERT(proof_from_json(consistency_json) == as_any(consistency));
    RC_ASSERT(decode_proof(bytes_of(consistency_json)) == as_any(consistency));

    const Bytes inclusion_binary = to_binary(inclusion);
    RC_ASSERT(inclusion_from_binary(inclusion_binary) == inclusion);
    RC_ASSERT(proof_from_binary(inclusion_binary) == as_any(inclusion));
    RC_ASSERT(decode_proof(inclusion_binary) == as_any(inclusion));
    const Bytes consistency_binary = to_binary(consistency);
    RC_ASSERT(consistency_from_binary(consistency_binary) == consistency);
    RC_ASSERT(proof_from_binary(consistency_binary) == as_any(consistency));
    RC_ASSERT(decode_proof(consistency_binary) == as_any(consistency));

    // Asking for the other type is malformed input, not a crash or a wrong proof.
    RC_ASSERT(throws_errc([&] { (void)consistency_from_json(inclusion_json); }, Errc::malformed_proof));
    RC_ASSERT(throws_errc([&] { (void)inclusion_from_json(consistency_json); }, Errc::malformed_proof));
    RC_ASSERT(throws_errc([&] { (void)consistency_from_binary(inclusion_binary); }, Errc::malformed_proof));
    RC_ASSERT(throws_errc([&] { (void)inclusion_from_binary(consistency_binary); }, Errc::malformed_proof));
  });
}

TEST(CodecProperty, JsonHasTheFieldsSpecTwoDefines) {
  check_property("JSON fields", 1, [] {
    const RandomProofs proofs = random_proofs();
    const InclusionProof& p = proofs.inclusion;
    const auto json = nlohmann::json::parse(to_json(p));
    RC_ASSERT(json.at("type") == "inclusion");
    RC_ASSERT(json.at("arity") == p.params.arity);
    RC_ASSERT(json.at("hash") == std::string(to_string(p.params.hash)));
    RC_ASSERT(json.at("node_hash") == std::string(to_string(p.params.node_hash)));
    RC_ASSERT(json.at("root") == to_hex(p.root));
    RC_ASSERT(json.at("leaf") == to_hex(p.leaf));
    RC_ASSERT(json.at("leaf_index") == p.leaf_index);
    RC_ASSERT(json.at("tree_size") == p.tree_size);
    RC_ASSERT(json.at("levels").size() == p.path.levels.size());
    std::size_t offset = 0;
    for (std::size_t l = 0; l < p.path.levels.size(); ++l) {
      const auto& level = json.at("levels").at(l);
      RC_ASSERT(level.at("position") == p.path.levels[l].position);
      RC_ASSERT(level.at("siblings").size() == p.path.levels[l].sibling_count);
      for (const auto& sibling : level.at("siblings")) RC_ASSERT(sibling == to_hex(p.path.siblings[offset++]));
    }
    const ConsistencyProof& c = proofs.consistency;
    const auto cj = nlohmann::json::parse(to_json(c));
    RC_ASSERT(cj.at("type") == "consistency");
    RC_ASSERT(cj.at("arity") == c.params.arity);
    RC_ASSERT(cj.at("old_size") == c.old_size);
    RC_ASSERT(cj.at("new_size") == c.new_size);
    RC_ASSERT(cj.at("old_root") == to_hex(c.old_root));
    RC_ASSERT(cj.at("new_root") == to_hex(c.new_root));
  });
}

// to_json writes its text directly: it must be exactly nlohmann's compact
// dump of the same document (field order of SPEC §2), for every proof.
nlohmann::ordered_json reference_levels(const Path& path) {
  nlohmann::ordered_json levels = nlohmann::ordered_json::array();
  std::size_t offset = 0;
  for (const ProofLevel& level : path.levels) {
    nlohmann::ordered_json siblings = nlohmann::ordered_json::array();
    for (std::size_t j = 0; j < level.sibling_count; ++j) siblings.push_back(to_hex(path.siblings[offset + j]));
    offset += level.sibling_count;
    levels.push_back({{"position", level.position}, {"siblings", std::move(siblings)}});
  }
  return levels;
}

nlohmann::ordered_json reference_params(const char* type, const ProofParams& params) {
  nlohmann::ordered_json out;
  out["type"] = type;
  out["arity"] = params.arity;
  out["hash"] = to_string(params.hash);
  out["node_hash"] = to_string(params.node_hash);
  return out;
}

TEST(CodecProperty, JsonTextIsTheCompactDumpOfItsDocument) {
  check_property("to_json == dump", 5, [] {
    const RandomProofs proofs = random_proofs();
    const InclusionProof& p = proofs.inclusion;
    auto doc = reference_params("inclusion", p.params);
    doc["root"] = to_hex(p.root);
    doc["leaf"] = to_hex(p.leaf);
    doc["leaf_index"] = p.leaf_index;
    doc["tree_size"] = p.tree_size;
    doc["levels"] = reference_levels(p.path);
    RC_ASSERT(to_json(p) == doc.dump());
    const ConsistencyProof& c = proofs.consistency;
    auto cdoc = reference_params("consistency", c.params);
    cdoc["old_size"] = c.old_size;
    cdoc["old_root"] = to_hex(c.old_root);
    cdoc["new_size"] = c.new_size;
    cdoc["new_root"] = to_hex(c.new_root);
    cdoc["leaf"] = to_hex(c.leaf);
    cdoc["levels"] = reference_levels(c.path);
    RC_ASSERT(to_json(c) == cdoc.dump());
  });
}

TEST(CodecProperty, RandomBytesAreMalformedNeverACrash) {
  check_property("decode(random bytes)", 20, [] {
    Bytes bytes = *rc::gen::container<Bytes>(rc::gen::arbitrary<std::uint8_t>());
    if (*rc::gen::arbitrary<bool>()) {  // past the magic, into the header and body checks
      const Bytes header = {'R', 'T', 'P', 'F', 1, *rc::gen::inRange<std::uint8_t>(0, 4),
                            *rc::gen::inRange<std::uint8_t>(0, 18), *rc::gen::inRange<std::uint8_t>(0, 3),
                            *rc::gen::inRange<std::uint8_t>(0, 3)};
      bytes.insert(bytes.begin(), header.begin(), header.end());
    }
    const bool decoded = decodes_or_is_malformed([&] { return decode_proof(bytes); });
    if (decoded && bytes.size() >= 4 && std::equal(bytes.begin(), bytes.begin() + 4, "RTPF"))
      RC_ASSERT(std::visit([](const auto& p) { return to_binary(p); }, decode_proof(bytes)) == bytes);
    decodes_or_is_malformed([&] { return proof_from_binary(bytes); });
    decodes_or_is_malformed([&] { return proof_from_json(std::string(bytes.begin(), bytes.end())); });
  });
}

/// Random damage to an encoding: overwrite, insert, delete, truncate, extend.
Bytes mutate(Bytes bytes) {
  const int edits = *rc::gen::inRange(1, 4);
  for (int e = 0; e < edits; ++e) {
    const int kind = *rc::gen::inRange(0, 5);
    const std::size_t at = bytes.empty() ? 0 : *rc::gen::inRange<std::size_t>(0, bytes.size());
    switch (kind) {
      case 0:
        if (!bytes.empty()) bytes[at] ^= *rc::gen::inRange<std::uint8_t>(1, 255);
        break;
      case 1:
        bytes.insert(bytes.begin() + at, *rc::gen::arbitrary<std::uint8_t>());
        break;
      case 2:
        if (!bytes.empty()) bytes.erase(bytes.begin() + at);
        break;
      case 3:
        bytes.resize(at);
        break;
      default:
        bytes.resize(bytes.size() + *rc::gen::inRange<std::size_t>(1, 70), *rc::gen::arbitrary<std::uint8_t>());
    }
  }
  return bytes;
}

TEST(CodecProperty, MutatedBinaryEncodingsAreMalformedOrWellFormed) {
  check_property("decode(mutated binary)", 20, [] {
    const RandomProofs proofs = random_proofs();
    const Bytes original = *rc::gen::arbitrary<bool>() ? to_binary(proofs.inclusion) : to_binary(proofs.consistency);
    const Bytes bytes = mutate(original);
    if (decodes_or_is_malformed([&] { return decode_proof(bytes); }))
      RC_ASSERT(std::visit([](const auto& p) { return to_binary(p); }, decode_proof(bytes)) == bytes);
    decodes_or_is_malformed([&] { return proof_from_binary(bytes); });
  });
}

TEST(CodecProperty, MutatedJsonIsMalformedOrWellFormed) {
  check_property("decode(mutated JSON)", 20, [] {
    const RandomProofs proofs = random_proofs();
    std::string json = *rc::gen::arbitrary<bool>() ? to_json(proofs.inclusion) : to_json(proofs.consistency);
    if (*rc::gen::arbitrary<bool>()) {
      // Text edits with the characters JSON cares about.
      const int edits = *rc::gen::inRange(1, 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = *rc::gen::inRange<std::size_t>(0, json.size());
        const char c = *rc::gen::element('"', ':', ',', '{', '}', '[', ']', '0', '9', '-', 'a', 'g', 'e',
                                         '.', '\\', ' ', '\0', 'F');
        switch (*rc::gen::inRange(0, 3)) {
          case 0: json[at] = c; break;
          case 1: json.insert(json.begin() + at, c); break;
          default: json.erase(at, *rc::gen::inRange<std::size_t>(1, 8));
        }
      }
    } else {
      // Structural edits: one field replaced by a value of a wrong type or range.
      auto doc = nlohmann::json::parse(json);
      std::vector<std::string> keys;
      for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
      const std::string key = *rc::gen::elementOf(keys);
      const int which = *rc::gen::inRange(0, 13);
      switch (which) {
        case 0: doc[key] = -1; break;
        case 1: doc[key] = 1.5; break;
        case 2: doc[key] = "5"; break;
        case 3: doc[key] = nullptr; break;
        case 4: doc[key] = nlohmann::json::array(); break;
        case 5: doc[key] = nlohmann::json::object(); break;
        case 6: doc[key] = std::string(64, 'A'); break;  // upper-case hex
        case 7: doc[key] = std::string(63, 'a'); break;
        case 8: doc.erase(key); break;
        case 9: doc["unexpected"] = 1; break;
        case 10: doc[key] = UINT64_MAX; break;
        case 11: doc[key] = 17; break;
        default:
          if (doc.contains("levels") && !doc["levels"].empty()) {
            auto& level = doc["levels"][*rc::gen::inRange<std::size_t>(0, doc["levels"].size())];
            level["position"] = *rc::gen::inRange(0, 300);
            if (*rc::gen::arbitrary<bool>()) level["siblings"].push_back(std::string(64, '0'));
          } else {
            doc["levels"] = nlohmann::json::array({nlohmann::json::object({{"position", 0}})});
          }
      }
      json = doc.dump();
    }
    decodes_or_is_malformed([&] { return proof_from_json(json); });
    decodes_or_is_malformed([&] { return decode_proof(bytes_of(json)); });
  });
}

TEST(Codec, DuplicateAndUnknownFieldsAndUpperCaseHexAreMalformed) {
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(random_leaves(6, 3));
  const std::string json = to_json(tree.prove(5));
  ASSERT_EQ(inclusion_from_json(json), tree.prove(5));
  // A duplicated field (the parser would otherwise keep one of them silently).
  const std::string duplicated = "{\"leaf_index\":4," + json.substr(1);
  EXPECT_ERRC(inclusion_from_json(duplicated), Errc::malformed_proof);
  const std::string unknown = "{\"comment\":\"x\"," + json.substr(1);
  EXPECT_ERRC(inclusion_from_json(unknown), Errc::malformed_proof);
  std::string upper = json;
  const auto root_at = upper.find("\"root\":\"") + 8;
  for (std::size_t i = root_at; i < root_at + 64; ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  ASSERT_NE(upper, json);  // the root has letters in it
  EXPECT_ERRC(inclusion_from_json(upper), Errc::malformed_proof);
  EXPECT_ERRC(inclusion_from_json(""), Errc::malformed_proof);
  EXPECT_ERRC(inclusion_from_json("null"), Errc::malformed_proof);
  EXPECT_ERRC(inclusion_from_json(json + "x"), Errc::malformed_proof);
  EXPECT_ERRC(decode_proof(Bytes{}), Errc::malformed_proof);
}

// The decoder's work is bounded by what a proof can hold (issue 9, defect 4):
// 340,000 empty objects (1 MiB, 34 s of CPU in the callback parser before)
// are refused by the structural pre-scan, as is deeper nesting; a real proof
// of the maximum size still decodes.
TEST(Codec, JsonStructureIsBoundedBeforeParsing) {
  LeanIMT<Blake3, 16> tree;
  tree.insert_many(random_leaves(1000, 9));
  const std::string json = to_json(tree.prove(999));
  std::string objects = json.substr(0, json.find("\"levels\":[") + 10);
  for (int i = 0; i < 340000; ++i) objects += i == 0 ? "{}" : ",{}";
  objects += "]}";
  ASSERT_LE(objects.size(), std::size_t{1} << 20);
  try {
    (void)decode_proof(bytes_of(objects));
    FAIL() << "340,000 objects decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::malformed_proof);
    EXPECT_NE(std::string(e.what()).find("more than 65 objects"), std::string::npos) << e.what();
  }
  std::string arrays = "{\"type\":\"inclusion\",\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_ERRC(decode_proof(bytes_of(arrays)), Errc::malformed_proof);
  std::string nested = "{\"levels\":[{\"siblings\":[{}]}]}";
  try {
    (void)proof_from_json(nested);
    FAIL() << "decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nested more than 4"), std::string::npos) << e.what();
  }
  // Braces inside strings do not count.
  const std::string braces = "{\"comment\":\"" + std::string(200, '{') + "\\\"\"," + json.substr(1);
  try {
    (void)proof_from_json(braces);
    FAIL() << "decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown field 'comment'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(inclusion_from_json(json), tree.prove(999));
}

// SPEC §3: a value no valid proof can hold is malformed in JSON as in binary.
TEST(Codec, ImpossibleSizesAreMalformedInEveryEncoding) {
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(random_leaves(6, 3));
  auto inclusion = nlohmann::json::parse(to_json(tree.prove(5)));
  auto consistency = nlohmann::json::parse(to_json(tree.snapshot().consistency(3)));
  for (auto [index, size] : {std::pair<int, int>{0, 0}, {6, 6}, {7, 6}}) {
    auto j = inclusion;
    j["leaf_index"] = index;
    j["tree_size"] = size;
    EXPECT_ERRC(inclusion_from_json(j.dump()), Errc::malformed_proof);
    EXPECT_ERRC(decode_proof(bytes_of(j.dump())), Errc::malformed_proof);
  }
  for (auto [old_size, new_size] : {std::pair<int, int>{0, 6}, {7, 6}, {0, 0}}) {
    auto j = consistency;
    j["old_size"] = old_size;
    j["new_size"] = new_size;
    EXPECT_ERRC(consistency_from_json(j.dump()), Errc::malformed_proof);
    EXPECT_ERRC(decode_proof(bytes_of(j.dump())), Errc::malformed_proof);
  }
}

TEST(Codec, BinaryExampleOfTheProofFormatDocumentDecodes) {
  // docs/proof-format.md, "Worked example": leaf 5 of 6, arity 4, BLAKE3, lean-imt.
  const std::vector<Node> leaves = reference_leaves(6);
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(leaves);
  const InclusionProof proof = tree.prove(5);
  const Bytes binary = to_binary(proof);
  ASSERT_EQ(binary.size(), 89u + 2 * 32);
  EXPECT_EQ(Bytes(binary.begin(), binary.begin() + 9), (Bytes{'R', 'T', 'P', 'F', 1, 1, 4, 1, 1}));
  EXPECT_EQ(to_hex(proof.root), "00a74697f682f395e194c9cad843cb3fb223859d71ff18eefbed86315b102dee");
  EXPECT_EQ(inclusion_from_binary(binary), proof);
  // One byte short, one byte long: malformed.
  EXPECT_ERRC(inclusion_from_binary(std::span(binary.data(), binary.size() - 1)), Errc::malformed_proof);
  Bytes longer = binary;
  longer.push_back(0);
  EXPECT_ERRC(inclusion_from_binary(longer), Errc::malformed_proof);
}

}  // namespace
}  // namespace rotortree::test
