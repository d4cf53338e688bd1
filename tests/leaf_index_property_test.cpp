// Property: random mixes of insert, insert_many (with and without
// duplicates), rewind, snapshots, lookups and proofs by leaf, for several arities and
// every leaf policy, against a naive model: a vector of leaves and a hash map
// from leaf to its lowest index. Refused calls must change nothing.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "model.hpp"
#include "property_support.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

struct NodeHashFn {
  std::size_t operator()(const Node& node) const noexcept {
    std::size_t h;
    std::memcpy(&h, node.data(), sizeof h);
    return h;
  }
};

/// The model: the leaves in order and each leaf's lowest index.
struct LeafModel {
  std::vector<Node> leaves;
  std::unordered_map<Node, std::uint64_t, NodeHashFn> first;

  std::optional<std::uint64_t> index_of(const Node& leaf, std::uint64_t size) const {
    const auto it = first.find(leaf);
    if (it == first.end() || it->second >= size) return std::nullopt;
    return it->second;
  }
  /// The duplicate a `unique` tree must report for `batch`, if any.
  std::optional<DuplicateLeaf> duplicate_in(const std::vector<Node>& batch) const {
    std::unordered_map<Node, std::uint64_t, NodeHashFn> seen;
    for (std::uint64_t i = 0; i < batch.size(); ++i) {
      if (const auto it = first.find(batch[i]); it != first.end())
        return DuplicateLeaf{batch[i], i, it->second, std::nullopt};
      if (const auto it = seen.find(batch[i]); it != seen.end())
        return DuplicateLeaf{batch[i], i, std::nullopt, it->second};
      seen.emplace(batch[i], i);
    }
    return std::nullopt;
  }
  void rewind(std::uint64_t size) {
    leaves.resize(size);
    first.clear();
    for (std::uint64_t i = 0; i < size; ++i) first.emplace(leaves[i], i);
  }
  void append(const std::vector<Node>& batch) {
    for (const Node& leaf : batch) {
      first.emplace(leaf, leaves.size());
      leaves.push_back(leaf);
    }
  }
};

template <std::size_t N>
struct Arity {
  static constexpr std::size_t value = N;
};
template <class A>
class LeafIndexProperty : public ::testing::Test {};
using Arities = ::testing::Types<Arity<2>, Arity<3>, Arity<4>, Arity<7>, Arity<16>>;
TYPED_TEST_SUITE(LeafIndexProperty, Arities);

TYPED_TEST(LeafIndexProperty, RandomMixesMatchTheModel) {
  constexpr std::size_t N = TypeParam::value;
  check_property("insert/insert_many/snapshot/index_of/prove == model", 0.5, [] {
    const LeafPolicy policy = *rc::gen::element(LeafPolicy::index, LeafPolicy::unique);
    LeanIMT<Blake3, N> tree(tree_params<Blake3, N>(NodeHash::lean_imt, policy), TreeOptions{.threads = 1});
    const NaiveModel naive(N, HashId::blake3, NodeHash::lean_imt);
    LeafModel model;
    // A small pool of leaves makes repeats frequent; fresh ones come from a seed.
    const std::vector<Node> pool = random_leaves(24, *rc::gen::arbitrary<std::uint64_t>());
    std::uint64_t fresh_seed = *rc::gen::arbitrary<std::uint64_t>();
    auto draw_leaf = [&] {
      if (*rc::gen::inRange(0, 3) == 0) return pool[*rc::gen::inRange<std::size_t>(0, pool.size())];
      return random_leaves(1, fresh_seed++)[0];
    };
    // Each snapshot with the model of its time (rewinds change the model's prefix).
    std::vector<std::pair<Snapshot<Blake3, N>, LeafModel>> snapshots;
    int refused = 0;

    const int steps = *rc::gen::inRange(1, 40);
    for (int step = 0; step < steps; ++step) {
      switch (*rc::gen::inRange(0, 6)) {
        case 5: {  // rewind to any size, then the model's prefix
          const auto size = *rc::gen::inRange<std::uint64_t>(0, tree.size() + 1);
          tree.rewind(size);
          model.rewind(size);
          RC_ASSERT(tree.size() == size);
          break;
        }
        case 0:
        case 1: {  // insert_many of 1..300 leaves, or insert
          std::vector<Node> batch;
          const std::size_t count = *rc::gen::inRange<std::size_t>(1, *rc::gen::element(4, 40, 300));
          for (std::size_t i = 0; i < count; ++i) batch.push_back(draw_leaf());
          const auto expected = policy == LeafPolicy::unique ? model.duplicate_in(batch) : std::nullopt;
          const std::uint64_t size_before = tree.size();
          const auto root_before = tree.root();
          try {
            const InsertResult result = count == 1 && step % 2 == 0 ? tree.insert_with_index(batch[0])
                                                                    : tree.insert_many_with_index(batch);
            RC_ASSERT(!expected.has_value());
            RC_ASSERT(result.first_index == size_before);
            model.append(batch);
          } catch (const DuplicateLeafError& error) {
            ++refused;
            RC_ASSERT(expected.has_value());
            RC_ASSERT(error.code() == Errc::duplicate_leaf);
            const DuplicateLeaf& got = error.duplicate();
            RC_ASSERT(got.leaf == expected->leaf);
            RC_ASSERT(got.batch_position == expected->batch_position);
            RC_ASSERT(got.tree_index == expected->tree_index);
            RC_ASSERT(got.earlier_batch_position == expected->earlier_batch_position);
            RC_ASSERT(tree.size() == size_before);  // refused whole
            RC_ASSERT(tree.root() == root_before);
          }
          break;
        }
        case 2:  // a snapshot, kept
          if (snapshots.size() < 4) snapshots.emplace_back(tree.snapshot(), model);
          break;
        default: {  // lookups on the tree and every snapshot, one by one and batched
          std::vector<Node> queries;
          for (int i = 0; i < 12; ++i) queries.push_back(draw_leaf());
          if (!model.leaves.empty())
            for (int i = 0; i < 6; ++i)
              queries.push_back(model.leaves[*rc::gen::inRange<std::size_t>(0, model.leaves.size())]);
          for (const auto& kept : snapshots)  // leaves a rewind may have removed since
            if (!kept.second.leaves.empty())
              for (int i = 0; i < 3; ++i)
                queries.push_back(kept.second.leaves[*rc::gen::inRange<std::size_t>(0, kept.second.leaves.size())]);
          std::vector<std::optional<std::uint64_t>> batched(queries.size());
          tree.index_of(queries, batched);
          for (std::size_t i = 0; i < queries.size(); ++i) {
            const auto expected = model.index_of(queries[i], tree.size());
            RC_ASSERT(tree.index_of(queries[i]) == expected);
            RC_ASSERT(batched[i] == expected);
            RC_ASSERT(tree.contains(queries[i]) == expected.has_value());
            if (expected) {  // the proof of the leaf's lowest index
              const InclusionProof proof = tree.prove(*expected);
              RC_ASSERT(proof.leaf == queries[i]);
              RC_ASSERT(verify(proof).valid);
            }
          }
          for (const auto& [snapshot, then] : snapshots) {
            const std::uint64_t size = then.leaves.size();
            RC_ASSERT(snapshot.size() == size);
            snapshot.index_of(queries, batched);
            for (std::size_t i = 0; i < queries.size(); ++i) {
              const auto expected = then.index_of(queries[i], size);  // answers for its own size
              RC_ASSERT(snapshot.index_of(queries[i]) == expected);
              RC_ASSERT(batched[i] == expected);
            }
          }
        }
      }
    }
    RC_CLASSIFY(refused > 0, "a call was refused");
    RC_CLASSIFY(model.leaves.size() > 1000, "over 1000 leaves");
    RC_ASSERT(tree.size() == model.leaves.size());
    RC_ASSERT(tree.root() == naive.root(model.leaves));
    // Every leaf's lowest index, after all the growth the mix caused.
    for (std::uint64_t i = 0; i < model.leaves.size(); ++i)
      RC_ASSERT(tree.index_of(model.leaves[i]) == model.first.at(model.leaves[i]));
  });
}

}  // namespace
}  // namespace rotortree::test
