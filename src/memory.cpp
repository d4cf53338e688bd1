#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "rotortree/storage.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rotortree {
namespace {

std::size_t default_cache_limit() {
  if (const char* env = std::getenv("ROTORTREE_SLAB_CACHE_BYTES")) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return static_cast<std::size_t>(value);
  }
  return std::size_t{1} << 30;
}

// Released huge slabs, kept mapped (and faulted in) for the next tree.
struct SlabCache {
  std::mutex mutex;
  std::vector<void*> slabs;
  std::size_t limit = default_cache_limit();
  std::atomic<std::size_t> in_use{0};
};

SlabCache& cache() {
  static SlabCache* instance = new SlabCache;  // never destroyed: used by static trees
  return *instance;
}

void* map_aligned(std::size_t bytes, std::size_t alignment) {
  const std::size_t padded = bytes + (alignment > 4096 ? alignment : 0);
  void* raw = mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  if (alignment <= 4096) return raw;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const auto aligned = (start + alignment - 1) & ~(alignment - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const auto tail = start + padded - (aligned + bytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

namespace memory {
void set_slab_cache_limit(std::size_t bytes) {
  {
    std::lock_guard lock(cache().mutex);
    cache().limit = bytes;
  }
  if (bytes == 0) trim_slab_cache();
}
std::size_t slab_cache_limit() noexcept {
  std::lock_guard lock(cache().mutex);
  return cache().limit;
}
void trim_slab_cache() noexcept {
  std::vector<void*> slabs;
  {
    std::lock_guard lock(cache().mutex);
    slabs.swap(cache().slabs);
  }
  for (void* slab : slabs) munmap(slab, detail::kHugeSlab);
}
std::size_t bytes_in_use() noexcept { return cache().in_use.load(std::memory_order_relaxed); }
}  // namespace memory

namespace detail {

void stream_copy(Node* dst, const Node* src, std::size_t count) noexcept {
#if defined(__SSE2__)
  auto* out = reinterpret_cast<__m128i*>(dst);
  const auto* in = reinterpret_cast<const __m128i*>(src);
  for (std::size_t i = 0; i < 2 * count; ++i) _mm_stream_si128(out + i, _mm_loadu_si128(in + i));
#else
  std::memcpy(dst, src, count * sizeof(Node));
#endif
}
void stream_fence() noexcept {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}


void* allocate_slab(std::size_t bytes, bool counted) {
  const std::size_t counted_bytes = counted ? bytes : 0;
  if (bytes == kHugeSlab) {
    std::lock_guard lock(cache().mutex);
    if (!cache().slabs.empty()) {
      void* slab = cache().slabs.back();
      cache().slabs.pop_back();
      cache().in_use += counted_bytes;
      return slab;
    }
  }
  void* slab = map_aligned(bytes, bytes == kHugeSlab ? kHugeSlab : 4096);
  if (bytes == kHugeSlab) madvise(slab, bytes, MADV_HUGEPAGE);
  cache().in_use += counted_bytes;
  return slab;
}

void release_slab(void* slab, std::size_t bytes, bool counted) noexcept {
  if (counted) cache().in_use -= bytes;
  if (bytes == kHugeSlab) {
    std::lock_guard lock(cache().mutex);
    if ((cache().slabs.size() + 1) * kHugeSlab <= cache().limit) {
      cache().slabs.push_back(slab);
      return;
    }
  }
  munmap(slab, bytes);
}

ChunkDirectory::~ChunkDirectory() {
  for (auto& segment : segments_) delete[] segment.load(std::memory_order_relaxed);
}

void ChunkDirectory::set(std::size_t chunk, Node* pointer) {
  const auto [segment, offset] = locate(chunk);
  auto* entries = segments_[segment].load(std::memory_order_relaxed);
  if (entries == nullptr) {
    entries = new std::atomic<Node*>[kFirstSegment << segment]();
    segments_[segment].store(entries, std::memory_order_release);
  }
  entries[offset].store(pointer, std::memory_order_release);
}

ChunkArena::~ChunkArena() {
  for (const Slab& slab : slabs_) release_slab(slab.memory, slab.bytes);
}

Node* ChunkArena::allocate() {
  if (free_.load(std::memory_order_relaxed) != nullptr) {
    std::lock_guard lock(free_mutex_);
    if (void* chunk = free_.load(std::memory_order_relaxed)) {
      void* next;
      std::memcpy(&next, chunk, sizeof next);
      free_.store(next, std::memory_order_relaxed);
      return static_cast<Node*>(chunk);
    }
  }
  if (cursor_ == end_) {
    // Grow geometrically: a slab as large as everything so far, capped at 2 MiB.
    std::size_t bytes = std::clamp(mapped_, chunk_bytes_, kHugeSlab);
    bytes = std::max(bytes / chunk_bytes_ * chunk_bytes_, chunk_bytes_);
    if (bytes > kHugeSlab / 2) bytes = kHugeSlab;  // whole huge pages from here on
    slabs_.reserve(slabs_.size() + 1);
    void* memory = allocate_slab(bytes);
    slabs_.push_back({memory, bytes});
    mapped_ += bytes;
    cursor_ = static_cast<std::uint8_t*>(memory);
    end_ = cursor_ + bytes / chunk_bytes_ * chunk_bytes_;
  }
  Node* chunk = reinterpret_cast<Node*>(cursor_);
  cursor_ += chunk_bytes_;
  return chunk;
}

void ChunkArena::recycle(Node* chunk) noexcept {
  std::lock_guard lock(free_mutex_);
  void* next = free_.load(std::memory_order_relaxed);
  std::memcpy(chunk, &next, sizeof next);
  free_.store(chunk, std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace rotortree
