#include "rotortree/proof.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "rotortree/geometry.hpp"
#include "rotortree/hash.hpp"

namespace rotortree {

namespace {

[[noreturn]] void malformed(const std::string& why) { throw Error(Errc::malformed_proof, why); }

void check_params(const ProofParams& params) {
  if (params.arity < kMinArity || params.arity > kMaxArity)
    malformed("arity " + std::to_string(params.arity) + " is not in 2..16");
  if (params.hash != HashId::blake3 && params.hash != HashId::sha256 && params.hash != HashId::poseidon)
    malformed("unknown hash");
  if (params.node_hash != NodeHash::lean_imt && params.node_hash != NodeHash::tagged)
    malformed("unknown node hash scheme");
  if (params.hash == HashId::poseidon && params.node_hash != NodeHash::lean_imt)
    malformed("node hash 'tagged' does not apply to poseidon (only lean-imt)");
}

// Poseidon proofs hold field elements: a value >= p is no encoding of one.
void check_values(const ProofParams& params, std::initializer_list<const Node*> fixed, const Path& path) {
  if (params.hash != HashId::poseidon) return;
  auto check = [](const Node& value, const char* what) {
    if (!Poseidon::is_field_element(value))
      malformed(std::string(what) + " " + to_hex(value) + " is not a field element (not below p)");
  };
  for (const Node* value : fixed) check(*value, "value");
  for (const Node& sibling : path.siblings) check(sibling, "sibling");
}

void check_path(const Path& path, unsigned arity) {
  if (path.levels.size() > kMaxLevels)
    malformed(std::to_string(path.levels.size()) + " levels, at most " +
              std::to_string(kMaxLevels) + " allowed");
  std::size_t total = 0;
  for (std::size_t l = 0; l < path.levels.size(); ++l) {
    const ProofLevel& level = path.levels[l];
    if (level.position >= arity)
      malformed("level " + std::to_string(l) + ": position " + std::to_string(level.position) +
                " is not below the arity " + std::to_string(arity));
    if (level.sibling_count > geometry::max_siblings(arity))
      malformed("level " + std::to_string(l) + ": " + std::to_string(level.sibling_count) +
                " siblings, at most " + std::to_string(geometry::max_siblings(arity)) + " allowed");
    total += level.sibling_count;
  }
  if (total != path.siblings.size()) malformed("sibling counts do not add up to the siblings given");
}

// The shape a path must have: position and sibling count of every level for
// leaf `index` in a tree of `size` leaves. Returns a reason if it differs.
std::string check_shape(const Path& path, std::uint64_t index, std::uint64_t size, unsigned arity) {
  const unsigned depth = geometry::depth_for_size(size, arity);
  if (path.levels.size() != depth)
    return "the proof has " + std::to_string(path.levels.size()) + " levels, a tree of " +
           std::to_string(size) + " leaves has " + std::to_string(depth);
  std::string why;
  geometry::for_each_path_level(index, size, arity, [&](unsigned l, const geometry::PathLevel& at) {
    if (!why.empty()) return;
    if (path.levels[l].position != at.position)
      why = "level " + std::to_string(l) + ": position " + std::to_string(path.levels[l].position) +
            " does not match the leaf index";
    else if (path.levels[l].sibling_count != at.sibling_count)
      why = "level " + std::to_string(l) + ": " + std::to_string(path.levels[l].sibling_count) +
            " siblings where the tree has " + std::to_string(at.sibling_count);
  });
  return why;
}

// Hash `node` at `position` among `siblings` (or lift it when alone).
Node fold_level(const ProofParams& params, const Node& node, unsigned position,
                std::span<const Node> siblings) {
  if (siblings.empty()) return node;
  Node group[kMaxArity];
  std::copy_n(siblings.begin(), position, group);
  group[position] = node;
  std::copy(siblings.begin() + position, siblings.end(), group + position + 1);
  Node out;
  hash_group(params.hash, params.node_hash, group, static_cast<unsigned>(siblings.size() + 1), out);
  return out;
}

}  // namespace

std::span<const Node> Path::siblings_of(std::size_t level) const {
  std::size_t offset = 0;
  for (std::size_t l = 0; l < level; ++l) offset += levels[l].sibling_count;
  return {siblings.data() + offset, levels[level].sibling_count};
}

void check_well_formed(const InclusionProof& proof) {
  check_params(proof.params);
  check_path(proof.path, proof.params.arity);
  check_values(proof.params, {&proof.root, &proof.leaf}, proof.path);
}

void check_well_formed(const ConsistencyProof& proof) {
  check_params(proof.params);
  check_path(proof.path, proof.params.arity);
  check_values(proof.params, {&proof.old_root, &proof.new_root, &proof.leaf}, proof.path);
}

Verdict verify(const InclusionProof& proof) {
  check_well_formed(proof);
  if (proof.leaf_index >= proof.tree_size)
    return Verdict::fail("leaf index " + std::to_string(proof.leaf_index) +
                         " is not below the tree size " + std::to_string(proof.tree_size));
  if (std::string why = check_shape(proof.path, proof.leaf_index, proof.tree_size, proof.params.arity);
      !why.empty())
    return Verdict::fail(why);
  Node current = proof.leaf;
  std::size_t offset = 0;
  for (const ProofLevel& level : proof.path.levels) {
    current = fold_level(proof.params, current, level.position,
                         {proof.path.siblings.data() + offset, level.sibling_count});
    offset += level.sibling_count;
  }
  if (current != proof.root) return Verdict::fail("the recomputed root differs from the proof's root");
  return Verdict::ok();
}

Verdict verify(const InclusionProof& proof, const Node& trusted_root) {
  Verdict verdict = verify(proof);
  if (verdict && proof.root != trusted_root)
    return Verdict::fail("the proof's root is not the trusted root");
  return verdict;
}

Verdict verify(const InclusionProof& proof, const Node& trusted_root, std::uint64_t trusted_size) {
  Verdict verdict = verify(proof, trusted_root);
  if (verdict && proof.tree_size != trusted_size)
    return Verdict::fail("the proof's tree size " + std::to_string(proof.tree_size) +
                         " is not the trusted size " + std::to_string(trusted_size));
  return verdict;
}

Verdict verify(const ConsistencyProof& proof) {
  check_well_formed(proof);
  if (proof.old_size == 0) return Verdict::fail("old size must be at least 1");
  if (proof.old_size > proof.new_size)
    return Verdict::fail("old size " + std::to_string(proof.old_size) + " is larger than new size " +
                         std::to_string(proof.new_size));
  if (std::string why =
          check_shape(proof.path, proof.old_size - 1, proof.new_size, proof.params.arity);
      !why.empty())
    return Verdict::fail(why);
  Node old_node = proof.leaf, new_node = proof.leaf;
  std::size_t offset = 0;
  for (const ProofLevel& level : proof.path.levels) {
    const Node* siblings = proof.path.siblings.data() + offset;
    // Old tree: the group ends at the path's node (its right siblings are new).
    old_node = fold_level(proof.params, old_node, level.position, {siblings, level.position});
    new_node = fold_level(proof.params, new_node, level.position, {siblings, level.sibling_count});
    offset += level.sibling_count;
  }
  if (old_node != proof.old_root) return Verdict::fail("the recomputed old root differs from old_root");
  if (new_node != proof.new_root) return Verdict::fail("the recomputed new root differs from new_root");
  return Verdict::ok();
}

Verdict verify(const ConsistencyProof& proof, const Node& trusted_old_root) {
  Verdict verdict = verify(proof);
  if (verdict && proof.old_root != trusted_old_root)
    return Verdict::fail("old_root is not the trusted old root");
  return verdict;
}

Verdict verify(const ConsistencyProof& proof, const Node& trusted_old_root, std::uint64_t trusted_old_size) {
  Verdict verdict = verify(proof, trusted_old_root);
  if (verdict && proof.old_size != trusted_old_size)
    return Verdict::fail("old_size " + std::to_string(proof.old_size) + " is not the trusted old size " +
                         std::to_string(trusted_old_size));
  return verdict;
}

InclusionProof update_inclusion_proof(const InclusionProof& old_proof,
                                      const ConsistencyProof& consistency) {
  if (old_proof.params != consistency.params)
    throw Error(Errc::parameter_mismatch, "the proofs use different arity, hash or node hash");
  if (old_proof.tree_size != consistency.old_size || old_proof.root != consistency.old_root)
    throw Error(Errc::parameter_mismatch,
                "the inclusion proof is not for the consistency proof's old tree");
  if (Verdict v = verify(old_proof); !v) malformed("inclusion proof: " + v.reason);
  if (Verdict v = verify(consistency); !v) malformed("consistency proof: " + v.reason);

  const unsigned arity = consistency.params.arity;
  const std::size_t depth = consistency.path.levels.size();
  InclusionProof updated;
  updated.params = consistency.params;
  updated.root = consistency.new_root;
  updated.leaf = old_proof.leaf;
  updated.leaf_index = old_proof.leaf_index;
  updated.tree_size = consistency.new_size;
  updated.path.levels.resize(depth);
  updated.path.siblings.reserve(depth * geometry::max_siblings(arity));

  std::uint64_t index = old_proof.leaf_index;        // our path
  std::uint64_t edge = consistency.old_size - 1;     // the consistency proof's path
  Node edge_value = consistency.leaf;                // node `edge` in the new tree
  std::size_t old_offset = 0, edge_offset = 0;
  for (std::size_t l = 0; l < depth; ++l) {
    const ProofLevel& edge_level = consistency.path.levels[l];
    const Node* edge_siblings = consistency.path.siblings.data() + edge_offset;
    ProofLevel& level = updated.path.levels[l];
    if (geometry::parent_of(index, arity) != geometry::parent_of(edge, arity)) {
      // A group left of the old edge: full and final in both trees.
      const ProofLevel& old_level = old_proof.path.levels[l];
      level = old_level;
      updated.path.siblings.insert(updated.path.siblings.end(),
                                   old_proof.path.siblings.begin() + old_offset,
                                   old_proof.path.siblings.begin() + old_offset + old_level.sibling_count);
    } else {
      // The edge's group: shared left siblings, the edge node's new value, new right siblings.
      const unsigned position = static_cast<unsigned>(index - geometry::group_start(index, arity));
      level.position = static_cast<std::uint8_t>(position);
      level.sibling_count = edge_level.sibling_count;
      for (unsigned j = 0; j <= edge_level.sibling_count; ++j) {
        if (j == position) continue;
        if (j < edge_level.position)
          updated.path.siblings.push_back(edge_siblings[j]);
        else if (j == edge_level.position)
          updated.path.siblings.push_back(edge_value);
        else
          updated.path.siblings.push_back(edge_siblings[j - 1]);
      }
    }
    if (l < old_proof.path.levels.size()) old_offset += old_proof.path.levels[l].sibling_count;
    edge_value = fold_level(consistency.params, edge_value, edge_level.position,
                            {edge_siblings, edge_level.sibling_count});
    edge_offset += edge_level.sibling_count;
    index = geometry::parent_of(index, arity);
    edge = geometry::parent_of(edge, arity);
  }
  if (Verdict v = verify(updated); !v) malformed("updated proof does not verify: " + v.reason);
  return updated;
}

}  // namespace rotortree
