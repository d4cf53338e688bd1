// Builds a 4-ary BLAKE3 tree from an installed rotortree, proves and verifies
// a leaf, and prints the root (tests/package/package_test.sh runs it). With an
// argument, also writes the leaves there (raw 32-byte leaves) so the installed
// `rotortree root --leaves FILE` can be checked against the library.
#include <rotortree/rotortree.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <vector>

int main(int argc, char** argv) {
  using namespace rotortree;
  std::vector<Node> leaves(100);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const std::uint64_t v = i;
    Blake3::hash(reinterpret_cast<const std::uint8_t*>(&v), sizeof v, leaves[i].data());
  }
  if (argc > 1) {
    std::ofstream out(argv[1], std::ios::binary);
    for (const Node& leaf : leaves) out.write(reinterpret_cast<const char*>(leaf.data()), leaf.size());
    if (!out) return 2;
  }
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(std::span(leaves).first(90));
  for (std::size_t i = 90; i < leaves.size(); ++i) tree.insert(leaves[i]);

  const InclusionProof proof = tree.snapshot().prove(42);
  const Verdict verdict = verify(proof, *tree.root());
  std::printf("rotortree %s: size %llu, root %s, proof of leaf 42 %s\n", kVersion,
              static_cast<unsigned long long>(tree.size()), to_hex(*tree.root()).c_str(),
              verdict ? "valid" : verdict.reason.c_str());
  return verdict ? 0 : 1;
}
