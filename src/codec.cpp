// Proof encodings: JSON (SPEC §2) and binary version 1 (docs/proof-format.md).
//
// Both decoders treat their input as hostile: every field is required and
// type-checked, every count is bounded before anything is allocated, and every
// failure is an Error(malformed_proof) whose message names the offending field.
#include "rotortree/codec.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "rotortree/geometry.hpp"

namespace rotortree {

namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& why) { throw Error(Errc::malformed_proof, why); }

// ---------------------------------------------------------------------------
// Shape of a path. A path's positions and sibling counts are fixed by
// (leaf index, tree size, arity); the binary format stores only the siblings
// and derives the rest with this, so it cannot encode an inconsistent shape.

// Whatever container Path uses for its levels.
using Levels = decltype(Path::levels);

Levels derive_shape(std::uint64_t index, std::uint64_t size, unsigned arity) {
  // index < size is the caller's precondition; depth <= 64 for any u64 size.
  Levels levels;
  levels.resize(geometry::depth_for_size(size, arity));
  geometry::for_each_path_level(index, size, arity, [&](unsigned l, const geometry::PathLevel& at) {
    levels[l] = {static_cast<std::uint8_t>(at.position), static_cast<std::uint8_t>(at.sibling_count)};
  });
  return levels;
}

std::size_t total_siblings(const Levels& levels) {
  std::size_t total = 0;
  for (const ProofLevel& level : levels) total += level.sibling_count;
  return total;
}

// ---------------------------------------------------------------------------
// JSON

// Long enough for any proof (64 levels x 15 siblings is ~65 KB compact) even
// pretty-printed; a bound on the text bounds what the JSON parser allocates.
constexpr std::size_t kMaxJsonBytes = 1 << 20;

constexpr std::string_view kInclusion = "inclusion";
constexpr std::string_view kConsistency = "consistency";

// A proof is one object holding a `levels` array of at most kMaxLevels
// objects, each holding a `siblings` array: at most 1 + kMaxLevels objects,
// as many arrays, nested 4 deep. One linear pass over the text (outside
// strings) enforces that before the parser runs, so the parser's work is
// bounded by the size of a real proof whatever the input (nlohmann's callback
// parser is quadratic in the number of objects).
constexpr std::size_t kMaxJsonContainers = 1 + kMaxLevels;
constexpr std::size_t kMaxJsonNesting = 4;

void check_json_structure(std::string_view text) {
  std::size_t objects = 0, arrays = 0, depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++(c == '{' ? objects : arrays) > kMaxJsonContainers)
          malformed(std::string("proof JSON has more than ") + std::to_string(kMaxJsonContainers) +
                    (c == '{' ? " objects" : " arrays") + " (a proof has at most one per level, " +
                    std::to_string(kMaxLevels) + " levels, and one more)");
        if (++depth > kMaxJsonNesting)
          malformed("proof JSON is nested more than " + std::to_string(kMaxJsonNesting) + " levels deep");
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;  // an unbalanced text is the parser's to report
        break;
      default: break;
    }
  }
}

// Parse with a callback that rejects duplicate keys: with them a proof would
// have two readings, and the DOM silently keeps one.
json parse_json(std::string_view text) {
  if (text.size() > kMaxJsonBytes)
    malformed("proof JSON is " + std::to_string(text.size()) + " bytes, at most " +
              std::to_string(kMaxJsonBytes) + " allowed");
  check_json_structure(text);
  std::vector<std::unordered_set<std::string>> open_objects;
  auto reject_duplicates = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end: open_objects.pop_back(); break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second)
          malformed("duplicate field '" + parsed.get<std::string>() + "'");
        break;
      default: break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), reject_duplicates);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    malformed(std::string("invalid JSON: ") + e.what());
  }
}

// Typed access to the fields of a JSON object; `where` names the object in messages.
class JsonFields {
 public:
  JsonFields(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) malformed(name() + "expected a JSON object");
  }

  /// Every key must be one of `allowed`: no field is silently ignored.
  void only(std::initializer_list<std::string_view> allowed) const {
    for (const auto& item : object_.items())
      if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
        malformed(name() + "unknown field '" + item.key() + "'");
  }

  const json& at(std::string_view key) const {
    const auto it = object_.find(key);
    if (it == object_.end()) malformed(name() + "missing field '" + std::string(key) + "'");
    return *it;
  }

  std::string string(std::string_view key) const {
    const json& value = at(key);
    if (!value.is_string()) malformed(field(key) + " must be a string");
    return value.get<std::string>();
  }

  std::uint64_t u64(std::string_view key) const {
    const json& value = at(key);
    // Negative numbers parse as number_integer, fractions and numbers past
    // 2^64-1 as number_float: only number_unsigned is a valid u64.
    if (!value.is_number_unsigned())
      malformed(field(key) + " must be an integer in 0.." + std::to_string(UINT64_MAX));
    return value.get<std::uint64_t>();
  }

  Node node(std::string_view key) const { return node_from(at(key), field(key)); }

  /// A hash: exactly 64 lower-case hex digits, the one canonical spelling.
  static Node node_from(const json& value, const std::string& what) {
    if (value.is_string()) {
      const std::string& hex = value.get_ref<const std::string&>();
      const bool lower = std::none_of(hex.begin(), hex.end(), [](char c) { return c >= 'A' && c <= 'F'; });
      if (lower)
        if (std::optional<Node> node = node_from_hex(hex)) return *node;
    }
    malformed(what + " must be a string of 64 lower-case hex digits");
  }

  /// "field 'levels[3].position'": how messages name a field.
  std::string field(std::string_view key) const { return "field '" + where_ + std::string(key) + "'"; }
  std::string element(std::string_view key, std::size_t i) const {
    return "field '" + where_ + std::string(key) + "[" + std::to_string(i) + "]'";
  }

 private:
  std::string name() const { return where_.empty() ? "" : where_.substr(0, where_.size() - 1) + ": "; }

  const json& object_;
  std::string where_;  // "" for the top level, "levels[3]." inside
};

ProofParams params_from(const JsonFields& fields) {
  ProofParams params;
  const std::uint64_t arity = fields.u64("arity");
  if (arity < kMinArity || arity > kMaxArity)
    malformed(fields.field("arity") + ": " + std::to_string(arity) + " is not in 2..16");
  params.arity = static_cast<unsigned>(arity);
  const std::string hash = fields.string("hash");
  const std::string node_hash = fields.string("node_hash");
  try {
    params.hash = parse_hash_id(hash);
  } catch (const Error& e) {
    malformed(fields.field("hash") + ": " + e.what());
  }
  try {
    params.node_hash = parse_node_hash(node_hash);
  } catch (const Error& e) {
    malformed(fields.field("node_hash") + ": " + e.what());
  }
  return params;
}

Path path_from(const JsonFields& fields, unsigned arity) {
  const json& levels = fields.at("levels");
  if (!levels.is_array()) malformed(fields.field("levels") + " must be an array");
  if (levels.size() > kMaxLevels)
    malformed(fields.field("levels") + " has " + std::to_string(levels.size()) +
              " entries, at most " + std::to_string(kMaxLevels) + " allowed");
  Path path;
  path.levels.reserve(levels.size());
  path.siblings.reserve(levels.size() * geometry::max_siblings(arity));
  for (std::size_t l = 0; l < levels.size(); ++l) {
    const JsonFields level(levels[l], "levels[" + std::to_string(l) + "].");
    level.only({"position", "siblings"});
    const std::uint64_t position = level.u64("position");
    if (position >= arity)
      malformed(level.field("position") + ": " + std::to_string(position) +
                " is not below the arity " + std::to_string(arity));
    const json& siblings = level.at("siblings");
    if (!siblings.is_array()) malformed(level.field("siblings") + " must be an array");
    if (siblings.size() > geometry::max_siblings(arity))
      malformed(level.field("siblings") + " has " + std::to_string(siblings.size()) +
                " entries, at most " + std::to_string(geometry::max_siblings(arity)) + " allowed for arity " +
                std::to_string(arity));
    for (std::size_t j = 0; j < siblings.size(); ++j)
      path.siblings.push_back(JsonFields::node_from(siblings[j], level.element("siblings", j)));
    path.levels.push_back({static_cast<std::uint8_t>(position), static_cast<std::uint8_t>(siblings.size())});
  }
  return path;
}

InclusionProof inclusion_from(const JsonFields& fields) {
  fields.only({"type", "arity", "hash", "node_hash", "root", "leaf", "leaf_index", "tree_size", "levels"});
  InclusionProof proof;
  proof.params = params_from(fields);
  proof.root = fields.node("root");
  proof.leaf = fields.node("leaf");
  proof.leaf_index = fields.u64("leaf_index");
  proof.tree_size = fields.u64("tree_size");
  if (proof.leaf_index >= proof.tree_size)  // SPEC §3: no valid proof holds these (malformed, as in binary)
    malformed(fields.field("leaf_index") + ": " + std::to_string(proof.leaf_index) + " is not below tree_size " +
              std::to_string(proof.tree_size));
  proof.path = path_from(fields, proof.params.arity);
  check_well_formed(proof);
  return proof;
}

ConsistencyProof consistency_from(const JsonFields& fields) {
  fields.only({"type", "arity", "hash", "node_hash", "old_size", "old_root", "new_size", "new_root",
               "leaf", "levels"});
  ConsistencyProof proof;
  proof.params = params_from(fields);
  proof.old_size = fields.u64("old_size");
  proof.old_root = fields.node("old_root");
  proof.new_size = fields.u64("new_size");
  proof.new_root = fields.node("new_root");
  proof.leaf = fields.node("leaf");
  if (proof.old_size == 0 || proof.old_size > proof.new_size)
    malformed(fields.field("old_size") + ": " + std::to_string(proof.old_size) + " is not in 1..new_size (" +
              std::to_string(proof.new_size) + ")");
  proof.path = path_from(fields, proof.params.arity);
  check_well_formed(proof);
  return proof;
}

// Parse the text and read its "type", which every proof has.
struct TypedJson {
  json document;
  std::string type;
};

TypedJson typed_json(std::string_view text) {
  TypedJson typed{parse_json(text), {}};
  typed.type = JsonFields(typed.document, "").string("type");
  if (typed.type != kInclusion && typed.type != kConsistency)
    malformed("field 'type': unknown proof type '" + typed.type +
              "' (expected inclusion or consistency)");
  return typed;
}

void expect_type(const TypedJson& typed, std::string_view expected) {
  if (typed.type != expected)
    malformed("expected a" + std::string(expected == kInclusion ? "n " : " ") + std::string(expected) +
              " proof, got a" + (typed.type == kInclusion ? "n " : " ") + typed.type + " proof");
}

// ---------------------------------------------------------------------------
// Binary, version 1 (docs/proof-format.md):
//   "RTPF" | u8 version | u8 type | u8 arity | u8 hash | u8 node_hash |
//   two u64 LE sizes | hashes | siblings (32 bytes each, bottom-up)

constexpr std::uint8_t kMagic[4] = {'R', 'T', 'P', 'F'};
constexpr std::uint8_t kVersion1 = 1;
constexpr std::uint8_t kTypeInclusion = 1;
constexpr std::uint8_t kTypeConsistency = 2;
constexpr std::size_t kHeaderBytes = 4 + 1 + 1 + 1 + 1 + 1;
constexpr std::size_t kInclusionFixedBytes = kHeaderBytes + 8 + 8 + 32 + 32;
constexpr std::size_t kConsistencyFixedBytes = kHeaderBytes + 8 + 8 + 32 + 32 + 32;

class Writer {
 public:
  explicit Writer(std::size_t capacity) { bytes_.reserve(capacity); }
  void u8(std::uint8_t v) { bytes_.push_back(v); }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void node(const Node& n) { bytes_.insert(bytes_.end(), n.begin(), n.end()); }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

// Reads from a span whose length the caller has already checked.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint8_t u8() { return bytes_[pos_++]; }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{bytes_[pos_++]} << (8 * i);
    return v;
  }
  Node node() {
    Node n;
    std::memcpy(n.data(), bytes_.data() + pos_, n.size());
    pos_ += n.size();
    return n;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

void write_header(Writer& out, std::uint8_t type, const ProofParams& params) {
  for (std::uint8_t c : kMagic) out.u8(c);
  out.u8(kVersion1);
  out.u8(type);
  out.u8(static_cast<std::uint8_t>(params.arity));
  out.u8(static_cast<std::uint8_t>(params.hash));
  out.u8(static_cast<std::uint8_t>(params.node_hash));
}

// The binary format has no room for a shape other than the derived one.
void check_encodable_shape(const Path& path, std::uint64_t index, std::uint64_t size, unsigned arity,
                           std::string_view what) {
  if (index >= size || !(path.levels == derive_shape(index, size, arity)))
    malformed("cannot encode in binary: the path's shape does not match its " + std::string(what));
}

void write_siblings(Writer& out, const Path& path) {
  for (const Node& sibling : path.siblings) out.node(sibling);
}

bool has_magic(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= sizeof kMagic && std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin());
}

// Checks magic, version and parameters; returns the type byte.
std::uint8_t read_header(std::span<const std::uint8_t> bytes, ProofParams& params) {
  if (bytes.size() < kHeaderBytes)
    malformed("binary proof: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
              std::to_string(kHeaderBytes) + "-byte header");
  if (!has_magic(bytes)) malformed("binary proof: bad magic (expected \"RTPF\")");
  Reader in(bytes.subspan(sizeof kMagic));
  const std::uint8_t version = in.u8();
  if (version != kVersion1)
    malformed("binary proof: unsupported version " + std::to_string(version) + " (expected 1)");
  const std::uint8_t type = in.u8();
  if (type != kTypeInclusion && type != kTypeConsistency)
    malformed("binary proof: unknown type " + std::to_string(type) + " (expected 1 or 2)");
  const std::uint8_t arity = in.u8(), hash = in.u8(), node_hash = in.u8();
  if (arity < kMinArity || arity > kMaxArity)
    malformed("binary proof: arity " + std::to_string(arity) + " is not in 2..16");
  if (hash != static_cast<std::uint8_t>(HashId::blake3) && hash != static_cast<std::uint8_t>(HashId::sha256) &&
      hash != static_cast<std::uint8_t>(HashId::poseidon))
    malformed("binary proof: unknown hash id " + std::to_string(hash));
  if (node_hash != static_cast<std::uint8_t>(NodeHash::lean_imt) &&
      node_hash != static_cast<std::uint8_t>(NodeHash::tagged))
    malformed("binary proof: unknown node hash id " + std::to_string(node_hash));
  params = {arity, static_cast<HashId>(hash), static_cast<NodeHash>(node_hash)};
  return type;
}

// The body after the header: the two sizes, the fixed hashes, then exactly
// the siblings the derived shape needs — no more, no fewer.
void check_length(std::span<const std::uint8_t> bytes, std::size_t fixed, const Levels& shape) {
  const std::size_t expected = fixed + 32 * total_siblings(shape);  // <= 64*15 siblings: no overflow
  if (bytes.size() != expected)
    malformed("binary proof: " + std::to_string(bytes.size()) + " bytes, expected exactly " +
              std::to_string(expected) + (bytes.size() < expected ? " (truncated)" : " (trailing bytes)"));
}

Path read_path(Reader& in, Levels shape) {
  Path path;
  path.siblings.resize(total_siblings(shape));
  for (Node& sibling : path.siblings) sibling = in.node();
  path.levels = std::move(shape);
  return path;
}

InclusionProof inclusion_body(std::span<const std::uint8_t> bytes, const ProofParams& params) {
  if (bytes.size() < kInclusionFixedBytes)
    malformed("binary proof: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
              std::to_string(kInclusionFixedBytes) + " bytes of an inclusion proof's fixed fields");
  Reader in(bytes.subspan(kHeaderBytes));
  InclusionProof proof;
  proof.params = params;
  proof.leaf_index = in.u64();
  proof.tree_size = in.u64();
  if (proof.leaf_index >= proof.tree_size)
    malformed("binary proof: leaf_index " + std::to_string(proof.leaf_index) +
              " is not below tree_size " + std::to_string(proof.tree_size));
  Levels shape = derive_shape(proof.leaf_index, proof.tree_size, params.arity);
  check_length(bytes, kInclusionFixedBytes, shape);
  proof.root = in.node();
  proof.leaf = in.node();
  proof.path = read_path(in, std::move(shape));
  check_well_formed(proof);  // field elements for poseidon
  return proof;
}

ConsistencyProof consistency_body(std::span<const std::uint8_t> bytes, const ProofParams& params) {
  if (bytes.size() < kConsistencyFixedBytes)
    malformed("binary proof: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
              std::to_string(kConsistencyFixedBytes) + " bytes of a consistency proof's fixed fields");
  Reader in(bytes.subspan(kHeaderBytes));
  ConsistencyProof proof;
  proof.params = params;
  proof.old_size = in.u64();
  proof.new_size = in.u64();
  if (proof.old_size == 0 || proof.old_size > proof.new_size)
    malformed("binary proof: old_size " + std::to_string(proof.old_size) + " is not in 1..new_size (" +
              std::to_string(proof.new_size) + ")");
  Levels shape = derive_shape(proof.old_size - 1, proof.new_size, params.arity);
  check_length(bytes, kConsistencyFixedBytes, shape);
  proof.old_root = in.node();
  proof.new_root = in.node();
  proof.leaf = in.node();
  proof.path = read_path(in, std::move(shape));
  check_well_formed(proof);  // field elements for poseidon
  return proof;
}

}  // namespace

// --- JSON ------------------------------------------------------------------

// The JSON text is written directly (the server answers proofs at tens of
// thousands per second; a DOM costs more than the proof). Byte for byte what
// nlohmann's compact dump of the same document gives (tests/codec_test.cpp):
// every string is a fixed name or hex, so nothing needs escaping.
namespace {
class JsonText {
 public:
  explicit JsonText(std::size_t reserve) { out_.reserve(reserve); }
  void params(std::string_view type, const ProofParams& params) {
    out_ += "{\"type\":\"";
    out_ += type;
    out_ += "\",\"arity\":";
    out_ += std::to_string(params.arity);
    field_string("hash", to_string(params.hash));
    field_string("node_hash", to_string(params.node_hash));
  }
  void field_string(std::string_view name, std::string_view value) {
    key(name);
    out_ += '"';
    out_ += value;
    out_ += '"';
  }
  void field_hex(std::string_view name, const Node& node) {
    key(name);
    quoted_hex(node);
  }
  void field_number(std::string_view name, std::uint64_t value) {
    key(name);
    out_ += std::to_string(value);
  }
  void levels(const Path& path) {
    key("levels");
    out_ += '[';
    std::size_t offset = 0;
    for (std::size_t i = 0; i < path.levels.size(); ++i) {
      const ProofLevel& level = path.levels[i];
      if (i) out_ += ',';
      out_ += "{\"position\":";
      out_ += std::to_string(level.position);
      out_ += ",\"siblings\":[";
      for (std::size_t j = 0; j < level.sibling_count; ++j) {
        if (j) out_ += ',';
        quoted_hex(path.siblings[offset + j]);
      }
      offset += level.sibling_count;
      out_ += "]}";
    }
    out_ += ']';
  }
  std::string finish() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void quoted_hex(const Node& node) {
    out_ += '"';
    append_hex(out_, node);
    out_ += '"';
  }
  void key(std::string_view name) {
    out_ += ",\"";
    out_ += name;
    out_ += "\":";
  }
  std::string out_;
};

std::size_t json_reserve(const Path& path) { return 256 + path.levels.size() * 32 + path.siblings.size() * 67; }
}  // namespace

std::string to_json(const InclusionProof& proof) {
  check_well_formed(proof);
  JsonText out(json_reserve(proof.path));
  out.params(kInclusion, proof.params);
  out.field_hex("root", proof.root);
  out.field_hex("leaf", proof.leaf);
  out.field_number("leaf_index", proof.leaf_index);
  out.field_number("tree_size", proof.tree_size);
  out.levels(proof.path);
  return out.finish();
}

std::string to_json(const ConsistencyProof& proof) {
  check_well_formed(proof);
  JsonText out(json_reserve(proof.path));
  out.params(kConsistency, proof.params);
  out.field_number("old_size", proof.old_size);
  out.field_hex("old_root", proof.old_root);
  out.field_number("new_size", proof.new_size);
  out.field_hex("new_root", proof.new_root);
  out.field_hex("leaf", proof.leaf);
  out.levels(proof.path);
  return out.finish();
}

AnyProof proof_from_json(std::string_view json_text) {
  const TypedJson typed = typed_json(json_text);
  const JsonFields fields(typed.document, "");
  if (typed.type == kInclusion) return inclusion_from(fields);
  return consistency_from(fields);
}

InclusionProof inclusion_from_json(std::string_view json_text) {
  const TypedJson typed = typed_json(json_text);
  expect_type(typed, kInclusion);
  return inclusion_from(JsonFields(typed.document, ""));
}

ConsistencyProof consistency_from_json(std::string_view json_text) {
  const TypedJson typed = typed_json(json_text);
  expect_type(typed, kConsistency);
  return consistency_from(JsonFields(typed.document, ""));
}

// --- Binary ----------------------------------------------------------------

std::vector<std::uint8_t> to_binary(const InclusionProof& proof) {
  check_well_formed(proof);
  check_encodable_shape(proof.path, proof.leaf_index, proof.tree_size, proof.params.arity,
                        "leaf_index and tree_size");
  Writer out(kInclusionFixedBytes + 32 * proof.path.siblings.size());
  write_header(out, kTypeInclusion, proof.params);
  out.u64(proof.leaf_index);
  out.u64(proof.tree_size);
  out.node(proof.root);
  out.node(proof.leaf);
  write_siblings(out, proof.path);
  return out.take();
}

std::vector<std::uint8_t> to_binary(const ConsistencyProof& proof) {
  check_well_formed(proof);
  if (proof.old_size == 0) malformed("cannot encode in binary: old_size is 0");
  check_encodable_shape(proof.path, proof.old_size - 1, proof.new_size, proof.params.arity,
                        "old_size and new_size");
  Writer out(kConsistencyFixedBytes + 32 * proof.path.siblings.size());
  write_header(out, kTypeConsistency, proof.params);
  out.u64(proof.old_size);
  out.u64(proof.new_size);
  out.node(proof.old_root);
  out.node(proof.new_root);
  out.node(proof.leaf);
  write_siblings(out, proof.path);
  return out.take();
}

AnyProof proof_from_binary(std::span<const std::uint8_t> bytes) {
  ProofParams params;
  if (read_header(bytes, params) == kTypeInclusion) return inclusion_body(bytes, params);
  return consistency_body(bytes, params);
}

InclusionProof inclusion_from_binary(std::span<const std::uint8_t> bytes) {
  ProofParams params;
  if (read_header(bytes, params) != kTypeInclusion)
    malformed("expected an inclusion proof, got a consistency proof");
  return inclusion_body(bytes, params);
}

ConsistencyProof consistency_from_binary(std::span<const std::uint8_t> bytes) {
  ProofParams params;
  if (read_header(bytes, params) != kTypeConsistency)
    malformed("expected a consistency proof, got an inclusion proof");
  return consistency_body(bytes, params);
}

AnyProof decode_proof(std::span<const std::uint8_t> bytes) {
  if (has_magic(bytes)) return proof_from_binary(bytes);
  // Anything else must be a JSON object; say so plainly rather than let the
  // JSON parser describe binary garbage.
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{')
    malformed("not a proof: neither the binary magic \"RTPF\" nor a JSON object");
  return proof_from_json(text);
}

}  // namespace rotortree
