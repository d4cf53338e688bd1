#include "rotortree/any_tree.hpp"

#include <string>

namespace rotortree {

namespace {

template <Hasher H, std::size_t N>
class AnyTreeImpl final : public AnyTree {
 public:
  explicit AnyTreeImpl(const TreeOptions& options) : tree_(options) {}
  ProofParams params() const override { return {static_cast<unsigned>(N), H::id, tree_.node_hash()}; }
  std::uint64_t size() const override { return tree_.size(); }
  std::optional<Node> root() const override { return tree_.root(); }
  Node insert(const Node& leaf) override { return tree_.insert(leaf); }
  Node insert_many(std::span<const Node> leaves) override { return tree_.insert_many(leaves); }
  InsertResult insert_with_index(const Node& leaf) override { return tree_.insert_with_index(leaf); }
  InsertResult insert_many_with_index(std::span<const Node> leaves) override {
    return tree_.insert_many_with_index(leaves);
  }
  std::unique_ptr<AnySnapshot> snapshot() const override { return erase(tree_.snapshot()); }
  LeafPolicy leaf_policy() const override { return tree_.leaf_policy(); }
  LeafSecret leaf_secret() const override { return tree_.leaf_secret(); }
  std::optional<std::uint64_t> index_of(const Node& leaf) const override { return tree_.index_of(leaf); }
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const override {
    tree_.index_of(leaves, out);
  }
  std::size_t index_bytes() const override { return tree_.index_bytes(); }

 private:
  LeanIMT<H, N> tree_;
};

template <Hasher H>
std::unique_ptr<AnyTree> make_for_hash(unsigned arity, const TreeOptions& options) {
  switch (arity) {
    case 2: return std::make_unique<AnyTreeImpl<H, 2>>(options);
    case 3: return std::make_unique<AnyTreeImpl<H, 3>>(options);
    case 4: return std::make_unique<AnyTreeImpl<H, 4>>(options);
    case 8: return std::make_unique<AnyTreeImpl<H, 8>>(options);
    case 16: return std::make_unique<AnyTreeImpl<H, 16>>(options);
  }
  throw Error(Errc::invalid_argument,
              "unsupported arity " + std::to_string(arity) + " (expected 2, 3, 4, 8 or 16)");
}

}  // namespace

bool is_runtime_arity(unsigned arity) noexcept {
  return arity == 2 || arity == 3 || arity == 4 || arity == 8 || arity == 16;
}

std::unique_ptr<AnyTree> make_tree(const ProofParams& params, const TreeOptions& options) {
  TreeOptions effective = options;
  effective.node_hash = params.node_hash;
  switch (params.hash) {
    case HashId::blake3: return make_for_hash<Blake3>(params.arity, effective);
    case HashId::sha256: return make_for_hash<Sha256>(params.arity, effective);
  }
  throw Error(Errc::invalid_argument, "unknown hash function");
}

}  // namespace rotortree
