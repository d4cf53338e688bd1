#include "rotortree/any_tree.hpp"

#include <algorithm>

#include "dispatch.hpp"

namespace rotortree {

namespace {

template <Hasher H, std::size_t N>
class AnyTreeImpl final : public AnyTree {
 public:
  AnyTreeImpl(const TreeParams& params, const TreeOptions& options) : tree_(params, options) {}
  TreeParams params() const override { return tree_.params(); }
  std::uint64_t size() const override { return tree_.size(); }
  std::optional<Node> root() const override { return tree_.root(); }
  Node insert(const Node& leaf) override { return tree_.insert(leaf); }
  Node insert_many(std::span<const Node> leaves) override { return tree_.insert_many(leaves); }
  InsertResult insert_with_index(const Node& leaf) override { return tree_.insert_with_index(leaf); }
  InsertResult insert_many_with_index(std::span<const Node> leaves) override {
    return tree_.insert_many_with_index(leaves);
  }
  std::optional<Node> rewind(std::uint64_t size) override { return tree_.rewind(size); }
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

}  // namespace

bool is_runtime_arity(unsigned arity) noexcept {
  return std::ranges::find(detail::kRuntimeArities, arity) != std::end(detail::kRuntimeArities);
}

std::unique_ptr<AnyTree> make_tree(const TreeParams& params, const TreeOptions& options) {
  return detail::dispatch(params.hash, params.arity, [&]<Hasher H, std::size_t N>() -> std::unique_ptr<AnyTree> {
    return std::make_unique<AnyTreeImpl<H, N>>(params, options);
  });
}

}  // namespace rotortree
