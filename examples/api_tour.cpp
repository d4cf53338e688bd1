// A short tour of the C++ API: build a tree, prove, verify, follow it with a
// consistency proof, and keep an old inclusion proof current.
#include <rotortree/rotortree.hpp>

#include <cstdio>
#include <vector>

using namespace rotortree;

int main() {
  // Leaves are prehashed 32-byte values (nullifiers, commitments, ...).
  std::vector<Node> leaves(1000);
  for (std::size_t i = 0; i < leaves.size(); ++i) Blake3::hash(reinterpret_cast<const std::uint8_t*>(&i), sizeof i, leaves[i].data());

  // A 4-ary tree hashed with BLAKE3 (the default `lean-imt` node hash).
  LeanIMT<Blake3, 4> tree;
  tree.insert_many(std::span(leaves).first(600));  // a bulk sync ...
  for (std::size_t i = 600; i < 610; ++i) tree.insert(leaves[i]);  // ... then a few per block
  std::printf("size %llu, depth %u, root %s\n", static_cast<unsigned long long>(tree.size()),
              tree.depth(), to_hex(*tree.root()).c_str());

  // Snapshots are cheap immutable views: serve proofs from them while the tree grows.
  const auto old_view = tree.snapshot();
  const InclusionProof proof = old_view.prove(42);
  std::printf("proof of leaf 42: %zu levels, %s\n", proof.path.levels.size(),
              verify(proof, *old_view.root()) ? "valid" : "INVALID");

  tree.insert_many(std::span(leaves).subspan(610));

  // A client that trusts the old root checks the new one with a consistency proof ...
  const ConsistencyProof step = tree.snapshot().consistency(old_view.size(), *old_view.root());
  std::printf("consistency %llu -> %llu: %s\n", static_cast<unsigned long long>(step.old_size),
              static_cast<unsigned long long>(step.new_size),
              verify(step, *old_view.root()) ? "valid" : "INVALID");

  // ... and updates its inclusion proof without asking for a new one.
  const InclusionProof updated = update_inclusion_proof(proof, step);
  std::printf("updated proof of leaf 42 against the new root: %s\n",
              verify(updated, *tree.root()) ? "valid" : "INVALID");

  // Proofs travel as JSON (SPEC §2) or in a compact binary form.
  std::printf("binary proof: %zu bytes, JSON: %zu bytes\n", to_binary(updated).size(), to_json(updated).size());

  // Errors are typed and leave the tree unchanged.
  try {
    tree.insert_many({});
  } catch (const Error& e) {
    std::printf("empty batch -> %s: %s\n", std::string(to_string(e.code())).c_str(), e.what());
  }
  return verify(updated, *tree.root()) ? 0 : 1;
}
