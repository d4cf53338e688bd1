// Inclusion and consistency proofs, exhaustively on small trees, and the
// handling of malformed proofs.
#include <gtest/gtest.h>

#include <vector>

#include "rotortree/proof.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class C>
class ProofTest : public ::testing::Test {};
TYPED_TEST_SUITE(ProofTest, UnitConfigs, ConfigName);

TYPED_TEST(ProofTest, EveryInclusionProofOfSmallTreesIsTheModelPathAndVerifies) {
  constexpr std::size_t N = TypeParam::arity;
  const NaiveModel model = TypeParam::model();
  const std::vector<Node> leaves = random_leaves(N * N + N + 1, 80 + N);
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  for (std::size_t size = 1; size <= leaves.size(); ++size) {
    tree.insert(leaves[size - 1]);
    const std::span<const Node> prefix(leaves.data(), size);
    const auto levels = model.levels(prefix);
    const Node root = levels.back().front();
    Node wrong_root = root;
    wrong_root[size % 32] ^= 0x10;
    for (std::uint64_t i = 0; i < size; ++i) {
      const InclusionProof proof = tree.prove(i);
      ASSERT_EQ(proof.params, (ProofParams{unsigned(N), TypeParam::hasher::id, TypeParam::scheme}));
      ASSERT_EQ(proof.root, root);
      ASSERT_EQ(proof.leaf, leaves[i]);
      ASSERT_EQ(proof.leaf_index, i);
      ASSERT_EQ(proof.tree_size, size);
      ASSERT_TRUE(path_matches(proof.path, model.path_in(levels, i))) << "size " << size << " leaf " << i;
      ASSERT_TRUE(verify(proof)) << verify(proof).reason;
      ASSERT_TRUE(verify(proof, root));
      const Verdict verdict = verify(proof, wrong_root);
      ASSERT_FALSE(verdict) << "size " << size << " leaf " << i;
      ASSERT_FALSE(verdict.reason.empty());
    }
  }
}

TYPED_TEST(ProofTest, EveryConsistencyPairUpToFortyVerifiesAndUpdatesEveryInclusionProof) {
  constexpr std::size_t N = TypeParam::arity;
  constexpr std::size_t kMaxSize = 40;
  const NaiveModel model = TypeParam::model();
  const std::vector<Node> leaves = random_leaves(kMaxSize, 90 + N);
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  tree.insert_many(leaves);
  const auto full = tree.snapshot();
  std::vector<Node> model_roots{Node{}};  // model_roots[s] = root of the first s leaves
  for (std::size_t s = 1; s <= kMaxSize; ++s) model_roots.push_back(*model.root(std::span(leaves.data(), s)));

  for (std::size_t new_size = 1; new_size <= kMaxSize; ++new_size) {
    const auto newer = full.prefix(new_size);
    for (std::size_t old_size = 1; old_size <= new_size; ++old_size) {
      SCOPED_TRACE("old size " + std::to_string(old_size) + ", new size " + std::to_string(new_size));
      const ConsistencyProof proof = newer.consistency(old_size);
      ASSERT_EQ(proof.old_size, old_size);
      ASSERT_EQ(proof.new_size, new_size);
      ASSERT_EQ(proof.old_root, model_roots[old_size]);
      ASSERT_EQ(proof.new_root, model_roots[new_size]);
      ASSERT_TRUE(verify(proof)) << verify(proof).reason;
      ASSERT_TRUE(verify(proof, model_roots[old_size]));
      ASSERT_EQ(newer.consistency(old_size, model_roots[old_size]), proof);
      if (old_size > 1) {  // a different tree's root as the trusted old root
        ASSERT_FALSE(verify(proof, model_roots[old_size - 1]));
        ASSERT_ERRC(newer.consistency(old_size, model_roots[old_size - 1]), Errc::not_a_prefix);
      }
      const auto older = full.prefix(old_size);
      for (std::uint64_t i = 0; i < old_size; ++i) {
        const InclusionProof updated = update_inclusion_proof(older.prove(i), proof);
        ASSERT_EQ(updated, newer.prove(i)) << "leaf " << i;
      }
    }
  }
}

InclusionProof sample_inclusion_proof() {
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(random_leaves(37, 1));
  return tree.prove(22);  // 3 levels: positions 2, 1, 1
}

ConsistencyProof sample_consistency_proof() {
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(random_leaves(37, 1));
  return tree.snapshot().consistency(23);
}

TEST(MalformedProof, InclusionProofsThatCannotBeProofsThrowMalformedProof) {
  const InclusionProof good = sample_inclusion_proof();
  ASSERT_TRUE(verify(good));
  ASSERT_EQ(good.path.levels.size(), 3u);
  auto expect_malformed = [](InclusionProof p, const char* what) {
    EXPECT_ERRC(verify(p), Errc::malformed_proof) << what;
    EXPECT_ERRC(check_well_formed(p), Errc::malformed_proof) << what;
  };
  for (unsigned arity : {0u, 1u, 17u, 255u}) {
    InclusionProof p = good;
    p.params.arity = arity;
    expect_malformed(p, "arity out of 2..16");
  }
  {
    InclusionProof p = good;
    p.params.hash = static_cast<HashId>(0);
    expect_malformed(p, "unknown hash");
    p = good;
    p.params.node_hash = static_cast<NodeHash>(3);
    expect_malformed(p, "unknown scheme");
  }
  for (std::uint8_t position : {4, 5, 15, 255}) {
    InclusionProof p = good;
    p.path.levels[1].position = position;
    expect_malformed(p, "position not below the arity");
  }
  {
    InclusionProof p = good;
    p.path.levels[0].sibling_count = 4;  // more siblings than a group of 4 can have
    p.path.siblings.push_back(node_of(1));
    expect_malformed(p, "too many siblings");
    p = good;
    p.path.siblings.pop_back();
    expect_malformed(p, "sibling counts do not add up (one missing)");
    p = good;
    p.path.siblings.push_back(node_of(2));
    expect_malformed(p, "sibling counts do not add up (one extra)");
    p = good;
    p.path.levels = LevelList(kMaxLevels + 1, ProofLevel{0, 0});
    p.path.siblings.clear();
    expect_malformed(p, "more than kMaxLevels levels");
  }
}

TEST(MalformedProof, ConsistencyProofsThatCannotBeProofsThrowMalformedProof) {
  const ConsistencyProof good = sample_consistency_proof();
  ASSERT_TRUE(verify(good));
  auto expect_malformed = [](ConsistencyProof p, const char* what) {
    EXPECT_ERRC(verify(p), Errc::malformed_proof) << what;
    EXPECT_ERRC(check_well_formed(p), Errc::malformed_proof) << what;
  };
  ConsistencyProof p = good;
  p.params.arity = 1;
  expect_malformed(p, "arity 1");
  p = good;
  p.path.levels[0].position = 4;
  expect_malformed(p, "position 4 in arity 4");
  p = good;
  p.path.siblings.pop_back();
  expect_malformed(p, "sibling counts do not add up");
  p = good;
  p.params.hash = static_cast<HashId>(77);
  expect_malformed(p, "unknown hash");
}

TEST(ProofLimits, StructurallyFineButWrongProofsAreInvalidNotErrors) {
  const InclusionProof good = sample_inclusion_proof();
  InclusionProof p = good;
  p.leaf_index = p.tree_size;  // index past the end
  EXPECT_FALSE(verify(p));
  p = good;
  p.tree_size = 0;
  EXPECT_FALSE(verify(p));
  p = good;
  p.path.levels.pop_back();  // one level short of depth(37) = 3
  p.path.siblings.resize(p.path.siblings.size() - good.path.levels.back().sibling_count);
  EXPECT_FALSE(verify(p));

  const ConsistencyProof consistency = sample_consistency_proof();
  ConsistencyProof c = consistency;
  c.old_size = 0;
  EXPECT_FALSE(verify(c));
  c = consistency;
  c.old_size = c.new_size + 1;
  EXPECT_FALSE(verify(c));
}

TEST(UpdateInclusionProof, ProofsThatDoNotFitTogetherAreRejected) {
  LeanIMT<Blake3, 4> tree;
  const std::vector<Node> leaves = random_leaves(37, 1);
  tree.insert_many(leaves);
  const auto snapshot = tree.snapshot();
  const ConsistencyProof consistency = snapshot.consistency(23);
  const InclusionProof old_proof = snapshot.prefix(23).prove(5);
  ASSERT_EQ(update_inclusion_proof(old_proof, consistency), snapshot.prove(5));

  // An inclusion proof for another old size.
  EXPECT_ERRC(update_inclusion_proof(snapshot.prefix(22).prove(5), consistency),
              Errc::parameter_mismatch);
  // Another hash / scheme / arity.
  InclusionProof other = old_proof;
  other.params.hash = HashId::sha256;
  EXPECT_ERRC(update_inclusion_proof(other, consistency), Errc::parameter_mismatch);
  other = old_proof;
  other.params.node_hash = NodeHash::tagged;
  EXPECT_ERRC(update_inclusion_proof(other, consistency), Errc::parameter_mismatch);
  // Another old root.
  other = old_proof;
  other.root[0] ^= 1;
  EXPECT_ERRC(update_inclusion_proof(other, consistency), Errc::parameter_mismatch);
  // An invalid inclusion proof for the right old tree.
  other = old_proof;
  other.leaf[3] ^= 0x80;
  EXPECT_ERRC(update_inclusion_proof(other, consistency), Errc::malformed_proof);
  // An invalid consistency proof.
  ConsistencyProof bad = consistency;
  bad.new_root[31] ^= 1;
  EXPECT_ERRC(update_inclusion_proof(old_proof, bad), Errc::malformed_proof);
}

TEST(ConsistencyProofErrors, OldSizeOutsideTheTreeIsOutOfRange) {
  LeanIMT<Blake3, 3> tree;
  tree.insert_many(random_leaves(10, 2));
  EXPECT_ERRC(tree.snapshot().consistency(0), Errc::index_out_of_range);
  EXPECT_ERRC(tree.snapshot().consistency(11), Errc::index_out_of_range);
  EXPECT_TRUE(verify(tree.snapshot().consistency(10)));  // old == new is a valid pair
  EXPECT_ERRC(tree.prove(10), Errc::index_out_of_range);
}

}  // namespace
}  // namespace rotortree::test
