// Helpers shared by the rotortree commands: strict option parsing, the common
// tree options, leaf files, proof input and output.
//
// Conventions of every command: results go to standard output and nothing
// else does; errors are thrown as rotortree::Error (main prints them and exits
// 2); a command that must exit with another code throws CLI::RuntimeError(code)
// after printing its result.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rotortree/any_tree.hpp"
#include "rotortree/codec.hpp"

namespace rotortree::cli {

/// Parse a non-negative decimal integer given to `option`: digits only (no
/// sign, no 0x or octal), at most 2^64-1. Throws Error(invalid_argument).
std::uint64_t parse_u64(std::string_view text, std::string_view option);
/// Parse a hash given to `option` as 64 hex digits. Throws Error(invalid_argument).
Node parse_node(std::string_view text, std::string_view option);

/// Leaf `index` of the pseudo-random stream `seed` (splitmix64): a stand-in for
/// prehashed leaves in benchmarks and the demo, addressable so that a proof's
/// leaf can be checked against what was inserted.
Node pseudo_random_leaf(std::uint64_t seed, std::uint64_t index);

/// `--arity N`, `--hash blake3|sha256`, `--node-hash lean-imt|tagged` (SPEC §3).
class ParamOptions {
 public:
  /// `build`: the parameters of the tree to build (defaults apply).
  /// `expect`: optional expectations a proof's own parameters must meet (verify).
  enum class Role { build, expect };
  void add_to(CLI::App& command, Role role = Role::build);
  /// The parameters (defaults where not given); throws Error(invalid_argument)
  /// for an arity the command line does not support or an unknown name.
  TreeParams params() const;
  /// If a parameter given explicitly differs from `actual`, describe the
  /// first such one as "arity 2, expected 4"; empty if they agree.
  std::string mismatch(const ProofParams& actual) const;

 private:
  std::string arity_ = "4", hash_ = "blake3", node_hash_ = "lean-imt";
  CLI::Option* arity_option_ = nullptr;
  CLI::Option* hash_option_ = nullptr;
  CLI::Option* node_hash_option_ = nullptr;
};

/// Where a command's tree comes from: `--leaves FILE` (built in memory with
/// the ParamOptions) or `--db DIR` (parameters from the database; explicit
/// ParamOptions must agree with them). Exactly one of the two.
class TreeSource {
 public:
  void add_to(CLI::App& command);
  /// A snapshot of the whole, non-empty tree. Throws Error. A leaf file is
  /// read into a tree of `leaf_policy` (index: for lookups by leaf).
  std::unique_ptr<AnySnapshot> open(LeafPolicy leaf_policy = LeafPolicy::none) const;

 private:
  std::string leaves_, db_, max_leaves_;
  CLI::Option* leaves_option_ = nullptr;
  CLI::Option* max_leaves_option_ = nullptr;
  CLI::Option* db_option_ = nullptr;
  ParamOptions params_;
};

/// The most leaves a tree built in memory from `--leaves` may hold unless
/// `--max-leaves` says otherwise: 2^28, or fewer so that the tree (at most
/// 64 bytes per leaf, arity 2) fits in half of the physical memory. Input
/// beyond it is refused with a message instead of exhausting memory.
std::uint64_t default_max_memory_leaves();

/// Leaves per insert_many batch when building a tree from a file.
inline constexpr std::size_t kLeafBatch = std::size_t{1} << 16;

/// Stream a leaf file (raw concatenated 32-byte leaves, "-" = standard input)
/// to `consume` in batches of at most `batch` leaves. A length that is not a
/// multiple of 32 is an Error(invalid_argument) naming the file and its length:
/// for a regular file it is detected before the first batch, for a pipe only
/// at the end. Unreadable input is an Error(io_error).
void read_leaf_batches(const std::string& path, std::size_t batch,
                       const std::function<void(std::span<const Node>)>& consume);

/// How many leaves a regular leaf file holds (its length / 32), or nothing
/// for standard input, a pipe or a file that cannot be examined.
std::optional<std::uint64_t> leaf_file_count(const std::string& path);

/// The whole content of a file ("-" = standard input), at most `max_bytes`
/// (Error(invalid_argument) beyond). Unreadable input is an Error(io_error).
std::vector<std::uint8_t> read_input(const std::string& path, std::size_t max_bytes);

/// How messages name a path: "'proof.json'", or "'-' (standard input)".
std::string display_name(const std::string& path);

/// `--binary` and `--out FILE` of the commands that print a proof: JSON on
/// one line (the default, SPEC §3) or the binary encoding, to standard output
/// or a file.
class ProofOutput {
 public:
  void add_to(CLI::App& command);
  void write(const AnyProof& proof) const;
  /// Write a proof already encoded as text (another format, e.g. zk-kit's).
  void write_text(std::string_view text) const;
  bool binary() const noexcept { return binary_; }

 private:
  bool binary_ = false;
  std::string out_;
};

/// Write `bytes` to standard output, or to the file `path` (replaced) unless
/// it is empty or "-". Throws Error(io_error).
void write_output(const std::string& path, std::string_view bytes);

}  // namespace rotortree::cli
