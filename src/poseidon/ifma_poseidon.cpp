// Poseidon on 8 lanes of AVX-512 IFMA: eight independent permutations at
// once, in the optimised form of the scalar path (sparse partial rounds), on
// the tables of src/poseidon/params.hpp converted once per width to radix-2^52
// Montgomery form. See docs/poseidon-ifma.md.
//
// Bounds between steps (p/R ≈ 0.0118, 4p < 2^256; see ifma_field.hpp):
//   - converted inputs and constants: inputs < 1.07p, constants < p;
//   - x^5 input: element + constant < 3p, output < 1.34p;
//   - a mix row sum_j m_j·s_j with s_j < 2p, t <= 17 (one reduction):
//     < 0.0118·17·2p + p < 1.41p;
//   - a sparse update s_i + m·s_0 (s_i < 2p): < 2p + 1.07p, then minus 2p
//     when >= 2p, so < 2p again: the elements a partial round leaves alone
//     stay below 2p over any number of rounds.
#include <cstring>
#include <mutex>
#include <algorithm>
#include <vector>

#include "poseidon/ifma.hpp"
#include "poseidon/ifma_field.hpp"
#include "poseidon/params.hpp"

namespace rotortree::detail::poseidon_ifma {

namespace {

using poseidon::kMaxWidth;
using poseidon::kMinWidth;

/// A constant in canonical radix-2^52 Montgomery form; kernels broadcast its limbs.
struct Const52 {
  std::uint64_t l[5];
};

struct LaneTables {
  unsigned width = 0, full_rounds = 0, partial_rounds = 0;
  std::vector<Const52> mds, full_constants, partial_constants, pre_sparse, sparse;
};

ROTORTREE_IFMA_TARGET std::vector<Const52> convert(const poseidon::Limbs* values, std::size_t n) {
  std::vector<Const52> out(n);
  for (std::size_t base = 0; base < n; base += kLanes) {
    Words in[kLanes] = {};
    const std::size_t lanes = std::min(kLanes, n - base);
    for (std::size_t i = 0; i < lanes; ++i) in[i] = values[base + i];
    const Fe8 m = subtract_once(to_montgomery(load(in)), kP);  // canonical: the bounds assume < p
    alignas(64) std::uint64_t limbs[5][kLanes];
    for (int j = 0; j < 5; ++j) _mm512_store_si512(limbs[j], m.l[j]);
    for (std::size_t i = 0; i < lanes; ++i) {
      for (int j = 0; j < 5; ++j) out[base + i].l[j] = limbs[j][i];
    }
  }
  return out;
}

/// The tables of `width`, converted at first use (thread-safe).
const LaneTables& lane_tables(unsigned width) {
  static std::once_flag once[kMaxWidth - kMinWidth + 1];
  static LaneTables tables[kMaxWidth - kMinWidth + 1];
  LaneTables& lt = tables[width - kMinWidth];
  std::call_once(once[width - kMinWidth], [&] {
    const poseidon::Tables& t = poseidon::tables(width);
    lt.width = t.width;
    lt.full_rounds = t.full_rounds;
    lt.partial_rounds = t.partial_rounds;
    lt.mds = convert(t.mds, std::size_t{width} * width);
    lt.full_constants = convert(t.full_constants, std::size_t{t.full_rounds} * width);
    lt.partial_constants = convert(t.partial_constants, t.partial_rounds);
    lt.pre_sparse = convert(t.pre_sparse, std::size_t{width} * width);
    lt.sparse = convert(t.sparse, std::size_t{t.partial_rounds} * (2 * width - 1));
  });
  return lt;
}

ROTORTREE_IFMA_INLINE void broadcast_constant(const Const52& c, __m512i (&out)[5]) {
  for (int j = 0; j < 5; ++j) out[j] = broadcast(c.l[j]);
}

/// w += a·c for the constant c.
ROTORTREE_IFMA_INLINE void wide_mul_add(Wide8& w, const Fe8& a, const Const52& c) {
  __m512i b[5];
  broadcast_constant(c, b);
  wide_mul_add(w, a, b);
}

ROTORTREE_IFMA_INLINE Fe8 add(const Fe8& a, const Const52& c) {
  __m512i r[5];
  for (int j = 0; j < 5; ++j) r[j] = _mm512_add_epi64(a.l[j], broadcast(c.l[j]));
  normalize(r);
  return Fe8{{r[0], r[1], r[2], r[3], r[4]}};
}

ROTORTREE_IFMA_INLINE Fe8 pow5(const Fe8& x) {
  const Fe8 x2 = mont_square(x);
  const Fe8 x4 = mont_square(x2);
  return mont_mul(x4, x);
}

/// state = matrix · state (row-major T×T), one reduction per row.
ROTORTREE_IFMA_INLINE void mix(unsigned T, const Const52* matrix, Fe8* state) {
  Fe8 next[kMaxWidth];
  for (unsigned i = 0; i < T; ++i) {
    Wide8 w;
    wide_zero(w);
    for (unsigned j = 0; j < T; ++j) wide_mul_add(w, state[j], matrix[i * T + j]);
    next[i] = wide_reduce(w);
  }
  for (unsigned i = 0; i < T; ++i) state[i] = next[i];
}

ROTORTREE_IFMA_INLINE void full_round(unsigned T, const Const52* constants, const Const52* matrix,
                                      Fe8* state) {
  for (unsigned i = 0; i < T; ++i) state[i] = pow5(add(state[i], constants[i]));
  mix(T, matrix, state);
}

/// One loop for every width: the field operations inside are unrolled, the
/// loops over the state are not (instantiating per width bought nothing
/// measurable and cost minutes of compile time under the sanitizers).
ROTORTREE_IFMA_TARGET void permute_lanes(const LaneTables& tables, Fe8* state) {
  const unsigned T = tables.width;
  const unsigned half = tables.full_rounds / 2;
  for (unsigned r = 0; r < half; ++r) {
    full_round(T, tables.full_constants.data() + r * T,
                  r + 1 == half ? tables.pre_sparse.data() : tables.mds.data(), state);
  }
  const Const52* sparse = tables.sparse.data();
  for (unsigned r = 0; r < tables.partial_rounds; ++r, sparse += 2 * T - 1) {
    // The products of the untouched elements first: they do not wait for x^5.
    Wide8 first;
    wide_zero(first);
    for (unsigned j = 1; j < T; ++j) wide_mul_add(first, state[j], sparse[j]);
    const Fe8 s0 = pow5(add(state[0], tables.partial_constants[r]));
    wide_mul_add(first, s0, sparse[0]);
    for (unsigned i = 1; i < T; ++i) {
      Wide8 w;
      wide_zero(w);
      wide_mul_add(w, s0, sparse[T - 1 + i]);
      state[i] = subtract_once(wide_reduce(w, state[i].l), k2P);
    }
    state[0] = wide_reduce(first);
  }
  for (unsigned r = half; r < tables.full_rounds; ++r) {
    full_round(T, tables.full_constants.data() + r * T, tables.mds.data(), state);
  }
}

/// 32 big-endian bytes into little-endian words.
Words words_from_be(const std::uint8_t* be) {
  Words w;
  for (int i = 0; i < 4; ++i) {
    std::uint64_t x;
    std::memcpy(&x, be + 8 * (3 - i), 8);
    w[i] = __builtin_bswap64(x);
  }
  return w;
}

void words_to_be(const Words& w, std::uint8_t* be) {
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t x = __builtin_bswap64(w[i]);
    std::memcpy(be + 8 * (3 - i), &x, 8);
  }
}

bool below_modulus(const Words& w) {
  for (int i = 3; i >= 0; --i) {
    if (w[i] != poseidon::kModulus[i]) return w[i] < poseidon::kModulus[i];
  }
  return false;
}

}  // namespace

ROTORTREE_IFMA_TARGET void permute(unsigned width, Words* state) noexcept {
  Fe8 s[kMaxWidth];
  for (unsigned i = 0; i < width; ++i) s[i] = to_montgomery(load(state + i * kLanes));
  permute_lanes(lane_tables(width), s);
  for (unsigned i = 0; i < width; ++i) store(from_montgomery(s[i]), state + i * kLanes);
}

namespace {

/// The k-input hashes of `lanes` (1..8) messages in one 8-lane group; the
/// lanes past `lanes` hash zeros and are not written.
ROTORTREE_IFMA_TARGET void hash_group(unsigned k, const LaneTables& tables, const std::uint8_t* data,
                                      std::size_t stride, std::size_t lanes, std::uint8_t* out) {
  Fe8 s[kMaxWidth];
  s[0] = Fe8{{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
              _mm512_setzero_si512(), _mm512_setzero_si512()}};
  bool refused[kLanes] = {};
  for (unsigned e = 0; e < k; ++e) {
    Words in[kLanes] = {};
    for (std::size_t lane = 0; lane < lanes; ++lane) {
      in[lane] = words_from_be(data + lane * stride + 32 * e);
      if (!below_modulus(in[lane])) refused[lane] = true;
    }
    s[e + 1] = to_montgomery(load(in));
  }
  permute_lanes(tables, s);
  Words digest[kLanes];
  store(from_montgomery(s[0]), digest);
  for (std::size_t lane = 0; lane < lanes; ++lane) {
    if (refused[lane]) std::memset(out + 32 * lane, 0xff, 32);  // as the scalar path: no field element
    else words_to_be(digest[lane], out + 32 * lane);
  }
}

}  // namespace

ROTORTREE_IFMA_TARGET std::size_t hash_batch(unsigned k, const std::uint8_t* data, std::size_t stride,
                                             std::size_t count, std::uint8_t* out) noexcept {
  if (k < kMinWidth - 1 || k > kMaxWidth - 1) return 0;
  const unsigned width = k + 1;
  const LaneTables& tables = lane_tables(width);
  std::size_t done = 0;
  for (; count - done >= kLanes; done += kLanes) {
    hash_group(k, tables, data + done * stride, stride, kLanes, out + 32 * done);
  }
  if (count - done >= kMinPaddedGroup) {
    hash_group(k, tables, data + done * stride, stride, count - done, out + 32 * done);
    done = count;
  }
  return done;
}

poseidon::BatchKernel batch_kernel() noexcept { return available() ? &hash_batch : nullptr; }

}  // namespace rotortree::detail::poseidon_ifma
