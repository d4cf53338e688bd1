// Snapshots: frozen while the tree grows, valid after the tree is gone, and
// prefixes equal to trees built from that many leaves.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class C>
class SnapshotTest : public ::testing::Test {};
TYPED_TEST_SUITE(SnapshotTest, UnitConfigs, ConfigName);

/// The snapshot is the tree of `leaves`: size, depth, root, every node, every
/// inclusion proof (equal to the model's path, and valid).
template <class S>
::testing::AssertionResult snapshot_is_tree_of(const S& snapshot, const NaiveModel& model,
                                               std::span<const Node> leaves) {
  if (snapshot.size() != leaves.size())
    return ::testing::AssertionFailure() << "size " << snapshot.size() << ", expected "
                                         << leaves.size();
  if (snapshot.root() != model.root(leaves))
    return ::testing::AssertionFailure() << "root differs at size " << leaves.size();
  if (leaves.empty()) return ::testing::AssertionSuccess();
  const auto levels = model.levels(leaves);
  if (snapshot.depth() != levels.size() - 1)
    return ::testing::AssertionFailure() << "depth " << snapshot.depth() << " at size "
                                         << leaves.size();
  for (unsigned l = 0; l < levels.size(); ++l) {
    for (std::uint64_t i = 0; i < levels[l].size(); ++i)
      if (snapshot.node(l, i) != levels[l][i])
        return ::testing::AssertionFailure() << "node (" << l << ", " << i << ") differs at size "
                                             << leaves.size();
    if (!throws_errc([&] { (void)snapshot.node(l, levels[l].size()); }, Errc::index_out_of_range))
      return ::testing::AssertionFailure() << "node past the end of level " << l << " accepted";
  }
  // Every leaf's proof in small trees; a sample plus the right edge in large ones.
  const std::uint64_t stride = std::max<std::uint64_t>(1, leaves.size() / 128);
  for (std::uint64_t i = 0; i < leaves.size(); ++i) {
    if (i % stride != 0 && i + 2 * model.arity() < leaves.size()) continue;
    const InclusionProof proof = snapshot.prove(i);
    if (proof.leaf != leaves[i] || proof.leaf_index != i || proof.tree_size != leaves.size() ||
        proof.root != levels.back().front())
      return ::testing::AssertionFailure() << "proof header of leaf " << i << " is wrong";
    if (auto m = path_matches(proof.path, model.path_in(levels, i)); !m)
      return m << " (leaf " << i << ", size " << leaves.size() << ")";
    if (!verify(proof, levels.back().front()))
      return ::testing::AssertionFailure() << "proof of leaf " << i << " does not verify";
  }
  if (!throws_errc([&] { (void)snapshot.prove(leaves.size()); }, Errc::index_out_of_range))
    return ::testing::AssertionFailure() << "proof past the end accepted";
  return ::testing::AssertionSuccess();
}

TYPED_TEST(SnapshotTest, StaysUnchangedWhileTheTreeKeepsGrowing) {
  constexpr std::size_t N = TypeParam::arity;
  const NaiveModel model = TypeParam::model();
  // Past one chunk of level 0 (N*128 leaves) so later inserts land in new chunks.
  const std::vector<Node> leaves = random_leaves(N * 128 * 2 + 3 * N + 1, 40 + N);
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  std::vector<typename TypeParam::tree::snapshot_type> snapshots{tree.snapshot()};
  std::vector<std::size_t> sizes{0};
  // Batches of many lengths, single inserts in between, one jump across a chunk.
  const std::size_t steps[] = {1, 1, 2, 3, N - 1, N, N + 1, 7, 17 * N + 1, 1, 130 * N};
  std::size_t done = 0;
  for (std::size_t call = 0; done < leaves.size(); ++call) {
    const std::size_t length = std::min(leaves.size() - done, steps[call % std::size(steps)]);
    if (length == 1)
      tree.insert(leaves[done]);
    else
      tree.insert_many(std::span(leaves.data() + done, length));
    done += length;
    snapshots.push_back(tree.snapshot());
    sizes.push_back(done);
  }
  for (std::size_t i = 0; i < snapshots.size(); ++i)
    ASSERT_TRUE(snapshot_is_tree_of(snapshots[i], model, std::span(leaves.data(), sizes[i])))
        << "snapshot " << i << " of size " << sizes[i];
}

TYPED_TEST(SnapshotTest, OutlivesTheTree) {
  const NaiveModel model = TypeParam::model();
  const std::vector<Node> leaves = random_leaves(3 * TypeParam::arity + 2, 50);
  std::optional<typename TypeParam::tree::snapshot_type> snapshot;
  {
    auto tree = std::make_unique<typename TypeParam::tree>(TypeParam::params(), TypeParam::options());
    tree->insert_many(leaves);
    snapshot = tree->snapshot();
    tree->insert(leaves[0]);  // the tree moves on, then goes away
  }
  EXPECT_TRUE(snapshot_is_tree_of(*snapshot, model, leaves));
}

TYPED_TEST(SnapshotTest, PrefixEqualsTheTreeOfThatManyLeaves) {
  constexpr std::size_t N = TypeParam::arity;
  const NaiveModel model = TypeParam::model();
  const std::vector<Node> leaves = random_leaves(N * N + 2 * N + 3, 60 + N);
  typename TypeParam::tree tree(TypeParam::params(), TypeParam::options());
  tree.insert_many(leaves);
  const auto full = tree.snapshot();
  for (std::size_t size = 1; size <= leaves.size(); ++size) {
    const auto prefix = full.prefix(size);
    ASSERT_TRUE(snapshot_is_tree_of(prefix, model, std::span(leaves.data(), size)))
        << "prefix " << size;
    // The same as a tree actually built with that many leaves.
    typename TypeParam::tree built(TypeParam::params(), TypeParam::options());
    built.insert_many(std::span(leaves.data(), size));
    ASSERT_EQ(prefix.prove(size - 1), built.prove(size - 1));
    ASSERT_EQ(prefix.prove(0), built.prove(0));
    // A prefix of a prefix.
    ASSERT_EQ(prefix.prefix((size + 1) / 2).root(), model.root(std::span(leaves.data(), (size + 1) / 2)));
  }
  EXPECT_ERRC(full.prefix(0), Errc::index_out_of_range);
  EXPECT_ERRC(full.prefix(leaves.size() + 1), Errc::index_out_of_range);
  EXPECT_ERRC(full.prefix(5).prefix(6), Errc::index_out_of_range);
}

TEST(SnapshotLarge, PrefixOfALargeTreeEqualsTheModelAtManySizes) {
  const NaiveModel model(4, HashId::blake3, NodeHash::lean_imt);
  const std::vector<Node> leaves = random_leaves(4 * 128 * 5 + 7, 70);
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(leaves);
  const auto full = tree.snapshot();
  for (std::size_t size : {1ul, 2ul, 511ul, 512ul, 513ul, 1024ul, 2047ul, 2048ul, 2049ul, 2566ul,
                           leaves.size()}) {
    const auto prefix = full.prefix(size);
    ASSERT_EQ(prefix.root(), model.root(std::span(leaves.data(), size))) << size;
    const auto levels = model.levels(std::span(leaves.data(), size));
    for (unsigned l = 0; l < levels.size(); ++l)
      ASSERT_EQ(prefix.node(l, levels[l].size() - 1), levels[l].back()) << size << " level " << l;
  }
}

}  // namespace
}  // namespace rotortree::test
