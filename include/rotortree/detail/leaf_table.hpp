// Internal: the open-addressing table of the leaf index (docs/leaf-index.md).
// Not API; included by tree.hpp.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "rotortree/leaf_index.hpp"
#include "rotortree/types.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rotortree::detail {

__extension__ using LeafU128 = unsigned __int128;  // 64x64->128-bit products

/// The secret expanded to the hash's six 64-bit keys.
struct LeafHashKeys {
  std::uint64_t k[6];
};

inline LeafHashKeys expand_leaf_secret(const LeafSecret& secret) noexcept {
  std::uint64_t state[2];
  std::memcpy(state, secret.data(), 16);
  LeafHashKeys keys;
  for (int i = 0; i < 6; ++i) {  // SplitMix64 over both halves
    std::uint64_t z = state[i & 1] += 0x9e3779b97f4a7c15ULL * (1 + (i >> 1));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    keys.k[i] = z ^ (z >> 31);
  }
  return keys;
}

/// NH over the leaf's four words (2^-64-almost-universal over the keys), then
/// one keyed multiply-fold of the 128-bit sum to 64 bits.
inline std::uint64_t leaf_hash(const LeafHashKeys& keys, const Node& leaf) noexcept {
  std::uint64_t w[4];
  std::memcpy(w, leaf.data(), 32);
  using U128 = LeafU128;
  const U128 sum = U128(w[0] + keys.k[0]) * (w[1] + keys.k[1]) + U128(w[2] + keys.k[2]) * (w[3] + keys.k[3]);
  const U128 folded = U128(static_cast<std::uint64_t>(sum) ^ keys.k[4]) *
                      (static_cast<std::uint64_t>(sum >> 64) ^ keys.k[5]);
  return static_cast<std::uint64_t>(folded) ^ static_cast<std::uint64_t>(folded >> 64);
}

/// Whether two nodes are equal (inline: 32 bytes, no call).
inline bool same_node(const Node& a, const Node& b) noexcept {
  std::uint64_t x[4], y[4];
  std::memcpy(x, a.data(), 32);
  std::memcpy(y, b.data(), 32);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

/// Sentinel of "no position".
inline constexpr std::uint64_t kNoPosition = UINT64_MAX;

/// One cache line: 12 tags (0 = empty) and a 32-bit count of entries that
/// passed this bucket for a later one (bytes 12..15), then 12 positions.
struct alignas(64) LeafBucket {
  std::uint64_t words[2];
  std::uint32_t positions[12];
};
static_assert(sizeof(LeafBucket) == 64);

/// No-op probe counter of the fast paths; ProbeCount counts (test hook).
struct NoCount {
  void bucket() noexcept {}
  void candidate() noexcept {}
};
struct Counting {
  ProbeCount& count;
  void bucket() noexcept { ++count.buckets; }
  void candidate() noexcept { ++count.candidates; }
};

/// The table. One writer appends and removes; any number of readers probe
/// concurrently (tag words are atomic, positions are written before the tag
/// that publishes them). Memory: anonymous zeroed pages, huge where allowed.
class LeafTable {
 public:
  static constexpr unsigned kSlots = 12;

  LeafTable(std::uint64_t buckets, const LeafHashKeys& keys);
  ~LeafTable();
  LeafTable(const LeafTable&) = delete;
  LeafTable& operator=(const LeafTable&) = delete;

  std::uint64_t buckets() const noexcept { return buckets_; }
  std::uint64_t slots() const noexcept { return buckets_ * kSlots; }
  std::size_t bytes() const noexcept { return buckets_ * sizeof(LeafBucket); }
  /// Entries held (writer only): live and rewound ones.
  std::uint64_t entries() const noexcept { return entries_; }
  const LeafHashKeys& keys() const noexcept { return keys_; }

  bool same_keys(const LeafHashKeys& keys) const noexcept { return std::memcmp(&keys_, &keys, sizeof keys) == 0; }

  // The database's stored copy (src/db/leaf_index_file.cpp, docs/leaf-index.md).
  /// Copy buckets [first, first + count) as a reader sees them (the writer may be appending).
  void copy_buckets(std::uint64_t first, std::uint64_t count, LeafBucket* out) const noexcept {
    for (std::uint64_t b = 0; b < count; ++b) {
      const LeafBucket& bucket = table_[first + b];
      out[b].words[0] = load_relaxed(bucket.words[0]);
      out[b].words[1] = load_relaxed(bucket.words[1]);
      for (unsigned slot = 0; slot < kSlots; ++slot) out[b].positions[slot] = load_position(bucket, slot);
    }
  }
  /// A table not shared yet: its buckets to fill, then the count of entries they hold.
  LeafBucket* fill_buckets() noexcept { return table_; }
  void set_entries(std::uint64_t entries) noexcept { entries_ = entries; }

  std::uint64_t hash(const Node& leaf) const noexcept { return leaf_hash(keys_, leaf); }
  std::uint64_t home(std::uint64_t h) const noexcept {
    return static_cast<std::uint64_t>((static_cast<LeafU128>(h) * buckets_) >> 64);
  }
  static std::uint8_t tag_of(std::uint64_t h) noexcept {
    const auto tag = static_cast<std::uint8_t>(h);
    return tag != 0 ? tag : 1;
  }
  void prefetch(std::uint64_t h) const noexcept { __builtin_prefetch(&table_[home(h)]); }

  /// Positions of the candidates of the home bucket (prefetch stage of a
  /// batch); the next bucket is prefetched when the probe will continue there.
  template <class Fn>
  void for_home_candidates(std::uint64_t h, const Fn& fn) const noexcept {
    const std::uint64_t b = home(h);
    const LeafBucket& bucket = table_[b];
    const std::uint64_t w1 = load(bucket.words[1]);
    if ((w1 >> 32) != 0) __builtin_prefetch(&table_[b + 1 == buckets_ ? 0 : b + 1]);
    unsigned mask = match(load(bucket.words[0]), w1, tag_of(h));
    while (mask != 0) {
      fn(load_position(bucket, static_cast<unsigned>(std::countr_zero(mask))));
      mask &= mask - 1;
    }
  }

  /// The lowest position p of the probe sequence of `h` with verify(p), or kNoPosition.
  template <class Verify, class Count = NoCount>
  std::uint64_t find(std::uint64_t h, const Verify& verify, Count count = {}) const {
    std::uint64_t b = home(h);
    const std::uint8_t tag = tag_of(h);
    std::uint64_t best = kNoPosition;
    for (;;) {
      const LeafBucket& bucket = table_[b];
      const std::uint64_t w0 = load(bucket.words[0]), w1 = load(bucket.words[1]);
      count.bucket();
      unsigned mask = match(w0, w1, tag);
      while (mask != 0) {
        const std::uint64_t position = load_position(bucket, static_cast<unsigned>(std::countr_zero(mask)));
        mask &= mask - 1;
        count.candidate();
        if (position < best && verify(position)) best = position;
      }
      if ((w1 >> 32) == 0) return best;
      b = b + 1 == buckets_ ? 0 : b + 1;
    }
  }

  /// Writer: add an entry (the table must have a free slot: see the load limit).
  void append(std::uint64_t h, std::uint32_t position) noexcept {
    std::uint64_t b = home(h);
    for (;;) {
      LeafBucket& bucket = table_[b];
      const std::uint64_t w0 = load_relaxed(bucket.words[0]), w1 = load_relaxed(bucket.words[1]);
      const unsigned free = match(w0, w1, 0);
      if (free != 0) {
        const auto slot = static_cast<unsigned>(std::countr_zero(free));
        std::atomic_ref<std::uint32_t>(bucket.positions[slot]).store(position, std::memory_order_relaxed);
        const std::uint64_t tag = tag_of(h);
        if (slot < 8)
          store(bucket.words[0], w0 | tag << (8 * slot));
        else
          store(bucket.words[1], w1 | tag << (8 * (slot - 8)));
        ++entries_;
        return;
      }
      store(bucket.words[1], w1 + (std::uint64_t{1} << 32));  // one more entry passes here
      b = b + 1 == buckets_ ? 0 : b + 1;
    }
  }

  /// Writer: undo the latest append of `position` in the probe sequence of
  /// `h`, if there is one. Appends are only ever undone newest first, so
  /// the table is always the result of its appends in order and the newest
  /// matching entry is the last one of the sequence (an older entry of the
  /// same position, left by a rewind, stays). Returns whether one was found.
  bool remove(std::uint64_t h, std::uint32_t position) noexcept {
    const std::uint8_t tag = tag_of(h);
    std::uint64_t b = home(h), found_bucket = 0, found_passed = 0;
    unsigned found_slot = kSlots;
    for (std::uint64_t passed = 0;; ++passed) {
      const LeafBucket& bucket = table_[b];
      const std::uint64_t w1 = load_relaxed(bucket.words[1]);
      unsigned mask = match(load_relaxed(bucket.words[0]), w1, tag);
      while (mask != 0) {
        const auto slot = static_cast<unsigned>(std::countr_zero(mask));
        mask &= mask - 1;
        if (load_position(bucket, slot) == position) {
          found_bucket = b;
          found_slot = slot;
          found_passed = passed;
        }
      }
      if ((w1 >> 32) == 0) break;
      b = b + 1 == buckets_ ? 0 : b + 1;
    }
    if (found_slot == kSlots) return false;
    LeafBucket& target = table_[found_bucket];
    if (found_slot < 8)
      store(target.words[0], load_relaxed(target.words[0]) & ~(std::uint64_t{0xff} << (8 * found_slot)));
    else
      store(target.words[1], load_relaxed(target.words[1]) & ~(std::uint64_t{0xff} << (8 * (found_slot - 8))));
    // The buckets it passed count it no longer.
    std::uint64_t p = home(h);
    for (std::uint64_t i = 0; i < found_passed; ++i) {
      store(table_[p].words[1], load_relaxed(table_[p].words[1]) - (std::uint64_t{1} << 32));
      p = p + 1 == buckets_ ? 0 : p + 1;
    }
    --entries_;
    return true;
  }

 private:
  static std::uint64_t load(const std::uint64_t& word) noexcept {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word)).load(std::memory_order_acquire);
  }
  static std::uint64_t load_relaxed(const std::uint64_t& word) noexcept {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word)).load(std::memory_order_relaxed);
  }
  static void store(std::uint64_t& word, std::uint64_t value) noexcept {
    std::atomic_ref<std::uint64_t>(word).store(value, std::memory_order_release);
  }
  static std::uint32_t load_position(const LeafBucket& bucket, unsigned slot) noexcept {
    return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(bucket.positions[slot]))
        .load(std::memory_order_relaxed);
  }
  /// Bit j set: tag byte j (0..11) equals `tag`.
  static unsigned match(std::uint64_t w0, std::uint64_t w1, std::uint8_t tag) noexcept {
#if defined(__SSE2__)
    // The tag broadcast by a multiply (_mm_set1_epi8 compiles to a byte store
    // and a wider reload here: a store-forwarding stall on every probe).
    const __m128i words = _mm_set_epi64x(static_cast<long long>(w1), static_cast<long long>(w0));
    const __m128i tags = _mm_set1_epi64x(static_cast<long long>(tag * 0x0101010101010101ULL));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(words, tags))) & 0xfffu;
#else
    unsigned mask = 0;
    for (unsigned j = 0; j < kSlots; ++j)
      mask |= unsigned((j < 8 ? w0 >> (8 * j) : w1 >> (8 * (j - 8))) & 0xff) == tag ? 1u << j : 0u;
    return mask;
#endif
  }

  LeafBucket* table_;
  std::uint64_t buckets_;
  LeafHashKeys keys_;
  std::uint64_t entries_ = 0;
};

}  // namespace rotortree::detail
