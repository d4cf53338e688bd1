// RotorTree: the durable database. A ConcurrentLeanIMT whose every insertion
// is also appended to a write-ahead log, with checkpoints of the levels' chunks
// to data files, memory-mapped cold levels and crash recovery.
// See docs/database.md (guarantees), docs/file-formats.md (formats) and
// docs/design.md (the engine behind this front).
//
// This header is the typed front: RotorTree<H, N, MaxDepth> owns the tree and
// reads it (snapshots, proofs, lookups) without the engine; every write, the
// files and recovery are the compiled engine's (src/db/engine.hpp), which
// reaches the tree through db::TreeLink.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "rotortree/concurrent.hpp"
#include "rotortree/db/config.hpp"
#include "rotortree/detail/db_engine.hpp"
#include "rotortree/tree.hpp"

namespace rotortree {


template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class RotorTree {
 public:
  using tree_type = LeanIMT<H, N, MaxDepth>;
  using concurrent_type = ConcurrentLeanIMT<H, N, MaxDepth>;
  using snapshot_type = Snapshot<H, N, MaxDepth>;
  using InsertResult = DbInsertResult;
  using RewindResult = DbRewindResult;

  /// Open (creating or recovering) the database in `dir`: whatever node hash,
  /// max depth and leaf policy it was created with (arity N and hash H must
  /// match); a new one is created with tree_params<H, N, MaxDepth>(). Throws
  /// Error: not_found, locked, parameter_mismatch, corruption, io_error, no_space.
  explicit RotorTree(std::string dir, const DbConfig& config = {}) : RotorTree(std::move(dir), std::nullopt, config) {}
  /// As above given nothing; given `params`, the database of exactly those
  /// (created with them if missing; Error(parameter_mismatch) if it has
  /// others). params.max_depth may be below MaxDepth: insertions past its
  /// capacity are refused.
  RotorTree(std::string dir, const std::optional<TreeParams>& params, const DbConfig& config = {})
      : engine_(db::open_engine(std::move(dir), config, params ? checked(*params) : tree_params<H, N, MaxDepth>(),
                                params.has_value(), link_)) {}
  /// Closes (see close()); a failure is reported to DbConfig::on_warning.
  ~RotorTree() { engine_->close_quietly(); }
  RotorTree(const RotorTree&) = delete;
  RotorTree& operator=(const RotorTree&) = delete;

  const std::string& directory() const noexcept { return engine_->directory(); }
  const TreeParams& params() const noexcept { return engine_->params(); }
  std::uint64_t capacity() const noexcept { return capacity_for_depth(N, params().max_depth); }

  /// Append one leaf: its root and a token for its durability. With leaf
  /// policy unique, a leaf the database holds is refused (DuplicateLeafError)
  /// before anything is logged: the check is atomic with the append.
  InsertResult insert(const Node& leaf) { return engine_->insert(std::span<const Node>(&leaf, 1), true); }
  /// Append a batch atomically (one log entry; split into frames of at most
  /// 64 MiB that recovery applies all or nothing).
  InsertResult insert_many(std::span<const Node> leaves) { return engine_->insert(leaves, false); }
  /// Insert and wait until it is on stable storage.
  Node insert_durable(const Node& leaf) {
    auto result = insert(leaf);
    result.token.wait();
    return result.root;
  }
  Node insert_many_durable(std::span<const Node> leaves) {
    auto result = insert_many(leaves);
    result.token.wait();
    return result.root;
  }

  /// Become the tree of the first `size` leaves (SPEC §5, docs/rewind.md):
  /// a log record, durable like an insert (wait on the token). A rewind below
  /// the last checkpoint's full chunks also writes a checkpoint of the
  /// rewound tree at once (meta only: its chunks are in the data files
  /// already), so that no meta ever names a chunk a later checkpoint
  /// rewrites. Waits for a running checkpoint. Throws Error: index_out_of_range
  /// (beyond size(), nothing changed), read_only, closed, poisoned, io_error, no_space.
  RewindResult rewind(std::uint64_t size) { return engine_->rewind(size); }

  /// Make room in memory for `total_leaves` leaves now (nothing is logged): a
  /// bulk load that knows its size sizes the leaf index once instead of
  /// rebuilding it as it grows (docs/leaf-index.md). Throws Error:
  /// max_depth_exceeded (beyond capacity()), read_only, closed, poisoned.
  void reserve(std::uint64_t total_leaves) { engine_->reserve(total_leaves); }

  /// Make every insertion so far durable.
  void flush() { engine_->flush(); }
  /// Write a checkpoint now (and truncate the log).
  void checkpoint() { engine_->checkpoint(); }
  /// Flush, checkpoint if the policy says so, release the directory. Idempotent.
  void close() { engine_->close(); }

  snapshot_type snapshot() const { return link_.tree().snapshot(); }
  std::optional<Node> root() const { return link_.tree().root(); }
  std::uint64_t size() const { return link_.tree().size(); }
  unsigned depth() const { return link_.tree().depth(); }
  InclusionProof prove(std::uint64_t index) const { return link_.tree().prove(index); }

  /// Lookups (SPEC §5) in the latest state, lock-free like proofs. Throw
  /// Error(invalid_argument) for a database of leaf policy none.
  LeafPolicy leaf_policy() const noexcept { return params().leaf_policy; }
  std::optional<std::uint64_t> index_of(const Node& leaf) const { return link_.tree().index_of(leaf); }
  bool contains(const Node& leaf) const { return link_.tree().contains(leaf); }
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const {
    link_.tree().index_of(leaves, out);
  }
  std::size_t index_bytes() const { return link_.tree().index_bytes(); }

  /// The error that stopped the database, if any.
  std::optional<Error> background_error() const { return engine_->background_error(); }

  DbInfo info() const {
    const auto snap = snapshot();
    DbInfo out = engine_->info();
    out.index_bytes = snap.index_bytes();
    out.size = snap.size();
    out.depth = snap.depth();
    out.root = snap.root();
    return out;
  }

 private:
  static const TreeParams& checked(const TreeParams& params) {
    TreeParams typed = params;
    typed.max_depth = static_cast<unsigned>(MaxDepth);
    check_tree_params<H, N, MaxDepth>(typed);  // the max depth: the engine's check
    return params;
  }

  db::TypedTreeLink<H, N, MaxDepth> link_;  // declared first: the engine uses it until destroyed
  std::unique_ptr<db::Engine> engine_;
};

}  // namespace rotortree
