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

#include "rotortree/detail/leaf_table.hpp"
#include "rotortree/geometry.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/leaf_index.hpp"
#include "rotortree/parallel.hpp"
#include "rotortree/proof.hpp"
#include "rotortree/storage.hpp"
#include "rotortree/types.hpp"

namespace rotortree {

/// How a tree works, fixed at construction (what it is: TreeParams).
struct TreeOptions {
  /// Hashing threads: 0 = all hardware threads, 1 = strictly sequential.
  std::size_t threads = 0;
  /// New parents a level needs before it is hashed in parallel;
  /// 0 = ROTORTREE_PARALLEL_THRESHOLD or the hasher's default
  /// (default_parallel_threshold: 1024 for BLAKE3 and SHA-256).
  std::size_t parallel_threshold = 0;
  /// The leaf index's hash secret; nothing = random (a database passes its stored one).
  std::optional<LeafSecret> leaf_secret{};
};

/// The TreeParams of LeanIMT<H, N, MaxDepth> with this node hash and leaf policy.
template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
constexpr TreeParams tree_params(NodeHash node_hash = NodeHash::lean_imt,
                                 LeafPolicy leaf_policy = LeafPolicy::none) noexcept {
  return {static_cast<unsigned>(N), H::id, node_hash, static_cast<unsigned>(MaxDepth), leaf_policy};
}

/// Throws Error(parameter_mismatch) unless `params` has the arity, hash and max depth of
/// LeanIMT<H, N, MaxDepth>, and Error(invalid_argument) for a node hash H does not take.
template <Hasher H, std::size_t N, std::size_t MaxDepth>
void check_tree_params(const TreeParams& params) {
  const TreeParams typed = tree_params<H, N, MaxDepth>(params.node_hash, params.leaf_policy);
  if (params != typed)
    throw Error(Errc::parameter_mismatch,
                "parameters (arity " + std::to_string(params.arity) + ", " + std::string(to_string(params.hash)) +
                    ", max depth " + std::to_string(params.max_depth) + ") are not those of this tree type (arity " +
                    std::to_string(N) + ", " + std::string(H::name) + ", max depth " + std::to_string(MaxDepth) + ")");
  check_node_hash<H>(params.node_hash);
}

namespace detail {
/// The prefix state of a hasher, or an empty placeholder for one without.
template <class H>
struct PrefixStateOf {
  struct type {};
};
template <PrefixHasher H>
struct PrefixStateOf<H> {
  using type = typename H::PrefixState;
};

/// Run the three stages of a batch over items [0, n): hash(i) (then the
/// home bucket is prefetched), candidates(i, h) a few items later (prefetch
/// the leaves the bucket points to), finish(i, h) later still, in order.
/// Returns early (with finish's false) when finish says stop.
template <class Hash, class Candidates, class Finish>
bool pipeline(const LeafTable& table, std::size_t n, const Hash& hash, const Candidates& candidates,
              const Finish& finish) {
  constexpr std::size_t kBucketAhead = 24, kLeafAhead = 12, kRing = 64;
  static_assert(kBucketAhead + kLeafAhead < kRing);
  std::uint64_t hashes[kRing];
  for (std::size_t i = 0; i < n + kBucketAhead + kLeafAhead; ++i) {
    if (i < n) {
      const std::uint64_t h = hash(i);
      hashes[i % kRing] = h;
      table.prefetch(h);
    }
    if (i >= kBucketAhead && i - kBucketAhead < n) candidates(i - kBucketAhead, hashes[(i - kBucketAhead) % kRing]);
    if (i >= kBucketAhead + kLeafAhead) {
      const std::size_t k = i - kBucketAhead - kLeafAhead;
      if (!finish(k, hashes[k % kRing])) return false;
    }
  }
  return true;
}

/// Lookups of a reader of `size` leaves whose leaf p is *leaf_ptr(p).
template <class LeafPtr>
std::uint64_t find_leaf(const LeafTable* table, std::uint64_t size, const LeafPtr& leaf_ptr, const Node& leaf) {
  if (table == nullptr) return kNoPosition;
  return table->find(table->hash(leaf), [&](std::uint64_t p) { return p < size && detail::same_node(*leaf_ptr(p), leaf); });
}
template <class LeafPtr>
void find_leaves(const LeafTable* table, std::uint64_t size, const LeafPtr& leaf_ptr,
                 std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) {
  if (out.size() != leaves.size())
    throw Error(Errc::invalid_argument, "index_of: " + std::to_string(leaves.size()) + " leaves but " +
                                            std::to_string(out.size()) + " results");
  if (table == nullptr) {
    std::fill(out.begin(), out.end(), std::nullopt);
    return;
  }
  pipeline(
      *table, leaves.size(), [&](std::size_t i) { return table->hash(leaves[i]); },
      [&](std::size_t, std::uint64_t h) {
        table->for_home_candidates(h, false, [&](std::uint64_t p) {
          if (p < size) __builtin_prefetch(leaf_ptr(p));
        });
      },
      [&](std::size_t i, std::uint64_t h) {
        const std::uint64_t p =
            table->find(h, [&](std::uint64_t q) { return q < size && detail::same_node(*leaf_ptr(q), leaves[i]); });
        out[i] = p == kNoPosition ? std::nullopt : std::optional<std::uint64_t>(p);
        return true;
      });
}

[[noreturn]] inline void throw_no_index() {
  throw Error(Errc::invalid_argument, "the tree has no leaf index (leaf policy none)");
}
}  // namespace detail

template <Hasher H, std::size_t N, std::size_t MaxDepth>
class LeanIMT;

/// An immutable view of a tree at one size. Cheap to take (it copies only the
/// last node of every level: the only nodes the live tree may still rewrite),
/// safe to read from any thread while the tree grows, valid after the tree is gone.
template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class Snapshot {
  static constexpr geometry::Arity<N> kArity{};

 public:
  Snapshot() = default;

  std::uint64_t size() const noexcept { return size_; }
  unsigned depth() const noexcept { return depth_; }
  NodeHash node_hash() const noexcept { return node_hash_; }
  TreeParams params() const noexcept { return tree_params<H, N, MaxDepth>(node_hash_, leaf_policy_); }
  /// The root, or nothing for an empty tree.
  std::optional<Node> root() const noexcept {
    if (size_ == 0) return std::nullopt;
    return edge_[depth_];
  }
  /// Node `index` of `level`. Throws Error(index_out_of_range).
  Node node(unsigned level, std::uint64_t index) const {
    if (level > depth_ || size_ == 0 || index >= geometry::level_length(size_, kArity, level))
      throw Error(Errc::index_out_of_range, "node (" + std::to_string(level) + ", " +
                                                std::to_string(index) + ") is outside the tree");
    return node_unchecked(level, index, geometry::level_length(size_, kArity, level));
  }

  LeafPolicy leaf_policy() const noexcept { return leaf_policy_; }
  /// The lowest index holding `leaf` in this snapshot, or nothing. Throws
  /// Error(invalid_argument) for a tree with leaf policy none.
  std::optional<std::uint64_t> index_of(const Node& leaf) const {
    if (leaf_policy_ == LeafPolicy::none) detail::throw_no_index();
    const std::uint64_t p = detail::find_leaf(index_.get(), size_, leaf_ptr(), leaf);
    return p == detail::kNoPosition ? std::nullopt : std::optional<std::uint64_t>(p);
  }
  bool contains(const Node& leaf) const { return index_of(leaf).has_value(); }
  /// index_of of many leaves at once (their memory accesses overlap):
  /// out[i] = index_of(leaves[i]). Throws Error(invalid_argument) if the sizes differ.
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const {
    if (leaf_policy_ == LeafPolicy::none) detail::throw_no_index();
    detail::find_leaves(index_.get(), size_, leaf_ptr(), leaves, out);
  }
  /// Bytes of the leaf index's table this snapshot reads (0 without one).
  std::size_t index_bytes() const noexcept { return index_ ? index_->bytes() : 0; }
  /// Test hook: buckets and candidates one lookup of `leaf` reads.
  ProbeCount probe_count(const Node& leaf) const {
    ProbeCount count;
    if (index_)
      index_->find(index_->hash(leaf), [&](std::uint64_t p) { return p < size_ && detail::same_node(*leaf_ptr()(p), leaf); },
                   detail::Counting{count});
    return count;
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
    view.depth_ = geometry::depth_for_size(size, kArity);
    // Fold the prefix's last leaf upwards with the (shared) nodes left of it.
    std::uint64_t index = size - 1, full_length = size_;
    Node current = node_unchecked(0, index, full_length);
    Node group[N];
    for (unsigned l = 0;; ++l) {
      view.edge_[l] = current;
      if (l == view.depth_) break;
      const std::uint64_t start = geometry::group_start(index, kArity);
      const unsigned position = static_cast<unsigned>(index - start);
      if (position > 0) {
        for (unsigned j = 0; j < position; ++j) group[j] = node_unchecked(l, start + j, full_length);
        group[position] = current;
        hash_group<H>(node_hash_, group, position + 1, current);
      }
      index = geometry::parent_of(index, kArity);
      full_length = geometry::parent_count(full_length, kArity);
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
    proof.params = params().proof();
    proof.root = edge_[depth_];
    proof.leaf_index = index;
    proof.tree_size = size_;
    fill_path(index, proof.path, proof.leaf);
    return proof;
  }

  /// Consistency proof from the prefix of `old_size` leaves to this snapshot.
  /// Throws Error(index_out_of_range) unless 1 <= old_size <= size().
  ConsistencyProof consistency(std::uint64_t old_size) const {
    if (old_size == 0 || old_size > size_)
      throw Error(Errc::index_out_of_range,
                  "old size " + std::to_string(old_size) + " must be in 1.." + std::to_string(size_));
    ConsistencyProof proof;
    proof.params = params().proof();
    proof.old_size = old_size;
    proof.new_size = size_;
    proof.new_root = edge_[depth_];
    fill_path(old_size - 1, proof.path, proof.leaf);
    // The old root: the prefix tree's, folded from the same left siblings.
    proof.old_root = *prefix(old_size).root();
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

  Snapshot(std::shared_ptr<const LevelStore<N>> store, std::uint64_t size, NodeHash node_hash,
           LeafPolicy leaf_policy = LeafPolicy::none, std::shared_ptr<const detail::LeafTable> index = {})
      : store_(std::move(store)),
        generation_(store_->generation()),
        index_(std::move(index)),
        size_(size),
        depth_(geometry::depth_for_size(size, kArity)),
        node_hash_(node_hash),
        leaf_policy_(leaf_policy) {
    if (size_ == 0) return;
    std::uint64_t length = size_;
    for (unsigned l = 0; l <= depth_; ++l) {
      edge_[l] = store_->at(l, length - 1);
      length = geometry::parent_count(length, kArity);
    }
  }

  Node node_unchecked(unsigned level, std::uint64_t index, std::uint64_t length) const noexcept {
    return index + 1 == length ? edge_[level] : store_->at_as_of(*generation_, level, index);
  }
  /// Where this snapshot's leaf p (< size) is: its own copy for the last one.
  auto leaf_ptr() const noexcept {
    return [this](std::uint64_t p) -> const Node* {
      return p + 1 == size_ ? &edge_[0] : &store_->at_as_of(*generation_, 0, p);
    };
  }

  /// kSiblingSources[p][j]: the group member that is sibling j of member p.
  static constexpr auto kSiblingSources = [] {
    std::array<std::array<std::uint8_t, geometry::max_siblings(kArity)>, N> table{};
    for (unsigned p = 0; p < N; ++p)
      for (unsigned j = 0; j + 1 < N; ++j) table[p][j] = static_cast<std::uint8_t>(j + (j >= p));
    return table;
  }();

  /// The path of leaf `index` (< size) and the leaf itself.
  // Out of line: the proof object escapes here, so its contents are always
  // written (inlined into a caller that drops the proof, the copies could be
  // optimised away), and the caller's loop stays small.
  [[gnu::noinline]] void fill_path(std::uint64_t index, Path& path, Node& leaf) const {
    const unsigned depth = depth_;
    const bool last_leaf = index + 1 == size_;
    path.levels.resize_for_overwrite(depth);
    path.siblings.resize_for_overwrite(static_cast<std::size_t>(depth) * geometry::max_siblings(kArity));
    ProofLevel* const levels = path.levels.data();
    // Pass 1, bottom-up: every level's group is known from the index alone.
    // Locate and prefetch them all first, so that the cache misses of a large
    // tree overlap, and lay out the path.
    const Node* groups[MaxDepth];
    std::uint64_t group_starts[MaxDepth];
    std::uint32_t offsets[MaxDepth];  // of each level's siblings in path.siblings
    std::uint32_t total = 0;
    std::uint64_t edge_groups = 0;  // bit l: level l's group holds the level's last node
    const LevelStore<N>& store = *store_;
    // The walk of geometry::for_each_path_level, over the cached depth.
    for (std::uint64_t l = 0, last = size_ - 1; l < depth; ++l) {
      const geometry::PathLevel at = geometry::path_level(index, last, kArity);
      const Node* group = store.group(l, at.group_start);  // a group never straddles chunks
      for (std::size_t byte = 0; byte < N * sizeof(Node); byte += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(group) + byte);
      groups[l] = group;
      group_starts[l] = at.group_start;
      levels[l] = {static_cast<std::uint8_t>(at.position), static_cast<std::uint8_t>(at.sibling_count)};
      offsets[l] = total;
      total += at.sibling_count;
      edge_groups |= std::uint64_t{at.edge} << l;
      index = geometry::parent_of(index, kArity);
      last = geometry::parent_of(last, kArity);
    }
    path.siblings.resize_for_overwrite(total);
    // Read after the directory entries: a tree rewound since this snapshot
    // was taken may have replaced some of them (see LevelStore::rewind).
    if (generation_->next.load(std::memory_order_acquire) != nullptr) [[unlikely]]
      for (unsigned l = 0; l < depth; ++l)
        groups[l] = store.chunk_as_of(*generation_, l, group_starts[l] / LevelStore<N>::kChunkNodes) +
                    group_starts[l] % LevelStore<N>::kChunkNodes;
    // Pass 2, top-down: the small upper levels are in cache; the large lower
    // levels, whose misses take longest, come last, so that the next proof
    // can start while they are still arriving.
    Node* const siblings = path.siblings.data();
    for (unsigned l = depth; l-- > 0;) {
      const unsigned position = levels[l].position;
      const Node* group = groups[l];
      Node* out = siblings + offsets[l];
      if (!(edge_groups >> l & 1)) [[likely]] {
        // N-1 fixed copies; the path's node skipped by a table, not a branch.
        const std::uint8_t* sources = kSiblingSources[position].data();
        for (unsigned j = 0; j + 1 < N; ++j) out[j] = group[sources[j]];
      } else {
        // The level's last group: possibly partial, and never the level's
        // last node from the shared store: the live tree may be rewriting it
        // right now (reading it would be a data race even if the value were
        // then discarded); only the snapshot's copy is reliable.
        const unsigned count = levels[l].sibling_count;  // the last node is group[count]
        for (unsigned j = 0; j < count; ++j) {
          const unsigned source = j + (j >= position);
          out[j] = source == count ? edge_[l] : group[source];
        }
      }
    }
    // The leaf is in level 0's group (a tree of one leaf has no levels).
    leaf = last_leaf ? edge_[0] : groups[0][levels[0].position];
  }

  std::shared_ptr<const LevelStore<N>> store_;
  // Declared after store_: destroyed first, while the store still exists.
  std::shared_ptr<const detail::StoreGeneration> generation_;
  std::shared_ptr<const detail::LeafTable> index_;  // the table of this snapshot's time
  std::uint64_t size_ = 0;
  unsigned depth_ = 0;
  NodeHash node_hash_ = NodeHash::lean_imt;
  LeafPolicy leaf_policy_ = LeafPolicy::none;
  std::array<Node, MaxDepth + 1> edge_;  // only [0, depth] is meaningful
};

/// The N-ary Lean IMT. Not thread-safe (see ConcurrentLeanIMT); its snapshots
/// may be read from other threads while it grows.
template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class LeanIMT {
  static_assert(N >= kMinArity && N <= kMaxArity, "arity must be 2..16");
  static_assert(MaxDepth >= 1 && MaxDepth < kMaxLevels, "MaxDepth must be 1..63");
  static constexpr geometry::Arity<N> kArity{};

 public:
  using hasher = H;
  using snapshot_type = Snapshot<H, N, MaxDepth>;
  static constexpr std::size_t arity = N;
  static constexpr std::size_t max_depth = MaxDepth;
  /// Most leaves the tree can hold: N^MaxDepth (saturating at 2^64-1).
  static constexpr std::uint64_t capacity = geometry::capacity_for_depth(kArity, MaxDepth);

  /// A tree of tree_params<H, N, MaxDepth>(): the lean-imt node hash, no leaf index.
  explicit LeanIMT(const TreeOptions& options = {}) : LeanIMT(tree_params<H, N, MaxDepth>(), options) {}
  /// A tree of `params` (see check_tree_params: they must be this type's).
  explicit LeanIMT(const TreeParams& params, const TreeOptions& options = {})
      : store_(std::make_shared<LevelStore<N>>(MaxDepth + 1)),
        node_hash_(params.node_hash),
        parallel_threshold_(options.parallel_threshold != 0
                                ? options.parallel_threshold
                                : parallel_threshold_from_env(default_parallel_threshold<H>())),
        leaf_policy_(params.leaf_policy) {
    check_tree_params<H, N, MaxDepth>(params);
    if (leaf_policy_ != LeafPolicy::none) {
      leaf_secret_ = options.leaf_secret ? *options.leaf_secret : random_leaf_secret();
      leaf_keys_ = detail::expand_leaf_secret(leaf_secret_);
    }
    if (options.threads == 0)
      executor_ = Executor::shared_default();
    else if (options.threads > 1)
      executor_ = std::make_shared<const Executor>(options.threads);
    if (executor_ && executor_->threads() <= 1) executor_.reset();
  }

  /// Adopt a store that already holds a tree of `size` leaves (database
  /// recovery: checkpointed chunks mapped from data files). Every level must
  /// have its chunks allocated for its length. The leaf index is rebuilt from
  /// level 0, or is `index` (a stored table of this secret that indexes the
  /// first `indexed` leaves) with the leaves after them added.
  LeanIMT(std::shared_ptr<LevelStore<N>> store, std::uint64_t size, const TreeParams& params,
          const TreeOptions& options = {}, std::shared_ptr<detail::LeafTable> index = {}, std::uint64_t indexed = 0)
      : LeanIMT(params, options) {
    store_ = std::move(store);
    size_ = size;
    if (leaf_policy_ == LeafPolicy::none) return;
    if (index && indexed <= size_ && index->same_keys(leaf_keys_) &&
        index->entries() + (size_ - indexed) <= index->slots() / 10 * 9) {
      const LevelStore<N>& s = *store_;
      index_range(*index, indexed, size_ - indexed, [&](std::uint64_t p) -> const Node& { return s.at(0, p); }, false,
                  nullptr);
      index_ = std::move(index);
    } else {
      reserve_index(0);
    }
  }
  /// Replace the handle to the store by another handle to the same store (an
  /// aliasing shared_ptr): snapshots taken from now on co-own what it owns.
  /// The database uses this to keep retired chunk memory alive exactly as
  /// long as snapshots that could still read it.
  void rebind_store(std::shared_ptr<LevelStore<N>> store) noexcept {
    if (store.get() == store_.get()) store_ = std::move(store);
  }

  LeanIMT(LeanIMT&&) noexcept = default;
  LeanIMT& operator=(LeanIMT&&) noexcept = default;

  std::uint64_t size() const noexcept { return size_; }
  unsigned depth() const noexcept { return geometry::depth_for_size(size_, kArity); }
  TreeParams params() const noexcept { return tree_params<H, N, MaxDepth>(node_hash_, leaf_policy_); }
  NodeHash node_hash() const noexcept { return node_hash_; }
  std::size_t threads() const noexcept { return executor_ ? executor_->threads() : 1; }
  std::size_t parallel_threshold() const noexcept { return parallel_threshold_; }
  LeafPolicy leaf_policy() const noexcept { return leaf_policy_; }
  /// The index's secret (all zero for leaf policy none).
  const LeafSecret& leaf_secret() const noexcept { return leaf_secret_; }
  /// The lowest index holding `leaf`, or nothing. Throws Error(invalid_argument)
  /// for leaf policy none.
  std::optional<std::uint64_t> index_of(const Node& leaf) const {
    if (leaf_policy_ == LeafPolicy::none) detail::throw_no_index();
    const std::uint64_t p = detail::find_leaf(index_.get(), size_, leaf_ptr(), leaf);
    return p == detail::kNoPosition ? std::nullopt : std::optional<std::uint64_t>(p);
  }
  bool contains(const Node& leaf) const { return index_of(leaf).has_value(); }
  /// out[i] = index_of(leaves[i]), with the memory accesses of the batch overlapped.
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const {
    if (leaf_policy_ == LeafPolicy::none) detail::throw_no_index();
    detail::find_leaves(index_.get(), size_, leaf_ptr(), leaves, out);
  }
  /// Bytes of the leaf index's table (0 without one).
  std::size_t index_bytes() const noexcept { return index_ ? index_->bytes() : 0; }
  /// The leaf index's current table (null without one): the database stores it.
  std::shared_ptr<const detail::LeafTable> leaf_table() const noexcept { return index_; }
  /// The root, or nothing for an empty tree.
  std::optional<Node> root() const noexcept {
    if (size_ == 0) return std::nullopt;
    return store_->at(depth(), 0);
  }
  /// Node `index` of `level`. Throws Error(index_out_of_range).
  Node node(unsigned level, std::uint64_t index) const {
    if (size_ == 0 || level > depth() || index >= geometry::level_length(size_, kArity, level))
      throw Error(Errc::index_out_of_range, "node (" + std::to_string(level) + ", " +
                                                std::to_string(index) + ") is outside the tree");
    return store_->at(level, index);
  }

  /// Append one leaf; returns the new root. Walks the right edge only.
  /// With leaf policy unique, a leaf the tree holds is refused
  /// (DuplicateLeafError), changing nothing.
  Node insert(const Node& leaf) { return insert_with_index(leaf).root; }
  /// As insert; also returns the leaf's index (the size before the call).
  InsertResult insert_with_index(const Node& leaf) { return insert_with_index(leaf, [] {}); }
  /// As insert_with_index, calling before_append() once every check has
  /// passed (capacity, the leaf, uniqueness) and before the tree changes: a
  /// database logs the leaf there. If it throws, the tree is unchanged.
  template <class BeforeAppend>
  InsertResult insert_with_index(const Node& leaf, BeforeAppend&& before_append) {
    check_leaves<H>(&leaf, 1);
    const std::uint64_t old_size = size_;
    checked_new_size(1);
    if (leaf_policy_ == LeafPolicy::none) {
      before_append();
      return {append_leaf(leaf), old_size};
    }
    reserve_index(1);
    index_leaves(std::span<const Node>(&leaf, 1));
    try {
      before_append();
      const Node root = append_leaf(leaf);
      release_appended();
      return {root, old_size};
    } catch (...) {
      unindex_leaves();
      throw;
    }
  }

 private:
  Node append_leaf(const Node& leaf) {
    const std::uint64_t new_size = checked_new_size(1);
    if (geometry::append_needs_chunk(size_, kArity)) reserve_levels(new_size);
    Node* node = store_->writable(0, size_);
    *node = leaf;
    // `node` is the last node of its level; its group ends with it and is
    // contiguous in the same chunk.
    std::uint64_t index = size_;
    for (unsigned level = 0; index > 0; ++level) {
      const std::uint64_t parent = geometry::parent_of(index, kArity);
      const unsigned k = static_cast<unsigned>(index - parent * N) + 1;
      Node* out = store_->writable(level + 1, parent);
      if (k == 1)
        *out = *node;
      else
        hash_edge_group(level, parent * N, node - (k - 1), k, *out);
      node = out;
      index = parent;
    }
    size_ = new_size;
    return *node;
  }


 public:
  /// Append a batch of leaves; same tree as inserting them one by one.
  /// Throws Error(empty_batch) / Error(max_depth_exceeded), and with leaf
  /// policy unique DuplicateLeafError for a leaf the tree holds or the batch
  /// repeats, changing nothing.
  Node insert_many(std::span<const Node> leaves) { return insert_many_with_index(leaves).root; }
  /// As insert_many; also returns the index of the batch's first leaf.
  InsertResult insert_many_with_index(std::span<const Node> leaves) { return insert_many_with_index(leaves, [] {}); }
  /// As insert_many_with_index, calling before_append() once every check has
  /// passed and before the tree changes (see insert_with_index).
  template <class BeforeAppend>
  InsertResult insert_many_with_index(std::span<const Node> leaves, BeforeAppend&& before_append) {
    if (leaves.empty()) throw Error(Errc::empty_batch, "insert_many needs at least one leaf");
    check_leaves<H>(leaves.data(), leaves.size());
    const std::uint64_t old_size = size_;
    checked_new_size(leaves.size());
    if (leaf_policy_ == LeafPolicy::none) {
      before_append();
      return {append_leaves(leaves), old_size};
    }
    reserve_index(leaves.size());
    index_leaves(leaves);
    try {
      before_append();
      const Node root = append_leaves(leaves);
      release_appended();
      return {root, old_size};
    } catch (...) {
      unindex_leaves();
      throw;
    }
  }

 private:
  Node append_leaves(std::span<const Node> leaves) {
    const std::uint64_t old_size = size_;
    const std::uint64_t new_size = checked_new_size(leaves.size());
    reserve_levels(new_size);
    // Level 0: groups made only of new leaves are hashed straight from the
    // caller's buffer while their leaves are streamed into storage; the
    // (at most two) groups that mix old leaves or end the level come after.
    const std::uint64_t fused_first = geometry::ceil_div(old_size, kArity);
    const std::uint64_t fused_end = geometry::full_groups(new_size, kArity);
    const std::uint64_t level0_parent_end = geometry::parent_count(new_size, kArity);
    if (fused_first < fused_end) {
      copy_leaves(old_size, leaves.first(fused_first * N - old_size));
      for_parent_ranges(fused_first, fused_end,
                        [&](std::uint64_t b, std::uint64_t e) { hash_and_store_leaves(leaves, old_size, b, e); });
      const std::uint64_t tail = fused_end * N;
      copy_leaves(tail, leaves.subspan(tail - old_size));
      detail::stream_fence();
      hash_level(0, geometry::parent_of(old_size, kArity), fused_first, new_size);
      hash_level(0, fused_end, level0_parent_end, new_size);
    } else {
      copy_leaves(old_size, leaves);
      if (new_size > 1) hash_level(0, geometry::parent_of(old_size, kArity), level0_parent_end, new_size);
    }
    std::uint64_t first = geometry::parent_of(old_size, kArity);  // first changed node of the current level
    std::uint64_t length = level0_parent_end;
    const unsigned depth = geometry::depth_for_size(new_size, kArity);
    for (unsigned l = 1; l < depth; ++l) {
      const std::uint64_t parent_first = geometry::parent_of(first, kArity);
      const std::uint64_t parent_end = geometry::parent_count(length, kArity);
      hash_level(l, parent_first, parent_end, length);
      first = parent_first;
      length = parent_end;
    }
    size_ = new_size;
    return store_->at(depth, 0);
  }


 public:
  /// Become the tree of the first `new_size` leaves (0 <= new_size <= size()):
  /// root, proofs, nodes, lookups and the next insertion's index are those of a tree
  /// that only ever held them (the leaf index is not touched: its entries
  /// of removed leaves fail verification, docs/leaf-index.md). Snapshots taken before are unchanged, also
  /// after the tree regrows past its old size. O(depth + leaves removed): on
  /// every level that shrinks one chunk is copied (see LevelStore::rewind).
  /// Returns the new root. Throws Error(index_out_of_range) beyond size(),
  /// or std::bad_alloc, changing nothing.
  std::optional<Node> rewind(std::uint64_t new_size) {
    if (new_size > size_)
      throw Error(Errc::index_out_of_range, "cannot rewind a tree of " + std::to_string(size_) +
                                                " leaves to " + std::to_string(new_size));
    if (new_size == size_) return root();
    const unsigned old_depth = depth(), new_depth = geometry::depth_for_size(new_size, kArity);
    std::uint64_t old_length[MaxDepth + 1]{}, new_length[MaxDepth + 1]{};
    for (unsigned l = 0; l <= old_depth; ++l) old_length[l] = geometry::level_length(size_, kArity, l);
    // The new right edge, folded from the last kept leaf with the nodes left
    // of it (all final: their groups lie wholly inside the kept prefix).
    std::array<Node, MaxDepth + 1> edge;
    if (new_size > 0) {
      std::uint64_t index = new_size - 1;
      Node current = store_->at(0, index);
      Node group[N];
      for (unsigned l = 0;; ++l) {
        edge[l] = current;
        new_length[l] = index + 1;
        if (l == new_depth) break;
        const std::uint64_t start = geometry::group_start(index, kArity);
        const auto position = static_cast<unsigned>(index - start);
        if (position > 0) {
          for (unsigned j = 0; j < position; ++j) group[j] = store_->at(l, start + j);
          group[position] = current;
          hash_group<H>(node_hash_, group, position + 1, current);
        }
        index = geometry::parent_of(index, kArity);
      }
    }
    store_->rewind(old_length, new_length);
    for (unsigned l = 0; l <= new_depth && new_size > 0; ++l) *store_->writable(l, new_length[l] - 1) = edge[l];
    // The cached edge prefixes may cover nodes that are gone.
    for (unsigned l = 0; l < old_depth; ++l) edge_prefix_[l] = EdgePrefix{};
    size_ = new_size;
    return root();
  }

  /// Make room for `total_leaves` leaves now (optional; avoids page faults
  /// later, and growth of the leaf index).
  void reserve(std::uint64_t total_leaves) {
    if (total_leaves > capacity)
      throw Error(Errc::max_depth_exceeded, "cannot reserve beyond the tree's capacity");
    reserve_levels(total_leaves);
    if (leaf_policy_ != LeafPolicy::none && total_leaves > size_)
      reserve_index(std::min(total_leaves, indexed_leaf_limit()) - std::min(size_, indexed_leaf_limit()));
  }

  /// An immutable view of the tree as it is now.
  snapshot_type snapshot() const {
    return snapshot_type(store_, size_, node_hash_, leaf_policy_, index_);
  }
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
    if (leaf_policy_ != LeafPolicy::none && added > indexed_leaf_limit() - std::min(size_, indexed_leaf_limit()))
      throw Error(Errc::max_depth_exceeded,
                  "inserting " + std::to_string(added) + " leaves into a tree of " + std::to_string(size_) +
                      " would exceed the leaf index's " + std::to_string(indexed_leaf_limit()) +
                      " positions (4 bytes each)");
    return size_ + added;
  }

  /// Where the live tree's leaf p (< size) is.
  auto leaf_ptr() const noexcept {
    return [store = store_.get()](std::uint64_t p) -> const Node* { return &store->at(0, p); };
  }

  /// Make room in the index for `added` more entries: when they would pass 90%
  /// of its slots, a new table sized for 70% is built from level 0 (old
  /// snapshots keep the old one). Entries of rewound leaves are dropped then.
  void reserve_index(std::uint64_t added) {
    constexpr std::uint64_t kSlots = detail::LeafTable::kSlots;
    if (index_ && index_->entries() + added <= index_->slots() / 10 * 9) return;
    const std::uint64_t target = size_ + added;
    const std::uint64_t buckets = std::max<std::uint64_t>(4, (target * 10 / 7 + kSlots - 1) / kSlots);
    auto table = std::make_shared<detail::LeafTable>(buckets, leaf_keys_);
    if (size_ > 0) {
      const LevelStore<N>& store = *store_;
      const auto leaf = [&](std::uint64_t p) -> const Node& { return store.at(0, p); };
      if (leaf_policy_ == LeafPolicy::unique)
        append_range(*table, size_, leaf);
      else
        index_range(*table, 0, size_, leaf, false, nullptr);
    }
    index_ = std::move(table);
  }

  /// Append an entry for each of leaves [0, count) of a new table without
  /// probing for an earlier occurrence: a unique tree's leaves are distinct,
  /// so a rebuild needs one bucket write a leaf, not a lookup and a write.
  /// Three stages: hash and prefetch the first bucket; once it is there,
  /// prefetch the second if the append will read it; append.
  template <class Leaf>
  static void append_range(detail::LeafTable& table, std::uint64_t count, const Leaf& leaf) {
    constexpr std::uint64_t kFirstAhead = 16, kSecondAhead = 8, kRing = 32;
    static_assert(kFirstAhead + kSecondAhead <= kRing);
    std::uint64_t hashes[kRing];
    for (std::uint64_t i = 0; i < count + kFirstAhead + kSecondAhead; ++i) {
      if (i < count) {
        hashes[i % kRing] = table.hash(leaf(i));
        table.prefetch_first(hashes[i % kRing]);
      }
      if (i >= kFirstAhead && i - kFirstAhead < count) table.prefetch_fresh_second(hashes[(i - kFirstAhead) % kRing]);
      if (i >= kFirstAhead + kSecondAhead) {
        const std::uint64_t k = i - kFirstAhead - kSecondAhead;
        table.append_fresh(hashes[k % kRing], static_cast<std::uint32_t>(k));
      }
    }
  }

  /// Index leaves [first, first + count) of a sequence whose node p is
  /// leaf(p) (any p < first + count): each is appended unless an earlier
  /// position holds it. With `refuse`, a repeat undoes the range's entries and
  /// is returned; without, it is skipped (only first occurrences are indexed).
  /// `appended`, if given, receives where each entry went (for undo).
  template <class Leaf>
  static std::optional<DuplicateLeaf> index_range(detail::LeafTable& table, std::uint64_t first,
                                                  std::uint64_t count, const Leaf& leaf, bool refuse,
                                                  std::vector<detail::LeafSlot>* appended) {
    std::optional<DuplicateLeaf> duplicate;
    detail::pipeline(
        table, count, [&](std::size_t i) { return table.hash(leaf(first + i)); },
        [&](std::size_t i, std::uint64_t h) {
          table.for_home_candidates(h, true, [&](std::uint64_t p) {
            if (p < first + i) __builtin_prefetch(&leaf(p));
          });
        },
        [&](std::size_t i, std::uint64_t h) {
          const std::uint64_t position = first + i;
          const Node& value = leaf(position);
          const std::uint64_t p = table.find(h, [&](std::uint64_t q) { return q < position && detail::same_node(leaf(q), value); });
          if (p == detail::kNoPosition) {
            const detail::LeafSlot slot = table.append(h, static_cast<std::uint32_t>(position));
            if (appended != nullptr) appended->push_back(slot);
            return true;
          }
          if (!refuse) return true;
          duplicate = DuplicateLeaf{value, i, std::nullopt, std::nullopt};
          if (p < first)
            duplicate->tree_index = p;
          else
            duplicate->earlier_batch_position = p - first;
          if (appended != nullptr) undo_appends(table, *appended);
          return false;
        });
    return duplicate;
  }

  /// Index a batch about to be appended at size_ (the table has room).
  /// Throws DuplicateLeafError (unique), having added nothing. Where the
  /// entries went is kept in appended_ until the batch is appended
  /// (release_appended) or not after all (unindex_leaves).
  void index_leaves(std::span<const Node> leaves) {
    const std::uint64_t old_size = size_;
    const LevelStore<N>& store = *store_;
    appended_.clear();
    appended_.reserve(leaves.size());
    const auto duplicate = index_range(
        *index_, old_size, leaves.size(),
        [&](std::uint64_t p) -> const Node& { return p < old_size ? store.at(0, p) : leaves[p - old_size]; },
        leaf_policy_ == LeafPolicy::unique, &appended_);
    if (duplicate) {
      release_appended();
      throw DuplicateLeafError(*duplicate);
    }
  }
  /// Undo index_leaves of a batch that was not appended after all.
  void unindex_leaves() noexcept {
    undo_appends(*index_, appended_);
    release_appended();
  }
  /// The batch was appended: its entries stay.
  void release_appended() noexcept {
    appended_.clear();
    if (appended_.capacity() > (std::size_t{1} << 20)) std::vector<detail::LeafSlot>().swap(appended_);  // keep <= 16 MiB
  }
  static void undo_appends(detail::LeafTable& table, std::vector<detail::LeafSlot>& appended) noexcept {
    for (std::size_t j = appended.size(); j-- > 0;) table.undo(appended[j]);  // newest first
    appended.clear();
  }

  void reserve_levels(std::uint64_t new_size) {
    std::uint64_t length = new_size;
    for (unsigned l = 0; l <= MaxDepth && length > 0; ++l) {
      if (store_->chunks_allocated(l) * LevelStore<N>::kChunkNodes < length)
        store_->reserve(l, length);
      if (length == 1) break;
      length = geometry::parent_count(length, kArity);
    }
  }

  /// Copy `leaves` into level 0 from `index` on (chunk by chunk).
  void copy_leaves(std::uint64_t index, std::span<const Node> leaves) {
    std::size_t done = 0;
    while (done < leaves.size()) {
      const std::size_t room = LevelStore<N>::kChunkNodes - index % LevelStore<N>::kChunkNodes;
      const std::size_t n = std::min<std::size_t>(room, leaves.size() - done);
      std::memcpy(store_->writable(0, index), leaves.data() + done, n * sizeof(Node));
      done += n;
      index += n;
    }
  }

  /// Run body(b, e) over [begin, end): on the pool when the range is large
  /// enough, else in this thread. The pool's ranges are whole work units of
  /// the hasher's default_parallel_grain parents, aligned to multiples of it
  /// (only the first and last may be cut), so that each range feeds the batch
  /// kernel whole groups of lanes and whole chunks (a piece of 13 Poseidon
  /// parents would cost two 8-lane batches).
  template <class Body>
  void for_parent_ranges(std::uint64_t begin, std::uint64_t end, const Body& body) {
    if (executor_ && end - begin >= parallel_threshold_) {
      constexpr std::uint64_t unit = default_parallel_grain<H>();
      executor_->for_ranges(begin / unit, geometry::ceil_div(end, unit), 1, [&](std::size_t b, std::size_t e) {
        body(std::max<std::uint64_t>(begin, b * unit), std::min<std::uint64_t>(end, e * unit));
      });
    } else {
      body(begin, end);
    }
  }

  /// Level-0 groups [begin, end), all made of new leaves: hash them from the
  /// caller's buffer into level 1 and stream the leaves into level 0.
  void hash_and_store_leaves(std::span<const Node> leaves, std::uint64_t old_size,
                             std::uint64_t begin, std::uint64_t end) {
    while (begin < end) {
      const std::uint64_t run_end = geometry::chunk_run_end(begin, end);
      // Sixteen groups at a time (one AVX-512 kernel call): their leaves
      // stream to memory while the next sixteen are hashed.
      for (std::uint64_t step = begin; step < run_end; step += 16) {
        const std::uint64_t n = std::min<std::uint64_t>(16, run_end - step);
        const Node* source = leaves.data() + (step * N - old_size);
        hash_full_groups<H>(node_hash_, N, source, n, store_->writable(1, step));
        detail::stream_copy(store_->writable(0, step * N), source, n * N);
      }
      begin = run_end;
    }
  }

  /// Hash the edge group of `level` (children [start, start+k) at `group`,
  /// the last one new). With a prefix-capable hasher, the whole blocks before the new child
  /// hold only final nodes: their state is cached per level and reused.
  void hash_edge_group(unsigned level, std::uint64_t start, const Node* group, unsigned k, Node& out) {
    if constexpr (PrefixHasher<H>) {
      if (node_hash_ == NodeHash::lean_imt) {
        EdgePrefix& cached = edge_prefix_[level];
        if (cached.group_start != start) cached = EdgePrefix{start, {}};
        const auto* bytes = group->data();
        H::absorb(cached.state, bytes, sizeof(Node) * (k - 1) / 64);
        H::finish(cached.state, bytes, sizeof(Node) * k, out.data());
        return;
      }
    }
    hash_group<H>(node_hash_, group, k, out);
  }

  /// Recompute parents [parent_first, parent_end) of `level` (whose length is
  /// `length`): full groups in chunk-sized runs through the batch kernel, in
  /// parallel when there are enough of them; the partial last group alone.
  void hash_level(unsigned level, std::uint64_t parent_first, std::uint64_t parent_end,
                  std::uint64_t length) {
    const std::uint64_t full_end = std::min(parent_end, geometry::full_groups(length, kArity));
    if (parent_first < full_end)
      for_parent_ranges(parent_first, full_end, [&](std::uint64_t b, std::uint64_t e) {
        hash_full_groups_range(level, b, e);
      });
    if (parent_first <= full_end && full_end < parent_end) {  // the last, partial group
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
      // Stay inside one chunk of children per call.
      const std::uint64_t run_end = geometry::chunk_run_end(begin, end);
      hash_full_groups<H>(node_hash_, N, &store_->at(level, begin * N), run_end - begin,
                          store_->writable(level + 1, begin));
      begin = run_end;
    }
  }

  struct EdgePrefix {
    std::uint64_t group_start = UINT64_MAX;
    typename detail::PrefixStateOf<H>::type state;
  };

  std::shared_ptr<LevelStore<N>> store_;
  std::uint64_t size_ = 0;
  NodeHash node_hash_;
  std::array<EdgePrefix, MaxDepth> edge_prefix_{};
  std::size_t parallel_threshold_;
  std::shared_ptr<const Executor> executor_;  // null: sequential
  LeafPolicy leaf_policy_ = LeafPolicy::none;
  LeafSecret leaf_secret_{};
  detail::LeafHashKeys leaf_keys_{};
  std::shared_ptr<detail::LeafTable> index_;  // null until the first insertion (or policy none)
  std::vector<detail::LeafSlot> appended_;    // entries of the batch being inserted
};

}  // namespace rotortree
