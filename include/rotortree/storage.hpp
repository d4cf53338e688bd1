// Level storage: chunks of nodes that are never moved once written.
//
// Every level is a sequence of chunks of geometry::chunk_nodes(N) nodes: whole
// groups (a group never straddles chunks, so a full group is always contiguous
// for the batch hash kernel) and whole pages (so a checkpointed chunk can be
// memory-mapped from a data file in its place).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "rotortree/geometry.hpp"
#include "rotortree/types.hpp"


namespace rotortree {

using geometry::kGroupsPerChunk;

namespace memory {
/// Bytes of released 2 MiB slabs the process keeps for reuse (default 1 GiB,
/// or ROTORTREE_SLAB_CACHE_BYTES). Fresh pages cost more than hashing them on
/// a virtual machine; a cached slab is reused without page faults.
void set_slab_cache_limit(std::size_t bytes);
std::size_t slab_cache_limit() noexcept;
/// Return every cached slab to the operating system.
void trim_slab_cache() noexcept;
/// Bytes currently mapped for chunks by live trees (excludes the cache).
std::size_t bytes_in_use() noexcept;
}  // namespace memory

namespace detail {

/// Page-aligned anonymous memory; slabs of kHugeSlab bytes are 2 MiB aligned
/// and backed by transparent huge pages where the kernel allows.
inline constexpr std::size_t kHugeSlab = std::size_t{2} << 20;
/// `counted`: included in memory::bytes_in_use() (tree nodes; not log buffers).
void* allocate_slab(std::size_t bytes, bool counted = true);  // throws std::bad_alloc
void release_slab(void* slab, std::size_t bytes, bool counted = true) noexcept;

/// Copy nodes with non-temporal stores: bulk leaves go to memory without
/// first reading the destination lines into the cache. `dst` is 16-byte aligned
/// (chunks are page-aligned). Call stream_fence() before publishing.
void stream_copy(Node* dst, const Node* src, std::size_t count) noexcept;
void stream_fence() noexcept;

/// Chunk pointers of one level, in segments that never move: segment s holds
/// kFirstSegment << s pointers. The single writer appends; readers read
/// entries published before their snapshot.
class ChunkDirectory {
 public:
  static constexpr std::size_t kFirstSegment = 16;
  static constexpr std::size_t kSegments = 48;

  ChunkDirectory() = default;
  ChunkDirectory(const ChunkDirectory&) = delete;
  ChunkDirectory& operator=(const ChunkDirectory&) = delete;
  ~ChunkDirectory();

  Node* get(std::size_t chunk) const noexcept {
    const auto [segment, offset] = locate(chunk);
    return segments_[segment].load(std::memory_order_acquire)[offset].load(
        std::memory_order_acquire);
  }
  /// Writer only. Allocates the segment on first use.
  void set(std::size_t chunk, Node* pointer);

 private:
  struct Location {
    std::size_t segment, offset;
  };
  static Location locate(std::size_t chunk) noexcept {
    // Segment s starts at chunk kFirstSegment * (2^s - 1): s = floor(log2(chunk / kFirstSegment + 1)).
    const std::uint64_t q = chunk / kFirstSegment + 1;
    const auto segment = static_cast<std::size_t>(63 ^ std::countl_zero(q));  // q >= 1: one bsr
    return {segment, chunk + kFirstSegment - (kFirstSegment << segment)};
  }
  std::atomic<std::atomic<Node*>*> segments_[kSegments]{};
};

/// Bump allocator of chunks for one level: slabs grow geometrically up to
/// 2 MiB, so a small tree stays small and a large one uses huge pages.
/// Chunks a rewind took out come back through `recycle` once nothing can read
/// them, and are handed out again before the slabs grow (warm memory: a
/// regrown tree does not fault fresh pages in, nor keep every rewound chunk).
class ChunkArena {
 public:
  explicit ChunkArena(std::size_t chunk_bytes) : chunk_bytes_(chunk_bytes) {}
  ChunkArena(const ChunkArena&) = delete;
  ChunkArena& operator=(const ChunkArena&) = delete;
  ~ChunkArena();
  Node* allocate();  // throws std::bad_alloc
  /// A chunk of this arena that no reader can reach any more. Any thread (the
  /// last snapshot of a generation may go on a reader's); the chunk's first
  /// bytes link the free list, so this allocates nothing.
  void recycle(Node* chunk) noexcept;
  std::size_t bytes_mapped() const noexcept { return mapped_; }

 private:
  struct Slab {
    void* memory;
    std::size_t bytes;
  };
  std::size_t chunk_bytes_;
  std::vector<Slab> slabs_;
  std::uint8_t* cursor_ = nullptr;
  std::uint8_t* end_ = nullptr;
  std::size_t mapped_ = 0;
  std::mutex free_mutex_;
  // Recycled chunks, each holding the next one's address. Written under the
  // mutex; atomic so that an allocation with nothing recycled takes no lock.
  std::atomic<void*> free_{nullptr};
};
using ChunkArenas = std::vector<std::unique_ptr<ChunkArena>>;  // one a level

/// One stretch of a store's history between two rewinds. A rewind takes
/// chunks out of the directories (the chunk holding a level's new last node
/// is replaced by a copy, the later ones are dropped and reallocated when the
/// tree regrows); before it changes any entry it records here, for the
/// generation it ends, what those entries held, and only then publishes
/// `next`. A snapshot keeps the generation it was taken in and resolves a
/// chunk through every later generation's record: the first record that
/// covers the chunk holds the pointer the snapshot saw.
struct StoreGeneration {
  struct Replaced {
    std::uint64_t first = 0;   ///< first chunk index the rewind replaced
    std::vector<Node*> chunks;  ///< the entries [first, first + size) before it
  };
  StoreGeneration() = default;
  StoreGeneration(const StoreGeneration&) = delete;
  StoreGeneration& operator=(const StoreGeneration&) = delete;
  // Iterative: one old snapshot may keep a long chain of generations alive.
  // `successor` is read and written under chain_mutex(): a generation whose
  // use count a destructor sees drop to one may have had its successor set
  // by the writer just before the writer released it, and a use count is
  // read without ordering.
  ~StoreGeneration() {
    // No snapshot of this generation or an earlier one is left (each owns
    // its successor): the chunks this generation's rewind took out are
    // unreachable.
    if (arenas)
      for (std::size_t l = 0; l < replaced.size(); ++l)
        for (Node* chunk : replaced[l].chunks) (*arenas)[l]->recycle(chunk);
    std::shared_ptr<StoreGeneration> later;
    {
      std::lock_guard lock(chain_mutex());
      later = std::move(successor);
    }
    while (later) {
      std::shared_ptr<StoreGeneration> after;
      {
        std::lock_guard lock(chain_mutex());
        if (later.use_count() != 1) break;
        after = std::move(later->successor);
      }
      later = std::move(after);  // destroys a generation whose successor is already taken
    }
  }
  static std::mutex& chain_mutex() noexcept {
    static std::mutex mutex;
    return mutex;
  }

  std::vector<Replaced> replaced;  ///< per level; written before `next` is published
  std::shared_ptr<ChunkArenas> arenas;  ///< where `replaced`'s chunks return (set with it)
  std::atomic<const StoreGeneration*> next{nullptr};
  std::shared_ptr<StoreGeneration> successor;  ///< owns `next`
};

}  // namespace detail

/// All levels of one tree. Shared (read-only) by the tree's snapshots.
template <std::size_t N>
class LevelStore {
 public:
  static constexpr std::size_t kChunkNodes = geometry::chunk_nodes(N);
  static constexpr std::size_t kChunkBytes = geometry::chunk_bytes(N);

  explicit LevelStore(std::size_t levels) : levels_(levels) {
    arenas_->reserve(levels);
    for (std::size_t l = 0; l < levels; ++l)
      arenas_->push_back(std::make_unique<detail::ChunkArena>(kChunkBytes));
    directories_ = std::make_unique<detail::ChunkDirectory[]>(levels);
    allocated_ = std::make_unique<std::uint64_t[]>(levels);
    external_end_ = std::make_unique<std::uint64_t[]>(levels);
  }

  std::size_t levels() const noexcept { return levels_; }

  const Node& at(std::size_t level, std::uint64_t index) const noexcept {
    return directories_[level].get(index / kChunkNodes)[index % kChunkNodes];
  }
  /// Writer only: the node must lie in allocated chunks (see `reserve`).
  Node* writable(std::size_t level, std::uint64_t index) noexcept {
    return directories_[level].get(index / kChunkNodes) + index % kChunkNodes;
  }
  /// The group of N nodes starting at `start` (a multiple of N): a group
  /// never straddles chunks. Only a pointer: nothing is read there.
  const Node* group(std::size_t level, std::uint64_t start) const noexcept {
    return directories_[level].get(start / kChunkNodes) + start % kChunkNodes;
  }
  /// Start of the chunk holding `index` and how many nodes follow it there.
  const Node* chunk_of(std::size_t level, std::uint64_t index) const noexcept {
    return directories_[level].get(index / kChunkNodes);
  }
  /// Writer only: make chunks exist for nodes [0, length) of `level`.
  /// Throws std::bad_alloc having allocated nothing visible to readers.
  void reserve(std::size_t level, std::uint64_t length) {
    const std::uint64_t chunks = geometry::chunks_for(length, N);
    while (allocated_[level] < chunks) {
      Node* chunk = (*arenas_)[level]->allocate();
      directories_[level].set(allocated_[level], chunk);
      ++allocated_[level];
    }
  }
  /// Writer only: replace a full, immutable chunk by a read-only copy elsewhere
  /// (a memory-mapped data file). Old memory is retired by the caller.
  void replace_chunk(std::size_t level, std::size_t chunk, Node* replacement) {
    directories_[level].set(chunk, replacement);
    external_end_[level] = std::max<std::uint64_t>(external_end_[level], chunk + 1);
  }
  /// Writer only: append a chunk that lives elsewhere (a read-only mapping of
  /// a data file, for full immutable chunks recovered from a checkpoint) as
  /// the level's next chunk. The caller keeps the memory alive.
  void append_external_chunk(std::size_t level, Node* chunk) {
    directories_[level].set(allocated_[level], chunk);
    ++allocated_[level];
    external_end_[level] = allocated_[level];
  }
  std::uint64_t chunks_allocated(std::size_t level) const noexcept { return allocated_[level]; }

  /// The generation snapshots taken now belong to (see rewind). Writer only.
  std::shared_ptr<const detail::StoreGeneration> generation() const noexcept { return generation_; }
  /// Node `index` of `level` as a snapshot of generation `g` sees it.
  const Node& at_as_of(const detail::StoreGeneration& g, std::size_t level, std::uint64_t index) const noexcept {
    return chunk_as_of(g, level, index / kChunkNodes)[index % kChunkNodes];
  }
  /// Chunk `chunk` of `level` as a snapshot of generation `g` sees it. The
  /// directory entry is read first: an entry a rewind has already replaced
  /// implies (acquire/release) that its record is visible.
  const Node* chunk_as_of(const detail::StoreGeneration& g, std::size_t level, std::uint64_t chunk) const noexcept {
    const Node* current = directories_[level].get(chunk);
    if (g.next.load(std::memory_order_acquire) == nullptr) [[likely]]
      return current;
    return replaced_chunk(g, level, chunk, current);
  }
  /// The slow half of chunk_as_of: walk the records of later generations.
  static const Node* replaced_chunk(const detail::StoreGeneration& g, std::size_t level, std::uint64_t chunk,
                                    const Node* current) noexcept {
    for (const detail::StoreGeneration* at = &g;;) {
      const detail::StoreGeneration* next = at->next.load(std::memory_order_acquire);
      if (next == nullptr) return current;
      const auto& record = at->replaced[level];
      if (chunk >= record.first && chunk - record.first < record.chunks.size())
        return record.chunks[chunk - record.first];
      at = next;
    }
  }

  /// Writer only: cut the levels for a rewind. Level l shrinks from
  /// `old_length[l]` to `new_length[l]` nodes (levels whose length does not
  /// change are left alone; the caller rewrites their last node in place, as
  /// an insertion does). On a shrinking level the chunk holding the new last
  /// node is replaced by a fresh copy of its nodes [0, new_length) (at most
  /// one chunk copied per level) and the chunks after it are dropped: the
  /// tree writes only fresh chunks from the new last node on, and snapshots
  /// taken before keep reading the old ones through this generation's record.
  /// The old chunks return to their arena when the generation this rewind
  /// ends is destroyed (no snapshot can read them any more).
  /// External chunks (mapped data files, which a later checkpoint may
  /// rewrite at those chunks' offsets) are recorded as heap copies instead.
  /// Throws std::bad_alloc having changed nothing.
  void rewind(const std::uint64_t* old_length, const std::uint64_t* new_length) {
    struct Copy {
      std::size_t level;
      std::uint64_t chunk;
      Node* fresh;
    };
    Copy copies[64];
    std::size_t copy_count = 0;
    std::vector<detail::StoreGeneration::Replaced> replaced(levels_);
    for (std::size_t l = 0; l < levels_; ++l) {
      if (new_length[l] >= old_length[l]) continue;
      const std::uint64_t keep = new_length[l];
      const std::uint64_t first = geometry::full_chunks(keep, N);  // the chunk of the new last node
      auto& record = replaced[l];
      record.first = first;
      for (std::uint64_t c = first; c < allocated_[l]; ++c) {
        Node* chunk = directories_[l].get(c);
        if (c < external_end_[l]) {
          Node* copy = (*arenas_)[l]->allocate();
          std::memcpy(copy, chunk, kChunkBytes);
          chunk = copy;
        }
        record.chunks.push_back(chunk);
      }
      if (keep > 0) {
        Node* fresh = (*arenas_)[l]->allocate();
        std::memcpy(fresh, directories_[l].get(first), (keep - first * kChunkNodes) * sizeof(Node));
        copies[copy_count++] = {l, first, fresh};
      }
    }
    // Nothing visible has changed so far. Publish the record, then the entries.
    auto next = std::make_shared<detail::StoreGeneration>();
    generation_->replaced = std::move(replaced);
    generation_->arenas = arenas_;
    {
      std::lock_guard lock(detail::StoreGeneration::chain_mutex());
      generation_->successor = next;
    }
    generation_->next.store(next.get(), std::memory_order_release);
    for (std::size_t k = 0; k < copy_count; ++k)
      directories_[copies[k].level].set(copies[k].chunk, copies[k].fresh);
    for (std::size_t l = 0; l < levels_; ++l)
      if (new_length[l] < old_length[l]) {
        allocated_[l] = geometry::chunks_for(new_length[l], N);
        const std::uint64_t first = geometry::full_chunks(new_length[l], N);  // now a heap copy
        external_end_[l] = std::min(external_end_[l], first);
      }
    generation_ = std::move(next);
  }
  std::size_t bytes_mapped() const noexcept {
    std::size_t total = 0;
    for (const auto& arena : *arenas_) total += arena->bytes_mapped();
    return total;
  }

 private:
  std::size_t levels_;
  // Shared with the generations whose records hold chunks of them.
  std::shared_ptr<detail::ChunkArenas> arenas_ = std::make_shared<detail::ChunkArenas>();
  std::unique_ptr<detail::ChunkDirectory[]> directories_;
  std::unique_ptr<std::uint64_t[]> allocated_;
  std::unique_ptr<std::uint64_t[]> external_end_;  // chunks below it may be external
  std::shared_ptr<detail::StoreGeneration> generation_ = std::make_shared<detail::StoreGeneration>();
};

}  // namespace rotortree
