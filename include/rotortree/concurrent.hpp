// ConcurrentLeanIMT: the tree for many threads at once.
//
// Writers serialise on a mutex (each insert_many still hashes in parallel
// inside); readers never take it. After every insertion the writer publishes
// an immutable Snapshot; `snapshot()`, `root()` and `size()` copy the latest
// one under a lock held only for a pointer copy, so a reader waits at most for that,
// never for an insertion in progress.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "rotortree/tree.hpp"

namespace rotortree {

template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class ConcurrentLeanIMT {
 public:
  using tree_type = LeanIMT<H, N, MaxDepth>;
  using snapshot_type = Snapshot<H, N, MaxDepth>;

  explicit ConcurrentLeanIMT(TreeOptions options = {})
      : tree_(options), published_(std::make_shared<const snapshot_type>(tree_.snapshot())) {}
  /// Take over an existing tree (the database adopts its recovered tree).
  explicit ConcurrentLeanIMT(tree_type tree)
      : tree_(std::move(tree)), published_(std::make_shared<const snapshot_type>(tree_.snapshot())) {}

  /// Append one leaf; returns the root right after this insertion.
  Node insert(const Node& leaf) {
    std::lock_guard lock(writer_);
    const Node root = tree_.insert(leaf);
    publish();
    return root;
  }
  /// Append a batch atomically (readers see all of it or none of it).
  Node insert_many(std::span<const Node> leaves) {
    std::lock_guard lock(writer_);
    const Node root = tree_.insert_many(leaves);
    publish();
    return root;
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

  /// The latest published state. Never waits for a writer.
  snapshot_type snapshot() const { return *latest(); }
  std::optional<Node> root() const { return latest()->root(); }
  std::uint64_t size() const { return latest()->size(); }
  unsigned depth() const { return latest()->depth(); }
  InclusionProof prove(std::uint64_t index) const { return latest()->prove(index); }

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
  std::shared_ptr<const snapshot_type> latest() const {
    std::lock_guard lock(published_mutex_);
    return published_;
  }
  void publish() {
    auto next = std::make_shared<const snapshot_type>(tree_.snapshot());
    std::lock_guard lock(published_mutex_);
    published_.swap(next);  // the old state is released after the lock, in `next`
  }

  std::mutex writer_;
  tree_type tree_;
  // Guarded by a lock held only to copy or swap the pointer (libstdc++ 12's
  // atomic<shared_ptr> hides its lock from ThreadSanitizer).
  mutable std::mutex published_mutex_;
  std::shared_ptr<const snapshot_type> published_;
};

}  // namespace rotortree
