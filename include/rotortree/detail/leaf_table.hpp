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

/// Set bits of a 12-bit slot mask. std::popcount is a libgcc call without
/// -mpopcnt (no -march here): this counts in registers.
inline unsigned count_slots(unsigned mask) noexcept {
  mask = mask - ((mask >> 1) & 0x555u);
  mask = (mask & 0x333u) + ((mask >> 2) & 0x333u);
  mask = (mask + (mask >> 4)) & 0x0f0fu;
  return (mask + (mask >> 8)) & 0x1fu;
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

/// Where an append put its entry, so that it can be undone exactly: the
/// bucket and slot, and how many buckets before it (from the key's first
/// bucket) count it as passing.
struct LeafSlot {
  std::uint64_t bucket;
  std::uint32_t slot, passed;
};

/// The table. One writer appends and undoes appends; any number of readers
/// probe concurrently (tag words are atomic, positions are written before
/// the tag that publishes them). Memory: anonymous zeroed pages, huge where
/// allowed.
///
/// A key has two buckets, first(h) and second(h); an entry goes to the one
/// with more free slots (first on a tie), and only when both are full does
/// it go on along the buckets after first(h), each of which counts it as
/// passing. A lookup reads second(h) and first(h) (both prefetched
/// together), then the buckets after first(h) while the one before counts
/// passing entries. Two choices keep the buckets' fill even: up to the 90%
/// load at which the table grows, a lookup reads about two buckets (one home
/// bucket with linear probing read 3.4 at 87.5%, in chains of dependent
/// misses).
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
  std::uint64_t first(std::uint64_t h) const noexcept { return scale(h); }
  std::uint64_t second(std::uint64_t h) const noexcept { return scale(h * 0x9e3779b97f4a7c15ULL); }
  static std::uint8_t tag_of(std::uint64_t h) noexcept {
    const auto tag = static_cast<std::uint8_t>(h);
    return tag != 0 ? tag : 1;
  }
  void prefetch_first(std::uint64_t h) const noexcept { __builtin_prefetch(&table_[first(h)]); }
  void prefetch(std::uint64_t h) const noexcept {
    __builtin_prefetch(&table_[first(h)]);
    __builtin_prefetch(&table_[second(h)]);
  }

  /// Positions of the candidates of both buckets of `h` (prefetch stage of
  /// a batch); the bucket after first(h) is prefetched when the probe will
  /// continue there, or, `appending`, when an append would (both are full).
  template <class Fn>
  void for_home_candidates(std::uint64_t h, bool appending, const Fn& fn) const noexcept {
    const std::uint64_t b = first(h), c = second(h);
    const LeafBucket &one = table_[b], &two = table_[c];
    const std::uint64_t w0 = load(one.words[0]), w1 = load(one.words[1]);
    const std::uint64_t v0 = load(two.words[0]), v1 = load(two.words[1]);
    if ((w1 >> 32) != 0 || (appending && match(w0, w1, 0) == 0 && match(v0, v1, 0) == 0))
      __builtin_prefetch(&table_[next(b)]);
    const std::uint8_t tag = tag_of(h);
    for_matches(one, match(w0, w1, tag), fn);
    if (c != b) for_matches(two, match(v0, v1, tag), fn);
  }

  /// The lowest position p of the probe sequence of `h` with verify(p), or kNoPosition.
  template <class Verify, class Count = NoCount>
  std::uint64_t find(std::uint64_t h, const Verify& verify, Count count = {}) const {
    const std::uint8_t tag = tag_of(h);
    std::uint64_t best = kNoPosition;
    const auto consider = [&](std::uint64_t position) {
      count.candidate();
      if (position < best && verify(position)) best = position;
    };
    std::uint64_t b = first(h);
    __builtin_prefetch(&table_[b]);  // both misses at once (a lone lookup has no pipeline)
    if (const std::uint64_t c = second(h); c != b) {
      const LeafBucket& bucket = table_[c];
      count.bucket();
      for_matches(bucket, match(load(bucket.words[0]), load(bucket.words[1]), tag), consider);
    }
    for (;;) {
      const LeafBucket& bucket = table_[b];
      const std::uint64_t w0 = load(bucket.words[0]), w1 = load(bucket.words[1]);
      count.bucket();
      for_matches(bucket, match(w0, w1, tag), consider);
      if ((w1 >> 32) == 0) return best;
      b = next(b);
    }
  }

  /// Writer: add an entry (the table must have a free slot: see the load
  /// limit). Returns where it went, for undo().
  LeafSlot append(std::uint64_t h, std::uint32_t position) noexcept {
    const std::uint64_t b = first(h), c = second(h);
    const unsigned free_first = free_slots(table_[b]), free_second = free_slots(table_[c]);
    const bool use_second = count_slots(free_second) > count_slots(free_first);
    if (const unsigned free = use_second ? free_second : free_first; free != 0) {  // else both are full
      const auto slot = static_cast<unsigned>(std::countr_zero(free));
      put(table_[use_second ? c : b], slot, h, position);
      return {use_second ? c : b, slot, 0};
    }
    std::uint64_t at = b;
    for (std::uint32_t passed = 0;; ++passed) {
      LeafBucket& bucket = table_[at];
      if (const unsigned free = free_slots(bucket); free != 0) {
        const auto slot = static_cast<unsigned>(std::countr_zero(free));
        put(bucket, slot, h, position);
        return {at, slot, passed};
      }
      store(bucket.words[1], load_relaxed(bucket.words[1]) + (std::uint64_t{1} << 32));  // one more passes here
      at = next(at);
    }
  }

  /// Writer, filling a new table (a growth rebuild, far below the load
  /// limit): as append, but an entry stays in first(h) while that bucket has
  /// more than kKeepFirst free slots, without reading second(h): one bucket
  /// access instead of two for most entries, and the fill stays even.
  static constexpr unsigned kKeepFirst = 4;
  LeafSlot append_fresh(std::uint64_t h, std::uint32_t position) noexcept {
    LeafBucket& bucket = table_[first(h)];
    if (const unsigned free = free_slots(bucket); count_slots(free) > kKeepFirst) {
      const auto slot = static_cast<unsigned>(std::countr_zero(free));
      put(bucket, slot, h, position);
      return {first(h), slot, 0};
    }
    return append(h, position);
  }
  /// Prefetch stage of append_fresh, once first(h) has arrived.
  void prefetch_fresh_second(std::uint64_t h) const noexcept {
    if (count_slots(free_slots(table_[first(h)])) <= kKeepFirst)
      __builtin_prefetch(&table_[second(h)]);
  }

  /// Writer: undo an append. Appends are undone newest first, so the table
  /// is again what its remaining appends made it.
  void undo(const LeafSlot& placed) noexcept {
    LeafBucket& target = table_[placed.bucket];
    const unsigned word = placed.slot < 8 ? 0 : 1, shift = 8 * (placed.slot < 8 ? placed.slot : placed.slot - 8);
    store(target.words[word], load_relaxed(target.words[word]) & ~(std::uint64_t{0xff} << shift));
    std::uint64_t p = (placed.bucket + buckets_ - placed.passed % buckets_) % buckets_;
    for (std::uint32_t i = 0; i < placed.passed; ++i, p = next(p))  // they count it no longer
      store(table_[p].words[1], load_relaxed(table_[p].words[1]) - (std::uint64_t{1} << 32));
    --entries_;
  }

 private:
  std::uint64_t scale(std::uint64_t h) const noexcept {
    return static_cast<std::uint64_t>((static_cast<LeafU128>(h) * buckets_) >> 64);
  }
  std::uint64_t next(std::uint64_t b) const noexcept { return b + 1 == buckets_ ? 0 : b + 1; }
  /// Bit j set: slot j of `bucket` is free.
  static unsigned free_slots(const LeafBucket& bucket) noexcept {
    return match(load_relaxed(bucket.words[0]), load_relaxed(bucket.words[1]), 0);
  }
  /// Position first (relaxed), then the tag word that publishes it (release).
  void put(LeafBucket& bucket, unsigned slot, std::uint64_t h, std::uint32_t position) noexcept {
    if (slot >= kSlots) __builtin_unreachable();  // callers pass a free slot of a non-empty free mask
    std::atomic_ref<std::uint32_t>(bucket.positions[slot]).store(position, std::memory_order_relaxed);
    const std::uint64_t tag = tag_of(h);
    const unsigned word = slot < 8 ? 0 : 1, shift = 8 * (slot < 8 ? slot : slot - 8);
    store(bucket.words[word], load_relaxed(bucket.words[word]) | tag << shift);
    ++entries_;
  }
  template <class Fn>
  static void for_matches(const LeafBucket& bucket, unsigned mask, const Fn& fn) {
    while (mask != 0) {
      fn(load_position(bucket, static_cast<unsigned>(std::countr_zero(mask))));
      mask &= mask - 1;
    }
  }
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
