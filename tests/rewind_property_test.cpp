// Property: any mix of insert, insert_many, rewind and snapshots gives, after
// every call, the naive model's tree of the leaves the tree should hold, and
// every snapshot taken along the way still shows its own tree at the end
// (after rewinds below it and regrowth past it with different leaves).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "property_support.hpp"
#include "rotortree/any_tree.hpp"
#include "rotortree/concurrent.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class C>
class RewindProperty : public ::testing::Test {};
using RewindConfigs = ::testing::Types<
    TreeConfig<Blake3, 2, NodeHash::lean_imt>, TreeConfig<Blake3, 3, NodeHash::lean_imt>,
    TreeConfig<Blake3, 4, NodeHash::lean_imt>, TreeConfig<Blake3, 5, NodeHash::tagged>,
    TreeConfig<Blake3, 7, NodeHash::lean_imt>, TreeConfig<Blake3, 8, NodeHash::tagged>,
    TreeConfig<Blake3, 11, NodeHash::lean_imt>, TreeConfig<Blake3, 16, NodeHash::lean_imt>,
    TreeConfig<Sha256, 2, NodeHash::lean_imt>, TreeConfig<Sha256, 4, NodeHash::tagged>,
    TreeConfig<Sha256, 13, NodeHash::lean_imt>, TreeConfig<Sha256, 16, NodeHash::tagged>>;
TYPED_TEST_SUITE(RewindProperty, RewindConfigs, ConfigName);

/// Whether the tree (a LeanIMT or a Snapshot) is the model's tree of `leaves`:
/// size, root, every node of every level, the nodes just outside each level
/// refused, and the inclusion proofs of `probes` (exact paths and leaves).
template <class Tree>
::testing::AssertionResult same_tree(const Tree& tree, const NaiveModel& model, const std::vector<Node>& leaves,
                                     const std::vector<std::uint64_t>& probes) {
  if (tree.size() != leaves.size())
    return ::testing::AssertionFailure() << "size " << tree.size() << ", model " << leaves.size();
  if (tree.root() != model.root(leaves)) return ::testing::AssertionFailure() << "root differs at size " << leaves.size();
  if (leaves.empty()) return ::testing::AssertionSuccess();
  const auto levels = model.levels(leaves);
  for (unsigned l = 0; l < levels.size(); ++l) {
    for (std::uint64_t i = 0; i < levels[l].size(); ++i)
      if (tree.node(l, i) != levels[l][i])
        return ::testing::AssertionFailure() << "node (" << l << ", " << i << ") differs at size " << leaves.size();
    if (!throws_errc([&] { (void)tree.node(l, levels[l].size()); }, Errc::index_out_of_range))
      return ::testing::AssertionFailure() << "node past level " << l << " not refused";
  }
  for (std::uint64_t index : probes) {
    index %= leaves.size();
    const InclusionProof proof = tree.prove(index);
    if (proof.leaf != leaves[index] || proof.root != *model.root(leaves) || proof.tree_size != leaves.size())
      return ::testing::AssertionFailure() << "proof of " << index << " names the wrong leaf, root or size";
    auto matches = path_matches(proof.path, model.path(leaves, index));
    if (!matches) return matches << " (proof of " << index << " at size " << leaves.size() << ")";
    if (!verify(proof)) return ::testing::AssertionFailure() << "proof of " << index << " does not verify";
  }
  return ::testing::AssertionSuccess();
}

/// Sizes to rewind to: anywhere, the empty tree, a few leaves back, or a
/// chunk boundary of level 0 or 1 (where a rewind drops whole chunks).
rc::Gen<std::uint64_t> rewind_target(std::uint64_t size, std::size_t arity) {
  const std::uint64_t chunk = arity * kGroupsPerChunk;
  return rc::gen::weightedOneOf<std::uint64_t>({
      {4, rc::gen::inRange<std::uint64_t>(0, size + 1)},
      {1, rc::gen::just<std::uint64_t>(0)},
      {3, rc::gen::map(rc::gen::inRange<std::uint64_t>(0, std::min<std::uint64_t>(size, 2 * arity) + 1),
                       [size](std::uint64_t back) { return size - back; })},
      {2, rc::gen::map(rc::gen::inRange<std::uint64_t>(0, 3), [=](std::uint64_t k) {
         const std::uint64_t boundary = size / chunk * chunk;
         return std::min<std::uint64_t>(size, boundary + k);
       })},
      {1, rc::gen::map(rc::gen::inRange<std::uint64_t>(0, 2), [=](std::uint64_t k) {
         const std::uint64_t boundary = size / (chunk * arity) * (chunk * arity);
         return std::min<std::uint64_t>(size, boundary + k);
       })},
  });
}

TYPED_TEST(RewindProperty, AnyMixWithRewindsMatchesTheModelAndOldSnapshotsStay) {
  using Config = TypeParam;
  using Tree = typename Config::tree;
  check_property("insert/insert_many/rewind/snapshot mix == model; snapshots unchanged",
                 0.3 * hash_case_scale<typename Config::hasher>(), [] {
    const NaiveModel model = Config::model();
    const std::uint64_t chunk = Config::arity * kGroupsPerChunk;
    // Two threads with a tiny threshold half of the time: the parallel
    // hashing paths rewrite the same chunks.
    const bool parallel = *rc::gen::arbitrary<bool>();
    Tree tree(Config::params(), Config::options(parallel ? 2 : 1, 4));
    std::vector<Node> leaves;
    std::uint64_t seed = *rc::gen::arbitrary<std::uint64_t>();
    struct Kept {
      typename Tree::snapshot_type snapshot;
      std::vector<Node> leaves;
    };
    std::vector<Kept> kept;
    const std::vector<std::uint64_t> probes = *rc::gen::container<std::vector<std::uint64_t>>(
        3, rc::gen::arbitrary<std::uint64_t>());
    const int steps = *rc::gen::inRange(1, 14);
    for (int step = 0; step < steps; ++step) {
      const int op = *rc::gen::inRange(0, 10);
      if (op < 2) {  // single leaves: the edge-prefix cache's path
        const int count = *rc::gen::inRange(1, 2 * static_cast<int>(Config::arity) + 3);
        for (const Node& leaf : random_leaves(count, ++seed)) {
          leaves.push_back(leaf);
          RC_ASSERT(tree.insert(leaf) == *model.root(leaves));
        }
      } else if (op < 5) {
        const std::size_t count = *rc::gen::weightedOneOf<std::size_t>(
            {{3, rc::gen::inRange<std::size_t>(1, 40)}, {2, rc::gen::inRange<std::size_t>(1, 2 * chunk + 5)}});
        const std::vector<Node> batch = random_leaves(count, ++seed);
        leaves.insert(leaves.end(), batch.begin(), batch.end());
        RC_ASSERT(tree.insert_many(batch) == *model.root(leaves));
      } else if (op < 8) {
        // Often a snapshot right before: the one whose chunks the rewind replaces.
        if (*rc::gen::arbitrary<bool>()) kept.push_back({tree.snapshot(), leaves});
        const std::uint64_t target = *rewind_target(leaves.size(), Config::arity);
        leaves.resize(target);
        RC_ASSERT(tree.rewind(target) == model.root(leaves));
      } else {
        kept.push_back({tree.snapshot(), leaves});
      }
      RC_ASSERT_SUCCESS(same_tree(tree, model, leaves, probes));
    }
    // Regrow past every size seen with fresh leaves, then check every snapshot.
    const std::vector<Node> more = random_leaves(2 * chunk + 7, ++seed);
    tree.insert_many(more);
    leaves.insert(leaves.end(), more.begin(), more.end());
    RC_ASSERT_SUCCESS(same_tree(tree, model, leaves, probes));
    for (const Kept& k : kept) {
      RC_ASSERT_SUCCESS(same_tree(k.snapshot, model, k.leaves, probes));
      if (k.leaves.size() > 1) {
        const std::uint64_t old_size = 1 + probes[0] % k.leaves.size();
        const ConsistencyProof consistency = k.snapshot.consistency(old_size);
        const std::vector<Node> prefix(k.leaves.begin(), k.leaves.begin() + static_cast<std::ptrdiff_t>(old_size));
        RC_ASSERT(consistency.old_root == *model.root(prefix));
        RC_ASSERT(static_cast<bool>(verify(consistency)));
      }
    }
  });
}

TYPED_TEST(RewindProperty, RewindBeyondTheSizeIsRefusedAndChangesNothing) {
  using Config = TypeParam;
  typename Config::tree tree(Config::params(), Config::options());
  const std::vector<Node> leaves = random_leaves(3 * Config::arity + 1, 7);
  tree.insert_many(leaves);
  const auto root = tree.root();
  EXPECT_ERRC(tree.rewind(leaves.size() + 1), Errc::index_out_of_range);
  EXPECT_EQ(tree.size(), leaves.size());
  EXPECT_EQ(tree.root(), root);
  EXPECT_EQ(tree.rewind(leaves.size()), root);  // to its own size: nothing to do
  EXPECT_EQ(tree.rewind(0), std::nullopt);
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_EQ(tree.depth(), 0u);
  EXPECT_ERRC(tree.rewind(1), Errc::index_out_of_range);
  EXPECT_EQ(tree.insert(leaves[0]), leaves[0]);  // the next leaf is index 0 again
}

TEST(RewindConcurrent, PublishesTheRewoundTreeAndKeepsOldSnapshots) {
  const NaiveModel model(4, HashId::blake3, NodeHash::lean_imt);
  ConcurrentLeanIMT<Blake3, 4> tree;
  std::vector<Node> leaves = random_leaves(3000, 1);
  tree.insert_many(leaves);
  const auto before = tree.snapshot();
  EXPECT_EQ(tree.rewind(1000), model.root(std::span<const Node>(leaves).first(1000)));
  EXPECT_EQ(tree.size(), 1000u);
  EXPECT_EQ(tree.snapshot().root(), tree.root());
  EXPECT_ERRC(tree.rewind(1001), Errc::index_out_of_range);
  const std::vector<Node> other = random_leaves(2500, 2);
  tree.insert_many(other);
  std::vector<Node> now(leaves.begin(), leaves.begin() + 1000);
  now.insert(now.end(), other.begin(), other.end());
  EXPECT_TRUE(same_tree(tree.snapshot(), model, now, {5, 999, 1000, 3499}));
  EXPECT_TRUE(same_tree(before, model, leaves, {5, 999, 1000, 2999}));
}

/// Rewind-and-regrow cycles, no old snapshot held: after the first cycle the
/// tree maps no more memory (the rewound chunks are reused), and it is still
/// the model's tree. `Tree` is LeanIMT or ConcurrentLeanIMT (whose published
/// snapshot of the old generation goes with the rewind's publication).
template <class Tree>
void regrowth_reuses_rewound_chunks() {
  const NaiveModel model(4, HashId::blake3, NodeHash::lean_imt);
  Tree tree(TreeOptions{.threads = 1});
  const std::vector<Node> leaves = random_leaves(20000, 5);
  tree.insert_many(leaves);
  std::size_t steady = 0;
  for (int cycle = 0; cycle < 5; ++cycle) {
    const std::size_t keep = cycle == 0 ? 0 : 1007;  // into a chunk: copied before the old one returns
    tree.rewind(keep);
    tree.insert_many(std::span<const Node>(leaves).subspan(keep));
    if (cycle == 1) {
      steady = memory::bytes_in_use();
    } else if (cycle > 1) {
      EXPECT_EQ(memory::bytes_in_use(), steady) << "cycle " << cycle;
    }
  }
  EXPECT_EQ(tree.root(), model.root(leaves));
  // A snapshot held across a rewind keeps its chunks (and its tree); once it
  // goes, they serve regrowth.
  {
    const auto before = tree.snapshot();
    tree.rewind(0);
    tree.insert_many(random_leaves(20000, 6));
    EXPECT_GT(memory::bytes_in_use(), steady);
    EXPECT_TRUE(same_tree(before, model, leaves, {0, 9999, 19999}));
  }
  const std::size_t peak = memory::bytes_in_use();
  tree.rewind(3);
  tree.insert_many(std::span<const Node>(leaves).subspan(3));
  EXPECT_LE(memory::bytes_in_use(), peak);
}

TEST(RewindMemory, RegrowthReusesTheRewoundChunks) { regrowth_reuses_rewound_chunks<LeanIMT<Blake3, 4>>(); }
TEST(RewindMemory, ConcurrentRegrowthReusesTheRewoundChunks) {
  regrowth_reuses_rewound_chunks<ConcurrentLeanIMT<Blake3, 4>>();
}

TEST(RewindAnyTree, RewindsEveryRuntimeArity) {
  for (unsigned arity : {2u, 3u, 4u, 8u, 16u}) {
    const TreeParams params{arity, HashId::blake3, NodeHash::lean_imt};
    const NaiveModel model(arity, HashId::blake3, NodeHash::lean_imt);
    auto tree = make_tree(params, TreeOptions{.threads = 1});
    const std::vector<Node> leaves = random_leaves(5 * arity * kGroupsPerChunk / 2, arity);
    tree->insert_many(leaves);
    const auto before = tree->snapshot();
    const std::size_t keep = leaves.size() / 3;
    std::vector<Node> kept(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(keep));
    EXPECT_EQ(tree->rewind(keep), model.root(kept));
    EXPECT_ERRC(tree->rewind(keep + 1), Errc::index_out_of_range);
    tree->insert_many(random_leaves(leaves.size(), 99));
    EXPECT_TRUE(same_tree(*before, model, leaves, {0, keep, leaves.size() - 1}))
        << "arity " << arity;
    EXPECT_EQ(before->root(), model.root(leaves));
  }
}

}  // namespace
}  // namespace rotortree::test
