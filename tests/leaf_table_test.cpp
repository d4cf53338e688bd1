// The leaf index's table at its seam (include/rotortree/detail/leaf_table.hpp):
// slot counts, two-choice placement, entries passing both full buckets, lookups of every
// entry, and undo restoring every answer and every probe length.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include "rotortree/detail/leaf_table.hpp"

namespace rotortree::detail {
namespace {

Node random_node(std::mt19937_64& rng) {
  Node node;
  for (std::size_t i = 0; i < node.size(); i += 8) {
    const std::uint64_t word = rng();
    std::memcpy(node.data() + i, &word, 8);
  }
  return node;
}

LeafHashKeys test_keys() {
  LeafSecret secret{};
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i * 37 + 1);
  return expand_leaf_secret(secret);
}

struct Filled {
  std::vector<Node> leaves;
  std::vector<LeafSlot> slots;
};

Filled fill(LeafTable& table, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Filled filled;
  for (std::size_t i = 0; i < count; ++i) {
    filled.leaves.push_back(random_node(rng));
    filled.slots.push_back(table.append(table.hash(filled.leaves.back()), static_cast<std::uint32_t>(i)));
  }
  return filled;
}

std::uint64_t find_position(const LeafTable& table, const std::vector<Node>& leaves, const Node& leaf) {
  return table.find(table.hash(leaf), [&](std::uint64_t p) { return p < leaves.size() && leaves[p] == leaf; });
}

TEST(LeafTable, CountSlotsCountsEveryMask) {
  for (unsigned mask = 0; mask < (1u << LeafTable::kSlots); ++mask)
    ASSERT_EQ(count_slots(mask), static_cast<unsigned>(std::popcount(mask))) << mask;
}

TEST(LeafTable, EntriesGoToOneOfTheirTwoBucketsWhileEitherHasRoom) {
  LeafTable table(1000, test_keys());
  const Filled filled = fill(table, 9000, 1);  // 75% of the slots
  for (std::size_t i = 0; i < filled.leaves.size(); ++i) {
    const std::uint64_t h = table.hash(filled.leaves[i]);
    const LeafSlot& slot = filled.slots[i];
    EXPECT_TRUE(slot.bucket == table.first(h) || slot.bucket == table.second(h)) << i;
    EXPECT_EQ(slot.passed, 0u) << i;
    EXPECT_LT(slot.slot, LeafTable::kSlots);
    EXPECT_EQ(find_position(table, filled.leaves, filled.leaves[i]), i);
  }
  EXPECT_EQ(table.entries(), 9000u);
}

TEST(LeafTable, EntriesPassBothFullBucketsAndAreStillFound) {
  // 3 buckets, 36 slots: every bucket fills, later entries pass on.
  LeafTable table(3, test_keys());
  const Filled filled = fill(table, 36, 2);
  std::uint32_t passing = 0;
  for (const LeafSlot& slot : filled.slots) passing += slot.passed;
  EXPECT_GT(passing, 0u);
  for (std::size_t i = 0; i < filled.leaves.size(); ++i)
    EXPECT_EQ(find_position(table, filled.leaves, filled.leaves[i]), i);
  std::mt19937_64 rng(99);
  EXPECT_EQ(find_position(table, filled.leaves, random_node(rng)), kNoPosition);
}

TEST(LeafTable, UndoNewestFirstRestoresTheTableExactly) {
  for (std::uint64_t buckets : {3u, 17u, 400u}) {
    LeafTable table(buckets, test_keys());
    const std::size_t keep = buckets * LeafTable::kSlots / 2, more = buckets * LeafTable::kSlots - keep;
    const Filled kept = fill(table, keep, 3 + buckets);
    // Snapshot of what lookups see before the undone appends.
    std::vector<std::uint64_t> before;
    for (const Node& leaf : kept.leaves) before.push_back(find_position(table, kept.leaves, leaf));
    ProbeCount probes_before{};
    for (const Node& leaf : kept.leaves)
      table.find(table.hash(leaf), [](std::uint64_t) { return false; }, Counting{probes_before});

    std::mt19937_64 rng(1000 + buckets);
    std::vector<Node> leaves = kept.leaves;
    std::vector<LeafSlot> slots;
    for (std::size_t i = 0; i < more; ++i) {
      leaves.push_back(random_node(rng));
      slots.push_back(table.append(table.hash(leaves.back()), static_cast<std::uint32_t>(keep + i)));
    }
    EXPECT_EQ(table.entries(), keep + more);
    for (std::size_t i = slots.size(); i-- > 0;) table.undo(slots[i]);
    EXPECT_EQ(table.entries(), keep);

    // Same answers and the same probe lengths (overflow counts restored).
    for (std::size_t i = 0; i < kept.leaves.size(); ++i)
      EXPECT_EQ(find_position(table, kept.leaves, kept.leaves[i]), before[i]);
    ProbeCount probes_after{};
    for (const Node& leaf : kept.leaves)
      table.find(table.hash(leaf), [](std::uint64_t) { return false; }, Counting{probes_after});
    EXPECT_EQ(probes_after.buckets, probes_before.buckets) << buckets;
    EXPECT_EQ(probes_after.candidates, probes_before.candidates) << buckets;
    for (std::size_t i = keep; i < leaves.size(); ++i)
      EXPECT_EQ(find_position(table, leaves, leaves[i]), kNoPosition) << "undone entry " << i << " still found";
  }
}

}  // namespace
}  // namespace rotortree::detail
