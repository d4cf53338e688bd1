// LeanIMT against the naive model: sizes, depths, every node, roots, errors.
#include <gtest/gtest.h>

#include <vector>

#include "rotortree/any_tree.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class C>
class TreeTest : public ::testing::Test {};
TYPED_TEST_SUITE(TreeTest, UnitConfigs, ConfigName);

/// Every node of every level of `tree` equals the model's; nodes just past
/// each level's end and levels above the root are out of range.
template <class Tree>
::testing::AssertionResult tree_equals_model(const Tree& tree, const NaiveModel& model,
                                             const std::vector<Node>& leaves) {
  const auto levels = model.levels(leaves);
  if (tree.size() != leaves.size())
    return ::testing::AssertionFailure() << "size " << tree.size() << ", expected " << leaves.size();
  if (tree.root() != model.root(leaves))
    return ::testing::AssertionFailure() << "root differs at size " << leaves.size();
  if (leaves.empty()) return ::testing::AssertionSuccess();
  if (tree.depth() != levels.size() - 1)
    return ::testing::AssertionFailure() << "depth " << tree.depth() << ", model "
                                         << levels.size() - 1;
  for (unsigned l = 0; l < levels.size(); ++l) {
    for (std::uint64_t i = 0; i < levels[l].size(); ++i)
      if (tree.node(l, i) != levels[l][i])
        return ::testing::AssertionFailure() << "node (" << l << ", " << i << ") differs at size "
                                             << leaves.size();
    if (!throws_errc([&] { (void)tree.node(l, levels[l].size()); }, Errc::index_out_of_range))
      return ::testing::AssertionFailure() << "node past the end of level " << l << " accepted";
  }
  if (!throws_errc([&] { (void)tree.node(static_cast<unsigned>(levels.size()), 0); },
                   Errc::index_out_of_range))
    return ::testing::AssertionFailure() << "a level above the root accepted";
  return ::testing::AssertionSuccess();
}

TYPED_TEST(TreeTest, EmptyTreeHasNoRootNoNodesAndNoProofs) {
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_EQ(tree.depth(), 0u);
  EXPECT_FALSE(tree.root().has_value());
  EXPECT_ERRC(tree.node(0, 0), Errc::index_out_of_range);
  const auto snapshot = tree.snapshot();
  EXPECT_EQ(snapshot.size(), 0u);
  EXPECT_FALSE(snapshot.root().has_value());
  EXPECT_ERRC(snapshot.node(0, 0), Errc::index_out_of_range);
  EXPECT_ERRC(snapshot.prove(0), Errc::index_out_of_range);
  EXPECT_ERRC(snapshot.consistency(1), Errc::index_out_of_range);
  EXPECT_ERRC(snapshot.prefix(1), Errc::index_out_of_range);
}

TYPED_TEST(TreeTest, SingleLeafIsTheRoot) {
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  const Node leaf = random_leaves(1, 11)[0];
  EXPECT_EQ(tree.insert(leaf), leaf);
  EXPECT_EQ(tree.root(), leaf);
  EXPECT_EQ(tree.depth(), 0u);
  EXPECT_EQ(tree.node(0, 0), leaf);
  EXPECT_ERRC(tree.node(1, 0), Errc::index_out_of_range);
  EXPECT_ERRC(tree.node(0, 1), Errc::index_out_of_range);
}

TYPED_TEST(TreeTest, OneByOneEveryNodeMatchesTheModelUpToDepthThree) {
  constexpr std::size_t N = TypeParam::arity;
  const NaiveModel model = TypeParam::model();
  const std::vector<Node> leaves = random_leaves(2 * N * N + 2, N);
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  ASSERT_TRUE(tree_equals_model(tree, model, {}));
  for (std::size_t size = 1; size <= leaves.size(); ++size) {
    const Node returned = tree.insert(leaves[size - 1]);
    const std::vector<Node> prefix(leaves.begin(), leaves.begin() + size);
    ASSERT_EQ(returned, tree.root());
    ASSERT_EQ(tree.depth(), model_depth(size, N)) << "size " << size;
    ASSERT_EQ(depth_for_size(size, N), model_depth(size, N)) << "size " << size;
    ASSERT_TRUE(tree_equals_model(tree, model, prefix));
  }
}

TYPED_TEST(TreeTest, BatchesOfEveryLengthGiveTheTreeOfOneByOneInserts) {
  constexpr std::size_t N = TypeParam::arity;
  const NaiveModel model = TypeParam::model();
  const std::vector<Node> leaves = random_leaves(3 * N * N + 5, 100 + N);
  // A batch of every length 1..3N+1 starting at every offset 0..N+1.
  for (std::size_t offset = 0; offset <= N + 1; ++offset)
    for (std::size_t length = 1; length <= 3 * N + 1; ++length) {
      typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
      if (offset > 0) tree.insert_many(std::span(leaves.data(), offset));
      const Node returned = tree.insert_many(std::span(leaves.data() + offset, length));
      const std::vector<Node> prefix(leaves.begin(), leaves.begin() + offset + length);
      ASSERT_EQ(returned, model.root(prefix)) << "offset " << offset << " length " << length;
      ASSERT_TRUE(tree_equals_model(tree, model, prefix))
          << "offset " << offset << " length " << length;
    }
}

TYPED_TEST(TreeTest, EmptyBatchIsAnErrorAndChangesNothing) {
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  EXPECT_ERRC(tree.insert_many({}), Errc::empty_batch);
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_FALSE(tree.root());
  const std::vector<Node> leaves = random_leaves(TypeParam::arity + 1, 5);
  tree.insert_many(leaves);
  const auto root = tree.root();
  EXPECT_ERRC(tree.insert_many(std::span<const Node>()), Errc::empty_batch);
  EXPECT_EQ(tree.size(), leaves.size());
  EXPECT_EQ(tree.root(), root);
  EXPECT_TRUE(tree_equals_model(tree, TypeParam::model(), leaves));
}

TEST(TreeKnownValues, SmallTreesHashExactlyTheSpecifiedBytes) {
  // Written out by hand from SPEC §1, independent of the model.
  const Node a = node_of(0xaa), b = node_of(0xbb), c = node_of(0xcc), d = node_of(0xdd);
  auto blake3 = [](std::vector<std::uint8_t> bytes) {
    Node out{};
    Blake3::hash(bytes.data(), bytes.size(), out.data());
    return out;
  };
  auto cat = [](std::initializer_list<Node> nodes, std::vector<std::uint8_t> prefix = {}) {
    for (const Node& n : nodes) prefix.insert(prefix.end(), n.begin(), n.end());
    return prefix;
  };
  {  // arity 2, [a, b, c]: the lone c is lifted, not hashed.
    LeanIMT<Blake3, 2> tree;
    tree.insert_many(std::vector<Node>{a, b, c});
    EXPECT_EQ(tree.root(), blake3(cat({blake3(cat({a, b})), c})));
  }
  {  // arity 3, [a, b, c, d]
    LeanIMT<Blake3, 3> tree;
    tree.insert_many(std::vector<Node>{a, b, c, d});
    EXPECT_EQ(tree.root(), blake3(cat({blake3(cat({a, b, c})), d})));
  }
  {  // tagged, arity 3, [a, b, c, d]: 0x01 ‖ u8(k) ‖ children.
    LeanIMT<Blake3, 3> tree(tree_params<Blake3, 3>(NodeHash::tagged));
    tree.insert_many(std::vector<Node>{a, b, c, d});
    EXPECT_EQ(tree.root(), blake3(cat({blake3(cat({a, b, c}, {0x01, 3})), d}, {0x01, 2})));
  }
  {  // arity 4, [a, b, c, d, a]: level 1 = [H(abcd), a] -> root H(H(abcd) ‖ a)
    LeanIMT<Blake3, 4> tree;
    tree.insert_many(std::vector<Node>{a, b, c, d, a});
    EXPECT_EQ(tree.root(), blake3(cat({blake3(cat({a, b, c, d})), a})));
  }
}

TEST(TreeMaxDepth, ArityTwoDepthThreeHoldsEightLeavesAndRejectsTheNinth) {
  using Small = LeanIMT<Blake3, 2, 3>;
  static_assert(Small::capacity == 8);
  const NaiveModel model(2, HashId::blake3, NodeHash::lean_imt);
  const std::vector<Node> leaves = random_leaves(9, 21);
  Small tree;
  for (std::size_t i = 0; i < 8; ++i) tree.insert(leaves[i]);
  const auto snapshot = tree.snapshot();
  EXPECT_ERRC(tree.insert(leaves[8]), Errc::max_depth_exceeded);
  const std::vector<Node> eight(leaves.begin(), leaves.begin() + 8);
  EXPECT_EQ(tree.size(), 8u);
  EXPECT_EQ(tree.root(), model.root(eight));
  EXPECT_TRUE(tree_equals_model(tree, model, eight));
  EXPECT_EQ(snapshot.root(), model.root(eight));
  EXPECT_ERRC(tree.insert_many(std::span(leaves.data() + 8, 1)), Errc::max_depth_exceeded);
  EXPECT_TRUE(tree_equals_model(tree, model, eight));
}

TEST(TreeMaxDepth, BatchCrossingCapacityIsRejectedWholeAndChangesNothing) {
  using Small = LeanIMT<Blake3, 2, 3>;
  const NaiveModel model(2, HashId::blake3, NodeHash::lean_imt);
  const std::vector<Node> leaves = random_leaves(12, 22);
  Small tree;
  EXPECT_ERRC(tree.insert_many(std::span(leaves.data(), 9)), Errc::max_depth_exceeded);
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_FALSE(tree.root());
  tree.insert_many(std::span(leaves.data(), 5));
  const std::vector<Node> five(leaves.begin(), leaves.begin() + 5);
  for (std::size_t excess : {4, 5, 7}) {
    EXPECT_ERRC(tree.insert_many(std::span(leaves.data() + 5, excess)), Errc::max_depth_exceeded);
    EXPECT_TRUE(tree_equals_model(tree, model, five)) << "after a rejected batch of " << excess;
  }
  // The tree still works after the rejections, up to exactly its capacity.
  EXPECT_EQ(tree.insert_many(std::span(leaves.data() + 5, 3)),
            model.root(std::span(leaves.data(), 8)));
  EXPECT_TRUE(tree_equals_model(tree, model, std::vector<Node>(leaves.begin(), leaves.begin() + 8)));
  EXPECT_ERRC(tree.reserve(9), Errc::max_depth_exceeded);
}

TEST(TreeMaxDepth, CapacityIsArityToTheMaxDepth) {
  static_assert(LeanIMT<Blake3, 16, 1>::capacity == 16);
  static_assert(LeanIMT<Blake3, 3, 4>::capacity == 81);
  static_assert(LeanIMT<Blake3, 2, 32>::capacity == (std::uint64_t{1} << 32));
  static_assert(LeanIMT<Blake3, 16, 16>::capacity == UINT64_MAX);  // 16^16 saturates
  LeanIMT<Sha256, 3, 4> tree;
  const std::vector<Node> leaves = random_leaves(82, 23);
  EXPECT_EQ(tree.insert_many(std::span(leaves.data(), 81)),
            NaiveModel(3, HashId::sha256, NodeHash::lean_imt).root(std::span(leaves.data(), 81)));
  EXPECT_ERRC(tree.insert(leaves[81]), Errc::max_depth_exceeded);
  EXPECT_EQ(tree.size(), 81u);
}

/// Trees larger than one storage chunk (N*128 nodes) on several levels, built
/// from irregular batches, sequentially and with a 2-thread pool splitting
/// every level.
template <std::size_t N>
void expect_large_tree_matches_model(std::size_t size) {
  const NaiveModel model(N, HashId::blake3, NodeHash::lean_imt);
  const std::vector<Node> leaves = random_leaves(size, size);
  for (std::size_t threads : {1, 2}) {
    TreeOptions options;
    options.threads = threads;
    options.parallel_threshold = 1;
    LeanIMT<Blake3, N> tree(options);
    std::size_t done = 0, step = 1;
    while (done < size) {
      const std::size_t length = std::min(size - done, step);
      tree.insert_many(std::span(leaves.data() + done, length));
      done += length;
      step = step * 3 + 1;
    }
    EXPECT_TRUE(tree_equals_model(tree, model, leaves)) << "arity " << N << ", threads " << threads;
  }
}

TEST(TreeLarge, ChunkBoundariesOnSeveralLevelsMatchTheModel) {
  expect_large_tree_matches_model<2>(256 * 8 + 3);     // chunk = 256 nodes: levels 0..3 cross
  expect_large_tree_matches_model<3>(384 * 9 + 1);     // chunk = 384 nodes: levels 0..2 cross
  expect_large_tree_matches_model<16>(2048 * 17 + 5);  // chunk = 2048 nodes: levels 0, 1 cross
}

TEST(AnyTree, EveryRuntimeArityHashAndSchemeMatchesTheModel) {
  const std::vector<Node> leaves = random_leaves(300, 31);
  for (unsigned arity : {2u, 3u, 4u, 8u, 16u})
    for (HashId hash : {HashId::blake3, HashId::sha256})
      for (NodeHash scheme : {NodeHash::lean_imt, NodeHash::tagged}) {
        const TreeParams params{arity, hash, scheme};
        const NaiveModel model(arity, hash, scheme);
        auto tree = make_tree(params);
        EXPECT_EQ(tree->params(), params);
        EXPECT_FALSE(tree->root());
        tree->insert(leaves[0]);
        tree->insert_many(std::span(leaves.data() + 1, leaves.size() - 1));
        EXPECT_EQ(tree->size(), leaves.size());
        EXPECT_EQ(tree->root(), model.root(leaves)) << arity << " " << to_string(hash) << " "
                                                    << to_string(scheme);
        const auto snapshot = tree->snapshot();
        EXPECT_EQ(snapshot->params(), params);
        EXPECT_EQ(snapshot->root(), model.root(leaves));
        EXPECT_EQ(snapshot->node(0, 7), leaves[7]);
        EXPECT_EQ(snapshot->prefix(17)->root(), model.root(std::span(leaves.data(), 17)));
        const InclusionProof proof = snapshot->prove(123);
        EXPECT_TRUE(verify(proof, *model.root(leaves)));
        EXPECT_TRUE(path_matches(proof.path, model.path(leaves, 123)));
      }
}

TEST(AnyTree, UnsupportedRuntimeArityIsAnInvalidArgument) {
  for (unsigned arity : {0u, 1u, 5u, 7u, 17u, 32u}) {
    EXPECT_FALSE(is_runtime_arity(arity));
    EXPECT_ERRC(make_tree({arity, HashId::blake3, NodeHash::lean_imt}), Errc::invalid_argument);
  }
  EXPECT_ERRC(make_tree({4, static_cast<HashId>(9), NodeHash::lean_imt}), Errc::invalid_argument);
}

}  // namespace
}  // namespace rotortree::test
