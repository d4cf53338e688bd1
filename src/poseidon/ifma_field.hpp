// The 8-lane BN254 scalar field in radix 2^52 (AVX-512 IFMA kernels).
// Included only by the IFMA translation units: every function carries the
// IFMA target attribute and is force-inlined into IFMA-targeted callers.
//
// An element of 8 lanes is five __m512i limbs, limb j holding bits
// [52j, 52j+52) of each lane's value; Montgomery form with R = 2^260.
// "Normalised" means every limb < 2^52, which vpmadd52{l,h}uq need: they read
// only bits 0..51 of their multiplicands (the 64-bit accumulator is full).
//
// Bounds (p ≈ 2^253.6, p/R ≈ 0.0118): mont_mul(a, b) returns
// (a·b + m·p)/R with m < R, i.e. < a·b/R + p; for a, b < 2^256 (4p < 2^256)
// that is < 2^252 + p < 1.34p. Values are kept below 4p between operations
// and are reduced to [0, p) only when leaving the field (canonical()).
// Constant time is not a goal: the values are public tree data.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "poseidon/ifma.hpp"

// GCC 12's _mm512_srli/srai_epi64 pass _mm512_undefined_epi32() (a
// self-initialised variable) as the unused merge source, which -Wall reports
// as uninitialised wherever they are inlined: a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ROTORTREE_IFMA_TARGET __attribute__((target("avx512f,avx512ifma,avx512vl")))
#define ROTORTREE_IFMA_INLINE ROTORTREE_IFMA_TARGET __attribute__((always_inline)) inline

namespace rotortree::detail::poseidon_ifma {

inline constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1;
/// p in radix 2^52, least significant limb first.
inline constexpr std::uint64_t kP[5] = {0x1f593f0000001, 0x4879b9709143e, 0x181585d2833e8,
                                        0xa029b85045b68, 0x30644e72e131};
/// 2p in radix 2^52 (each limb below 2^52 after the carries).
inline constexpr std::uint64_t k2P[5] = {0x3eb27e0000002, 0x90f372e12287c, 0x302b0ba5067d0,
                                         0x405370a08b6d0, 0x60c89ce5c263};
/// -p^-1 mod 2^52.
inline constexpr std::uint64_t kN0 = 0x1f593efffffff;
/// R^2 mod p = 2^520 mod p (to_montgomery multiplies by it).
inline constexpr std::uint64_t kR2[5] = {0x0b852d16da6f5, 0xc621620cddce3, 0xaf1b95343ffb6,
                                         0xc3c15e103e7c2, 0x00281528fa122};

/// Eight lanes of one field element, five 52-bit limbs.
struct Fe8 {
  __m512i l[5];
};

ROTORTREE_IFMA_INLINE __m512i broadcast(std::uint64_t x) {
  return _mm512_set1_epi64(static_cast<long long>(x));
}
ROTORTREE_IFMA_INLINE __m512i madd_lo(__m512i acc, __m512i a, __m512i b) {
  return _mm512_madd52lo_epu64(acc, a, b);
}
ROTORTREE_IFMA_INLINE __m512i madd_hi(__m512i acc, __m512i a, __m512i b) {
  return _mm512_madd52hi_epu64(acc, a, b);
}

/// Carry limbs 0..3 into their successors so that they are < 2^52. Limbs may
/// be negative (two's complement; sub) as long as the value is not: the
/// arithmetic shift carries the borrow. Limb 4 keeps what is left (< 2^52
/// whenever the value is < 2^260).
ROTORTREE_IFMA_INLINE void normalize(__m512i (&t)[5]) {
  const __m512i mask = broadcast(kMask52);
  #pragma GCC unroll 10
  for (int j = 0; j < 4; ++j) {
    t[j + 1] = _mm512_add_epi64(t[j + 1], _mm512_srai_epi64(t[j], 52));
    t[j] = _mm512_and_si512(t[j], mask);
  }
}

/// A 10-position accumulator of products: acc[k] collects terms of weight
/// 2^(52k). Every term is < 2^52, so 4096 terms fit a 64-bit position; one
/// product adds at most 10 terms to a position.
struct Wide8 {
  __m512i t[10];
};

ROTORTREE_IFMA_INLINE void wide_zero(Wide8& w) {
  #pragma GCC unroll 10
  for (auto& x : w.t) x = _mm512_setzero_si512();
}

/// w += a·b (a, b normalised).
ROTORTREE_IFMA_INLINE void wide_mul_add(Wide8& w, const Fe8& a, const Fe8& b) {
  #pragma GCC unroll 10
  for (int i = 0; i < 5; ++i) {
    #pragma GCC unroll 10
    for (int j = 0; j < 5; ++j) {
      w.t[i + j] = madd_lo(w.t[i + j], a.l[i], b.l[j]);
      w.t[i + j + 1] = madd_hi(w.t[i + j + 1], a.l[i], b.l[j]);
    }
  }
}

/// w += a·b where every lane of b is the same constant (limbs broadcast).
ROTORTREE_IFMA_INLINE void wide_mul_add(Wide8& w, const Fe8& a, const __m512i (&b)[5]) {
  #pragma GCC unroll 10
  for (int i = 0; i < 5; ++i) {
    #pragma GCC unroll 10
    for (int j = 0; j < 5; ++j) {
      w.t[i + j] = madd_lo(w.t[i + j], a.l[i], b[j]);
      w.t[i + j + 1] = madd_hi(w.t[i + j + 1], a.l[i], b[j]);
    }
  }
}

/// Montgomery reduction of the accumulated value W: returns (W + m·p)/R,
/// normalised, with m < R; the value is < W/R + p. `add` (normalised limbs
/// or not, < 2^52 each) is added to the result before the final carries: it
/// folds an addition (e.g. the next round constant) into the reduction.
/// Position bound: ≤ 4096 terms per position in total, including the
/// 10 reduction terms and carries.
ROTORTREE_IFMA_INLINE Fe8 wide_reduce(Wide8& w, const __m512i* add = nullptr) {
  const __m512i n0 = broadcast(kN0);
  const __m512i zero = _mm512_setzero_si512();
  #pragma GCC unroll 10
  for (int i = 0; i < 5; ++i) {
    const __m512i m = madd_lo(zero, w.t[i], n0);  // < 2^52: (t_i·n0) mod 2^52
    #pragma GCC unroll 10
    for (int j = 0; j < 5; ++j) {
      const __m512i pj = broadcast(kP[j]);
      w.t[i + j] = madd_lo(w.t[i + j], m, pj);
      w.t[i + j + 1] = madd_hi(w.t[i + j + 1], m, pj);
    }
    // w.t[i] is now ≡ 0 mod 2^52: move its high part up.
    w.t[i + 1] = _mm512_add_epi64(w.t[i + 1], _mm512_srli_epi64(w.t[i], 52));
  }
  __m512i r[5] = {w.t[5], w.t[6], w.t[7], w.t[8], w.t[9]};
  if (add != nullptr) {
    #pragma GCC unroll 10
    for (int j = 0; j < 5; ++j) r[j] = _mm512_add_epi64(r[j], add[j]);
  }
  normalize(r);
  return Fe8{{r[0], r[1], r[2], r[3], r[4]}};
}

/// a·b·R^-1 (mod p), < a·b/R + p; a, b normalised.
ROTORTREE_IFMA_INLINE Fe8 mont_mul(const Fe8& a, const Fe8& b) {
  Wide8 w;
  wide_zero(w);
  wide_mul_add(w, a, b);
  return wide_reduce(w);
}

/// a²·R^-1 (mod p): the ten cross products once, doubled, then the diagonal.
ROTORTREE_IFMA_INLINE Fe8 mont_square(const Fe8& a) {
  Wide8 w;
  wide_zero(w);
  #pragma GCC unroll 10
  for (int i = 0; i < 5; ++i) {
    #pragma GCC unroll 10
    for (int j = i + 1; j < 5; ++j) {
      w.t[i + j] = madd_lo(w.t[i + j], a.l[i], a.l[j]);
      w.t[i + j + 1] = madd_hi(w.t[i + j + 1], a.l[i], a.l[j]);
    }
  }
  #pragma GCC unroll 10
  for (auto& x : w.t) x = _mm512_add_epi64(x, x);  // ≤ 8 terms per position, doubled: no overflow
  #pragma GCC unroll 10
  for (int i = 0; i < 5; ++i) {
    w.t[2 * i] = madd_lo(w.t[2 * i], a.l[i], a.l[i]);
    w.t[2 * i + 1] = madd_hi(w.t[2 * i + 1], a.l[i], a.l[i]);
  }
  return wide_reduce(w);
}

/// a + b, exact, normalised (the caller keeps the sum below 2^260).
ROTORTREE_IFMA_INLINE Fe8 add(const Fe8& a, const Fe8& b) {
  __m512i r[5];
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) r[j] = _mm512_add_epi64(a.l[j], b.l[j]);
  normalize(r);
  return Fe8{{r[0], r[1], r[2], r[3], r[4]}};
}

/// a - b + 2p, normalised: ≡ a - b (mod p), non-negative for b <= 2p.
ROTORTREE_IFMA_INLINE Fe8 sub(const Fe8& a, const Fe8& b) {
  __m512i r[5];
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) {
    r[j] = _mm512_sub_epi64(_mm512_add_epi64(a.l[j], broadcast(k2P[j])), b.l[j]);
  }
  normalize(r);
  return Fe8{{r[0], r[1], r[2], r[3], r[4]}};
}

/// a - m where that is non-negative, else a (a normalised, < 2^260; m the
/// limbs of p or 2p).
ROTORTREE_IFMA_INLINE Fe8 subtract_once(const Fe8& a, const std::uint64_t (&m)[5]) {
  __m512i d[5];
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) d[j] = _mm512_sub_epi64(a.l[j], broadcast(m[j]));
  normalize(d);
  // The value a - m is negative exactly when the top limb is (after the carries).
  const __mmask8 keep = _mm512_cmplt_epi64_mask(d[4], _mm512_setzero_si512());
  Fe8 r;
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) r.l[j] = _mm512_mask_blend_epi64(keep, d[j], a.l[j]);
  return r;
}

/// The canonical value (< p) of a Montgomery-form a < 2^256: a·R^-1 mod p.
ROTORTREE_IFMA_INLINE Fe8 from_montgomery(const Fe8& a) {
  Wide8 w;
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) w.t[j] = a.l[j];
  #pragma GCC unroll 10
  for (int j = 5; j < 10; ++j) w.t[j] = _mm512_setzero_si512();
  return subtract_once(wide_reduce(w), kP);  // < a/R + p < p + 1, so one subtraction
}

/// Montgomery form a·R mod p (lazily: < a·R2/R + p < 1.07p) of a normalised a < 2^256.
ROTORTREE_IFMA_INLINE Fe8 to_montgomery(const Fe8& a) {
  Fe8 r2;
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) r2.l[j] = broadcast(kR2[j]);
  return mont_mul(a, r2);
}

/// Eight 4x64 values into radix-2^52 lanes (each limb < 2^52, top limb < 2^48).
ROTORTREE_IFMA_INLINE Fe8 load(const Words* v) {
  alignas(64) std::uint64_t limbs[5][kLanes];
  #pragma GCC unroll 10
  for (std::size_t i = 0; i < kLanes; ++i) {
    const Words& w = v[i];
    limbs[0][i] = w[0] & kMask52;
    limbs[1][i] = ((w[0] >> 52) | (w[1] << 12)) & kMask52;
    limbs[2][i] = ((w[1] >> 40) | (w[2] << 24)) & kMask52;
    limbs[3][i] = ((w[2] >> 28) | (w[3] << 36)) & kMask52;
    limbs[4][i] = w[3] >> 16;
  }
  Fe8 r;
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) r.l[j] = _mm512_load_si512(limbs[j]);
  return r;
}

/// Normalised lanes below 2^256 back into 4x64 values.
ROTORTREE_IFMA_INLINE void store(const Fe8& a, Words* v) {
  alignas(64) std::uint64_t limbs[5][kLanes];
  #pragma GCC unroll 10
  for (int j = 0; j < 5; ++j) _mm512_store_si512(limbs[j], a.l[j]);
  #pragma GCC unroll 10
  for (std::size_t i = 0; i < kLanes; ++i) {
    v[i][0] = limbs[0][i] | (limbs[1][i] << 52);
    v[i][1] = (limbs[1][i] >> 12) | (limbs[2][i] << 40);
    v[i][2] = (limbs[2][i] >> 24) | (limbs[3][i] << 28);
    v[i][3] = (limbs[3][i] >> 36) | (limbs[4][i] << 16);
  }
}

}  // namespace rotortree::detail::poseidon_ifma
