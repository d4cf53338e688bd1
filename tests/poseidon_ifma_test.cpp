// The 8-lane IFMA field (src/poseidon/ifma*) against GMP: every operation on
// random and edge values in every lane, congruence and the documented bounds.
#include <gmp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <string>
#include <random>
#include <vector>

#include "poseidon/ifma.hpp"
#include "poseidon/params.hpp"
#include "poseidon/poseidon.hpp"

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

// ---- Poseidon on 8 lanes ----------------------------------------------------

/// The textbook (dense) permutation on GMP: the independent model.
std::vector<Words> dense_model(unsigned width, const std::vector<Words>& input) {
  const rotortree::poseidon::Tables& t = rotortree::poseidon::tables(width);
  std::vector<Mpz> s(width);
  for (unsigned i = 0; i < width; ++i) mpz_import(s[i].v, 4, -1, 8, 0, 0, input[i].data());
  const unsigned rounds = t.full_rounds + t.partial_rounds;
  Mpz acc, term;
  for (unsigned r = 0; r < rounds; ++r) {
    for (unsigned i = 0; i < width; ++i) {
      Mpz c(t.round_constants[r * width + i]);
      mpz_add(s[i].v, s[i].v, c.v);
      mpz_mod(s[i].v, s[i].v, modulus().v);
    }
    const bool full = r < t.full_rounds / 2 || r >= t.full_rounds / 2 + t.partial_rounds;
    for (unsigned i = 0; i < (full ? width : 1u); ++i) mpz_powm_ui(s[i].v, s[i].v, 5, modulus().v);
    std::vector<Mpz> next(width);
    for (unsigned i = 0; i < width; ++i) {
      mpz_set_ui(acc.v, 0);
      for (unsigned j = 0; j < width; ++j) {
        Mpz m(t.mds[i * width + j]);
        mpz_mul(term.v, m.v, s[j].v);
        mpz_add(acc.v, acc.v, term.v);
      }
      mpz_mod(next[i].v, acc.v, modulus().v);
    }
    for (unsigned i = 0; i < width; ++i) mpz_set(s[i].v, next[i].v);
  }
  std::vector<Words> out;
  for (auto& x : s) out.push_back(x.words());
  return out;
}

/// Lane-major states of 8 lanes: lane 0 all zero, lane 1 all p-1, lane 2 the
/// counting input 0,1,2,..., the rest random below p.
std::vector<Words> lane_states(unsigned width, std::mt19937_64& rng) {
  std::vector<Words> state(width * kLanes);
  for (unsigned i = 0; i < width; ++i) {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      Words& w = state[i * kLanes + lane];
      if (lane == 0) w = Words{0, 0, 0, 0};
      else if (lane == 1) w = times_p_plus(1, -1);
      else if (lane == 2) w = Words{i, 0, 0, 0};
      else w = random_below(rng, modulus());
    }
  }
  return state;
}

class IfmaPoseidon : public IfmaField {};

TEST_F(IfmaPoseidon, PermutationMatchesDenseGmpModelEveryWidth) {
  std::mt19937_64 rng(11);
  for (unsigned width = 2; width <= 17; ++width) {
    auto state = lane_states(width, rng);
    const auto input = state;
    ifma::permute(width, state.data());
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      std::vector<Words> one(width);
      for (unsigned i = 0; i < width; ++i) one[i] = input[i * kLanes + lane];
      const auto want = dense_model(width, one);
      for (unsigned i = 0; i < width; ++i) {
        ASSERT_EQ(state[i * kLanes + lane], want[i]) << "width " << width << " lane " << lane << " element " << i;
      }
    }
  }
}

TEST_F(IfmaPoseidon, PermutationMatchesScalarPathEveryWidth) {
  std::mt19937_64 rng(12);
  for (unsigned width = 2; width <= 17; ++width) {
    for (int round = 0; round < 4; ++round) {
      auto state = lane_states(width, rng);
      const auto input = state;
      ifma::permute(width, state.data());
      for (std::size_t lane = 0; lane < kLanes; ++lane) {
        std::vector<Words> one(width);
        for (unsigned i = 0; i < width; ++i) one[i] = input[i * kLanes + lane];
        rotortree::poseidon::permute(width, one.data());
        for (unsigned i = 0; i < width; ++i) ASSERT_EQ(state[i * kLanes + lane], one[i]) << width;
      }
    }
  }
}

/// Big-endian bytes of a small integer.
std::array<std::uint8_t, 32> be_small(std::uint64_t x) {
  std::array<std::uint8_t, 32> b{};
  for (int i = 0; i < 8; ++i) b[31 - i] = static_cast<std::uint8_t>(x >> (8 * i));
  return b;
}

std::string hex(const std::uint8_t* b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

TEST_F(IfmaPoseidon, HashBatchGivesPoseidonLiteDigests) {
  // poseidon-lite: poseidon2([1, 2]) and poseidon1([1]) (circomlib's test vectors).
  std::vector<std::uint8_t> pairs, singles;
  for (std::size_t i = 0; i < kLanes; ++i) {
    const auto a = be_small(1), b = be_small(2);
    pairs.insert(pairs.end(), a.begin(), a.end());
    pairs.insert(pairs.end(), b.begin(), b.end());
    singles.insert(singles.end(), a.begin(), a.end());
  }
  std::vector<std::uint8_t> out(32 * kLanes);
  ASSERT_EQ(ifma::hash_batch(2, pairs.data(), 64, kLanes, out.data()), kLanes);
  for (std::size_t i = 0; i < kLanes; ++i) {
    EXPECT_EQ(hex(out.data() + 32 * i), "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a");
  }
  ASSERT_EQ(ifma::hash_batch(1, singles.data(), 32, kLanes, out.data()), kLanes);
  for (std::size_t i = 0; i < kLanes; ++i) {
    EXPECT_EQ(hex(out.data() + 32 * i), "29176100eaa962bdc1fe6c654d6a3c130e96a4d1168b33848b897dc502820133");
  }
}

std::array<std::uint8_t, 32> from_hex(const std::string& h) {
  std::array<std::uint8_t, 32> b{};
  for (std::size_t i = 0; i < 32; ++i) b[i] = static_cast<std::uint8_t>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
  return b;
}

// poseidon-lite's poseidonK vectors (tests/fixtures/poseidon-lite.txt, the
// poseidon helper's fixture): each vector of each K in every lane position,
// through the batch kernel.
TEST_F(IfmaPoseidon, HashBatchGivesPoseidonLiteFixtureDigests) {
  std::ifstream file(std::string(ROTORTREE_TEST_FIXTURES_DIR) + "/poseidon-lite.txt");
  ASSERT_TRUE(file) << "missing tests/fixtures/poseidon-lite.txt";
  std::vector<std::vector<std::string>> by_k(17);  // by_k[k]: "IN_1..IN_K OUT" lines
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    unsigned k = 0;
    fields >> k;
    ASSERT_TRUE(k >= 1 && k <= 16) << line;
    by_k[k].push_back(line.substr(line.find(' ') + 1));
  }
  std::size_t checked = 0;
  for (unsigned k = 1; k <= 16; ++k) {
    const auto& vectors = by_k[k];
    ASSERT_FALSE(vectors.empty()) << "no vectors for k = " << k;
    // Group g, lane l holds vector (g + l) % n: every vector in every lane.
    const std::size_t count = kLanes * vectors.size();
    std::vector<std::uint8_t> data(32 * k * count), out(32 * count);
    std::vector<std::string> want(count);
    for (std::size_t m = 0; m < count; ++m) {
      std::istringstream fields(vectors[(m / kLanes + m % kLanes) % vectors.size()]);
      std::string value;
      for (unsigned e = 0; e < k; ++e) {
        fields >> value;
        const auto b = from_hex(value);
        std::copy(b.begin(), b.end(), data.begin() + 32 * (k * m + e));
      }
      fields >> want[m];
    }
    ASSERT_EQ(ifma::hash_batch(k, data.data(), 32 * k, count, out.data()), count);
    for (std::size_t m = 0; m < count; ++m, ++checked) ASSERT_EQ(hex(out.data() + 32 * m), want[m]) << "k " << k;
  }
  EXPECT_GT(checked, 1000u);
}

TEST_F(IfmaPoseidon, HashBatchMatchesScalarHashEveryArity) {
  std::mt19937_64 rng(13);
  const auto p_bytes = [] {
    std::array<std::uint8_t, 32> b{};
    const Words p = times_p_plus(1, 0);
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 8; ++j) b[31 - 8 * i - j] = static_cast<std::uint8_t>(p[i] >> (8 * j));
    }
    return b;
  }();
  for (unsigned k = 1; k <= 16; ++k) {
    for (std::size_t count : {0, 2, 3, 7, 8, 10, 21}) {
      const std::size_t stride = 32 * k + (k % 3) * 32;  // messages with gaps too
      std::vector<std::uint8_t> data(stride * count + 32);
      for (std::size_t m = 0; m < count; ++m) {
        for (unsigned e = 0; e < k; ++e) {
          const Words w = random_below(rng, modulus());
          for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 8; ++j) {
              data[m * stride + 32 * e + 31 - 8 * i - j] = static_cast<std::uint8_t>(w[i] >> (8 * j));
            }
          }
        }
      }
      if (count > 3) std::copy(p_bytes.begin(), p_bytes.end(), data.begin() + 3 * stride + 32 * (k - 1));
      std::vector<std::uint8_t> got(32 * count + 1, 0xab), want(32 * count);
      const std::size_t done = ifma::hash_batch(k, data.data(), stride, count, got.data());
      ASSERT_EQ(done, count % kLanes >= ifma::kMinPaddedGroup ? count : count - count % kLanes);
      for (std::size_t m = 0; m < done; ++m) rotortree::poseidon::hash(k, data.data() + m * stride, want.data() + 32 * m);
      EXPECT_TRUE(std::equal(got.begin(), got.begin() + 32 * done, want.begin())) << "k " << k << " count " << count;
      EXPECT_EQ(got[32 * done], 0xab);  // nothing written past the batch's share
      if (done > 3) {
        EXPECT_EQ(hex(got.data() + 96), std::string(64, 'f'));  // the element >= p
      }
    }
  }
}

TEST_F(IfmaPoseidon, HashBatchRefusesArityOutOfRange) {
  std::vector<std::uint8_t> data(32 * 17 * kLanes), out(32 * kLanes);
  EXPECT_EQ(ifma::hash_batch(0, data.data(), 32, kLanes, out.data()), 0u);
  EXPECT_EQ(ifma::hash_batch(17, data.data(), 32 * 17, kLanes, out.data()), 0u);
}

TEST(IfmaDispatch, KernelOnlyWhereTheCpuHasIfma) {
  EXPECT_EQ(ifma::batch_kernel() != nullptr, ifma::available());
  EXPECT_EQ(rotortree::poseidon::kernel() == "ifma", ifma::available());
}

// hash_many (the batch kernel for whole groups of 8, the scalar path for the
// rest) equals message-by-message hashing for every remainder; runs on any CPU.
TEST(IfmaDispatch, HashManyEqualsOneByOne) {
  std::mt19937_64 rng(14);
  for (unsigned k : {1u, 2u, 3u, 4u, 8u, 16u}) {
    for (std::size_t count = 0; count <= 19; ++count) {
      std::vector<std::uint8_t> data(32 * k * count);
      for (std::size_t e = 0; e < k * count; ++e) {
        for (int i = 0; i < 32; ++i) data[32 * e + i] = static_cast<std::uint8_t>(rng());
        data[32 * e] &= 0x1f;  // below 2^253 < p
      }
      std::vector<std::uint8_t> got(32 * count), want(32 * count);
      rotortree::poseidon::hash_many(k, data.data(), 32 * k, count, got.data());
      for (std::size_t m = 0; m < count; ++m) rotortree::poseidon::hash(k, data.data() + 32 * k * m, want.data() + 32 * m);
      ASSERT_EQ(got, want) << "k " << k << " count " << count;
    }
  }
}

}  // namespace
