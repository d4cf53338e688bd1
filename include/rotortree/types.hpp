// Basic vocabulary: nodes, identifiers of hash functions and schemes, the error model.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rotortree {

/// A tree node or leaf: 32 bytes. Leaves are inserted as given (prehashed).
using Node = std::array<std::uint8_t, 32>;

/// Hash function of a tree (stored in proofs and database headers; values are stable).
enum class HashId : std::uint8_t { blake3 = 1, sha256 = 2, poseidon = 3 };

/// How a group of children is hashed into its parent (SPEC §1).
enum class NodeHash : std::uint8_t {
  lean_imt = 1,  ///< H(c_0 ‖ … ‖ c_{k-1}) — `@zk-kit/lean-imt`, the canonical Lean IMT
  tagged = 2,    ///< H(0x01 ‖ u8(k) ‖ c_0 ‖ … ‖ c_{k-1}) — the Rust crate rotortree 0.15
};

/// Smallest and largest arity the library supports.
inline constexpr unsigned kMinArity = 2;
inline constexpr unsigned kMaxArity = 16;
/// Levels any proof or database may have; bounds every decoder.
inline constexpr unsigned kMaxLevels = 64;

/// What a tree indexes about its leaves (SPEC §5), fixed at creation.
enum class LeafPolicy : std::uint8_t {
  none = 0,    ///< no index (lookups refused)
  index = 1,   ///< index_of / contains; duplicates allowed, the lowest index answers
  unique = 2,  ///< as `index`, and a leaf already present or repeated in a batch is refused
};

/// The part of a tree's parameters a proof carries: what verification hashes with.
struct ProofParams {
  unsigned arity = 4;
  HashId hash = HashId::blake3;
  NodeHash node_hash = NodeHash::lean_imt;
  bool operator==(const ProofParams&) const = default;
};

/// What a tree is, fixed when it is made: one vocabulary for trees (make_tree,
/// LeanIMT), databases (open_any_db, RotorTree, DbInfo) and their files' headers.
/// Proofs carry its hashing part, proof().
struct TreeParams {
  unsigned arity = 4;
  HashId hash = HashId::blake3;
  NodeHash node_hash = NodeHash::lean_imt;
  unsigned max_depth = 32;  ///< the most levels above the leaves: capacity arity^max_depth
  LeafPolicy leaf_policy = LeafPolicy::none;
  ProofParams proof() const noexcept { return {arity, hash, node_hash}; }
  bool operator==(const TreeParams&) const = default;
};

/// Error codes: one enumeration for every failure the library reports.
enum class Errc {
  empty_batch = 1,      ///< insert_many with no leaves
  max_depth_exceeded,   ///< the insertion would pass the tree's capacity (depth > MaxDepth, or the leaf index's positions)
  index_out_of_range,   ///< a node, leaf or size past the end of the tree
  invalid_argument,     ///< an option or parameter out of its domain
  malformed_proof,      ///< input that cannot be a proof (bad structure or encoding)
  parameter_mismatch,   ///< arity / hash / scheme differ from what was expected
  not_a_prefix,         ///< consistency: the given old root is not this tree's prefix
  batch_too_large,      ///< a batch larger than a write-ahead-log frame allows
  io_error,             ///< the operating system failed a file operation
  no_space,             ///< the disk is full (ENOSPC)
  corruption,           ///< a stored file fails its checks
  locked,               ///< the database directory is held by another opener
  closed,               ///< the database was closed (close()): it refuses further writes
  not_found,            ///< no database in the directory (nothing of one: no meta, no log, no data file)
  read_only,            ///< a write to a database opened read-only
  invalid_leaf,         ///< a leaf outside the hash's domain (Poseidon: a value >= p)
  duplicate_leaf,       ///< a `unique` tree refused a leaf it holds or a batch repeats (DuplicateLeafError)
  poisoned,             ///< the database failed earlier (a flush or checkpoint) and refuses writes until reopened
};

/// Short stable name of an error code, e.g. "max_depth_exceeded".
std::string_view to_string(Errc code) noexcept;

/// The one exception type of the library. A call that throws leaves the tree unchanged.
class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

/// A refused duplicate: the batch position of the refused leaf and where the
/// leaf already is (its index in the tree, or an earlier position of the batch).
struct DuplicateLeaf {
  Node leaf{};
  std::uint64_t batch_position = 0;
  std::optional<std::uint64_t> tree_index;              ///< set if the tree already holds it
  std::optional<std::uint64_t> earlier_batch_position;  ///< set if the batch repeats it
};

/// The error of a refused duplicate: code() == Errc::duplicate_leaf.
class DuplicateLeafError : public Error {
 public:
  explicit DuplicateLeafError(const DuplicateLeaf& duplicate);
  const DuplicateLeaf& duplicate() const noexcept { return duplicate_; }

 private:
  DuplicateLeaf duplicate_;
};

std::string_view to_string(LeafPolicy policy) noexcept;
/// Parse "none"/"index"/"unique"; throws Error(invalid_argument).
LeafPolicy parse_leaf_policy(std::string_view name);

std::string_view to_string(HashId id) noexcept;
std::string_view to_string(NodeHash scheme) noexcept;
/// Parse "blake3"/"sha256"/"poseidon"; throws Error(invalid_argument).
HashId parse_hash_id(std::string_view name);
/// Parse "lean-imt"/"tagged"; throws Error(invalid_argument).
NodeHash parse_node_hash(std::string_view name);

/// Lower-case hex of a node.
std::string to_hex(const Node& node);
/// Appends the 64 lower-case hex digits of a node to `out` (no temporary string).
void append_hex(std::string& out, const Node& node);
/// Parse exactly 64 hex digits (either case); nullopt otherwise.
std::optional<Node> node_from_hex(std::string_view hex) noexcept;

}  // namespace rotortree
