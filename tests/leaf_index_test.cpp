// The leaf index: policies, refused duplicates and their details, the secret,
// snapshots answering for their own size, the position-width limit, probe
// counts of adversarial leaves, the type-erased trees.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "rotortree/any_tree.hpp"
#include "rotortree/concurrent.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

using Tree = LeanIMT<Blake3, 4>;

TreeParams with_policy(LeafPolicy policy) { return tree_params<Blake3, 4>(NodeHash::lean_imt, policy); }
const TreeOptions kOneThread{.threads = 1};

TEST(LeafPolicy, NamesRoundTrip) {
  for (LeafPolicy policy : {LeafPolicy::none, LeafPolicy::index, LeafPolicy::unique})
    EXPECT_EQ(parse_leaf_policy(to_string(policy)), policy);
  EXPECT_EQ(to_string(LeafPolicy::unique), "unique");
  try {
    parse_leaf_policy("uniq");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::invalid_argument);
  }
  EXPECT_EQ(to_string(Errc::duplicate_leaf), "duplicate_leaf");
}

TEST(LeafIndex, NoneHasNoLookupsAndAcceptsDuplicates) {
  Tree tree(with_policy(LeafPolicy::none), kOneThread);
  const Node leaf = node_of(7);
  tree.insert(leaf);
  tree.insert(leaf);
  EXPECT_EQ(tree.size(), 2u);
  EXPECT_EQ(tree.index_bytes(), 0u);
  EXPECT_THROW(tree.index_of(leaf), Error);
  EXPECT_THROW(tree.snapshot().index_of(leaf), Error);
}

TEST(LeafIndex, IndexPolicyReturnsTheLowestIndex) {
  Tree tree(with_policy(LeafPolicy::index), kOneThread);
  const auto leaves = random_leaves(1000, 1);
  EXPECT_FALSE(tree.index_of(leaves[0]).has_value());  // empty tree
  tree.insert_many(leaves);
  tree.insert(leaves[5]);
  std::vector<Node> again(leaves.begin(), leaves.begin() + 10);
  tree.insert_many(again);
  EXPECT_EQ(tree.size(), 1011u);
  for (std::uint64_t i = 0; i < leaves.size(); ++i) EXPECT_EQ(tree.index_of(leaves[i]), i);
  EXPECT_FALSE(tree.contains(node_of(1)));
}

TEST(LeafIndex, UniqueRefusesALeafTheTreeHolds) {
  Tree tree(with_policy(LeafPolicy::unique), kOneThread);
  const auto leaves = random_leaves(100, 2);
  tree.insert_many(leaves);
  const auto root = tree.root();
  std::vector<Node> batch = random_leaves(10, 3);
  batch[6] = leaves[42];
  try {
    tree.insert_many(batch);
    FAIL() << "a duplicate was accepted";
  } catch (const DuplicateLeafError& error) {
    EXPECT_EQ(error.code(), Errc::duplicate_leaf);
    EXPECT_EQ(error.duplicate().leaf, leaves[42]);
    EXPECT_EQ(error.duplicate().batch_position, 6u);
    EXPECT_EQ(error.duplicate().tree_index, 42u);
    EXPECT_FALSE(error.duplicate().earlier_batch_position.has_value());
    EXPECT_NE(std::string(error.what()).find("index 42"), std::string::npos) << error.what();
  }
  EXPECT_EQ(tree.size(), 100u);
  EXPECT_EQ(tree.root(), root);
  // Nothing of the refused batch was indexed: its other leaves are absent and insertable.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (i != 6) {
      EXPECT_FALSE(tree.contains(batch[i]));
    }
  }
  batch[6] = node_of(99);
  EXPECT_EQ(tree.insert_many_with_index(batch).first_index, 100u);
  EXPECT_EQ(tree.index_of(batch[9]), 109u);
  try {
    tree.insert(leaves[0]);
    FAIL();
  } catch (const DuplicateLeafError& error) {
    EXPECT_EQ(error.duplicate().batch_position, 0u);
    EXPECT_EQ(error.duplicate().tree_index, 0u);
  }
}

TEST(LeafIndex, UniqueRefusesARepeatInsideTheBatch) {
  Tree tree(with_policy(LeafPolicy::unique), kOneThread);
  tree.insert_many(random_leaves(50, 4));
  std::vector<Node> batch = random_leaves(2000, 5);
  batch[1500] = batch[300];
  try {
    tree.insert_many(batch);
    FAIL();
  } catch (const DuplicateLeafError& error) {
    EXPECT_EQ(error.duplicate().batch_position, 1500u);
    EXPECT_EQ(error.duplicate().earlier_batch_position, 300u);
    EXPECT_FALSE(error.duplicate().tree_index.has_value());
  }
  EXPECT_EQ(tree.size(), 50u);
  EXPECT_FALSE(tree.contains(batch[0]));
  EXPECT_FALSE(tree.contains(batch[300]));
}

TEST(LeafIndex, SnapshotsAnswerForTheirOwnSizeAcrossGrowth) {
  Tree tree(with_policy(LeafPolicy::unique), kOneThread);
  const auto leaves = random_leaves(20000, 6);
  tree.insert_many(std::span<const Node>(leaves).first(10));
  const auto small = tree.snapshot();
  for (std::size_t i = 10; i < leaves.size(); ++i) tree.insert(leaves[i]);  // the table grows many times
  EXPECT_EQ(small.index_of(leaves[9]), 9u);
  EXPECT_FALSE(small.index_of(leaves[10]).has_value());
  std::vector<std::optional<std::uint64_t>> out(leaves.size());
  small.index_of(leaves, out);
  for (std::size_t i = 0; i < leaves.size(); ++i) EXPECT_EQ(out[i], i < 10 ? std::optional<std::uint64_t>(i) : std::nullopt);
  tree.snapshot().index_of(leaves, out);
  for (std::size_t i = 0; i < leaves.size(); ++i) ASSERT_EQ(out[i], i);
  std::vector<std::optional<std::uint64_t>> wrong(3);
  EXPECT_THROW(tree.index_of(leaves, wrong), Error);
}

TEST(LeafIndex, TheSecretIsReturnedAndReused) {
  Tree random_a(with_policy(LeafPolicy::unique), kOneThread), random_b(with_policy(LeafPolicy::unique), kOneThread);
  EXPECT_NE(random_a.leaf_secret(), random_b.leaf_secret());
  LeafSecret secret{};
  secret[3] = 0x5a;
  const TreeOptions options{.threads = 1, .leaf_secret = secret};
  Tree given(with_policy(LeafPolicy::unique), options);
  EXPECT_EQ(given.leaf_secret(), secret);
  // The same secret places leaves the same way: equal probe counts.
  Tree again(with_policy(LeafPolicy::unique), options);
  const auto leaves = random_leaves(5000, 7);
  given.insert_many(leaves);
  again.insert_many(leaves);
  for (std::size_t i = 0; i < leaves.size(); i += 97) {
    const ProbeCount a = given.snapshot().probe_count(leaves[i]), b = again.snapshot().probe_count(leaves[i]);
    EXPECT_EQ(a.buckets, b.buckets);
    EXPECT_EQ(a.candidates, b.candidates);
  }
}

/// Average buckets and candidates a lookup reads, over `queries`.
std::pair<double, double> mean_probes(const Tree::snapshot_type& snapshot, const std::vector<Node>& queries) {
  double buckets = 0, candidates = 0;
  for (const Node& leaf : queries) {
    const ProbeCount count = snapshot.probe_count(leaf);
    buckets += count.buckets;
    candidates += count.candidates;
  }
  return {buckets / queries.size(), candidates / queries.size()};
}

TEST(LeafIndex, AdversarialLeavesProbeLikeRandomOnes) {
  constexpr std::size_t kLeaves = 60000;
  const auto random = random_leaves(kLeaves, 8);
  // Leaves an attacker might grind against a fixed hash: the same low 64
  // bits (or all bytes but two), differing only elsewhere.
  std::vector<Node> low_equal(kLeaves), nearly_equal(kLeaves);
  for (std::size_t i = 0; i < kLeaves; ++i) {
    low_equal[i] = random[i];
    std::memset(low_equal[i].data(), 0xab, 8);
    nearly_equal[i] = node_of(0x11);
    nearly_equal[i][30] = static_cast<std::uint8_t>(i);
    nearly_equal[i][31] = static_cast<std::uint8_t>(i >> 8);
    nearly_equal[i][0] = static_cast<std::uint8_t>(i >> 16);
  }
  auto probes = [](const std::vector<Node>& leaves) {
    Tree tree(with_policy(LeafPolicy::unique), kOneThread);
    tree.insert_many(leaves);
    std::vector<Node> absent = random_leaves(5000, 9);
    for (Node& leaf : absent) leaf[31] ^= 0x80;  // absent, and shaped like the stored ones
    std::vector<Node> present(leaves.begin(), leaves.begin() + 5000);
    const auto snapshot = tree.snapshot();
    return std::pair{mean_probes(snapshot, present), mean_probes(snapshot, absent)};
  };
  const auto base = probes(random);
  for (const auto* adversarial : {&low_equal, &nearly_equal}) {
    const auto got = probes(*adversarial);
    EXPECT_LE(got.first.first, 1.5 * base.first.first);    // buckets, present
    EXPECT_LE(got.first.second, 1.5 * base.first.second);  // candidates, present
    EXPECT_LE(got.second.first, 1.5 * base.second.first);  // buckets, absent
    EXPECT_LE(got.second.second, 1.5 * base.second.second + 0.05);
  }
  // And the baseline itself is O(1): about two buckets (both choices), one candidate.
  EXPECT_GE(base.first.first, 1.9);
  EXPECT_LT(base.first.first, 2.1);
  EXPECT_LT(base.first.second, 1.3);
}

TEST(LeafIndex, PositionWidthOverflowIsRefused) {
  testing::set_indexed_leaf_limit(100);
  struct Restore {
    ~Restore() { testing::set_indexed_leaf_limit(0); }
  } restore;
  for (LeafPolicy policy : {LeafPolicy::index, LeafPolicy::unique}) {
    Tree tree(with_policy(policy), kOneThread);
    tree.insert_many(random_leaves(99, 10));
    const auto root = tree.root();
    try {
      tree.insert_many(random_leaves(2, 11));
      FAIL() << "a tree past the index's positions was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::max_depth_exceeded);
      EXPECT_NE(std::string(error.what()).find("positions"), std::string::npos) << error.what();
    }
    EXPECT_EQ(tree.size(), 99u);
    EXPECT_EQ(tree.root(), root);
    tree.insert(node_of(1));  // the 100th fits
    EXPECT_THROW(tree.insert(node_of(2)), Error);
    EXPECT_EQ(tree.index_of(node_of(1)), 99u);
  }
  Tree plain(with_policy(LeafPolicy::none), kOneThread);  // no index, no limit
  plain.insert_many(random_leaves(150, 12));
  EXPECT_EQ(plain.size(), 150u);
}

TEST(LeafIndex, ConcurrentTreeAndTypeErasedTrees) {
  ConcurrentLeanIMT<Blake3, 4> concurrent(with_policy(LeafPolicy::unique), kOneThread);
  const auto leaves = random_leaves(300, 13);
  EXPECT_EQ(concurrent.insert_many_with_index(leaves).first_index, 0u);
  EXPECT_EQ(concurrent.insert_with_index(node_of(3)).first_index, 300u);
  EXPECT_EQ(concurrent.index_of(leaves[17]), 17u);
  EXPECT_THROW(concurrent.insert(leaves[1]), DuplicateLeafError);
  EXPECT_EQ(concurrent.size(), 301u);

  for (unsigned arity : {2u, 3u, 4u, 8u, 16u}) {
    auto tree = make_tree({arity, HashId::blake3, NodeHash::lean_imt, 32, LeafPolicy::unique}, kOneThread);
    EXPECT_EQ(tree->leaf_policy(), LeafPolicy::unique);
    tree->insert_many(leaves);
    const auto snapshot = tree->snapshot();
    EXPECT_EQ(tree->insert_with_index(node_of(4)).first_index, 300u);
    EXPECT_EQ(tree->index_of(node_of(4)), 300u);
    EXPECT_FALSE(snapshot->contains(node_of(4)));
    EXPECT_EQ(snapshot->index_of(leaves[299]), 299u);
    std::vector<std::optional<std::uint64_t>> out(leaves.size());
    snapshot->index_of(leaves, out);
    for (std::size_t i = 0; i < leaves.size(); ++i) EXPECT_EQ(out[i], i);
    EXPECT_THROW(tree->insert_many(std::span<const Node>(leaves).first(1)), DuplicateLeafError);
    EXPECT_GT(tree->index_bytes(), 0u);
  }
}

TEST(LeafIndex, RewindLeavesOldSnapshotsAnsweringAndFreesLeavesForReinsertion) {
  Tree tree(with_policy(LeafPolicy::unique), kOneThread);
  const auto leaves = random_leaves(3000, 15);
  tree.insert_many(leaves);
  const auto before = tree.snapshot();
  tree.rewind(1000);
  EXPECT_FALSE(tree.contains(leaves[1500]));
  EXPECT_EQ(tree.index_of(leaves[999]), 999u);
  EXPECT_EQ(before.index_of(leaves[2999]), 2999u);  // the snapshot keeps its leaves
  // Removed leaves may come back, at new positions; other leaves take theirs.
  std::vector<Node> regrow = random_leaves(1000, 16);
  regrow.push_back(leaves[2500]);
  EXPECT_EQ(tree.insert_many_with_index(regrow).first_index, 1000u);
  EXPECT_EQ(tree.index_of(leaves[2500]), 2000u);
  EXPECT_EQ(tree.index_of(regrow[500]), 1500u);
  EXPECT_FALSE(tree.contains(leaves[1500]));
  EXPECT_THROW(tree.insert(leaves[2500]), DuplicateLeafError);
  EXPECT_EQ(before.index_of(leaves[1500]), 1500u);
  EXPECT_EQ(before.index_of(leaves[2500]), 2500u);
  EXPECT_FALSE(before.contains(regrow[500]));
  // Growth after the rewind rebuilds from the live leaves only.
  tree.insert_many(random_leaves(20000, 17));
  EXPECT_EQ(tree.index_of(leaves[2500]), 2000u);
  EXPECT_FALSE(tree.contains(leaves[1500]));
  EXPECT_EQ(before.index_of(leaves[1500]), 1500u);
  tree.rewind(0);
  EXPECT_FALSE(tree.contains(leaves[0]));
  tree.insert(leaves[0]);
  EXPECT_EQ(tree.index_of(leaves[0]), 0u);
}

TEST(LeafIndex, ReserveSizesTheIndexOnce) {
  Tree tree(with_policy(LeafPolicy::unique), kOneThread);
  tree.reserve(100000);
  const std::size_t bytes = tree.index_bytes();
  EXPECT_GT(bytes, 0u);
  tree.insert_many(random_leaves(100000, 14));
  EXPECT_EQ(tree.index_bytes(), bytes);  // no growth
  EXPECT_LE(static_cast<double>(bytes) / 100000, 8.0);

  ConcurrentLeanIMT<Blake3, 4> concurrent(with_policy(LeafPolicy::unique), kOneThread);
  concurrent.insert(node_of(1));
  const std::size_t small = concurrent.index_bytes();
  concurrent.reserve(100000);
  EXPECT_EQ(concurrent.size(), 1u);
  EXPECT_GT(concurrent.index_bytes(), small);  // published at once
  const std::size_t reserved = concurrent.index_bytes();
  concurrent.insert_many(random_leaves(99999, 15));
  EXPECT_EQ(concurrent.index_bytes(), reserved);
  EXPECT_EQ(concurrent.index_of(node_of(1)), 0u);
}

}  // namespace
}  // namespace rotortree::test
