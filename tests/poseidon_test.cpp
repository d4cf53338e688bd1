// Poseidon over BN254: the field against GMP, the optimised permutation
// against a dense one built on GMP, poseidon-lite's outputs, the hasher's
// domain rules, and trees of every arity against a naive recomputation.
#include <gmpxx.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "poseidon/field.hpp"
#include "poseidon/params.hpp"
#include "poseidon/poseidon.hpp"
#include "rotortree/codec.hpp"
#include "rotortree/concurrent.hpp"
#include "rotortree/db.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

using bn254::Fe;
using poseidon::Limbs;

const mpz_class kP("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001", 16);

mpz_class to_mpz(const Limbs& v) {
  mpz_class r = 0;
  for (int i = 3; i >= 0; --i) r = (r << 64) + mpz_class(std::to_string(v[i]));
  return r;
}
Limbs to_limbs(mpz_class v) {
  Limbs r{};
  const mpz_class mask = (mpz_class(1) << 64) - 1;
  for (int i = 0; i < 4; ++i) {
    const mpz_class w = v & mask;
    r[i] = std::stoull(w.get_str());
    v >>= 64;
  }
  return r;
}
mpz_class fe_to_mpz(const Fe& a) { return to_mpz(bn254::from_montgomery(a)); }
Fe mpz_to_fe(const mpz_class& v) { return bn254::to_montgomery(to_limbs(v)); }
Node mpz_to_node(const mpz_class& v) {
  const std::string hex = v.get_str(16);
  const std::string padded = std::string(64 - hex.size(), '0') + hex;
  return *node_from_hex(padded);
}
mpz_class node_to_mpz(const Node& n) { return mpz_class(to_hex(n), 16); }

// Random and edge values below p.
std::vector<mpz_class> field_samples(std::size_t random_count) {
  std::vector<mpz_class> v = {0, 1, 2, kP - 1, kP - 2, (kP - 1) / 2, (kP + 1) / 2,
                              (mpz_class(1) << 253), (mpz_class(1) << 253) - 1, (mpz_class(1) << 64) - 1,
                              mpz_class(1) << 64, (mpz_class(1) << 192) + 5};
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(12);
  for (std::size_t i = 0; i < random_count; ++i) v.push_back(rng.get_z_range(kP));
  return v;
}

std::vector<const bn254::FieldOps*> all_ops() {
  std::vector<const bn254::FieldOps*> ops = {&bn254::portable_ops()};
  if (bn254::adx_ops()) ops.push_back(bn254::adx_ops());
  return ops;
}

TEST(Bn254Field, OperationsMatchGmp) {
  const auto samples = field_samples(120);
  for (const bn254::FieldOps* ops : all_ops()) {
    SCOPED_TRACE(ops->name);
    for (const mpz_class& a : samples) {
      const Fe fa = mpz_to_fe(a);
      ASSERT_EQ(fe_to_mpz(fa), a);
      Fe out;
      ops->square(fa, out);
      ASSERT_EQ(fe_to_mpz(out), mpz_class(a * a % kP));
      ops->pow5(fa, out);
      mpz_class a5;
      mpz_powm_ui(a5.get_mpz_t(), a.get_mpz_t(), 5, kP.get_mpz_t());
      ASSERT_EQ(fe_to_mpz(out), a5);
      for (const mpz_class& b : samples) {
        const Fe fb = mpz_to_fe(b);
        ops->add(fa, fb, out);
        ASSERT_EQ(fe_to_mpz(out), mpz_class((a + b) % kP)) << a << " + " << b;
        ops->sub(fa, fb, out);
        ASSERT_EQ(fe_to_mpz(out), mpz_class(((a - b) % kP + kP) % kP)) << a << " - " << b;
        ops->mul(fa, fb, out);
        ASSERT_EQ(fe_to_mpz(out), mpz_class(a * b % kP)) << a << " * " << b;
        // Outputs may alias inputs.
        Fe alias = fa;
        ops->mul(alias, fb, alias);
        ASSERT_EQ(alias, out);
      }
    }
  }
}

// The lazily reduced sum of products (one reduction per five products) for
// every row length the permutation uses, with every factor's limbs p-1 (the
// largest unreduced sum) and random factors.
TEST(Bn254Field, DotProductMatchesGmp) {
  const auto samples = field_samples(40);
  for (const bn254::FieldOps* ops : all_ops()) {
    SCOPED_TRACE(ops->name);
    for (unsigned n = 1; n <= poseidon::kMaxWidth; ++n) {
      for (std::size_t first = 0; first < samples.size(); first += 7) {
        Fe m[poseidon::kMaxWidth], s[poseidon::kMaxWidth];
        mpz_class expected = 0;
        for (unsigned j = 0; j < n; ++j) {
          // first == 0: the Montgomery limbs themselves are p-1.
          const Fe largest = bn254::Fe{{poseidon::kModulus[0] - 1, poseidon::kModulus[1], poseidon::kModulus[2],
                                        poseidon::kModulus[3]}};
          m[j] = first == 0 ? largest : mpz_to_fe(samples[(first + j) % samples.size()]);
          s[j] = first == 0 ? largest : mpz_to_fe(samples[(first + 3 * j + 1) % samples.size()]);
          expected += fe_to_mpz(m[j]) * fe_to_mpz(s[j]);
        }
        Fe out;
        ops->dot(m, s, n, out);
        ASSERT_EQ(to_mpz({out.limb[0], out.limb[1], out.limb[2], out.limb[3]}) < kP, true) << "n " << n;
        ASSERT_EQ(fe_to_mpz(out), mpz_class(expected % kP)) << "n " << n;
      }
    }
  }
}

TEST(Bn254Field, MontgomeryFormIsFullyReduced) {
  for (const mpz_class& a : field_samples(50)) {
    const Fe f = mpz_to_fe(a);
    EXPECT_LT(to_mpz({f.limb[0], f.limb[1], f.limb[2], f.limb[3]}), kP);
    EXPECT_EQ(to_mpz({f.limb[0], f.limb[1], f.limb[2], f.limb[3]}), mpz_class((a << 256) % kP));
  }
}

TEST(Bn254Field, BytesAreCanonicalBigEndian) {
  for (const mpz_class& a : field_samples(50)) {
    const Node n = mpz_to_node(a);
    Fe f;
    ASSERT_TRUE(bn254::is_canonical(n.data()));
    ASSERT_TRUE(bn254::from_bytes(n.data(), f));
    EXPECT_EQ(fe_to_mpz(f), a);
    Node back{};
    bn254::to_bytes(f, back.data());
    EXPECT_EQ(back, n);
  }
  // p, p+1, values near 2^254 and 2^256-1 are refused, never reduced.
  const mpz_class refused[] = {kP, kP + 1, kP + (mpz_class(1) << 64), mpz_class(1) << 254,
                               (mpz_class(1) << 254) - 1, (mpz_class(1) << 254) + 1, (mpz_class(1) << 255),
                               (mpz_class(1) << 256) - 1};
  for (const mpz_class& a : refused) {
    const Node n = mpz_to_node(a);
    Fe f{{7, 7, 7, 7}};
    EXPECT_FALSE(bn254::is_canonical(n.data())) << a;
    EXPECT_FALSE(bn254::from_bytes(n.data(), f)) << a;
    EXPECT_EQ(f, (Fe{{7, 7, 7, 7}}));  // untouched
    EXPECT_FALSE(Poseidon::is_field_element(n));
  }
  EXPECT_TRUE(Poseidon::is_field_element(mpz_to_node(kP - 1)));
}

// The textbook permutation on GMP, from the dense tables: add the round
// constants, x^5 on all (full rounds) or on element 0 (partial rounds), then
// out_i = sum_j M[i][j] s_j with the full matrix every round.
std::vector<mpz_class> dense_permutation(unsigned t, std::vector<mpz_class> s) {
  const poseidon::Tables& tables = poseidon::tables(t);
  const unsigned half = tables.full_rounds / 2, rounds = tables.full_rounds + tables.partial_rounds;
  for (unsigned r = 0; r < rounds; ++r) {
    for (unsigned i = 0; i < t; ++i) s[i] = (s[i] + to_mpz(tables.round_constants[r * t + i])) % kP;
    const bool full = r < half || r >= half + tables.partial_rounds;
    for (unsigned i = 0; i < (full ? t : 1); ++i)
      mpz_powm_ui(s[i].get_mpz_t(), s[i].get_mpz_t(), 5, kP.get_mpz_t());
    std::vector<mpz_class> next(t, 0);
    for (unsigned i = 0; i < t; ++i) {
      for (unsigned j = 0; j < t; ++j) next[i] += to_mpz(tables.mds[i * t + j]) * s[j];
      next[i] %= kP;
    }
    s = std::move(next);
  }
  return s;
}

mpz_class dense_hash(const std::vector<mpz_class>& inputs) {
  std::vector<mpz_class> state = {0};
  state.insert(state.end(), inputs.begin(), inputs.end());
  return dense_permutation(static_cast<unsigned>(state.size()), state)[0];
}

TEST(PoseidonPermutation, OptimisedEqualsDenseForEveryWidth) {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(34);
  for (unsigned t = poseidon::kMinWidth; t <= poseidon::kMaxWidth; ++t) {
    SCOPED_TRACE("width " + std::to_string(t));
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<mpz_class> state(t);
      for (auto& x : state) x = trial == 0 ? mpz_class(kP - 1) : rng.get_z_range(kP);
      const auto expected = dense_permutation(t, state);
      for (const bn254::FieldOps* ops : all_ops()) {
        SCOPED_TRACE(ops->name);
        Fe s[poseidon::kMaxWidth];
        for (unsigned i = 0; i < t; ++i) s[i] = mpz_to_fe(state[i]);
        ops->permute(bn254::mont_tables(t), s);
        for (unsigned i = 0; i < t; ++i) ASSERT_EQ(fe_to_mpz(s[i]), expected[i]) << "element " << i;
      }
      Limbs limbs[poseidon::kMaxWidth];
      for (unsigned i = 0; i < t; ++i) limbs[i] = to_limbs(state[i]);
      poseidon::permute(t, limbs);
      for (unsigned i = 0; i < t; ++i) ASSERT_EQ(to_mpz(limbs[i]), expected[i]);
    }
  }
}

// poseidon-lite 0.3: poseidonK([1, 2, ..., K]) for K = 1..16.
constexpr const char* kPoseidonLiteSequential[16] = {
    "29176100eaa962bdc1fe6c654d6a3c130e96a4d1168b33848b897dc502820133",
    "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a",
    "0e7732d89e6939c0ff03d5e58dab6302f3230e269dc5b968f725df34ab36d732",
    "299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465",
    "0dab9449e4a1398a15224c0b15a49d598b2174d305a316c918125f8feeb123c0",
    "2d1a03850084442813c8ebf094dea47538490a68b05f2239134a4cca2f6302e1",
    "1c2f3482dbb140c4ebb9ada49abdbc374a9a85fcfc6533ec2e9df45b4921c318",
    "2921ab9bd0140cbc98e40395c0fefb40337a4d54fbbecd9a4d43b3d8d0c4d8d1",
    "1e0b893aa2ad802275e749d260330b7675b22bb3aaa4461d204af32e60cd9078",
    "0816126a09c29ecfcc0628461dacfb9459816fc60d6738b78db9ad07206fdc21",
    "07e5b070aa2dba008f30a6b785b6c5ae2429e211f71cacdbdae0e07fc05b47a8",
    "058814945232937db248a01e7cc55b3d681cc08702c8168494e856c1ef7693b5",
    "0f918939632fadca6456a2fe6e65a124828d4c3920d379cc744e90a666887806",
    "1278779aaafc5ca58bf573151005830cdb4683fb26591c85a7464d4f0e527776",
    "094ae33b67a845998abb55e917642d4022d078d96f7c36ea11da4273ecf20f50",
    "16159a551cbb66108281a48099fff949ae08afd7f1f2ec06de2ffb96b919b765",
};

TEST(PoseidonHash, MatchesPoseidonLiteForOneToSixteenInputs) {
  for (unsigned k = 1; k <= 16; ++k) {
    std::vector<Node> inputs;
    std::vector<mpz_class> values;
    for (unsigned i = 1; i <= k; ++i) {
      inputs.push_back(mpz_to_node(i));
      values.push_back(i);
    }
    Node out;
    Poseidon::hash(inputs[0].data(), 32 * k, out.data());
    EXPECT_EQ(to_hex(out), kPoseidonLiteSequential[k - 1]) << "poseidon" << k;
    EXPECT_EQ(node_to_mpz(out), dense_hash(values)) << "poseidon" << k;
  }
}

TEST(PoseidonHash, HashManyEqualsHashAndRefusedInputsGetNoFieldElement) {
  for (unsigned k = 1; k <= 16; ++k) {
    constexpr std::size_t kCount = 21;
    std::vector<Node> messages = random_leaves(kCount * k, k);
    for (Node& m : messages) m[0] &= 0x1f;  // below 2^253 < p
    messages[5 * k][0] = 0xff;              // message 5 holds an element >= p
    std::vector<Node> many(kCount);
    Poseidon::hash_many(messages[0].data(), 32 * k, 32 * k, kCount, many[0].data());
    for (std::size_t i = 0; i < kCount; ++i) {
      Node one;
      Poseidon::hash(messages[i * k].data(), 32 * k, one.data());
      EXPECT_EQ(many[i], one) << "k " << k << " message " << i;
      EXPECT_EQ(Poseidon::is_field_element(one), i != 5);
    }
    EXPECT_EQ(many[5], node_of(0xff));
  }
  Node out;
  const Node two[2] = {node_of(0), node_of(0)};
  Poseidon::hash(two[0].data(), 33, out.data());  // not whole elements
  EXPECT_EQ(out, node_of(0xff));
}

TEST(PoseidonHash, NamesAndSchemes) {
  EXPECT_EQ(parse_hash_id("poseidon"), HashId::poseidon);
  EXPECT_EQ(to_string(HashId::poseidon), "poseidon");
  EXPECT_EQ(static_cast<int>(HashId::poseidon), 3);
  EXPECT_EQ(to_string(Errc::invalid_leaf), "invalid_leaf");
  Node out;
  const Node kids[2] = {mpz_to_node(1), mpz_to_node(2)};
  hash_group(HashId::poseidon, NodeHash::lean_imt, kids, 2, out);
  EXPECT_EQ(to_hex(out), kPoseidonLiteSequential[1]);
  EXPECT_ERRC(hash_group(HashId::poseidon, NodeHash::tagged, kids, 2, out), Errc::invalid_argument);
  EXPECT_ERRC((LeanIMT<Poseidon, 2>(tree_params<Poseidon, 2>(NodeHash::tagged))), Errc::invalid_argument);
}

// Field-element leaves below p (random, and edge values).
std::vector<Node> field_leaves(std::size_t count, std::uint64_t seed) {
  std::vector<Node> leaves = random_leaves(count, seed);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    leaves[i][0] &= 0x2f;  // below 0x30 << 248 < p
    if (i % 7 == 3) leaves[i] = mpz_to_node(kP - 1 - i);
  }
  return leaves;
}

// The root by SPEC §1 with the dense GMP Poseidon: every level rebuilt from
// the whole level below.
Node naive_root(const std::vector<Node>& leaves, unsigned arity) {
  std::vector<mpz_class> level;
  for (const Node& leaf : leaves) level.push_back(node_to_mpz(leaf));
  while (level.size() > 1) {
    std::vector<mpz_class> up;
    for (std::size_t start = 0; start < level.size(); start += arity) {
      const std::size_t end = std::min(level.size(), start + arity);
      if (end - start == 1)
        up.push_back(level[start]);
      else
        up.push_back(dense_hash({level.begin() + start, level.begin() + end}));
    }
    level = std::move(up);
  }
  return mpz_to_node(level[0]);
}

template <std::size_t N>
void check_tree_kind(std::size_t threads) {
  std::mt19937_64 rng(N * 100 + threads);
  for (int trial = 0; trial < 3; ++trial) {
    const std::size_t size = 1 + rng() % (N == 2 ? 70 : 40 * N);
    const std::vector<Node> leaves = field_leaves(size, rng());
    const Node expected = naive_root(leaves, N);
    TreeOptions options;
    options.threads = threads;
    options.parallel_threshold = threads > 1 ? 2 : 0;
    // Batches of random sizes, then one by one.
    LeanIMT<Poseidon, N> batched(options), single(options);
    ConcurrentLeanIMT<Poseidon, N> concurrent(options);
    for (std::size_t done = 0; done < size;) {
      const std::size_t n = std::min<std::size_t>(size - done, 1 + rng() % 50);
      batched.insert_many(std::span<const Node>(leaves).subspan(done, n));
      concurrent.insert_many(std::span<const Node>(leaves).subspan(done, n));
      done += n;
    }
    for (const Node& leaf : leaves) single.insert(leaf);
    ASSERT_EQ(*batched.root(), expected) << "arity " << N << " size " << size;
    ASSERT_EQ(*single.root(), expected);
    ASSERT_EQ(*concurrent.root(), expected);
    // Proofs of a few leaves verify, also through the JSON codec.
    const auto snapshot = batched.snapshot();
    for (int p = 0; p < 4; ++p) {
      const std::uint64_t index = rng() % size;
      const InclusionProof proof = snapshot.prove(index);
      ASSERT_TRUE(verify(proof)) << verify(proof).reason;
      ASSERT_TRUE(verify(inclusion_from_json(to_json(proof))));
      ASSERT_TRUE(verify(inclusion_from_binary(to_binary(proof))));
    }
  }
}

TEST(PoseidonTree, RootsEqualNaiveRecomputationForEveryArity) {
  check_tree_kind<2>(1);
  check_tree_kind<3>(1);
  check_tree_kind<4>(1);
  check_tree_kind<8>(1);
  check_tree_kind<16>(1);
  check_tree_kind<2>(2);
  check_tree_kind<4>(2);
}

TEST(PoseidonTree, LeafAtOrAbovePIsRefusedTreeUnchanged) {
  LeanIMT<Poseidon, 2> tree(TreeOptions{.threads = 1});
  std::vector<Node> leaves = field_leaves(10, 1);
  tree.insert_many(leaves);
  const Node root = *tree.root();
  for (const mpz_class& bad : std::vector<mpz_class>{kP, kP + 1, (mpz_class(1) << 256) - 1}) {
    std::vector<Node> batch = field_leaves(9, 2);
    batch[6] = mpz_to_node(bad);
    EXPECT_ERRC(tree.insert_many(batch), Errc::invalid_leaf);
    EXPECT_ERRC(tree.insert(mpz_to_node(bad)), Errc::invalid_leaf);
    EXPECT_EQ(tree.size(), 10u);
    EXPECT_EQ(*tree.root(), root);
  }
  ConcurrentLeanIMT<Poseidon, 4> concurrent;
  EXPECT_ERRC(concurrent.insert(mpz_to_node(kP)), Errc::invalid_leaf);
  EXPECT_EQ(concurrent.size(), 0u);
  // p - 1 is a field element.
  EXPECT_NO_THROW(tree.insert(mpz_to_node(kP - 1)));
}

TEST(PoseidonProof, ValuesAtOrAbovePAreMalformed) {
  LeanIMT<Poseidon, 4> tree(TreeOptions{.threads = 1});
  tree.insert_many(field_leaves(37, 3));
  const InclusionProof good = tree.prove(9);
  ASSERT_TRUE(verify(good));
  std::mt19937_64 rng(5);
  // Every value of the proof, replaced by random non-canonical encodings.
  const std::size_t values = 2 + good.path.siblings.size();
  for (std::size_t v = 0; v < values; ++v) {
    for (int trial = 0; trial < 4; ++trial) {
      mpz_class bad = kP + mpz_class(std::to_string(rng() % 1000));
      if (trial == 3) bad = (mpz_class(1) << 256) - 1 - mpz_class(std::to_string(rng() % 1000));
      InclusionProof proof = good;
      Node& target = v == 0 ? proof.root : v == 1 ? proof.leaf : proof.path.siblings[v - 2];
      target = mpz_to_node(bad);
      EXPECT_ERRC(verify(proof), Errc::malformed_proof);
      EXPECT_ERRC(to_binary(proof), Errc::malformed_proof);
      // Through the decoders: patch the hex in the JSON and the bytes in the binary form.
      std::string json = to_json(good);
      const std::string old_hex = to_hex(v == 0 ? good.root : v == 1 ? good.leaf : good.path.siblings[v - 2]);
      json.replace(json.find(old_hex), 64, to_hex(target));
      EXPECT_ERRC(inclusion_from_json(json), Errc::malformed_proof);
      std::vector<std::uint8_t> binary = to_binary(good);
      const auto at = std::search(binary.begin(), binary.end(), target.begin(), target.end());
      EXPECT_EQ(at, binary.end());
      const Node& old_value = v == 0 ? good.root : v == 1 ? good.leaf : good.path.siblings[v - 2];
      const auto pos = std::search(binary.begin(), binary.end(), old_value.begin(), old_value.end());
      ASSERT_NE(pos, binary.end());
      std::copy(target.begin(), target.end(), pos);
      EXPECT_ERRC(inclusion_from_binary(binary), Errc::malformed_proof);
    }
  }
  InclusionProof tagged = good;
  tagged.params.node_hash = NodeHash::tagged;
  EXPECT_ERRC(verify(tagged), Errc::malformed_proof);
}

// The checked-in tables are what the generator produces.
TEST(PoseidonParams, GeneratorReproducesTheTables) {
  if (std::system("python3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not found";
  const std::string command = std::string("python3 ") + ROTORTREE_SOURCE_DIR + "/tools/poseidon_params.py --check " +
                              ROTORTREE_SOURCE_DIR + "/src/poseidon/params.inc";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace rotortree::test

// The database: hash id stored, a leaf >= p refused before logging.
namespace rotortree::test {
namespace {

std::uint64_t directory_bytes(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

TEST(PoseidonDb, RefusesLeavesAtOrAbovePBeforeLoggingAndKeepsItsHash) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("rotortree-poseidon-db-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::vector<Node> leaves = field_leaves(100, 9);
  DbConfig config;
  config.checkpoint = checkpoint::Manual{};
  {
    RotorTree<Poseidon, 2> db(dir.string(), config);
    db.insert_many_durable(std::span<const Node>(leaves).first(60));
    db.flush();
    const std::uint64_t bytes = directory_bytes(dir);
    std::vector<Node> batch(leaves.begin() + 60, leaves.end());
    batch[17] = mpz_to_node(kP);
    EXPECT_ERRC(db.insert_many(batch), Errc::invalid_leaf);
    EXPECT_ERRC(db.insert(mpz_to_node(kP + 5)), Errc::invalid_leaf);
    db.flush();
    EXPECT_EQ(db.size(), 60u);
    EXPECT_EQ(directory_bytes(dir), bytes);  // nothing logged
    db.insert_many_durable(std::span<const Node>(leaves).subspan(60));
  }
  {
    RotorTree<Poseidon, 2> db(dir.string(), config);  // recovery replays the log
    EXPECT_EQ(db.size(), 100u);
    EXPECT_EQ(*db.root(), naive_root(leaves, 2));
  }
  EXPECT_ERRC((RotorTree<Blake3, 2>(dir.string(), config)), Errc::parameter_mismatch);
  fs::remove_all(dir);
  EXPECT_ERRC((RotorTree<Poseidon, 2>(dir.string(), tree_params<Poseidon, 2>(NodeHash::tagged), config)),
              Errc::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "meta"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rotortree::test
