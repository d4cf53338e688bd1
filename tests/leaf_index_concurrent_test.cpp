// Lookups from readers while writers insert (and rewind) into a `unique` ConcurrentLeanIMT:
// every snapshot answers exactly for its own size, and two writers offering
// the same leaves never both insert one. Short: also run under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "rotortree/concurrent.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

/// Readers check every snapshot's lookups while the writer inserts the leaves
/// in order (and, with `rewinds`, rewinds now and then and inserts the same
/// leaves again, so that leaf i is always at index i).
void readers_while_writing(int max_rewinds) {
  ConcurrentLeanIMT<Blake3, 4> tree(tree_params<Blake3, 4>(NodeHash::lean_imt, LeafPolicy::unique),
                                    TreeOptions{.threads = 1});
  const auto leaves = random_leaves(6000, 21);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> checks{0};
  auto reader = [&](std::uint64_t seed) {
    std::vector<std::optional<std::uint64_t>> out(64);
    do {  // at least once, however late the thread starts
      const auto snapshot = tree.snapshot();
      const std::uint64_t size = snapshot.size();
      const std::size_t first = static_cast<std::size_t>(seed++ * 61 % (leaves.size() - out.size()));
      const std::span<const Node> queries = std::span<const Node>(leaves).subspan(first, out.size());
      snapshot.index_of(queries, out);
      for (std::size_t i = 0; i < out.size(); ++i) {
        const std::uint64_t index = first + i;
        const auto expected = index < size ? std::optional<std::uint64_t>(index) : std::nullopt;
        ASSERT_EQ(out[i], expected);
        ASSERT_EQ(snapshot.index_of(queries[i]), expected);
      }
      checks.fetch_add(1, std::memory_order_relaxed);
    } while (!done.load(std::memory_order_acquire));
  };
  std::thread r1(reader, 1), r2(reader, 2);
  int rewinds = 0;  // at most max_rewinds
  for (std::size_t done_leaves = 0; done_leaves < leaves.size();) {
    const std::size_t n = std::min<std::size_t>(1 + done_leaves % 97, leaves.size() - done_leaves);
    if (n == 1)
      tree.insert(leaves[done_leaves]);
    else
      tree.insert_many(std::span<const Node>(leaves).subspan(done_leaves, n));
    done_leaves += n;
    if (n % 7 == 3 && done_leaves < leaves.size() && rewinds++ < max_rewinds) {  // rewind, then the same leaves again
      done_leaves -= done_leaves / 3;
      tree.rewind(done_leaves);
    }
    if (done_leaves > 1) {
      EXPECT_THROW(tree.insert(leaves[done_leaves / 2]), DuplicateLeafError);
    }
  }
  done.store(true, std::memory_order_release);
  r1.join();
  r2.join();
  EXPECT_GT(checks.load(), 0u);
  EXPECT_EQ(tree.size(), leaves.size());
}

TEST(LeafIndexConcurrent, ReadersLookUpWhileAWriterInserts) { readers_while_writing(0); }

TEST(LeafIndexConcurrent, ReadersLookUpWhileAWriterInsertsAndRewinds) { readers_while_writing(20); }

TEST(LeafIndexConcurrent, TwoWritersNeverBothInsertALeaf) {
  ConcurrentLeanIMT<Blake3, 2> tree(tree_params<Blake3, 2>(NodeHash::lean_imt, LeafPolicy::unique),
                                    TreeOptions{.threads = 1});
  const auto leaves = random_leaves(2000, 22);
  std::atomic<std::uint64_t> accepted{0};
  auto writer = [&](bool backwards) {
    for (std::size_t k = 0; k < leaves.size(); k += 4) {
      const std::size_t first = backwards ? leaves.size() - 4 - k : k;
      try {
        tree.insert_many(std::span<const Node>(leaves).subspan(first, 4));
        accepted.fetch_add(4);
      } catch (const DuplicateLeafError&) {
      }
    }
  };
  std::thread a(writer, false), b(writer, true);
  a.join();
  b.join();
  EXPECT_EQ(accepted.load(), leaves.size());
  EXPECT_EQ(tree.size(), leaves.size());
  for (const Node& leaf : leaves) EXPECT_TRUE(tree.contains(leaf));
}

}  // namespace
}  // namespace rotortree::test
