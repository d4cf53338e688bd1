// The seam between the database's typed front (rotortree/db.hpp) and its
// compiled engine (src/db/engine.hpp): what each asks of the other. The
// engine holds no template parameter; it reaches the tree through TreeLink,
// at the grain of chunks and batches, never of single nodes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "rotortree/any_tree.hpp"
#include "rotortree/concurrent.hpp"
#include "rotortree/db/config.hpp"
#include "rotortree/tree.hpp"

namespace rotortree::db {

/// A borrowed callable (no allocation): the engine's callbacks into the tree.
template <class Signature>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef>)
  FunctionRef(F&& f) noexcept  // NOLINT: implicit, like a reference
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

/// What the engine asks of the tree. The level store is the engine's (it
/// owns it through new_store(), and snapshots co-own it with the mappings
/// of data files its chunks may point into); the tree is the front's.
class TreeLink {
 public:
  virtual ~TreeLink() = default;
  /// The build's MaxDepth: the store has max_depth() + 1 levels.
  virtual unsigned max_depth() const = 0;

  /// A new, empty level store; the calls below act on it from now on.
  virtual std::shared_ptr<void> new_store() = 0;
  virtual void reserve(unsigned level, std::uint64_t nodes) = 0;
  virtual Node* writable_chunk(unsigned level, std::uint64_t chunk) = 0;
  virtual const Node* chunk(unsigned level, std::uint64_t chunk) const = 0;
  /// Append a chunk that lives elsewhere (a mapping of a data file).
  virtual void append_mapped_chunk(unsigned level, const Node* chunk) = 0;
  virtual void replace_chunk(unsigned level, std::uint64_t chunk, const Node* mapped) = 0;

  /// Build the tree of the first `size` leaves from the store's levels;
  /// `keepalive` co-owns the store (every snapshot keeps a copy). The leaf
  /// index: `index` indexing the first `indexed` leaves (a stored table), or
  /// rebuilt from level 0 (see the LeanIMT constructor).
  virtual void build(std::shared_ptr<void> keepalive, std::uint64_t size, NodeHash node_hash, LeafPolicy leaf_policy,
                     const TreeOptions& options, std::shared_ptr<rotortree::detail::LeafTable> index, std::uint64_t indexed) = 0;
  /// Serve the built tree to readers (recovery is over).
  virtual void share() = 0;
  /// Run `fn` with the writer's exclusive access; readers see its effects
  /// once it returns. Before share(): runs `fn` at once.
  virtual void with_writer(FunctionRef<void()> fn) = 0;

  // Only inside with_writer, or before share().
  virtual std::uint64_t size() const = 0;
  /// Insert (checking the batch first), calling `before_append` once every
  /// check has passed and before the tree changes (see LeanIMT::insert_with_index).
  virtual InsertResult insert(std::span<const Node> leaves, FunctionRef<void()> before_append) = 0;
  virtual std::optional<Node> rewind(std::uint64_t size) = 0;
  virtual void reserve_leaves(std::uint64_t total_leaves) = 0;
  virtual std::unique_ptr<AnySnapshot> snapshot() const = 0;
  /// The leaf index's current table (null without one).
  virtual std::shared_ptr<const rotortree::detail::LeafTable> leaf_table() const = 0;
  /// Point the tree at the store again, now co-owned by `keepalive`.
  virtual void rebind(std::shared_ptr<void> keepalive) = 0;
};

/// What the front asks of the engine (implemented in src/db/engine.cpp).
class Engine {
 public:
  virtual ~Engine() = default;
  virtual const std::string& directory() const noexcept = 0;
  virtual const TreeParams& params() const noexcept = 0;
  virtual DbInsertResult insert(std::span<const Node> leaves, bool single) = 0;
  virtual DbRewindResult rewind(std::uint64_t size) = 0;
  virtual void reserve(std::uint64_t total_leaves) = 0;
  virtual void flush() = 0;
  virtual void checkpoint() = 0;
  virtual void close() = 0;
  /// close(), reporting a failure to DbConfig::on_warning (for destructors).
  virtual void close_quietly() noexcept = 0;
  /// The files' part of DbInfo (the front adds the tree's).
  virtual DbInfo info() const = 0;
  virtual std::optional<Error> background_error() const = 0;
};

/// Open (create or recover) the database in `dir` for a tree of the
/// `requested` parameters, built through `link` (which outlives the engine).
std::unique_ptr<Engine> open_engine(std::string dir, const DbConfig& config, const TreeParams& requested, bool exact,
                                    TreeLink& link);

/// TreeLink for the tree type LeanIMT<H, N, MaxDepth>.
template <Hasher H, std::size_t N, std::size_t MaxDepth>
class TypedTreeLink final : public TreeLink {
 public:
  using tree_type = LeanIMT<H, N, MaxDepth>;
  using concurrent_type = ConcurrentLeanIMT<H, N, MaxDepth>;
  static constexpr std::size_t kChunkNodes = LevelStore<N>::kChunkNodes;

  /// The tree readers use (valid once the database is open).
  const concurrent_type& tree() const noexcept { return *shared_; }

  unsigned max_depth() const override { return MaxDepth; }
  std::shared_ptr<void> new_store() override {
    auto store = std::make_shared<LevelStore<N>>(MaxDepth + 1);
    store_ = store.get();
    return store;
  }
  void reserve(unsigned level, std::uint64_t nodes) override { store_->reserve(level, nodes); }
  Node* writable_chunk(unsigned level, std::uint64_t chunk) override { return store_->writable(level, chunk * kChunkNodes); }
  const Node* chunk(unsigned level, std::uint64_t chunk) const override { return store_->chunk_of(level, chunk * kChunkNodes); }
  void append_mapped_chunk(unsigned level, const Node* chunk) override {
    store_->append_external_chunk(level, const_cast<Node*>(chunk));  // mapped read-only: never written
  }
  void replace_chunk(unsigned level, std::uint64_t chunk, const Node* mapped) override {
    store_->replace_chunk(level, chunk, const_cast<Node*>(mapped));
  }

  void build(std::shared_ptr<void> keepalive, std::uint64_t size, NodeHash node_hash, LeafPolicy leaf_policy,
             const TreeOptions& options, std::shared_ptr<rotortree::detail::LeafTable> index, std::uint64_t indexed) override {
    building_.reset();
    building_.emplace(std::shared_ptr<LevelStore<N>>(std::move(keepalive), store_), size,
                      tree_params<H, N, MaxDepth>(node_hash, leaf_policy), options, std::move(index), indexed);
    writer_ = &*building_;
  }
  void share() override {
    shared_ = std::make_unique<concurrent_type>(std::move(*building_));
    building_.reset();
    writer_ = nullptr;
  }
  void with_writer(FunctionRef<void()> fn) override {
    if (!shared_) return fn();
    shared_->with_writer([&](tree_type& tree) {
      writer_ = &tree;
      struct Reset {
        tree_type*& writer;
        ~Reset() { writer = nullptr; }
      } reset{writer_};
      fn();
    });
  }

  std::uint64_t size() const override { return writer_->size(); }
  InsertResult insert(std::span<const Node> leaves, FunctionRef<void()> before_append) override {
    return leaves.size() == 1 ? writer_->insert_with_index(leaves[0], before_append)
                              : writer_->insert_many_with_index(leaves, before_append);
  }
  std::optional<Node> rewind(std::uint64_t size) override { return writer_->rewind(size); }
  void reserve_leaves(std::uint64_t total_leaves) override { writer_->reserve(total_leaves); }
  std::unique_ptr<AnySnapshot> snapshot() const override { return erase(writer_->snapshot()); }
  std::shared_ptr<const rotortree::detail::LeafTable> leaf_table() const override { return writer_->leaf_table(); }
  void rebind(std::shared_ptr<void> keepalive) override {
    writer_->rebind_store(std::shared_ptr<LevelStore<N>>(std::move(keepalive), store_));
  }

 private:
  LevelStore<N>* store_ = nullptr;           // owned by the engine (new_store)
  std::optional<tree_type> building_;        // during recovery
  std::unique_ptr<concurrent_type> shared_;  // after it
  tree_type* writer_ = nullptr;              // the tree under exclusive access
};

}  // namespace rotortree::db
