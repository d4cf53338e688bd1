// Trees whose arity and hash are chosen at run time (the command line, tools
// that read parameters from a file). Arities 2, 3, 4, 8 and 16 are provided.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "rotortree/proof.hpp"
#include "rotortree/tree.hpp"

namespace rotortree {

/// Arities the run-time wrappers (and the command line) support.
bool is_runtime_arity(unsigned arity) noexcept;

/// A Snapshot of any arity and hash.
class AnySnapshot {
 public:
  virtual ~AnySnapshot() = default;
  virtual TreeParams params() const = 0;
  virtual std::uint64_t size() const = 0;
  virtual unsigned depth() const = 0;
  virtual std::optional<Node> root() const = 0;
  virtual Node node(unsigned level, std::uint64_t index) const = 0;
  virtual InclusionProof prove(std::uint64_t index) const = 0;
  virtual ConsistencyProof consistency(std::uint64_t old_size) const = 0;
  virtual std::unique_ptr<AnySnapshot> prefix(std::uint64_t size) const = 0;
  virtual LeafPolicy leaf_policy() const = 0;
  /// Lookups (SPEC §5); Error(invalid_argument) for leaf policy none.
  virtual std::optional<std::uint64_t> index_of(const Node& leaf) const = 0;
  virtual void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const = 0;
  bool contains(const Node& leaf) const { return index_of(leaf).has_value(); }
};

/// A LeanIMT of any arity and hash (MaxDepth 32).
class AnyTree {
 public:
  virtual ~AnyTree() = default;
  virtual TreeParams params() const = 0;
  virtual std::uint64_t size() const = 0;
  virtual std::optional<Node> root() const = 0;
  virtual Node insert(const Node& leaf) = 0;
  virtual Node insert_many(std::span<const Node> leaves) = 0;
  virtual InsertResult insert_with_index(const Node& leaf) = 0;
  virtual InsertResult insert_many_with_index(std::span<const Node> leaves) = 0;
  /// See LeanIMT::rewind. Throws Error(index_out_of_range) beyond size().
  virtual std::optional<Node> rewind(std::uint64_t size) = 0;
  virtual std::unique_ptr<AnySnapshot> snapshot() const = 0;
  virtual LeafPolicy leaf_policy() const = 0;
  virtual LeafSecret leaf_secret() const = 0;
  virtual std::optional<std::uint64_t> index_of(const Node& leaf) const = 0;
  virtual void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const = 0;
  bool contains(const Node& leaf) const { return index_of(leaf).has_value(); }
  /// Bytes of the leaf index's table (0 without one).
  virtual std::size_t index_bytes() const = 0;
};

/// A tree of `params` (max depth 32). Throws Error(invalid_argument) for an arity
/// outside is_runtime_arity or a node hash the hash does not take, and
/// Error(parameter_mismatch) for another max depth.
std::unique_ptr<AnyTree> make_tree(const TreeParams& params, const TreeOptions& options = {});

/// Wrap a typed snapshot (used by make_tree and by the database).
template <Hasher H, std::size_t N, std::size_t MaxDepth>
std::unique_ptr<AnySnapshot> erase(Snapshot<H, N, MaxDepth> snapshot);

namespace detail {
template <Hasher H, std::size_t N, std::size_t MaxDepth>
class AnySnapshotImpl final : public AnySnapshot {
 public:
  explicit AnySnapshotImpl(Snapshot<H, N, MaxDepth> s) : s_(std::move(s)) {}
  TreeParams params() const override { return s_.params(); }
  std::uint64_t size() const override { return s_.size(); }
  unsigned depth() const override { return s_.depth(); }
  std::optional<Node> root() const override { return s_.root(); }
  Node node(unsigned level, std::uint64_t index) const override { return s_.node(level, index); }
  InclusionProof prove(std::uint64_t index) const override { return s_.prove(index); }
  ConsistencyProof consistency(std::uint64_t old_size) const override { return s_.consistency(old_size); }
  std::unique_ptr<AnySnapshot> prefix(std::uint64_t size) const override {
    return std::make_unique<AnySnapshotImpl>(s_.prefix(size));
  }
  LeafPolicy leaf_policy() const override { return s_.leaf_policy(); }
  std::optional<std::uint64_t> index_of(const Node& leaf) const override { return s_.index_of(leaf); }
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const override {
    s_.index_of(leaves, out);
  }

 private:
  Snapshot<H, N, MaxDepth> s_;
};
}  // namespace detail

template <Hasher H, std::size_t N, std::size_t MaxDepth>
std::unique_ptr<AnySnapshot> erase(Snapshot<H, N, MaxDepth> snapshot) {
  return std::make_unique<detail::AnySnapshotImpl<H, N, MaxDepth>>(std::move(snapshot));
}

}  // namespace rotortree
