// ConcurrentLeanIMT: the tree for many threads at once.
//
// Writers serialise on a mutex (each insert_many still hashes in parallel
// inside); readers never take it. After every insertion the writer publishes
// an immutable Snapshot; `snapshot()`, `root()` and `size()` copy the latest
// one under a lock held only for a pointer copy, so a reader waits at most for that,
// never for an insertion in progress.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "rotortree/detail/published.hpp"
#include "rotortree/tree.hpp"

namespace rotortree {

template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class ConcurrentLeanIMT {
 public:
  using tree_type = LeanIMT<H, N, MaxDepth>;
  using snapshot_type = Snapshot<H, N, MaxDepth>;

  explicit ConcurrentLeanIMT(const TreeOptions& options = {})
      : tree_(options), published_(std::make_shared<const snapshot_type>(tree_.snapshot())) {}
  explicit ConcurrentLeanIMT(const TreeParams& params, const TreeOptions& options = {})
      : tree_(params, options), published_(std::make_shared<const snapshot_type>(tree_.snapshot())) {}
  /// Take over an existing tree (the database adopts its recovered tree).
  explicit ConcurrentLeanIMT(tree_type tree)
      : tree_(std::move(tree)), published_(std::make_shared<const snapshot_type>(tree_.snapshot())) {}

  /// Append one leaf; returns the root right after this insertion. With leaf
  /// policy unique the duplicate check is atomic with the append (both under
  /// the writer lock): two writers never both insert one leaf.
  Node insert(const Node& leaf) { return insert_with_index(leaf).root; }
  /// As insert; also returns the leaf's index.
  InsertResult insert_with_index(const Node& leaf) {
    std::lock_guard lock(writer_);
    const InsertResult result = tree_.insert_with_index(leaf);
    publish();
    return result;
  }
  /// Append a batch atomically (readers see all of it or none of it).
  Node insert_many(std::span<const Node> leaves) { return insert_many_with_index(leaves).root; }
  /// As insert_many; also returns the index of the batch's first leaf.
  InsertResult insert_many_with_index(std::span<const Node> leaves) {
    std::lock_guard lock(writer_);
    const InsertResult result = tree_.insert_many_with_index(leaves);
    publish();
    return result;
  }

  /// Become the tree of the first `size` leaves (see LeanIMT::rewind), in one
  /// step for readers: they see the old tree or the new one. Snapshots taken
  /// before are unchanged. Returns the new root.
  std::optional<Node> rewind(std::uint64_t size) {
    std::lock_guard lock(writer_);
    const auto root = tree_.rewind(size);
    publish();
    return root;
  }

  /// Make room for `total_leaves` leaves now (see LeanIMT::reserve): a bulk
  /// load that knows its size sizes the leaf index once instead of growing it.
  void reserve(std::uint64_t total_leaves) {
    std::lock_guard lock(writer_);
    tree_.reserve(total_leaves);
    publish();  // the same tree; its index_bytes() now counts the larger table
  }

  /// The latest published state. Never waits for a writer.
  snapshot_type snapshot() const { return *latest(); }
  std::optional<Node> root() const { return latest()->root(); }
  std::uint64_t size() const { return latest()->size(); }
  unsigned depth() const { return latest()->depth(); }
  InclusionProof prove(std::uint64_t index) const { return latest()->prove(index); }
  /// Lookups in the latest published state (never wait for a writer).
  std::optional<std::uint64_t> index_of(const Node& leaf) const { return latest()->index_of(leaf); }
  bool contains(const Node& leaf) const { return latest()->contains(leaf); }
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const {
    latest()->index_of(leaves, out);
  }
  LeafPolicy leaf_policy() const { return latest()->leaf_policy(); }
  std::size_t index_bytes() const { return latest()->index_bytes(); }

  /// Run `fn(tree)` with exclusive access to the underlying tree (the
  /// database uses this to combine an insertion with its log append).
  template <class Fn>
  decltype(auto) with_writer(Fn&& fn) {
    std::lock_guard lock(writer_);
    struct Publisher {
      ConcurrentLeanIMT* self;
      ~Publisher() { self->publish(); }
    } publisher{this};
    return fn(tree_);
  }

 private:
  std::shared_ptr<const snapshot_type> latest() const { return published_.load(); }
  void publish() { published_.store(std::make_shared<const snapshot_type>(tree_.snapshot())); }

  std::mutex writer_;
  tree_type tree_;
  detail::Published<snapshot_type> published_;
};

}  // namespace rotortree
