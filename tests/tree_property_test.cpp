// Property: any mix of insert and insert_many, with any arity 2..16, scheme
// and hash, gives the naive model's tree after every call; a parallel tree
// (2 threads, tiny parallel threshold) is byte-identical to a sequential one.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "property_support.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class C>
class TreeProperty : public ::testing::Test {};
TYPED_TEST_SUITE(TreeProperty, AllConfigs, ConfigName);

/// Tree sizes: mostly small (a few levels), sometimes a few thousand leaves
/// (past one storage chunk of N*128 leaves, and enough parents per level for
/// the parallel path to split them).
rc::Gen<std::size_t> tree_sizes(std::size_t arity) {
  return rc::gen::weightedOneOf<std::size_t>({
      {6, rc::gen::inRange<std::size_t>(1, 3 * arity * arity + 2)},
      {3, rc::gen::inRange<std::size_t>(1, 700)},
      {1, rc::gen::inRange<std::size_t>(700, 4200)},
  });
}

/// Every node of every level is the model's.
template <class Tree>
bool all_nodes_equal(const Tree& tree, const std::vector<std::vector<Node>>& levels) {
  for (unsigned l = 0; l < levels.size(); ++l)
    for (std::uint64_t i = 0; i < levels[l].size(); ++i)
      if (tree.node(l, i) != levels[l][i]) return false;
  return true;
}

TYPED_TEST(TreeProperty, AnyMixOfInsertsMatchesTheModelAndParallelIsByteIdentical) {
  using Config = TypeParam;
  check_property("insert/insert_many mix == model, threads=2 == threads=1",
                 hash_case_scale<typename Config::hasher>(), [] {
    const NaiveModel model = Config::model();
    const std::size_t size = *tree_sizes(Config::arity);
    const std::vector<Node> leaves = random_leaves(size, *rc::gen::arbitrary<std::uint64_t>());
    const std::size_t threshold = *rc::gen::inRange<std::size_t>(1, 9);

    // Cut the leaves into at most 8 pieces.
    std::vector<std::size_t> cuts{0, size};
    if (size > 1) {
      const auto inner = *rc::gen::resize(
          7, rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, size)));
      cuts.insert(cuts.end(), inner.begin(), inner.end());
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

    typename Config::tree sequential(Config::params(), Config::options(1));
    typename Config::tree parallel(Config::params(), Config::options(2, threshold));
    RC_ASSERT(parallel.threads() == 2u);
    for (std::size_t piece = 0; piece + 1 < cuts.size(); ++piece) {
      const std::size_t begin = cuts[piece], end = cuts[piece + 1];
      // Short pieces of small trees may go in one by one (every root checked).
      const bool one_by_one = end - begin <= 12 && size <= 700 && *rc::gen::arbitrary<bool>();
      if (one_by_one) {
        for (std::size_t i = begin; i < end; ++i) {
          const Node returned = sequential.insert(leaves[i]);
          RC_ASSERT(parallel.insert(leaves[i]) == returned);
          RC_ASSERT(sequential.root() == std::optional<Node>(returned));
          RC_ASSERT(std::optional<Node>(returned) == model.root(std::span(leaves.data(), i + 1)));
        }
      } else {
        const std::span<const Node> batch(leaves.data() + begin, end - begin);
        const Node returned = sequential.insert_many(batch);
        RC_ASSERT(parallel.insert_many(batch) == returned);
        RC_ASSERT(sequential.root() == std::optional<Node>(returned));
        RC_ASSERT(std::optional<Node>(returned) == model.root(std::span(leaves.data(), end)));
        if (end - begin > 1) {  // a size inside the batch, through a prefix snapshot
          const std::size_t inside = *rc::gen::inRange(begin + 1, end);
          RC_ASSERT(sequential.snapshot().prefix(inside).root() ==
                    model.root(std::span(leaves.data(), inside)));
        }
      }
      RC_ASSERT(sequential.size() == end);
      RC_ASSERT(parallel.size() == end);
    }
    const auto levels = model.levels(leaves);
    RC_ASSERT(sequential.depth() == levels.size() - 1);
    RC_ASSERT(all_nodes_equal(sequential, levels));
    RC_ASSERT(all_nodes_equal(parallel, levels));
  });
}

TYPED_TEST(TreeProperty, ABatchEqualsItsLeavesOneByOne) {
  using Config = TypeParam;
  check_property("insert_many(b) == insert(b[0]); insert(b[1]); ...",
                 0.5 * hash_case_scale<typename Config::hasher>(), [] {
    const std::size_t before = *rc::gen::inRange<std::size_t>(0, 4 * Config::arity * Config::arity);
    const std::size_t batch = *rc::gen::inRange<std::size_t>(1, 4 * Config::arity * Config::arity);
    const std::vector<Node> leaves =
        random_leaves(before + batch, *rc::gen::arbitrary<std::uint64_t>());
    typename Config::tree batched(Config::params(), Config::options(1)), single(Config::params(), Config::options(1));
    if (before > 0) batched.insert_many(std::span(leaves.data(), before));
    batched.insert_many(std::span(leaves.data() + before, batch));
    for (const Node& leaf : leaves) single.insert(leaf);
    RC_ASSERT(batched.root() == single.root());
    const auto levels = Config::model().levels(leaves);
    RC_ASSERT(all_nodes_equal(batched, levels));
    RC_ASSERT(all_nodes_equal(single, levels));
  });
}

}  // namespace
}  // namespace rotortree::test
