// The 8-lane IFMA field (src/poseidon/ifma*) against GMP: every operation on
// random and edge values in every lane, congruence and the documented bounds.
#include <gmp.h>
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "poseidon/ifma.hpp"

namespace {

namespace ifma = rotortree::detail::poseidon_ifma;
using ifma::kLanes;
using ifma::Words;

/// An mpz_t with RAII.
struct Mpz {
  mpz_t v;
  Mpz() { mpz_init(v); }
  explicit Mpz(const char* hex) { mpz_init_set_str(v, hex, 16); }
  explicit Mpz(const Words& w) {
    mpz_init(v);
    mpz_import(v, 4, -1, sizeof(std::uint64_t), 0, 0, w.data());
  }
  Mpz(const Mpz&) = delete;
  Mpz& operator=(const Mpz&) = delete;
  ~Mpz() { mpz_clear(v); }
  Words words() const {
    EXPECT_LE(mpz_sizeinbase(v, 2), 256u);
    Words w{};
    mpz_export(w.data(), nullptr, -1, sizeof(std::uint64_t), 0, 0, v);
    return w;
  }
};

const Mpz& modulus() {
  static const Mpz p("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001");
  return p;
}

Words times_p_plus(unsigned k, long delta) {  // k·p + delta
  Mpz x;
  mpz_mul_ui(x.v, modulus().v, k);
  if (delta >= 0) mpz_add_ui(x.v, x.v, static_cast<unsigned long>(delta));
  else mpz_sub_ui(x.v, x.v, static_cast<unsigned long>(-delta));
  return x.words();
}

/// Edge values below `limit_p`·p (and 2^256 - 1 when all 256 bits are allowed).
std::vector<Words> edges(unsigned limit_p, bool full_256) {
  std::vector<Words> e = {Words{0, 0, 0, 0}, Words{1, 0, 0, 0}, Words{2, 0, 0, 0},
                          times_p_plus(1, -1), times_p_plus(1, -2), Words{~0ull, 0, 0, 0},
                          Words{0, 0, 0, 1ull << 61}};  // 2^253, just below p
  for (unsigned k = 1; k < limit_p; ++k) {
    e.push_back(times_p_plus(k, 0));
    e.push_back(times_p_plus(k, 1));
    e.push_back(times_p_plus(k + 1, -1));
  }
  if (full_256) e.push_back(Words{~0ull, ~0ull, ~0ull, ~0ull});
  return e;
}

/// A uniform value below `bound`.
Words random_below(std::mt19937_64& rng, const Mpz& bound) {
  for (;;) {
    Words w{rng(), rng(), rng(), rng()};
    Mpz x(w);
    const int bits = static_cast<int>(mpz_sizeinbase(bound.v, 2));
    mpz_fdiv_r_2exp(x.v, x.v, static_cast<mp_bitcnt_t>(bits));
    if (mpz_cmp(x.v, bound.v) < 0) return x.words();
  }
}

/// Batches of 8 lanes: every edge value in every lane against random partners,
/// then random values; `fill(lanes_a, lanes_b)` gets the inputs.
struct Batches {
  std::vector<std::array<Words, kLanes>> a, b;
};

Batches make_batches(unsigned a_limit_p, unsigned b_limit_p, bool full_256, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Mpz a_bound, b_bound;
  mpz_mul_ui(a_bound.v, modulus().v, a_limit_p);
  mpz_mul_ui(b_bound.v, modulus().v, b_limit_p);
  if (full_256) {
    mpz_set_ui(a_bound.v, 1);
    mpz_mul_2exp(a_bound.v, a_bound.v, 256);
    mpz_set(b_bound.v, a_bound.v);
  }
  const auto ea = edges(a_limit_p, full_256), eb = edges(b_limit_p, full_256);
  Batches out;
  // Every pair of edge values, each pair in every lane.
  for (const auto& x : ea) {
    for (const auto& y : eb) {
      for (std::size_t lane = 0; lane < kLanes; ++lane) {
        std::array<Words, kLanes> la, lb;
        for (std::size_t i = 0; i < kLanes; ++i) {
          la[i] = random_below(rng, a_bound);
          lb[i] = random_below(rng, b_bound);
        }
        la[lane] = x;
        lb[lane] = y;
        out.a.push_back(la);
        out.b.push_back(lb);
      }
    }
  }
  for (int n = 0; n < 2000; ++n) {
    std::array<Words, kLanes> la, lb;
    for (std::size_t i = 0; i < kLanes; ++i) {
      la[i] = random_below(rng, a_bound);
      lb[i] = random_below(rng, b_bound);
    }
    out.a.push_back(la);
    out.b.push_back(lb);
  }
  return out;
}

/// 2^-260 mod p.
const Mpz& r_inverse() {
  static const Mpz* r_inv = [] {
    auto* r = new Mpz;  // never freed: lives for the whole test run
    mpz_set_ui(r->v, 1);
    mpz_mul_2exp(r->v, r->v, 260);
    mpz_invert(r->v, r->v, modulus().v);
    return r;
  }();
  return *r_inv;
}

class IfmaField : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ifma::available()) GTEST_SKIP() << "this CPU has no AVX-512 IFMA";
  }
};

/// out ≡ a·b·R^-1 (mod p) and out < a·b/R + p.
void check_mont_product(const Words& a, const Words& b, const Words& out) {
  Mpz x(a), y(b), got(out), want, bound;
  mpz_mul(want.v, x.v, y.v);
  mpz_fdiv_q_2exp(bound.v, want.v, 260);
  mpz_add(bound.v, bound.v, modulus().v);
  mpz_mul(want.v, want.v, r_inverse().v);
  mpz_mod(want.v, want.v, modulus().v);
  Mpz got_mod;
  mpz_mod(got_mod.v, got.v, modulus().v);
  ASSERT_EQ(mpz_cmp(got_mod.v, want.v), 0) << std::hex << "a=" << a[3] << ".. b=" << b[3];
  ASSERT_LE(mpz_cmp(got.v, bound.v), 0);
}

TEST_F(IfmaField, MulMatchesGmpUpTo2To256) {
  const auto batches = make_batches(4, 4, true, 1);
  for (std::size_t n = 0; n < batches.a.size(); ++n) {
    std::array<Words, kLanes> out;
    ifma::lanes_mul(batches.a[n].data(), batches.b[n].data(), out.data());
    for (std::size_t i = 0; i < kLanes; ++i) check_mont_product(batches.a[n][i], batches.b[n][i], out[i]);
  }
}

TEST_F(IfmaField, SquareMatchesGmp) {
  const auto batches = make_batches(4, 4, true, 2);
  for (std::size_t n = 0; n < batches.a.size(); ++n) {
    std::array<Words, kLanes> out;
    ifma::lanes_square(batches.a[n].data(), out.data());
    for (std::size_t i = 0; i < kLanes; ++i) check_mont_product(batches.a[n][i], batches.a[n][i], out[i]);
  }
}

TEST_F(IfmaField, AddIsExact) {
  const auto batches = make_batches(2, 2, false, 3);  // sums below 4p < 2^256
  for (std::size_t n = 0; n < batches.a.size(); ++n) {
    std::array<Words, kLanes> out;
    ifma::lanes_add(batches.a[n].data(), batches.b[n].data(), out.data());
    for (std::size_t i = 0; i < kLanes; ++i) {
      Mpz x(batches.a[n][i]), y(batches.b[n][i]), got(out[i]);
      mpz_add(x.v, x.v, y.v);
      ASSERT_EQ(mpz_cmp(got.v, x.v), 0);
    }
  }
}

TEST_F(IfmaField, SubAddsTwoP) {
  const auto batches = make_batches(2, 2, false, 4);  // b < 2p, a < 2p: out < 4p
  for (std::size_t n = 0; n < batches.a.size(); ++n) {
    std::array<Words, kLanes> out;
    ifma::lanes_sub(batches.a[n].data(), batches.b[n].data(), out.data());
    for (std::size_t i = 0; i < kLanes; ++i) {
      Mpz x(batches.a[n][i]), y(batches.b[n][i]), got(out[i]), two_p;
      mpz_mul_ui(two_p.v, modulus().v, 2);
      mpz_add(x.v, x.v, two_p.v);
      mpz_sub(x.v, x.v, y.v);
      ASSERT_EQ(mpz_cmp(got.v, x.v), 0);
    }
  }
}

TEST_F(IfmaField, MontgomeryRoundTrip) {
  const auto batches = make_batches(4, 1, true, 5);
  Mpz r;
  mpz_set_ui(r.v, 1);
  mpz_mul_2exp(r.v, r.v, 260);
  for (std::size_t n = 0; n < batches.a.size(); ++n) {
    std::array<Words, kLanes> mont, back;
    ifma::lanes_to_montgomery(batches.a[n].data(), mont.data());
    ifma::lanes_from_montgomery(mont.data(), back.data());
    for (std::size_t i = 0; i < kLanes; ++i) {
      Mpz x(batches.a[n][i]), m(mont[i]), got(back[i]), want;
      mpz_mul(want.v, x.v, r.v);
      mpz_mod(want.v, want.v, modulus().v);
      Mpz m_mod;
      mpz_mod(m_mod.v, m.v, modulus().v);
      ASSERT_EQ(mpz_cmp(m_mod.v, want.v), 0);  // a·R mod p, lazily
      Mpz two_p;
      mpz_mul_ui(two_p.v, modulus().v, 2);
      ASSERT_LT(mpz_cmp(m.v, two_p.v), 0);
      mpz_mod(want.v, x.v, modulus().v);
      ASSERT_EQ(mpz_cmp(got.v, want.v), 0);  // canonical on the way out
    }
  }
}

TEST_F(IfmaField, FromMontgomeryIsCanonical) {
  const auto batches = make_batches(4, 1, true, 6);
  for (std::size_t n = 0; n < batches.a.size(); ++n) {
    std::array<Words, kLanes> out;
    ifma::lanes_from_montgomery(batches.a[n].data(), out.data());
    for (std::size_t i = 0; i < kLanes; ++i) {
      Mpz x(batches.a[n][i]), got(out[i]), want;
      mpz_mul(want.v, x.v, r_inverse().v);
      mpz_mod(want.v, want.v, modulus().v);
      ASSERT_EQ(mpz_cmp(got.v, want.v), 0);
    }
  }
}

TEST_F(IfmaField, MulChainsAgreeWithSingleMuls) {
  std::mt19937_64 rng(7);
  std::array<Words, 4 * kLanes> acc;
  std::array<Words, kLanes> b;
  for (auto& w : acc) w = random_below(rng, modulus());
  for (auto& w : b) w = random_below(rng, modulus());
  auto want = acc;
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 4; ++c) ifma::lanes_mul(want.data() + c * kLanes, b.data(), want.data() + c * kLanes);
  }
  auto one = acc;
  ifma::lanes_mul_chain(one.data(), b.data(), 5);
  ifma::lanes_mul_chains4(acc.data(), b.data(), 5);
  for (std::size_t i = 0; i < kLanes; ++i) EXPECT_EQ(one[i], want[i]);
  EXPECT_EQ(acc, want);
}

}  // namespace
