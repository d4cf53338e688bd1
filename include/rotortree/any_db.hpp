// A database whose arity and hash are chosen at run time (the command line).
// Arities 2, 3, 4, 8, 16; MaxDepth 32 is instantiated and the stored max
// depth (1..32) is enforced at insert time.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "rotortree/any_tree.hpp"
#include "rotortree/db.hpp"

namespace rotortree {

class AnyDb {
 public:
  struct InsertResult {
    Node root;
    DurabilityToken token;
    std::uint64_t first_index = 0;
  };
  virtual ~AnyDb() = default;
  virtual TreeParams params() const = 0;
  virtual std::uint64_t size() const = 0;
  virtual std::optional<Node> root() const = 0;
  virtual InsertResult insert(const Node& leaf) = 0;
  virtual InsertResult insert_many(std::span<const Node> leaves) = 0;
  struct RewindResult {
    std::optional<Node> root;
    DurabilityToken token;
  };
  /// See RotorTree::rewind.
  virtual RewindResult rewind(std::uint64_t size) = 0;
  /// See RotorTree::reserve.
  virtual void reserve(std::uint64_t total_leaves) = 0;
  virtual void flush() = 0;
  virtual void checkpoint() = 0;
  virtual void close() = 0;
  /// See RotorTree::index_of (Error(invalid_argument) for leaf policy none).
  virtual std::optional<std::uint64_t> index_of(const Node& leaf) const = 0;
  virtual void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const = 0;
  virtual std::unique_ptr<AnySnapshot> snapshot() const = 0;
  virtual DbInfo info() const = 0;
  virtual std::optional<Error> background_error() const = 0;
};

/// The parameters stored in `dir` (with its leaf policy), or nothing if it holds no database.
std::optional<TreeParams> read_db_params(const std::string& dir, db::Env* env = nullptr);

/// Open the database in `dir` with its stored parameters (Error(not_found) if
/// there is none), or, given `create`, the database of exactly those
/// parameters: created if missing, Error(parameter_mismatch) if it has others.
std::unique_ptr<AnyDb> open_any_db(const std::string& dir, const DbConfig& config,
                                   const std::optional<TreeParams>& create = std::nullopt);

}  // namespace rotortree
