// Roots computed by other implementations: the in-repo @zk-kit/lean-imt
// fixture and the reference-roots fixture (both schemes, several arities;
// tests/fixtures keeps a copy of ../shared's, compared with it when present). Each line is checked through the run-time tree (make_tree, batch
// and one-by-one), the typed LeanIMT of that arity, and the naive model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "rotortree/any_tree.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

struct ReferenceLine {
  NodeHash scheme;
  unsigned arity;
  std::uint64_t size;
  Node root;
  int line_number;
};

/// Parses "SCHEME ARITY SIZE ROOT_HEX" lines; '#' starts a comment line.
std::vector<ReferenceLine> parse_fixture(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<ReferenceLine> lines;
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    if (text.empty() || text[0] == '#') continue;
    std::istringstream fields(text);
    std::string scheme, hex, extra;
    ReferenceLine line{};
    if (!(fields >> scheme >> line.arity >> line.size >> hex) || (fields >> extra))
      throw std::runtime_error(path + ":" + std::to_string(number) + ": unparseable: " + text);
    line.scheme = parse_node_hash(scheme);
    const auto root = node_from_hex(hex);
    if (!root) throw std::runtime_error(path + ":" + std::to_string(number) + ": bad root hex");
    line.root = *root;
    line.line_number = number;
    lines.push_back(line);
  }
  return lines;
}

/// The root of a typed LeanIMT<Blake3, N> with the arity chosen at run time
/// (any 2..16, not just the run-time wrapper's 2, 3, 4, 8, 16).
template <std::size_t N>
std::optional<Node> typed_root(NodeHash scheme, std::span<const Node> leaves) {
  LeanIMT<Blake3, N> tree(tree_params<Blake3, N>(scheme));
  const std::size_t half = leaves.size() / 2;  // one batch and then one by one
  if (half > 0) tree.insert_many(leaves.first(half));
  for (std::size_t i = half; i < leaves.size(); ++i) tree.insert(leaves[i]);
  return tree.root();
}

template <std::size_t... Is>
std::optional<Node> typed_root_any_arity(unsigned arity, NodeHash scheme,
                                         std::span<const Node> leaves, std::index_sequence<Is...>) {
  std::optional<Node> root;
  const bool found = ((arity == Is + 2 ? (root = typed_root<Is + 2>(scheme, leaves), true) : false) || ...);
  if (!found) throw std::invalid_argument("arity " + std::to_string(arity) + " is not 2..16");
  return root;
}

void check_fixture(const std::string& path, std::size_t minimum_lines) {
  const std::vector<ReferenceLine> lines = parse_fixture(path);
  ASSERT_GE(lines.size(), minimum_lines) << path;
  std::uint64_t largest = 0;
  for (const auto& line : lines) largest = std::max(largest, line.size);
  const std::vector<Node> leaves = reference_leaves(largest);

  // One-by-one roots of every size, per (scheme, arity), via the run-time tree.
  std::map<std::pair<NodeHash, unsigned>, std::vector<Node>> one_by_one;
  for (const auto& line : lines) {
    auto& roots = one_by_one[{line.scheme, line.arity}];
    if (!roots.empty()) continue;
    auto tree = make_tree({line.arity, HashId::blake3, line.scheme});
    for (const Node& leaf : leaves) roots.push_back(tree->insert(leaf));
  }

  for (const auto& line : lines) {
    SCOPED_TRACE(path + ":" + std::to_string(line.line_number) + ": " +
                 std::string(to_string(line.scheme)) + " arity " + std::to_string(line.arity) +
                 " size " + std::to_string(line.size));
    ASSERT_GE(line.size, 1u);
    const std::span<const Node> prefix(leaves.data(), line.size);
    EXPECT_EQ(NaiveModel(line.arity, HashId::blake3, line.scheme).root(prefix), line.root)
        << "the naive model disagrees with the reference";
    auto tree = make_tree({line.arity, HashId::blake3, line.scheme});
    EXPECT_EQ(tree->insert_many(prefix), line.root) << "make_tree, one batch";
    EXPECT_EQ((one_by_one[{line.scheme, line.arity}][line.size - 1]), line.root)
        << "make_tree, one by one";
    EXPECT_EQ(typed_root_any_arity(line.arity, line.scheme, prefix, std::make_index_sequence<15>{}),
              line.root)
        << "typed LeanIMT";
  }
}

TEST(ReferenceRoots, InRepoZkKitLeanImtFixture) {
  check_fixture(std::string(ROTORTREE_TEST_FIXTURES_DIR) + "/zkkit-lean-imt-n2.txt", 10);
}

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The in-repo copy of ../shared/reference-roots.txt: a plain clone has no ../shared.
TEST(ReferenceRoots, InRepoCopyOfTheSharedFixtureOfBothSchemesAndSeveralArities) {
  check_fixture(std::string(ROTORTREE_TEST_FIXTURES_DIR) + "/reference-roots.txt", 80);
}

TEST(ReferenceRoots, SharedFixtureEqualsTheInRepoCopy) {
  const char* from_env = std::getenv("ROTORTREE_REFERENCE_ROOTS");
  const std::string path = from_env && *from_env ? from_env : ROTORTREE_REFERENCE_ROOTS;
  if (!std::ifstream(path)) GTEST_SKIP() << "shared fixture not found: " << path;
  EXPECT_EQ(file_contents(path),
            file_contents(std::string(ROTORTREE_TEST_FIXTURES_DIR) + "/reference-roots.txt"))
      << path << " differs from tests/fixtures/reference-roots.txt: update the copy";
  check_fixture(path, 1);
}

TEST(ReferenceRoots, LeavesAreTheDocumentedSha256OfRotortreeAndTheIndex) {
  // SHA-256("rotortree" || 00 00 00 00 00 00 00 00), computed with Python's
  // hashlib; leaf 0 is also the root of every 1-leaf reference tree.
  EXPECT_EQ(to_hex(reference_leaf(0)),
            "663b47ab5183c0352282e840a2efb03ea59bfb4e76aafb98e0600198e2138489");
}

}  // namespace
}  // namespace rotortree::test
