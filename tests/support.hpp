// Shared helpers of the test executables: leaf generators, typed-test
// configurations, error expectations.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "model.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/proof.hpp"
#include "rotortree/tree.hpp"
#include "rotortree/types.hpp"

namespace rotortree::test {

/// splitmix64: a fast deterministic stream for leaf bytes.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// `count` pseudo-random leaves determined by `seed`.
inline std::vector<Node> random_leaves(std::size_t count, std::uint64_t seed) {
  std::vector<Node> leaves(count);
  std::uint64_t state = seed;
  for (Node& leaf : leaves)
    for (std::size_t i = 0; i < 32; i += 8) {
      const std::uint64_t word = splitmix64(state);
      std::memcpy(leaf.data() + i, &word, 8);
    }
  return leaves;
}

/// Leaf i of the shared reference fixtures: SHA-256("rotortree" || u64 LE i).
inline Node reference_leaf(std::uint64_t i) {
  std::uint8_t message[9 + 8];
  std::memcpy(message, "rotortree", 9);
  for (int b = 0; b < 8; ++b) message[9 + b] = static_cast<std::uint8_t>(i >> (8 * b));
  Node leaf{};
  Sha256::hash(message, sizeof message, leaf.data());
  return leaf;
}

inline std::vector<Node> reference_leaves(std::size_t count) {
  std::vector<Node> leaves;
  leaves.reserve(count);
  for (std::size_t i = 0; i < count; ++i) leaves.push_back(reference_leaf(i));
  return leaves;
}

inline Node node_of(std::uint8_t fill) {
  Node n;
  n.fill(fill);
  return n;
}

inline Node hex_node(const char* hex) {
  const auto node = node_from_hex(hex);
  if (!node) throw std::invalid_argument(std::string("bad hex in test: ") + hex);
  return *node;
}

/// Runs `fn` and returns the Errc it threw as rotortree::Error; fails the
/// test if it threw nothing or something else.
template <class Fn>
::testing::AssertionResult throws_errc(Fn&& fn, Errc expected) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.code() == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "threw Errc::" << to_string(e.code()) << " ("
                                         << e.what() << "), expected Errc::" << to_string(expected);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-rotortree exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "threw nothing, expected Errc::" << to_string(expected);
}
#define EXPECT_ERRC(statement, code) EXPECT_TRUE(::rotortree::test::throws_errc([&] { (void)(statement); }, code))
#define ASSERT_ERRC(statement, code) ASSERT_TRUE(::rotortree::test::throws_errc([&] { (void)(statement); }, code))

/// A tree configuration for typed tests: hash function, arity, node-hash scheme.
template <class H, std::size_t N, NodeHash S>
struct TreeConfig {
  using hasher = H;
  static constexpr std::size_t arity = N;
  static constexpr NodeHash scheme = S;
  using tree = LeanIMT<H, N>;
  static NaiveModel model() { return NaiveModel(N, H::id, S); }
  static TreeParams params() { return tree_params<H, N>(S); }
  static TreeOptions options(std::size_t threads = 1, std::size_t parallel_threshold = 0) {
    TreeOptions o;
    o.threads = threads;
    o.parallel_threshold = parallel_threshold;
    return o;
  }
  static std::string name() {
    return std::string(H::name) + "_arity" + std::to_string(N) + "_" +
           (S == NodeHash::lean_imt ? "leanimt" : "tagged");
  }
};

/// Readable typed-test names ("blake3_arity4_leanimt").
struct ConfigName {
  template <class C>
  static std::string GetName(int) {
    return C::name();
  }
};

#define ROTORTREE_ALL_ARITIES(H, S)                                                               \
  ::rotortree::test::TreeConfig<H, 2, S>, ::rotortree::test::TreeConfig<H, 3, S>,                 \
      ::rotortree::test::TreeConfig<H, 4, S>, ::rotortree::test::TreeConfig<H, 5, S>,             \
      ::rotortree::test::TreeConfig<H, 6, S>, ::rotortree::test::TreeConfig<H, 7, S>,             \
      ::rotortree::test::TreeConfig<H, 8, S>, ::rotortree::test::TreeConfig<H, 9, S>,             \
      ::rotortree::test::TreeConfig<H, 10, S>, ::rotortree::test::TreeConfig<H, 11, S>,           \
      ::rotortree::test::TreeConfig<H, 12, S>, ::rotortree::test::TreeConfig<H, 13, S>,           \
      ::rotortree::test::TreeConfig<H, 14, S>, ::rotortree::test::TreeConfig<H, 15, S>,           \
      ::rotortree::test::TreeConfig<H, 16, S>

/// Every arity 2..16 x both schemes x both hashes: 60 configurations, for
/// the properties (tree_property_test.cpp, proof_property_test.cpp).
using AllConfigs = ::testing::Types<ROTORTREE_ALL_ARITIES(Blake3, NodeHash::lean_imt),
                                    ROTORTREE_ALL_ARITIES(Blake3, NodeHash::tagged),
                                    ROTORTREE_ALL_ARITIES(Sha256, NodeHash::lean_imt),
                                    ROTORTREE_ALL_ARITIES(Sha256, NodeHash::tagged)>;

/// The deterministic typed tests: every arity with BLAKE3 and lean-imt, and a
/// spread of the other combinations (26 configurations: the hash and scheme
/// only change how a group is hashed, which the properties cover for all 60).
using UnitConfigs = ::testing::Types<
    ROTORTREE_ALL_ARITIES(Blake3, NodeHash::lean_imt), TreeConfig<Blake3, 2, NodeHash::tagged>,
    TreeConfig<Blake3, 3, NodeHash::tagged>, TreeConfig<Blake3, 4, NodeHash::tagged>,
    TreeConfig<Blake3, 7, NodeHash::tagged>, TreeConfig<Blake3, 8, NodeHash::tagged>,
    TreeConfig<Blake3, 16, NodeHash::tagged>, TreeConfig<Sha256, 2, NodeHash::lean_imt>,
    TreeConfig<Sha256, 3, NodeHash::lean_imt>, TreeConfig<Sha256, 16, NodeHash::lean_imt>,
    TreeConfig<Sha256, 2, NodeHash::tagged>, TreeConfig<Sha256, 5, NodeHash::tagged>>;

/// Compare a library proof path with the model's expected path.
inline ::testing::AssertionResult path_matches(const Path& path,
                                               const std::vector<ModelLevel>& expected) {
  if (path.levels.size() != expected.size())
    return ::testing::AssertionFailure() << "path has " << path.levels.size()
                                         << " levels, model has " << expected.size();
  std::size_t offset = 0;
  for (std::size_t l = 0; l < expected.size(); ++l) {
    const ProofLevel& level = path.levels[l];
    if (level.position != expected[l].position)
      return ::testing::AssertionFailure() << "level " << l << ": position " << int(level.position)
                                           << ", model " << expected[l].position;
    if (level.sibling_count != expected[l].siblings.size())
      return ::testing::AssertionFailure() << "level " << l << ": " << int(level.sibling_count)
                                           << " siblings, model " << expected[l].siblings.size();
    for (std::size_t j = 0; j < expected[l].siblings.size(); ++j) {
      if (offset + j >= path.siblings.size() || path.siblings[offset + j] != expected[l].siblings[j])
        return ::testing::AssertionFailure() << "level " << l << ": sibling " << j << " differs";
    }
    offset += level.sibling_count;
  }
  if (offset != path.siblings.size())
    return ::testing::AssertionFailure() << path.siblings.size() << " siblings in total, model "
                                         << offset;
  return ::testing::AssertionSuccess();
}

}  // namespace rotortree::test
