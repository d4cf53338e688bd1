#include "common.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <new>
#include <iostream>
#include <variant>

#include "commands.hpp"
#include "dispatch.hpp"

namespace rotortree::cli {

namespace {

[[noreturn]] void invalid(const std::string& why) { throw Error(Errc::invalid_argument, why); }

[[noreturn]] void io_failure(const std::string& what) {
  throw Error(Errc::io_error, what + ": " + std::strerror(errno));
}

// A file descriptor opened for reading ("-" = standard input, not closed).
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    if (path == "-") return;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) io_failure("cannot open " + display_name(path));
  }
  ~InputFile() {
    if (fd_ != STDIN_FILENO) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  /// The size of a regular file, -1 for pipes and terminals.
  off_t regular_size() const {
    struct stat st;
    if (::fstat(fd_, &st) != 0) io_failure("cannot stat " + display_name(path_));
    return S_ISREG(st.st_mode) ? st.st_size : -1;
  }

  /// Read until `len` bytes or end of input; returns the bytes read.
  std::size_t read_fully(std::uint8_t* out, std::size_t len) {
    std::size_t done = 0;
    while (done < len) {
      const ssize_t n = ::read(fd_, out + done, len - done);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        io_failure("cannot read " + display_name(path_));
      }
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

 private:
  std::string path_;
  int fd_ = STDIN_FILENO;
};

[[noreturn]] void bad_leaf_file_length(const std::string& path, std::uint64_t bytes) {
  invalid("leaf file " + display_name(path) + " is " + std::to_string(bytes) +
          " bytes, not a multiple of 32 (leaves are raw 32-byte values)");
}

}  // namespace

std::uint64_t parse_u64(std::string_view text, std::string_view option) {
  const auto fail = [&] {
    invalid(std::string(option) + ": '" + std::string(text) + "' is not an integer in 0.." +
            std::to_string(UINT64_MAX));
  };
  if (text.empty()) fail();
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') fail();
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) fail();
    value = value * 10 + digit;
  }
  return value;
}

Node parse_node(std::string_view text, std::string_view option) {
  if (std::optional<Node> node = node_from_hex(text)) return *node;
  invalid(std::string(option) + ": '" + std::string(text) + "' is not 64 hex digits");
}

// --- ParamOptions ------------------------------------------------------------

void ParamOptions::add_to(CLI::App& command, Role role) {
  const bool build = role == Role::build;
  arity_option_ = command.add_option("--arity", arity_,
                                     build ? "Arity: 2, 3, 4, 8 or 16 (default 4)"
                                           : "Expected arity: the proof's must be this")
                      ->type_name("N");
  hash_option_ = command.add_option("--hash", hash_,
                                    build ? "Hash function: blake3 (default), sha256 or poseidon (BN254)"
                                          : "Expected hash function: the proof's must be this")
                     ->type_name("blake3|sha256|poseidon");
  node_hash_option_ = command.add_option("--node-hash", node_hash_,
                                         build ? "Node hash scheme: lean-imt (default) or tagged"
                                               : "Expected node hash scheme: the proof's must be this")
                          ->type_name("lean-imt|tagged");
}

TreeParams ParamOptions::params() const {
  TreeParams params;
  const std::uint64_t arity = parse_u64(arity_, "--arity");
  if (arity > kMaxArity || !is_runtime_arity(static_cast<unsigned>(arity)))
    invalid("--arity " + arity_ + " is not supported (expected " + detail::runtime_arity_list() + ")");
  params.arity = static_cast<unsigned>(arity);
  params.hash = parse_hash_id(hash_);
  params.node_hash = parse_node_hash(node_hash_);
  return params;
}

std::string ParamOptions::mismatch(const ProofParams& actual) const {
  const ProofParams wanted = params().proof();
  if (arity_option_->count() > 0 && actual.arity != wanted.arity)
    return "arity " + std::to_string(actual.arity) + ", expected " + std::to_string(wanted.arity);
  if (hash_option_->count() > 0 && actual.hash != wanted.hash)
    return "hash " + std::string(to_string(actual.hash)) + ", expected " + std::string(to_string(wanted.hash));
  if (node_hash_option_->count() > 0 && actual.node_hash != wanted.node_hash)
    return "node hash " + std::string(to_string(actual.node_hash)) + ", expected " +
           std::string(to_string(wanted.node_hash));
  return {};
}

// --- TreeSource --------------------------------------------------------------

void TreeSource::add_to(CLI::App& command) {
  leaves_option_ = command.add_option("--leaves", leaves_,
                                      "Leaf file: raw concatenated 32-byte leaves, - for standard input")
                       ->type_name("FILE");
  db_option_ = command.add_option("--db", db_, "Database directory (instead of --leaves)")->type_name("DIR");
  max_leaves_option_ = command.add_option("--max-leaves", max_leaves_,
                                          "With --leaves: refuse input of more leaves than this (default: " +
                                              std::to_string(default_max_memory_leaves()) + ", by memory)")
                           ->type_name("N");
  params_.add_to(command);
}

std::unique_ptr<AnySnapshot> TreeSource::open(LeafPolicy leaf_policy) const {
  const bool from_file = leaves_option_->count() > 0, from_db = db_option_->count() > 0;
  if (from_file == from_db) invalid("give exactly one of --leaves FILE and --db DIR");

  if (from_db) {
    params_.params();  // reject an unsupported --arity etc. even though the database decides
    std::unique_ptr<AnySnapshot> snapshot = open_db_snapshot(db_, leaf_policy != LeafPolicy::none);
    if (std::string why = params_.mismatch(snapshot->params().proof()); !why.empty())
      throw Error(Errc::parameter_mismatch, "database " + display_name(db_) + " is for " + why);
    if (snapshot->size() == 0) invalid("database " + display_name(db_) + " holds no leaves");
    if (leaf_policy != LeafPolicy::none && snapshot->leaf_policy() == LeafPolicy::none)
      invalid("database " + display_name(db_) +
              " has leaf policy none: lookups by leaf need a database created with "
              "`rotortree init DIR --leaf-policy index` (or unique)");
    return snapshot;
  }

  const std::uint64_t max_leaves =
      max_leaves_option_->count() > 0 ? parse_u64(max_leaves_, "--max-leaves") : default_max_memory_leaves();
  TreeParams params = params_.params();
  params.leaf_policy = leaf_policy;
  std::unique_ptr<AnyTree> tree = make_tree(params);
  read_leaf_batches(leaves_, kLeafBatch, [&](std::span<const Node> leaves) {
    if (leaves.size() > max_leaves - tree->size())
      invalid("leaf file " + display_name(leaves_) + " holds more than " + std::to_string(max_leaves) +
              " leaves, the most a tree built in memory may hold here (--max-leaves; use a database for more)");
    try {
      tree->insert_many(leaves);
    } catch (const std::bad_alloc&) {
      throw Error(Errc::io_error, "out of memory after " + std::to_string(tree->size()) + " leaves of " +
                                      display_name(leaves_) + " (use a database for more)");
    }
  });
  if (tree->size() == 0) invalid("leaf file " + display_name(leaves_) + " holds no leaves");
  return tree->snapshot();
}

std::uint64_t default_max_memory_leaves() {
  constexpr std::uint64_t kCap = std::uint64_t{1} << 28;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return kCap;
  return std::min<std::uint64_t>(kCap, static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) / 2 / 64);
}

// --- Input -------------------------------------------------------------------

std::string display_name(const std::string& path) {
  return path == "-" ? "'-' (standard input)" : "'" + path + "'";
}

void read_leaf_batches(const std::string& path, std::size_t batch,
                       const std::function<void(std::span<const Node>)>& consume) {
  static_assert(sizeof(Node) == 32, "leaves are read straight into Node storage");
  InputFile input(path);
  if (const off_t size = input.regular_size(); size >= 0 && size % 32 != 0)
    bad_leaf_file_length(path, static_cast<std::uint64_t>(size));

  std::vector<Node> buffer(batch);
  std::uint64_t total_bytes = 0;
  for (;;) {
    const std::size_t got = input.read_fully(buffer.front().data(), batch * sizeof(Node));
    total_bytes += got;
    if (got % sizeof(Node) != 0) bad_leaf_file_length(path, total_bytes);
    if (got > 0) consume({buffer.data(), got / sizeof(Node)});
    if (got < batch * sizeof(Node)) return;
  }
}

std::optional<std::uint64_t> leaf_file_count(const std::string& path) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size) / sizeof(Node);
}

std::vector<std::uint8_t> read_input(const std::string& path, std::size_t max_bytes) {
  InputFile input(path);
  // One byte more than allowed tells "exactly at the limit" from "over it".
  std::vector<std::uint8_t> bytes(max_bytes + 1);
  bytes.resize(input.read_fully(bytes.data(), bytes.size()));
  if (bytes.size() > max_bytes)
    invalid(display_name(path) + " is larger than " + std::to_string(max_bytes) + " bytes");
  return bytes;
}

// --- Output ------------------------------------------------------------------

void ProofOutput::add_to(CLI::App& command) {
  command.add_flag("--binary", binary_, "Write the compact binary encoding instead of JSON");
  command.add_option("--out", out_, "Write the proof to this file instead of standard output")
      ->type_name("FILE");
}

void ProofOutput::write(const AnyProof& proof) const {
  if (binary_) {
    const std::vector<std::uint8_t> bytes =
        std::visit([](const auto& p) { return to_binary(p); }, proof);
    write_output(out_, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  } else {
    write_output(out_, std::visit([](const auto& p) { return to_json(p); }, proof) + "\n");
  }
}

void ProofOutput::write_text(std::string_view text) const { write_output(out_, text); }

void write_output(const std::string& path, std::string_view bytes) {
  if (path.empty() || path == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return;  // main flushes standard output and reports a failure
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) io_failure("cannot create " + display_name(path));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) io_failure("cannot write " + display_name(path));
}

Node pseudo_random_leaf(std::uint64_t seed, std::uint64_t index) {
  Node leaf;
  std::uint64_t state = seed ^ (index * 4);
  for (int word = 0; word < 4; ++word) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(leaf.data() + 8 * word, &z, 8);
  }
  return leaf;
}

}  // namespace rotortree::cli
