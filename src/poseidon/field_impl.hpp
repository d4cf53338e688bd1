// The field arithmetic and the permutation, written once and compiled into two
// translation units (field_portable.cpp, field_adx.cpp with -mbmi2 -madx), each
// inside its own namespace so the two compilations never mix at link time.
// Included only by those files, after field.hpp (and <immintrin.h> on x86-64);
// includes nothing itself.

using u64 = std::uint64_t;
__extension__ typedef unsigned __int128 u128;

inline constexpr u64 kP0 = 0x43e1f593f0000001u, kP1 = 0x2833e84879b97091u,
                     kP2 = 0xb85045b68181585du, kP3 = 0x30644e72e131a029u;
// -p^{-1} mod 2^64
inline constexpr u64 kInv = 0xc2e1f593efffffffu;

// 64x64 -> 128-bit product: MULX where the TU is compiled for BMI2.
[[gnu::always_inline]] inline u64 mul_wide(u64 a, u64 b, u64& hi) noexcept {
#if defined(__BMI2__)
  unsigned long long h;
  const u64 lo = _mulx_u64(a, b, &h);
  hi = h;
  return lo;
#else
  const u128 product = (u128)a * b;
  hi = (u64)(product >> 64);
  return (u64)product;
#endif
}

// a + b + carry; returns the carry out.
[[gnu::always_inline]] inline unsigned char add_carry(unsigned char carry, u64 a, u64 b, u64& out) noexcept {
#if defined(__x86_64__)
  unsigned long long r;
#if defined(__ADX__)
  carry = _addcarryx_u64(carry, a, b, &r);
#else
  carry = _addcarry_u64(carry, a, b, &r);
#endif
  out = r;
  return carry;
#else
  const u128 sum = (u128)a + b + carry;
  out = (u64)sum;
  return (unsigned char)(sum >> 64);
#endif
}

// a - b - borrow; returns the borrow out.
[[gnu::always_inline]] inline unsigned char sub_borrow(unsigned char borrow, u64 a, u64 b, u64& out) noexcept {
#if defined(__x86_64__)
  unsigned long long r;
  borrow = _subborrow_u64(borrow, a, b, &r);
  out = r;
  return borrow;
#else
  const u128 d = (u128)a - b - borrow;
  out = (u64)d;
  return (unsigned char)((d >> 64) & 1);
#endif
}

// r -= p if r >= p (r < 2p); branch-free (the outcome is data dependent).
[[gnu::always_inline]] inline void reduce_once(u64& r0, u64& r1, u64& r2, u64& r3) noexcept {
  u64 s0, s1, s2, s3;
  unsigned char b = sub_borrow(0, r0, kP0, s0);
  b = sub_borrow(b, r1, kP1, s1);
  b = sub_borrow(b, r2, kP2, s2);
  b = sub_borrow(b, r3, kP3, s3);
  const u64 keep = 0 - (u64)b;  // all ones: r < p, keep r
  r0 = (r0 & keep) | (s0 & ~keep);
  r1 = (r1 & keep) | (s1 & ~keep);
  r2 = (r2 & keep) | (s2 & ~keep);
  r3 = (r3 & keep) | (s3 & ~keep);
}

[[gnu::always_inline]] inline void add(const Fe& a, const Fe& b, Fe& out) noexcept {
  // p < 2^254: the sum fits in 256 bits.
  u64 r0, r1, r2, r3;
  unsigned char c = add_carry(0, a.limb[0], b.limb[0], r0);
  c = add_carry(c, a.limb[1], b.limb[1], r1);
  c = add_carry(c, a.limb[2], b.limb[2], r2);
  add_carry(c, a.limb[3], b.limb[3], r3);
  reduce_once(r0, r1, r2, r3);
  out.limb[0] = r0; out.limb[1] = r1; out.limb[2] = r2; out.limb[3] = r3;
}

[[gnu::always_inline]] inline void sub(const Fe& a, const Fe& b, Fe& out) noexcept {
  u64 r0, r1, r2, r3;
  unsigned char borrow = sub_borrow(0, a.limb[0], b.limb[0], r0);
  borrow = sub_borrow(borrow, a.limb[1], b.limb[1], r1);
  borrow = sub_borrow(borrow, a.limb[2], b.limb[2], r2);
  borrow = sub_borrow(borrow, a.limb[3], b.limb[3], r3);
  const u64 mask = 0 - (u64)borrow;  // add p back after a borrow
  unsigned char c = add_carry(0, r0, kP0 & mask, r0);
  c = add_carry(c, r1, kP1 & mask, r1);
  c = add_carry(c, r2, kP2 & mask, r2);
  add_carry(c, r3, kP3 & mask, r3);
  out.limb[0] = r0; out.limb[1] = r1; out.limb[2] = r2; out.limb[3] = r3;
}

// Montgomery multiplication, CIOS. p's top limb is below 2^62, so the running
// value stays below 2p and five limbs hold every intermediate sum.
[[gnu::always_inline]] inline void mul_c(const Fe& x, const Fe& y, Fe& out) noexcept {
  const u64 a0 = x.limb[0], a1 = x.limb[1], a2 = x.limb[2], a3 = x.limb[3];
  u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const u64 b = y.limb[i];
    u64 h0, h1, h2, h3;
    const u64 l0 = mul_wide(a0, b, h0), l1 = mul_wide(a1, b, h1), l2 = mul_wide(a2, b, h2),
              l3 = mul_wide(a3, b, h3);
    // t += a * b_i: the low halves, then the high halves one limb up.
    unsigned char c = add_carry(0, t0, l0, t0);
    c = add_carry(c, t1, l1, t1);
    c = add_carry(c, t2, l2, t2);
    c = add_carry(c, t3, l3, t3);
    t4 += c;
    c = add_carry(0, t1, h0, t1);
    c = add_carry(c, t2, h1, t2);
    c = add_carry(c, t3, h2, t3);
    add_carry(c, t4, h3, t4);
    // t += m * p with m making the low limb zero, then t >>= 64.
    const u64 m = t0 * kInv;
    u64 g0, g1, g2, g3;
    const u64 k0 = mul_wide(m, kP0, g0), k1 = mul_wide(m, kP1, g1), k2 = mul_wide(m, kP2, g2),
              k3 = mul_wide(m, kP3, g3);
    u64 zero;
    c = add_carry(0, t0, k0, zero);
    c = add_carry(c, t1, k1, t1);
    c = add_carry(c, t2, k2, t2);
    c = add_carry(c, t3, k3, t3);
    t4 += c;
    c = add_carry(0, t1, g0, t0);
    c = add_carry(c, t2, g1, t1);
    c = add_carry(c, t3, g2, t2);
    add_carry(c, t4, g3, t3);
    t4 = 0;
  }
  reduce_once(t0, t1, t2, t3);
  out.limb[0] = t0; out.limb[1] = t1; out.limb[2] = t2; out.limb[3] = t3;
}

// clang with a sanitizer keeps registers for itself (frame pointer, shadow
// bookkeeping) that the assembly needs: such builds use the C version.
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define ROTORTREE_FIELD_NO_ASM 1
#endif
#endif
#if defined(__x86_64__) && defined(__BMI2__) && defined(__ADX__) && !defined(ROTORTREE_FIELD_NO_ASM)
inline constexpr u64 kModulusLimbs[4] = {kP0, kP1, kP2, kP3};
inline constexpr u64 kInvValue = kInv;

// The same CIOS in assembly: MULX products feed two carry chains at once
// (ADOX for the low halves, ADCX for the high halves), which compilers do not
// produce from intrinsics. The five running limbs rotate through t0..t4 (the
// limb a reduction step zeroes becomes the next top limb); the final
// conditional subtraction uses CMOV.
[[gnu::always_inline]] inline void mul(const Fe& x, const Fe& y, Fe& out) noexcept {
  u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, lo, hi;
  asm("" 
      "movq 0(%[b]), %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq 0(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "adcxq %[hi], %[t1]\n\t"
      "mulxq 8(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "adcxq %[hi], %[t2]\n\t"
      "mulxq 16(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "adcxq %[hi], %[t3]\n\t"
      "mulxq 24(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "movq %[t0], %%rdx\n\t"
      "imulq %[inv], %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq %[p0], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "adcxq %[hi], %[t1]\n\t"
      "mulxq %[p1], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "adcxq %[hi], %[t2]\n\t"
      "mulxq %[p2], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "adcxq %[hi], %[t3]\n\t"
      "mulxq %[p3], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "movq 8(%[b]), %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq 0(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "adcxq %[hi], %[t2]\n\t"
      "mulxq 8(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "adcxq %[hi], %[t3]\n\t"
      "mulxq 16(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "mulxq 24(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "adcxq %[hi], %[t0]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "movq %[t1], %%rdx\n\t"
      "imulq %[inv], %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq %[p0], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "adcxq %[hi], %[t2]\n\t"
      "mulxq %[p1], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "adcxq %[hi], %[t3]\n\t"
      "mulxq %[p2], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "mulxq %[p3], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "adcxq %[hi], %[t0]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "movq 16(%[b]), %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq 0(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "adcxq %[hi], %[t3]\n\t"
      "mulxq 8(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "mulxq 16(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "adcxq %[hi], %[t0]\n\t"
      "mulxq 24(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "adcxq %[hi], %[t1]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "movq %[t2], %%rdx\n\t"
      "imulq %[inv], %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq %[p0], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "adcxq %[hi], %[t3]\n\t"
      "mulxq %[p1], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "mulxq %[p2], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "adcxq %[hi], %[t0]\n\t"
      "mulxq %[p3], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "adcxq %[hi], %[t1]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "movq 24(%[b]), %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq 0(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "mulxq 8(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "adcxq %[hi], %[t0]\n\t"
      "mulxq 16(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "adcxq %[hi], %[t1]\n\t"
      "mulxq 24(%[a]), %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "adcxq %[hi], %[t2]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "movq %[t3], %%rdx\n\t"
      "imulq %[inv], %%rdx\n\t"
      "xorl %k[lo], %k[lo]\n\t"
      "mulxq %[p0], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t3]\n\t"
      "adcxq %[hi], %[t4]\n\t"
      "mulxq %[p1], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t4]\n\t"
      "adcxq %[hi], %[t0]\n\t"
      "mulxq %[p2], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t0]\n\t"
      "adcxq %[hi], %[t1]\n\t"
      "mulxq %[p3], %[lo], %[hi]\n\t"
      "adoxq %[lo], %[t1]\n\t"
      "adcxq %[hi], %[t2]\n\t"
      "movl $0, %k[lo]\n\t"
      "adoxq %[lo], %[t2]\n\t"
      "movq %[t4], %[lo]\n\t"
      "subq %[p0], %[lo]\n\t"
      "movq %[t0], %[hi]\n\t"
      "sbbq %[p1], %[hi]\n\t"
      "movq %[t1], %[t3]\n\t"
      "sbbq %[p2], %[t3]\n\t"
      "movq %[t2], %%rdx\n\t"
      "sbbq %[p3], %%rdx\n\t"
      "cmovncq %[lo], %[t4]\n\t"
      "cmovncq %[hi], %[t0]\n\t"
      "cmovncq %[t3], %[t1]\n\t"
      "cmovncq %%rdx, %[t2]\n\t"
      : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [t4] "+&r"(t4), [lo] "=&r"(lo),
        [hi] "=&r"(hi)
      : [a] "r"(x.limb), [b] "r"(y.limb), "m"(*reinterpret_cast<const u64(*)[4]>(x.limb)),
        "m"(*reinterpret_cast<const u64(*)[4]>(y.limb)), [p0] "m"(kModulusLimbs[0]), [p1] "m"(kModulusLimbs[1]),
        [p2] "m"(kModulusLimbs[2]), [p3] "m"(kModulusLimbs[3]), [inv] "m"(kInvValue)
      : "rdx", "cc");
  out.limb[0] = t4; out.limb[1] = t0; out.limb[2] = t1; out.limb[3] = t2;
}
#else
[[gnu::always_inline]] inline void mul(const Fe& x, const Fe& y, Fe& out) noexcept { mul_c(x, y, out); }
#endif

// 512-bit values: products (and sums of a few products) before their
// Montgomery reduction. A row of the MDS matrix is accumulated here and
// reduced once (lazy reduction) instead of once per product.
struct Wide {
  u64 w[8];
};

// x * y, 512 bits (schoolbook).
[[gnu::always_inline]] inline void wide_mul_c(const Fe& x, const Fe& y, Wide& out) noexcept {
  u64 r[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    u64 carry = 0;
    for (int j = 0; j < 4; ++j) {
      const u128 t = (u128)x.limb[j] * y.limb[i] + r[i + j] + carry;  // < 2^128
      r[i + j] = (u64)t;
      carry = (u64)(t >> 64);
    }
    r[i + 4] = carry;
  }
  for (int i = 0; i < 8; ++i) out.w[i] = r[i];
}

// T / 2^256 mod p for T < p * 2^256, canonical: four rounds of
// T += m_i * p * 2^(64 i) with m_i clearing limb i; then T / 2^256 < 2p
// (T + m*p < 2 p 2^256 < 2^512, so nothing carries out of limb 7).
[[gnu::always_inline]] inline void reduce_wide_c(const Wide& in, Fe& out) noexcept {
  u64 t[8];
  for (int i = 0; i < 8; ++i) t[i] = in.w[i];
  constexpr u64 p[4] = {kP0, kP1, kP2, kP3};
  for (int i = 0; i < 4; ++i) {
    const u64 m = t[i] * kInv;
    u64 carry = 0;
    for (int j = 0; j < 4; ++j) {
      const u128 s = (u128)m * p[j] + t[i + j] + carry;
      t[i + j] = (u64)s;
      carry = (u64)(s >> 64);
    }
    for (int k = i + 4; k < 8; ++k) {
      const u128 s = (u128)t[k] + carry;
      t[k] = (u64)s;
      carry = (u64)(s >> 64);
    }
  }
  reduce_once(t[4], t[5], t[6], t[7]);
  out.limb[0] = t[4]; out.limb[1] = t[5]; out.limb[2] = t[6]; out.limb[3] = t[7];
}

#if defined(__x86_64__) && defined(__BMI2__) && defined(__ADX__) && !defined(ROTORTREE_FIELD_NO_ASM)
// The 512-bit product in assembly: row 0 with one carry chain, rows 1..3 with
// the two chains ADOX (low halves) and ADCX (high halves). Five registers
// hold the limbs a row still adds to (limb k in t[k % 5]); a finished low limb
// is stored at once, which keeps the register count within what clang allows.
[[gnu::always_inline]] inline void wide_mul(const Fe& x, const Fe& y, Wide& out) noexcept {
  u64 t0, t1, t2, t3, t4, lo, hi;
  asm("movq 0(%[b]), %%rdx\n\t"
      "mulxq 0(%[a]), %[t0], %[t1]\n\t"
      "mulxq 8(%[a]), %[lo], %[t2]\n\t"
      "addq %[lo], %[t1]\n\t"
      "mulxq 16(%[a]), %[lo], %[t3]\n\t"
      "adcq %[lo], %[t2]\n\t"
      "mulxq 24(%[a]), %[lo], %[t4]\n\t"
      "adcq %[lo], %[t3]\n\t"
      "adcq $0, %[t4]\n\t"
      "movq %[t0], %[w0]\n\t"
#define ROTORTREE_WIDE_ROW(OFF, A, B, C, D, E) \
  "movq " #OFF "(%[b]), %%rdx\n\t"             \
  "xorl %k[lo], %k[lo]\n\t"                    \
  "mulxq 0(%[a]), %[lo], %[hi]\n\t"            \
  "adoxq %[lo], %[" #A "]\n\t"                 \
  "adcxq %[hi], %[" #B "]\n\t"                 \
  "mulxq 8(%[a]), %[lo], %[hi]\n\t"            \
  "adoxq %[lo], %[" #B "]\n\t"                 \
  "adcxq %[hi], %[" #C "]\n\t"                 \
  "mulxq 16(%[a]), %[lo], %[hi]\n\t"           \
  "adoxq %[lo], %[" #C "]\n\t"                 \
  "adcxq %[hi], %[" #D "]\n\t"                 \
  "mulxq 24(%[a]), %[lo], %[" #E "]\n\t"       \
  "adoxq %[lo], %[" #D "]\n\t"                 \
  "movl $0, %k[lo]\n\t"                        \
  "adcxq %[lo], %[" #E "]\n\t"                 \
  "adoxq %[lo], %[" #E "]\n\t"
      ROTORTREE_WIDE_ROW(8, t1, t2, t3, t4, t0)
      "movq %[t1], %[w1]\n\t"
      ROTORTREE_WIDE_ROW(16, t2, t3, t4, t0, t1)
      "movq %[t2], %[w2]\n\t"
      ROTORTREE_WIDE_ROW(24, t3, t4, t0, t1, t2)
      "movq %[t3], %[w3]\n\t"
#undef ROTORTREE_WIDE_ROW
      : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [lo] "=&r"(lo),
        [hi] "=&r"(hi), [w0] "=m"(out.w[0]), [w1] "=m"(out.w[1]), [w2] "=m"(out.w[2]), [w3] "=m"(out.w[3])
      : [a] "r"(x.limb), [b] "r"(y.limb), "m"(*reinterpret_cast<const u64(*)[4]>(x.limb)),
        "m"(*reinterpret_cast<const u64(*)[4]>(y.limb))
      : "rdx", "cc");
  out.w[4] = t4; out.w[5] = t0; out.w[6] = t1; out.w[7] = t2;
}

// reduce_wide_c in assembly; the carries out of each round's top limb rise
// through the limbs above it on both chains.
[[gnu::always_inline]] inline void reduce_wide(const Wide& in, Fe& out) noexcept {
  u64 t0 = in.w[0], t1 = in.w[1], t2 = in.w[2], t3 = in.w[3], t4 = in.w[4], t5 = in.w[5], t6 = in.w[6],
      t7 = in.w[7], lo, hi;
  asm(
#define ROTORTREE_REDUCE_ROUND(A, B, C, D, E) \
  "movq %[" #A "], %%rdx\n\t"                 \
  "imulq %[inv], %%rdx\n\t"                   \
  "xorl %k[lo], %k[lo]\n\t"                   \
  "mulxq %[p0], %[lo], %[hi]\n\t"             \
  "adoxq %[lo], %[" #A "]\n\t"                \
  "adcxq %[hi], %[" #B "]\n\t"                \
  "mulxq %[p1], %[lo], %[hi]\n\t"             \
  "adoxq %[lo], %[" #B "]\n\t"                \
  "adcxq %[hi], %[" #C "]\n\t"                \
  "mulxq %[p2], %[lo], %[hi]\n\t"             \
  "adoxq %[lo], %[" #C "]\n\t"                \
  "adcxq %[hi], %[" #D "]\n\t"                \
  "mulxq %[p3], %[lo], %[hi]\n\t"             \
  "adoxq %[lo], %[" #D "]\n\t"                \
  "adcxq %[hi], %[" #E "]\n\t"                \
  "movl $0, %k[lo]\n\t"                       \
  "adoxq %[lo], %[" #E "]\n\t"
      ROTORTREE_REDUCE_ROUND(t0, t1, t2, t3, t4)
      "adcxq %[lo], %[t5]\n\t"
      "adoxq %[lo], %[t5]\n\t"
      "adcxq %[lo], %[t6]\n\t"
      "adoxq %[lo], %[t6]\n\t"
      "adcxq %[lo], %[t7]\n\t"
      "adoxq %[lo], %[t7]\n\t"
      ROTORTREE_REDUCE_ROUND(t1, t2, t3, t4, t5)
      "adcxq %[lo], %[t6]\n\t"
      "adoxq %[lo], %[t6]\n\t"
      "adcxq %[lo], %[t7]\n\t"
      "adoxq %[lo], %[t7]\n\t"
      ROTORTREE_REDUCE_ROUND(t2, t3, t4, t5, t6)
      "adcxq %[lo], %[t7]\n\t"
      "adoxq %[lo], %[t7]\n\t"
      ROTORTREE_REDUCE_ROUND(t3, t4, t5, t6, t7)
#undef ROTORTREE_REDUCE_ROUND
      // t4..t7 < 2p: subtract p unless that borrows (t0..t3 are free now).
      "movq %[t4], %[t0]\n\t"
      "subq %[p0], %[t0]\n\t"
      "movq %[t5], %[t1]\n\t"
      "sbbq %[p1], %[t1]\n\t"
      "movq %[t6], %[t2]\n\t"
      "sbbq %[p2], %[t2]\n\t"
      "movq %[t7], %[t3]\n\t"
      "sbbq %[p3], %[t3]\n\t"
      "cmovncq %[t0], %[t4]\n\t"
      "cmovncq %[t1], %[t5]\n\t"
      "cmovncq %[t2], %[t6]\n\t"
      "cmovncq %[t3], %[t7]\n\t"
      : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [t4] "+&r"(t4), [t5] "+&r"(t5),
        [t6] "+&r"(t6), [t7] "+&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi)
      : [p0] "m"(kModulusLimbs[0]), [p1] "m"(kModulusLimbs[1]), [p2] "m"(kModulusLimbs[2]),
        [p3] "m"(kModulusLimbs[3]), [inv] "m"(kInvValue)
      : "rdx", "cc");
  out.limb[0] = t4; out.limb[1] = t5; out.limb[2] = t6; out.limb[3] = t7;
}
#else
[[gnu::always_inline]] inline void wide_mul(const Fe& x, const Fe& y, Wide& out) noexcept { wide_mul_c(x, y, out); }
[[gnu::always_inline]] inline void reduce_wide(const Wide& in, Fe& out) noexcept { reduce_wide_c(in, out); }
#endif

[[gnu::always_inline]] inline void wide_add(Wide& acc, const Wide& x) noexcept {
  unsigned char c = add_carry(0, acc.w[0], x.w[0], acc.w[0]);
  for (int i = 1; i < 8; ++i) c = add_carry(c, acc.w[i], x.w[i], acc.w[i]);
}

// A dedicated squaring (10 MULX instead of 16) measured no faster inside the
// permutation: the carry chains, not the multiplier, bound this code.
[[gnu::always_inline]] inline void square(const Fe& a, Fe& out) noexcept { mul(a, a, out); }

[[gnu::always_inline]] inline void pow5(const Fe& a, Fe& out) noexcept {
  Fe a2, a4;
  square(a, a2);
  square(a2, a4);
  mul(a4, a, out);
}

// Up to kDotChunk products are summed unreduced and reduced once: with every
// factor < p the sum T is < 5p^2 < p 2^256, so reduce_wide's T/2^256 + p
// stays below (5p/2^256 + 1) p < 1.95p and one subtraction makes it canonical.
inline constexpr unsigned kDotChunk = 5;

[[gnu::always_inline]] inline void dot_chunk(const Fe* m, const Fe* s, unsigned n, Fe& out) noexcept {
  Wide acc, term;
  wide_mul(m[0], s[0], acc);
  for (unsigned j = 1; j < n; ++j) {
    wide_mul(m[j], s[j], term);
    wide_add(acc, term);
  }
  reduce_wide(acc, out);
}

// out = sum_j m[j] * s[j], j < n (n >= 1); out may alias neither array.
[[gnu::always_inline]] inline void dot(const Fe* m, const Fe* s, unsigned n, Fe& out) noexcept {
  dot_chunk(m, s, n < kDotChunk ? n : kDotChunk, out);
  for (unsigned j = kDotChunk; j < n; j += kDotChunk) {
    Fe part;
    dot_chunk(m + j, s + j, n - j < kDotChunk ? n - j : kDotChunk, part);
    add(out, part, out);
  }
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
    // s_0' = sparse[0..T) . s (the new s_0 and the old s_1..); s_i += v_i s_0.
    Fe first;
    add(state[0], tables.partial_constants[r], state[0]);
    pow5(state[0], state[0]);
    dot(sparse, state, T, first);
    for (unsigned i = 1; i < T; ++i) {
      Fe term;
      mul(sparse[T - 1 + i], state[0], term);
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
inline void dot_fn(const Fe* m, const Fe* s, unsigned n, Fe& out) noexcept { dot(m, s, n, out); }
