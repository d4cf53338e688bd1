// LeanIMT: the in-memory N-ary Lean Incremental Merkle Tree, and its snapshots.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "rotortree/hash.hpp"
#include "rotortree/parallel.hpp"
#include "rotortree/proof.hpp"
#include "rotortree/storage.hpp"
#include "rotortree/types.hpp"

namespace rotortree {

/// Options of a tree, fixed at construction.
struct TreeOptions {
  NodeHash node_hash = NodeHash::lean_imt;
  /// Hashing threads: 0 = all hardware threads, 1 = strictly sequential.
  std::size_t threads = 0;
  /// New parents a level needs before it is hashed in parallel;
  /// 0 = ROTORTREE_PARALLEL_THRESHOLD or 1024.
  std::size_t parallel_threshold = 0;
};

namespace detail {
/// Length of every level for a tree of `size` leaves (level 0 = size).
template <std::size_t N>
constexpr std::uint64_t level_length(std::uint64_t size, unsigned level) noexcept {
  for (unsigned l = 0; l < level; ++l) size = size / N + (size % N != 0);
  return size;
}
}  // namespace detail

template <Hasher H, std::size_t N, std::size_t MaxDepth>
class LeanIMT;

/// An immutable view of a tree at one size. Cheap to take (it copies only the
/// last node of every level: the only nodes the live tree may still rewrite),
/// safe to read from any thread while the tree grows, valid after the tree is gone.
template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class Snapshot {
 public:
  Snapshot() = default;

  std::uint64_t size() const noexcept { return size_; }
  unsigned depth() const noexcept { return depth_; }
  NodeHash node_hash() const noexcept { return node_hash_; }
  ProofParams params() const noexcept { return {static_cast<unsigned>(N), H::id, node_hash_}; }
  /// The root, or nothing for an empty tree.
  std::optional<Node> root() const noexcept {
    if (size_ == 0) return std::nullopt;
    return edge_[depth_];
  }
  /// Node `index` of `level`. Throws Error(index_out_of_range).
  Node node(unsigned level, std::uint64_t index) const {
    if (level > depth_ || size_ == 0 || index >= detail::level_length<N>(size_, level))
      throw Error(Errc::index_out_of_range, "node (" + std::to_string(level) + ", " +
                                                std::to_string(index) + ") is outside the tree");
    return node_unchecked(level, index, detail::level_length<N>(size_, level));
  }

  /// The tree of the first `size` leaves (1 <= size <= size()), sharing this
  /// snapshot's storage: only its right edge differs, recomputed in O(depth)
  /// hashes. Throws Error(index_out_of_range).
  Snapshot prefix(std::uint64_t size) const {
    if (size == 0 || size > size_)
      throw Error(Errc::index_out_of_range,
                  "prefix size " + std::to_string(size) + " must be in 1.." + std::to_string(size_));
    Snapshot view = *this;
    view.size_ = size;
    view.depth_ = depth_for_size(size, N);
    // Fold the prefix's last leaf upwards with the (shared) nodes left of it.
    std::uint64_t index = size - 1, full_length = size_;
    Node current = node_unchecked(0, index, full_length);
    Node group[N];
    for (unsigned l = 0;; ++l) {
      view.edge_[l] = current;
      if (l == view.depth_) break;
      const std::uint64_t start = index / N * N;
      const unsigned position = static_cast<unsigned>(index - start);
      if (position > 0) {
        for (unsigned j = 0; j < position; ++j) group[j] = node_unchecked(l, start + j, full_length);
        group[position] = current;
        hash_group<H>(node_hash_, group, position + 1, current);
      }
      index /= N;
      full_length = full_length / N + (full_length % N != 0);
    }
    return view;
  }

  /// Inclusion proof of leaf `index`. Throws Error(index_out_of_range).
  InclusionProof prove(std::uint64_t index) const {
    if (index >= size_)
      throw Error(Errc::index_out_of_range, "leaf index " + std::to_string(index) +
                                                " is not below the tree size " +
                                                std::to_string(size_));
    InclusionProof proof;
    proof.params = params();
    proof.root = edge_[depth_];
    proof.leaf = node_unchecked(0, index, size_);
    proof.leaf_index = index;
    proof.tree_size = size_;
    fill_path(index, proof.path);
    return proof;
  }

  /// Consistency proof from the prefix of `old_size` leaves to this snapshot.
  /// Throws Error(index_out_of_range) unless 1 <= old_size <= size().
  ConsistencyProof consistency(std::uint64_t old_size) const {
    if (old_size == 0 || old_size > size_)
      throw Error(Errc::index_out_of_range,
                  "old size " + std::to_string(old_size) + " must be in 1.." + std::to_string(size_));
    ConsistencyProof proof;
    proof.params = params();
    proof.old_size = old_size;
    proof.new_size = size_;
    proof.new_root = edge_[depth_];
    proof.leaf = node_unchecked(0, old_size - 1, size_);
    fill_path(old_size - 1, proof.path);
    // The old root: the leaf folded with the siblings left of the path only.
    Node current = proof.leaf;
    std::size_t offset = 0;
    Node group[N];
    for (const ProofLevel& level : proof.path.levels) {
      if (level.position > 0) {
        std::copy_n(proof.path.siblings.begin() + offset, level.position, group);
        group[level.position] = current;
        hash_group<H>(node_hash_, group, level.position + 1u, current);
      }
      offset += level.sibling_count;
    }
    proof.old_root = current;
    return proof;
  }
  /// As consistency(old_size), checking that the caller's old root is this
  /// tree's prefix: throws Error(not_a_prefix) otherwise.
  ConsistencyProof consistency(std::uint64_t old_size, const Node& old_root) const {
    ConsistencyProof proof = consistency(old_size);
    if (proof.old_root != old_root)
      throw Error(Errc::not_a_prefix, "the tree of " + std::to_string(old_size) +
                                          " leaves with root " + to_hex(old_root) +
                                          " is not a prefix of this tree");
    return proof;
  }

 private:
  friend class LeanIMT<H, N, MaxDepth>;
  template <Hasher, std::size_t, std::size_t>
  friend class ConcurrentLeanIMT;

  Snapshot(std::shared_ptr<const LevelStore<N>> store, std::uint64_t size, NodeHash node_hash)
      : store_(std::move(store)),
        size_(size),
        depth_(depth_for_size(size, N)),
        node_hash_(node_hash) {
    if (size_ == 0) return;
    std::uint64_t length = size_;
    for (unsigned l = 0; l <= depth_; ++l) {
      edge_[l] = store_->at(l, length - 1);
      length = length / N + (length % N != 0);
    }
  }

  Node node_unchecked(unsigned level, std::uint64_t index, std::uint64_t length) const noexcept {
    return index + 1 == length ? edge_[level] : store_->at(level, index);
  }

  void fill_path(std::uint64_t index, Path& path) const {
    path.levels.resize(depth_);
    path.siblings.resize(static_cast<std::size_t>(depth_) * (N - 1));
    std::size_t count = 0;
    std::uint64_t length = size_;
    for (unsigned l = 0; l < depth_; ++l) {
      const std::uint64_t start = index / N * N;
      const unsigned k = static_cast<unsigned>(std::min<std::uint64_t>(N, length - start));
      const unsigned position = static_cast<unsigned>(index - start);
      const Node* group = &store_->at(l, start);  // a group never straddles chunks
      for (unsigned j = 0; j < k; ++j) {
        if (j == position) continue;
        path.siblings[count++] = start + j + 1 == length ? edge_[l] : group[j];
      }
      path.levels[l] = {static_cast<std::uint8_t>(position), static_cast<std::uint8_t>(k - 1)};
      index /= N;
      length = length / N + (length % N != 0);
    }
    path.siblings.resize(count);
  }

  std::shared_ptr<const LevelStore<N>> store_;
  std::uint64_t size_ = 0;
  unsigned depth_ = 0;
  NodeHash node_hash_ = NodeHash::lean_imt;
  std::array<Node, MaxDepth + 1> edge_;  // only [0, depth] is meaningful
};

/// The N-ary Lean IMT. Not thread-safe (see ConcurrentLeanIMT); its snapshots
/// may be read from other threads while it grows.
template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class LeanIMT {
  static_assert(N >= kMinArity && N <= kMaxArity, "arity must be 2..16");
  static_assert(MaxDepth >= 1 && MaxDepth < kMaxLevels, "MaxDepth must be 1..63");

 public:
  using hasher = H;
  using snapshot_type = Snapshot<H, N, MaxDepth>;
  static constexpr std::size_t arity = N;
  static constexpr std::size_t max_depth = MaxDepth;
  /// Most leaves the tree can hold: N^MaxDepth (saturating at 2^64-1).
  static constexpr std::uint64_t capacity = capacity_for_depth(N, MaxDepth);

  explicit LeanIMT(TreeOptions options = {})
      : store_(std::make_shared<LevelStore<N>>(MaxDepth + 1)),
        node_hash_(options.node_hash),
        parallel_threshold_(options.parallel_threshold != 0 ? options.parallel_threshold
                                                            : parallel_threshold_from_env()) {
    if (options.threads == 0)
      executor_ = Executor::shared_default();
    else if (options.threads > 1)
      executor_ = std::make_shared<const Executor>(options.threads);
    if (executor_ && executor_->threads() <= 1) executor_.reset();
  }

  LeanIMT(LeanIMT&&) noexcept = default;
  LeanIMT& operator=(LeanIMT&&) noexcept = default;

  std::uint64_t size() const noexcept { return size_; }
  unsigned depth() const noexcept { return depth_for_size(size_, N); }
  NodeHash node_hash() const noexcept { return node_hash_; }
  std::size_t threads() const noexcept { return executor_ ? executor_->threads() : 1; }
  std::size_t parallel_threshold() const noexcept { return parallel_threshold_; }
  /// The root, or nothing for an empty tree.
  std::optional<Node> root() const noexcept {
    if (size_ == 0) return std::nullopt;
    return store_->at(depth(), 0);
  }
  /// Node `index` of `level`. Throws Error(index_out_of_range).
  Node node(unsigned level, std::uint64_t index) const {
    if (size_ == 0 || level > depth() || index >= detail::level_length<N>(size_, level))
      throw Error(Errc::index_out_of_range, "node (" + std::to_string(level) + ", " +
                                                std::to_string(index) + ") is outside the tree");
    return store_->at(level, index);
  }

  /// Append one leaf; returns the new root.
  Node insert(const Node& leaf) {
    const std::uint64_t new_size = checked_new_size(1);
    reserve_levels(new_size);
    *store_->writable(0, size_) = leaf;
    std::uint64_t index = size_;
    std::uint64_t length = new_size;
    const unsigned depth = depth_for_size(new_size, N);
    for (unsigned l = 0; l < depth; ++l) {
      const std::uint64_t parent = index / N;
      const std::uint64_t start = parent * N;
      const unsigned k = static_cast<unsigned>(length - start);
      Node* out = store_->writable(l + 1, parent);
      if (k == 1)
        *out = store_->at(l, index);
      else
        hash_group<H>(node_hash_, &store_->at(l, start), k, *out);
      index = parent;
      length = parent + 1;
    }
    size_ = new_size;
    return store_->at(depth, 0);
  }

  /// Append a batch of leaves; same tree as inserting them one by one.
  /// Throws Error(empty_batch) / Error(max_depth_exceeded), changing nothing.
  Node insert_many(std::span<const Node> leaves) {
    if (leaves.empty()) throw Error(Errc::empty_batch, "insert_many needs at least one leaf");
    const std::uint64_t new_size = checked_new_size(leaves.size());
    reserve_levels(new_size);
    copy_leaves(leaves);
    std::uint64_t first = size_;  // first changed node of the current level
    std::uint64_t length = new_size;
    const unsigned depth = depth_for_size(new_size, N);
    for (unsigned l = 0; l < depth; ++l) {
      const std::uint64_t parent_first = first / N;
      const std::uint64_t parent_end = length / N + (length % N != 0);
      hash_level(l, parent_first, parent_end, length);
      first = parent_first;
      length = parent_end;
    }
    size_ = new_size;
    return store_->at(depth, 0);
  }

  /// Make room for `total_leaves` leaves now (optional; avoids page faults later).
  void reserve(std::uint64_t total_leaves) {
    if (total_leaves > capacity)
      throw Error(Errc::max_depth_exceeded, "cannot reserve beyond the tree's capacity");
    reserve_levels(total_leaves);
  }

  /// An immutable view of the tree as it is now.
  snapshot_type snapshot() const { return snapshot_type(store_, size_, node_hash_); }
  /// Inclusion proof of leaf `index` (through a snapshot).
  InclusionProof prove(std::uint64_t index) const { return snapshot().prove(index); }

  /// Resident bytes of node storage (chunks), for memory accounting.
  std::size_t storage_bytes() const noexcept { return store_->bytes_mapped(); }

 private:
  template <Hasher, std::size_t, std::size_t>
  friend class ConcurrentLeanIMT;

  std::uint64_t checked_new_size(std::uint64_t added) const {
    if (added > capacity - size_)
      throw Error(Errc::max_depth_exceeded,
                  "inserting " + std::to_string(added) + " leaves into a tree of " +
                      std::to_string(size_) + " would exceed MaxDepth " +
                      std::to_string(MaxDepth) + " (capacity " + std::to_string(capacity) + ")");
    return size_ + added;
  }

  void reserve_levels(std::uint64_t new_size) {
    std::uint64_t length = new_size;
    for (unsigned l = 0; l <= MaxDepth && length > 0; ++l) {
      if (store_->chunks_allocated(l) * LevelStore<N>::kChunkNodes < length)
        store_->reserve(l, length);
      if (length == 1) break;
      length = length / N + (length % N != 0);
    }
  }

  void copy_leaves(std::span<const Node> leaves) {
    std::uint64_t index = size_;
    std::size_t done = 0;
    while (done < leaves.size()) {
      const std::size_t room = LevelStore<N>::kChunkNodes - index % LevelStore<N>::kChunkNodes;
      const std::size_t n = std::min(room, leaves.size() - done);
      std::memcpy(store_->writable(0, index), leaves.data() + done, n * sizeof(Node));
      done += n;
      index += n;
    }
  }

  /// Recompute parents [parent_first, parent_end) of `level` (whose length is
  /// `length`): full groups in chunk-sized runs through the batch kernel, in
  /// parallel when there are enough of them; the partial last group alone.
  void hash_level(unsigned level, std::uint64_t parent_first, std::uint64_t parent_end,
                  std::uint64_t length) {
    const std::uint64_t full_end = std::min(parent_end, length / N);
    if (parent_first < full_end) {
      const std::uint64_t count = full_end - parent_first;
      if (executor_ && count >= parallel_threshold_) {
        executor_->for_ranges(parent_first, full_end, kParallelGrain,
                              [&](std::size_t b, std::size_t e) { hash_full_groups_range(level, b, e); });
      } else {
        hash_full_groups_range(level, parent_first, full_end);
      }
    }
    if (full_end < parent_end) {  // the last, partial group
      const std::uint64_t start = full_end * N;
      const unsigned k = static_cast<unsigned>(length - start);
      Node* out = store_->writable(level + 1, full_end);
      if (k == 1)
        *out = store_->at(level, start);
      else
        hash_group<H>(node_hash_, &store_->at(level, start), k, *out);
    }
  }

  void hash_full_groups_range(unsigned level, std::uint64_t begin, std::uint64_t end) {
    while (begin < end) {
      // Stay inside one chunk of children (kGroupsPerChunk groups) per call.
      const std::uint64_t run_end = std::min(end, (begin / kGroupsPerChunk + 1) * kGroupsPerChunk);
      hash_full_groups<H>(node_hash_, N, &store_->at(level, begin * N), run_end - begin,
                          store_->writable(level + 1, begin));
      begin = run_end;
    }
  }

  std::shared_ptr<LevelStore<N>> store_;
  std::uint64_t size_ = 0;
  NodeHash node_hash_;
  std::size_t parallel_threshold_;
  std::shared_ptr<const Executor> executor_;  // null: sequential
};

}  // namespace rotortree
