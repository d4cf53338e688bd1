// Level storage: chunks of nodes that are never moved once written.
//
// Every level is a sequence of chunks of `N * kGroupsPerChunk` nodes. A chunk
// holds whole groups (a group never straddles chunks, so a full group is always
// contiguous for the batch hash kernel) and is a whole number of pages (so a
// checkpointed chunk can be memory-mapped from a data file in its place).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "rotortree/types.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rotortree {

/// Groups per chunk: a chunk of arity N is N*128 nodes = N * 4 KiB.
inline constexpr std::size_t kGroupsPerChunk = 128;

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
inline void stream_copy(Node* dst, const Node* src, std::size_t count) noexcept {
#if defined(__SSE2__)
  auto* out = reinterpret_cast<__m128i*>(dst);
  const auto* in = reinterpret_cast<const __m128i*>(src);
  for (std::size_t i = 0; i < 2 * count; ++i) _mm_stream_si128(out + i, _mm_loadu_si128(in + i));
#else
  std::memcpy(dst, src, count * sizeof(Node));
#endif
}
inline void stream_fence() noexcept {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

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
class ChunkArena {
 public:
  explicit ChunkArena(std::size_t chunk_bytes) : chunk_bytes_(chunk_bytes) {}
  ChunkArena(const ChunkArena&) = delete;
  ChunkArena& operator=(const ChunkArena&) = delete;
  ~ChunkArena();
  Node* allocate();  // throws std::bad_alloc
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
};

}  // namespace detail

/// All levels of one tree. Shared (read-only) by the tree's snapshots.
template <std::size_t N>
class LevelStore {
 public:
  static constexpr std::size_t kChunkNodes = N * kGroupsPerChunk;
  static constexpr std::size_t kChunkBytes = kChunkNodes * sizeof(Node);

  explicit LevelStore(std::size_t levels) : levels_(levels) {
    arenas_.reserve(levels);
    for (std::size_t l = 0; l < levels; ++l)
      arenas_.push_back(std::make_unique<detail::ChunkArena>(kChunkBytes));
    directories_ = std::make_unique<detail::ChunkDirectory[]>(levels);
    allocated_ = std::make_unique<std::uint64_t[]>(levels);
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
    const std::uint64_t chunks = (length + kChunkNodes - 1) / kChunkNodes;
    while (allocated_[level] < chunks) {
      Node* chunk = arenas_[level]->allocate();
      directories_[level].set(allocated_[level], chunk);
      ++allocated_[level];
    }
  }
  /// Writer only: replace a full, immutable chunk by a read-only copy elsewhere
  /// (a memory-mapped data file). Old memory is retired by the caller.
  void replace_chunk(std::size_t level, std::size_t chunk, Node* replacement) {
    directories_[level].set(chunk, replacement);
  }
  /// Writer only: append a chunk that lives elsewhere (a read-only mapping of
  /// a data file, for full immutable chunks recovered from a checkpoint) as
  /// the level's next chunk. The caller keeps the memory alive.
  void append_external_chunk(std::size_t level, Node* chunk) {
    directories_[level].set(allocated_[level], chunk);
    ++allocated_[level];
  }
  std::uint64_t chunks_allocated(std::size_t level) const noexcept { return allocated_[level]; }
  std::size_t bytes_mapped() const noexcept {
    std::size_t total = 0;
    for (const auto& arena : arenas_) total += arena->bytes_mapped();
    return total;
  }

 private:
  std::size_t levels_;
  std::vector<std::unique_ptr<detail::ChunkArena>> arenas_;
  std::unique_ptr<detail::ChunkDirectory[]> directories_;
  std::unique_ptr<std::uint64_t[]> allocated_;
};

}  // namespace rotortree
