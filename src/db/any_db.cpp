#include "rotortree/any_db.hpp"

#include "db/files.hpp"

namespace rotortree {
namespace {

template <Hasher H, std::size_t N>
class AnyDbImpl final : public AnyDb {
 public:
  AnyDbImpl(const std::string& dir, const DbConfig& config) : db_(dir, config) {}
  DbParams params() const override { return db_.params(); }
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
  void flush() override { db_.flush(); }
  void checkpoint() override { db_.checkpoint(); }
  void close() override { db_.close(); }
  LeafPolicy leaf_policy() const override { return db_.leaf_policy(); }
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

template <Hasher H>
std::unique_ptr<AnyDb> open_for_hash(unsigned arity, const std::string& dir, const DbConfig& config) {
  switch (arity) {
    case 2: return std::make_unique<AnyDbImpl<H, 2>>(dir, config);
    case 3: return std::make_unique<AnyDbImpl<H, 3>>(dir, config);
    case 4: return std::make_unique<AnyDbImpl<H, 4>>(dir, config);
    case 8: return std::make_unique<AnyDbImpl<H, 8>>(dir, config);
    case 16: return std::make_unique<AnyDbImpl<H, 16>>(dir, config);
  }
  throw Error(Errc::invalid_argument, "unsupported arity " + std::to_string(arity) + " (expected 2, 3, 4, 8 or 16)");
}

}  // namespace

std::optional<DbParams> read_db_params(const std::string& dir, db::Env* env) {
  auto meta = db::detail::read_meta(env ? *env : *db::Env::posix(), dir);
  if (!meta) return std::nullopt;
  return meta->params;
}

std::unique_ptr<AnyDb> open_any_db(const std::string& dir, DbConfig config, const std::optional<DbParams>& create) {
  std::optional<DbParams> params = read_db_params(dir, config.env);
  if (params && create) db::check_params(*params, *create, db::detail::join(dir, db::kMetaName));
  if (!params) params = create;
  if (!params)
    throw db::detail::missing_database(config.env ? *config.env : *db::Env::posix(), dir,
                                       "; create one with `rotortree init " + dir + "`");
  if (params->max_depth < 1 || params->max_depth > 32)
    throw Error(Errc::invalid_argument, "max depth " + std::to_string(params->max_depth) + " must be in 1..32");
  config.node_hash = params->node_hash;
  config.max_depth = params->max_depth;
  switch (params->hash) {
    case HashId::blake3: return open_for_hash<Blake3>(params->arity, dir, config);
    case HashId::sha256: return open_for_hash<Sha256>(params->arity, dir, config);
    case HashId::poseidon: return open_for_hash<Poseidon>(params->arity, dir, config);
  }
  throw Error(Errc::invalid_argument, "unknown hash function");
}

}  // namespace rotortree
