#include "rotortree/any_db.hpp"

#include "db/files.hpp"
#include "db/format.hpp"
#include "dispatch.hpp"

namespace rotortree {
namespace {

template <Hasher H, std::size_t N>
class AnyDbImpl final : public AnyDb {
 public:
  AnyDbImpl(const std::string& dir, const DbConfig& config) : db_(dir, config) {}
  AnyDbImpl(const std::string& dir, const TreeParams& params, const DbConfig& config) : db_(dir, params, config) {}
  TreeParams params() const override { return db_.params(); }
  std::uint64_t size() const override { return db_.size(); }
  std::optional<Node> root() const override { return db_.root(); }
  InsertResult insert(const Node& leaf) override {
    auto r = db_.insert(leaf);
    return {r.root, std::move(r.token), r.first_index};
  }
  InsertResult insert_many(std::span<const Node> leaves) override {
    auto r = db_.insert_many(leaves);
    return {r.root, std::move(r.token), r.first_index};
  }
  RewindResult rewind(std::uint64_t size) override {
    auto r = db_.rewind(size);
    return {r.root, std::move(r.token)};
  }
  void reserve(std::uint64_t total_leaves) override { db_.reserve(total_leaves); }
  void flush() override { db_.flush(); }
  void checkpoint() override { db_.checkpoint(); }
  void close() override { db_.close(); }
  std::optional<std::uint64_t> index_of(const Node& leaf) const override { return db_.index_of(leaf); }
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const override {
    db_.index_of(leaves, out);
  }
  std::unique_ptr<AnySnapshot> snapshot() const override { return erase(db_.snapshot()); }
  DbInfo info() const override { return db_.info(); }
  std::optional<Error> background_error() const override { return db_.background_error(); }

 private:
  RotorTree<H, N, 32> db_;
};

}  // namespace

std::optional<TreeParams> read_db_params(const std::string& dir, db::Env* env) {
  auto meta = db::detail::read_meta(env ? *env : *db::Env::posix(), dir);
  if (!meta) return std::nullopt;
  TreeParams params = meta->params;
  params.leaf_policy = db::leaf_index(*meta).policy;
  return params;
}

std::unique_ptr<AnyDb> open_any_db(const std::string& dir, const DbConfig& config, const std::optional<TreeParams>& create) {
  // The arity and hash to instantiate: the ones asked for, or the stored ones.
  const std::optional<TreeParams> params = create ? create : read_db_params(dir, config.env);
  if (!params)
    throw db::detail::missing_database(config.env ? *config.env : *db::Env::posix(), dir,
                                       "; create one with `rotortree init " + dir + "`");
  return detail::dispatch(params->hash, params->arity, [&]<Hasher H, std::size_t N>() -> std::unique_ptr<AnyDb> {
    if (create) return std::make_unique<AnyDbImpl<H, N>>(dir, *create, config);
    return std::make_unique<AnyDbImpl<H, N>>(dir, config);
  });
}

}  // namespace rotortree
