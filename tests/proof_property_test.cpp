// Properties of proofs on random trees: inclusion and consistency proofs are
// the model's paths and verify; an updated inclusion proof equals a fresh one;
// and no single alteration of a proof makes it verify.
#include <gtest/gtest.h>

#include <vector>

#include "property_support.hpp"
#include "rotortree/proof.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class C>
class ProofProperty : public ::testing::Test {};
TYPED_TEST_SUITE(ProofProperty, AllConfigs, ConfigName);

rc::Gen<std::size_t> proof_tree_sizes(std::size_t arity) {
  return rc::gen::weightedOneOf<std::size_t>({
      {5, rc::gen::inRange<std::size_t>(1, 3 * arity * arity + 2)},
      {4, rc::gen::inRange<std::size_t>(1, 1000)},
      {1, rc::gen::inRange<std::size_t>(1000, 5000)},
  });
}

enum class Outcome { valid, invalid, malformed };

/// Verify, telling an invalid proof from a malformed one. Any other exception
/// propagates and fails the property.
template <class Proof>
Outcome outcome_of(const Proof& proof) {
  try {
    return verify(proof) ? Outcome::valid : Outcome::invalid;
  } catch (const Error& e) {
    if (e.code() == Errc::malformed_proof) return Outcome::malformed;
    throw;
  }
}

std::vector<ModelShapeLevel> shape_of(const Path& path) {
  std::vector<ModelShapeLevel> shape;
  for (const ProofLevel& level : path.levels) shape.push_back({level.position, level.sibling_count});
  return shape;
}

/// Flip every byte of every hash in the proof (one at a time, with a random
/// non-zero mask): never valid.
template <class Proof>
void expect_every_byte_flip_rejected(const Proof& proof, std::vector<Node*> (*hashes)(Proof&)) {
  Proof altered = proof;
  for (Node* node : hashes(altered))
    for (std::size_t b = 0; b < node->size(); ++b) {
      const auto mask = *rc::gen::inRange<int>(1, 256);
      (*node)[b] ^= static_cast<std::uint8_t>(mask);
      RC_ASSERT(outcome_of(altered) != Outcome::valid);
      (*node)[b] ^= static_cast<std::uint8_t>(mask);
    }
  RC_ASSERT(outcome_of(altered) == Outcome::valid);  // restored
}

std::vector<Node*> inclusion_hashes(InclusionProof& p) {
  std::vector<Node*> nodes{&p.root, &p.leaf};
  for (Node& s : p.path.siblings) nodes.push_back(&s);
  return nodes;
}
std::vector<Node*> consistency_hashes(ConsistencyProof& p) {
  std::vector<Node*> nodes{&p.old_root, &p.new_root, &p.leaf};
  for (Node& s : p.path.siblings) nodes.push_back(&s);
  return nodes;
}

/// Changes of the path's structure: every other position and sibling count
/// of every level, a level removed or added, a sibling moved between levels.
/// Never valid.
template <class Proof>
void expect_every_path_change_rejected(const Proof& proof) {
  for (std::size_t l = 0; l < proof.path.levels.size(); ++l) {
    for (int value = 0; value < 256; ++value) {
      Proof altered = proof;
      if (value != proof.path.levels[l].position) {
        altered.path.levels[l].position = static_cast<std::uint8_t>(value);
        RC_ASSERT(outcome_of(altered) != Outcome::valid);
      }
      altered = proof;
      if (value != proof.path.levels[l].sibling_count) {
        altered.path.levels[l].sibling_count = static_cast<std::uint8_t>(value);
        RC_ASSERT(outcome_of(altered) != Outcome::valid);
      }
    }
    for (std::size_t m = 0; m < proof.path.levels.size(); ++m) {  // move one sibling from l to m
      if (m == l || proof.path.levels[l].sibling_count == 0) continue;
      Proof altered = proof;
      altered.path.levels[l].sibling_count--;
      altered.path.levels[m].sibling_count++;
      RC_ASSERT(outcome_of(altered) != Outcome::valid);
    }
  }
  if (!proof.path.levels.empty()) {
    Proof altered = proof;
    altered.path.siblings.resize(altered.path.siblings.size() - altered.path.levels.back().sibling_count);
    altered.path.levels.pop_back();
    RC_ASSERT(outcome_of(altered) != Outcome::valid);
  }
  Proof altered = proof;
  altered.path.levels.push_back({0, 1});
  altered.path.siblings.push_back(proof.path.siblings.empty() ? Node{} : proof.path.siblings[0]);
  RC_ASSERT(outcome_of(altered) != Outcome::valid);
}

/// Other parameters (arity, hash, scheme). A Lean IMT root does not commit to
/// the arity: a proof verifies under another arity exactly when the path has
/// the shape that arity gives the same leaf index and size, and then it is a
/// true statement (the same groups hashed the same way). Anything else: never valid.
template <class Proof>
void expect_other_params_rejected(const Proof& proof, std::uint64_t index, std::uint64_t size) {
  for (unsigned arity = 0; arity <= 17; ++arity) {
    if (arity == proof.params.arity) continue;
    Proof altered = proof;
    altered.params.arity = arity;
    const Outcome outcome = outcome_of(altered);
    if (outcome == Outcome::valid)
      RC_ASSERT(arity >= 2 && arity <= 16 && model_path_shape(arity, index, size) == shape_of(proof.path));
  }
  if (proof.path.levels.empty()) return;  // no hashing at all: the root is the leaf
  Proof altered = proof;
  altered.params.hash = proof.params.hash == HashId::blake3 ? HashId::sha256 : HashId::blake3;
  RC_ASSERT(outcome_of(altered) != Outcome::valid);
  altered = proof;
  altered.params.node_hash =
      proof.params.node_hash == NodeHash::lean_imt ? NodeHash::tagged : NodeHash::lean_imt;
  RC_ASSERT(outcome_of(altered) != Outcome::valid);
}

/// Sizes near, below and far above `size`, and random ones.
std::vector<std::uint64_t> other_sizes(std::uint64_t size, std::size_t arity) {
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t s = 0; s <= 2 * size + arity + 1; ++s)
    if (s != size && (s < 4 * arity + 4 || s + 4 * arity + 4 > size || s % 7 == 0)) sizes.push_back(s);
  for (int i = 0; i < 8; ++i) sizes.push_back(*rc::gen::arbitrary<std::uint64_t>());
  sizes.push_back(UINT64_MAX);
  std::erase(sizes, size);
  return sizes;
}

TYPED_TEST(ProofProperty, InclusionProofsAreModelPathsVerifyAndResistEveryAlteration) {
  using Config = TypeParam;
  check_property("inclusion proofs", 0.5 * hash_case_scale<typename Config::hasher>(), [] {
    constexpr std::size_t N = Config::arity;
    const NaiveModel model = Config::model();
    const std::size_t size = *proof_tree_sizes(N);
    const std::vector<Node> leaves = random_leaves(size, *rc::gen::arbitrary<std::uint64_t>());
    typename Config::tree tree(Config::params(), Config::options(*rc::gen::inRange<std::size_t>(1, 3), 4));
    tree.insert_many(leaves);
    const auto levels = model.levels(leaves);
    const Node root = levels.back().front();

    std::vector<std::uint64_t> indices{0, size - 1};
    for (int i = 0; i < 6; ++i) indices.push_back(*rc::gen::inRange<std::uint64_t>(0, size));
    for (std::uint64_t index : indices) {
      const InclusionProof proof = tree.prove(index);
      RC_ASSERT_SUCCESS(path_matches(proof.path, model.path_in(levels, index)));
      RC_ASSERT(proof.root == root);
      RC_ASSERT(proof.leaf == leaves[index]);
      RC_ASSERT(verify(proof).valid);
      RC_ASSERT(verify(proof, root).valid);
      Node wrong = root;
      wrong[*rc::gen::inRange(0, 32)] ^= static_cast<std::uint8_t>(*rc::gen::inRange(1, 256));
      RC_ASSERT(!verify(proof, wrong).valid);
    }

    // Alter one proof in every way.
    const std::uint64_t index = *rc::gen::elementOf(indices);
    const InclusionProof proof = tree.prove(index);
    expect_every_byte_flip_rejected<InclusionProof>(proof, inclusion_hashes);
    expect_every_path_change_rejected(proof);
    expect_other_params_rejected(proof, index, size);
    for (std::uint64_t other : other_sizes(size, N)) {  // leaf_index: never valid
      if (other == index) continue;
      InclusionProof altered = proof;
      altered.leaf_index = other;
      RC_ASSERT(outcome_of(altered) != Outcome::valid);
    }
    // tree_size: a Lean IMT root does not commit to the size. Another size is
    // accepted only when it gives this leaf exactly the same path (same
    // groups, same hashes: the verifier cannot tell, and no verifier could).
    for (std::uint64_t other : other_sizes(size, N)) {
      InclusionProof altered = proof;
      altered.tree_size = other;
      if (outcome_of(altered) == Outcome::valid)
        RC_ASSERT(index < other && model_path_shape(N, index, other) == shape_of(proof.path));
    }
  });
}

TYPED_TEST(ProofProperty, ConsistencyProofsVerifyUpdateInclusionProofsAndResistEveryAlteration) {
  using Config = TypeParam;
  check_property("consistency proofs", 0.5 * hash_case_scale<typename Config::hasher>(), [] {
    constexpr std::size_t N = Config::arity;
    const NaiveModel model = Config::model();
    const std::size_t new_size = *proof_tree_sizes(N);
    const std::size_t old_size = *rc::gen::inRange<std::size_t>(1, new_size + 1);
    const std::vector<Node> leaves = random_leaves(new_size, *rc::gen::arbitrary<std::uint64_t>());
    typename Config::tree tree(Config::params(), Config::options(1));
    tree.insert_many(std::span(leaves.data(), old_size));
    const auto older = tree.snapshot();
    if (new_size > old_size) tree.insert_many(std::span(leaves.data() + old_size, new_size - old_size));
    const auto newer = tree.snapshot();

    const Node old_root = *model.root(std::span(leaves.data(), old_size));
    const Node new_root = *model.root(leaves);
    const ConsistencyProof proof = newer.consistency(old_size, old_root);
    RC_ASSERT(proof.old_root == old_root);
    RC_ASSERT(proof.new_root == new_root);
    RC_ASSERT(verify(proof).valid);
    RC_ASSERT(verify(proof, old_root).valid);
    Node wrong = old_root;
    wrong[*rc::gen::inRange(0, 32)] ^= 0x01;
    RC_ASSERT(!verify(proof, wrong).valid);

    std::vector<std::uint64_t> indices{0, old_size - 1};
    for (int i = 0; i < 6; ++i) indices.push_back(*rc::gen::inRange<std::uint64_t>(0, old_size));
    for (std::uint64_t index : indices) {
      const InclusionProof updated = update_inclusion_proof(older.prove(index), proof);
      RC_ASSERT(updated == newer.prove(index));
      RC_ASSERT(verify(updated, new_root).valid);
    }

    expect_every_byte_flip_rejected<ConsistencyProof>(proof, consistency_hashes);
    expect_every_path_change_rejected(proof);
    expect_other_params_rejected(proof, old_size - 1, new_size);
    for (std::uint64_t other : other_sizes(old_size, N)) {  // old_size: never valid
      ConsistencyProof altered = proof;
      altered.old_size = other;
      if (outcome_of(altered) == Outcome::valid)
        RC_FAIL("old_size " + std::to_string(old_size) + " -> " + std::to_string(other) +
                " accepted (new_size " + std::to_string(new_size) + ")");
    }
    // new_size: as tree_size of an inclusion proof, accepted only with the
    // very same path shape.
    for (std::uint64_t other : other_sizes(new_size, N)) {
      ConsistencyProof altered = proof;
      altered.new_size = other;
      if (outcome_of(altered) == Outcome::valid)
        RC_ASSERT(old_size <= other &&
                  model_path_shape(N, old_size - 1, other) == shape_of(proof.path));
    }
  });
}

}  // namespace
}  // namespace rotortree::test
