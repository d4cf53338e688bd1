// The field arithmetic and the permutation, written once and compiled into two
// translation units (field_portable.cpp, field_adx.cpp with -mbmi2 -madx), each
// inside its own namespace so the two compilations never mix at link time.
// Included only by those files, after field.hpp; includes nothing itself.

using u64 = std::uint64_t;
__extension__ typedef unsigned __int128 u128;

inline constexpr u64 kP0 = 0x43e1f593f0000001u, kP1 = 0x2833e84879b97091u,
                     kP2 = 0xb85045b68181585du, kP3 = 0x30644e72e131a029u;
// -p^{-1} mod 2^64
inline constexpr u64 kInv = 0xc2e1f593efffffffu;

// r -= p if r >= p (r < 2p).
[[gnu::always_inline]] inline void reduce_once(u64& r0, u64& r1, u64& r2, u64& r3) noexcept {
  u128 d = (u128)r0 - kP0;
  const u64 s0 = (u64)d;
  d = (u128)r1 - kP1 - (u64)(d >> 127);
  const u64 s1 = (u64)d;
  d = (u128)r2 - kP2 - (u64)(d >> 127);
  const u64 s2 = (u64)d;
  d = (u128)r3 - kP3 - (u64)(d >> 127);
  const u64 s3 = (u64)d;
  if (!(d >> 127)) {  // no borrow: r >= p
    r0 = s0; r1 = s1; r2 = s2; r3 = s3;
  }
}

[[gnu::always_inline]] inline void add(const Fe& a, const Fe& b, Fe& out) noexcept {
  // p < 2^254: the sum fits in 256 bits.
  u128 s = (u128)a.limb[0] + b.limb[0];
  u64 r0 = (u64)s;
  s = (u128)a.limb[1] + b.limb[1] + (u64)(s >> 64);
  u64 r1 = (u64)s;
  s = (u128)a.limb[2] + b.limb[2] + (u64)(s >> 64);
  u64 r2 = (u64)s;
  u64 r3 = a.limb[3] + b.limb[3] + (u64)(s >> 64);
  reduce_once(r0, r1, r2, r3);
  out.limb[0] = r0; out.limb[1] = r1; out.limb[2] = r2; out.limb[3] = r3;
}

[[gnu::always_inline]] inline void sub(const Fe& a, const Fe& b, Fe& out) noexcept {
  u128 d = (u128)a.limb[0] - b.limb[0];
  u64 r0 = (u64)d;
  d = (u128)a.limb[1] - b.limb[1] - (u64)(d >> 127);
  u64 r1 = (u64)d;
  d = (u128)a.limb[2] - b.limb[2] - (u64)(d >> 127);
  u64 r2 = (u64)d;
  d = (u128)a.limb[3] - b.limb[3] - (u64)(d >> 127);
  u64 r3 = (u64)d;
  if (d >> 127) {  // borrow: add p back
    u128 s = (u128)r0 + kP0;
    r0 = (u64)s;
    s = (u128)r1 + kP1 + (u64)(s >> 64);
    r1 = (u64)s;
    s = (u128)r2 + kP2 + (u64)(s >> 64);
    r2 = (u64)s;
    r3 = r3 + kP3 + (u64)(s >> 64);
  }
  out.limb[0] = r0; out.limb[1] = r1; out.limb[2] = r2; out.limb[3] = r3;
}

// Montgomery multiplication, CIOS with the "no carry" shortcut: p's top limb is
// below 2^62, so the running value never needs a fifth limb.
[[gnu::always_inline]] inline void mul(const Fe& x, const Fe& y, Fe& out) noexcept {
  const u64 a0 = x.limb[0], a1 = x.limb[1], a2 = x.limb[2], a3 = x.limb[3];
  u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0;
  for (int i = 0; i < 4; ++i) {
    const u64 b = y.limb[i];
    u128 v = (u128)a0 * b + t0;
    u64 hi = (u64)(v >> 64);
    const u64 lo = (u64)v;
    const u64 m = lo * kInv;
    u128 w = (u128)m * kP0 + lo;
    u64 c = (u64)(w >> 64);
    v = (u128)a1 * b + hi + t1;
    hi = (u64)(v >> 64);
    w = (u128)m * kP1 + c + (u64)v;
    c = (u64)(w >> 64);
    t0 = (u64)w;
    v = (u128)a2 * b + hi + t2;
    hi = (u64)(v >> 64);
    w = (u128)m * kP2 + c + (u64)v;
    c = (u64)(w >> 64);
    t1 = (u64)w;
    v = (u128)a3 * b + hi + t3;
    hi = (u64)(v >> 64);
    w = (u128)m * kP3 + c + (u64)v;
    c = (u64)(w >> 64);
    t2 = (u64)w;
    t3 = c + hi;
  }
  reduce_once(t0, t1, t2, t3);
  out.limb[0] = t0; out.limb[1] = t1; out.limb[2] = t2; out.limb[3] = t3;
}

[[gnu::always_inline]] inline void square(const Fe& a, Fe& out) noexcept { mul(a, a, out); }

[[gnu::always_inline]] inline void pow5(const Fe& a, Fe& out) noexcept {
  Fe a2, a4;
  square(a, a2);
  square(a2, a4);
  mul(a4, a, out);
}

// out = sum_j m[j] * s[j], j < n.
[[gnu::always_inline]] inline void dot(const Fe* m, const Fe* s, unsigned n, Fe& out) noexcept {
  Fe acc, term;
  mul(m[0], s[0], acc);
  for (unsigned j = 1; j < n; ++j) {
    mul(m[j], s[j], term);
    add(acc, term, acc);
  }
  out = acc;
}

template <unsigned T>
[[gnu::always_inline]] inline void mix(const Fe* matrix, Fe* state) noexcept {
  Fe next[T];
  for (unsigned i = 0; i < T; ++i) dot(matrix + i * T, state, T, next[i]);
  for (unsigned i = 0; i < T; ++i) state[i] = next[i];
}

template <unsigned T>
[[gnu::always_inline]] inline void full_round(const Fe* constants, const Fe* matrix, Fe* state) noexcept {
  for (unsigned i = 0; i < T; ++i) {
    add(state[i], constants[i], state[i]);
    pow5(state[i], state[i]);
  }
  mix<T>(matrix, state);
}

template <unsigned T>
void permute_width(const MontTables& tables, Fe* state) noexcept {
  const unsigned half = tables.full_rounds / 2;
  for (unsigned r = 0; r < half; ++r)
    full_round<T>(tables.full_constants + r * T, r + 1 == half ? tables.pre_sparse : tables.mds, state);
  const Fe* sparse = tables.sparse;
  for (unsigned r = 0; r < tables.partial_rounds; ++r, sparse += 2 * T - 1) {
    Fe s0;
    add(state[0], tables.partial_constants[r], s0);
    pow5(s0, s0);
    Fe first, term;
    mul(sparse[0], s0, first);
    for (unsigned j = 1; j < T; ++j) {
      mul(sparse[j], state[j], term);
      add(first, term, first);
    }
    for (unsigned i = 1; i < T; ++i) {
      mul(sparse[T - 1 + i], s0, term);
      add(state[i], term, state[i]);
    }
    state[0] = first;
  }
  for (unsigned r = half; r < tables.full_rounds; ++r)
    full_round<T>(tables.full_constants + r * T, tables.mds, state);
}

template <unsigned... W>
constexpr auto make_permute_table(std::integer_sequence<unsigned, W...>) noexcept {
  using Fn = void (*)(const MontTables&, Fe*) noexcept;
  return std::array<Fn, sizeof...(W)>{&permute_width<W + poseidon::kMinWidth>...};
}

inline constexpr auto kPermuteByWidth = make_permute_table(
    std::make_integer_sequence<unsigned, poseidon::kMaxWidth - poseidon::kMinWidth + 1>{});

inline void permute(const MontTables& tables, Fe* state) noexcept {
  kPermuteByWidth[tables.width - poseidon::kMinWidth](tables, state);
}

inline void add_fn(const Fe& a, const Fe& b, Fe& out) noexcept { add(a, b, out); }
inline void sub_fn(const Fe& a, const Fe& b, Fe& out) noexcept { sub(a, b, out); }
inline void mul_fn(const Fe& a, const Fe& b, Fe& out) noexcept { mul(a, b, out); }
inline void square_fn(const Fe& a, Fe& out) noexcept { square(a, out); }
inline void pow5_fn(const Fe& a, Fe& out) noexcept { pow5(a, out); }
