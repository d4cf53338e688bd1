// root, prove, verify, consistency, verify-consistency (SPEC §3).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "rotortree/codec.hpp"
#include "rotortree/zkkit.hpp"

namespace rotortree::cli {

namespace {

// A proof file is at most ~65 KB of compact JSON; the codec bounds JSON at
// 1 MiB, so reading more than that can only be an error.
constexpr std::size_t kMaxProofFileBytes = std::size_t{1} << 20;

// A size given to `option`: an integer in 1..leaf_count.
std::uint64_t parse_size(const std::string& text, std::string_view option, std::uint64_t leaf_count) {
  const std::uint64_t size = parse_u64(text, option);
  if (size == 0 || size > leaf_count)
    throw Error(Errc::index_out_of_range,
                std::string(option) + " " + std::to_string(size) + " is not in 1.." + std::to_string(leaf_count) +
                    " (the tree has " + std::to_string(leaf_count) + " leaves)");
  return size;
}

// `--size S` of prove/consistency: the prefix of S leaves, default the whole tree.
std::unique_ptr<AnySnapshot> with_size(std::unique_ptr<AnySnapshot> tree, const CLI::Option& size_option,
                                       const std::string& size_text) {
  if (size_option.count() == 0) return tree;
  return tree->prefix(parse_size(size_text, "--size", tree->size()));
}

// --- root ----------------------------------------------------------------------

void register_root(CLI::App& app) {
  struct Args {
    TreeSource source;
    std::vector<std::string> sizes;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command =
      app.add_subcommand("root", "Print 'SIZE ROOTHEX' for the tree of the first SIZE leaves");
  args->source.add_to(*command);
  command->add_option("--at", args->sizes, "Sizes S1,S2,... (default: all leaves)")
      ->delimiter(',')
      ->type_name("S1,S2,...");
  command->callback([args] {
    const std::unique_ptr<AnySnapshot> tree = args->source.open();
    std::vector<std::uint64_t> sizes;
    for (const std::string& text : args->sizes) sizes.push_back(parse_size(text, "--at", tree->size()));
    if (sizes.empty()) sizes.push_back(tree->size());
    // Every size is checked before anything is printed.
    std::string lines;
    for (const std::uint64_t size : sizes) {
      const std::optional<Node> root = size == tree->size() ? tree->root() : tree->prefix(size)->root();
      lines += std::to_string(size) + " " + to_hex(*root) + "\n";
    }
    write_output("", lines);
  });
}

// --- prove, consistency --------------------------------------------------------

void register_prove(CLI::App& app) {
  struct Args {
    TreeSource source;
    std::string index, leaf, size;
    CLI::Option* size_option = nullptr;
    CLI::Option* index_option = nullptr;
    CLI::Option* leaf_option = nullptr;
    ProofOutput output;
    std::string format = "rotortree";
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "prove", "Print the inclusion proof of leaf I, or of the lowest index holding leaf HEX (JSON)");
  args->source.add_to(*command);
  args->index_option = command->add_option("--index", args->index, "Index I of the leaf")->type_name("I");
  args->leaf_option =
      command->add_option("--leaf", args->leaf, "The leaf itself (64 hex digits): exit 1 with 'absent' on "
                                                "standard error if the tree does not hold it")
          ->type_name("HEX");
  args->size_option =
      command->add_option("--size", args->size, "Prove in the tree of the first S leaves (default: all)")
          ->type_name("S");
  args->output.add_to(*command);
  command->add_option("--format", args->format,
                      "rotortree (default) or zk-kit: @zk-kit/lean-imt's {root, leaf, index, siblings} with "
                      "decimal strings (arity 2, lean-imt)")
      ->type_name("rotortree|zk-kit");
  command->callback([args] {
    if (args->format != "rotortree" && args->format != "zk-kit")
      throw Error(Errc::invalid_argument, "--format " + args->format + " is not rotortree or zk-kit");
    const bool zkkit = args->format == "zk-kit";
    if (zkkit && args->output.binary())
      throw Error(Errc::invalid_argument, "--format zk-kit is JSON: it does not combine with --binary");
    const bool by_leaf = args->leaf_option->count() > 0;
    if (by_leaf == (args->index_option->count() > 0))
      throw Error(Errc::invalid_argument, "give exactly one of --index I and --leaf HEX");
    const std::optional<Node> leaf = by_leaf ? std::optional<Node>(parse_node(args->leaf, "--leaf")) : std::nullopt;
    const std::unique_ptr<AnySnapshot> tree =
        with_size(args->source.open(by_leaf ? LeafPolicy::index : LeafPolicy::none), *args->size_option, args->size);
    if (leaf) {
      const std::optional<std::uint64_t> found = tree->index_of(*leaf);
      if (!found) {
        std::fputs("absent\n", stderr);
        throw CLI::RuntimeError(1);  // main exits 1 without a further message
      }
      if (zkkit)
        args->output.write_text(to_json(to_zkkit(tree->prove(*found))) + "\n");
      else
        args->output.write(tree->prove(*found));
      return;
    }
    const std::uint64_t index = parse_u64(args->index, "--index");
    if (index >= tree->size())
      throw Error(Errc::index_out_of_range, "--index " + std::to_string(index) +
                                                " is not below the tree size " + std::to_string(tree->size()));
    if (zkkit)
      args->output.write_text(to_json(to_zkkit(tree->prove(index))) + "\n");
    else
      args->output.write(tree->prove(index));
  });
}

// --- find ----------------------------------------------------------------------

void register_find(CLI::App& app) {
  struct Args {
    TreeSource source;
    std::vector<std::string> leaves;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "find", "Print 'HEX INDEX' (the lowest index holding the leaf) or 'HEX absent' per leaf: "
              "exit 0 if all were found, 1 if any is absent");
  args->source.add_to(*command);
  command->add_option("leaves", args->leaves, "Leaves (64 hex digits each)")->required()->type_name("HEX...");
  command->callback([args] {
    std::vector<Node> queries;  // every leaf is checked before the tree is read
    for (const std::string& text : args->leaves) queries.push_back(parse_node(text, "leaf"));
    const std::unique_ptr<AnySnapshot> tree = args->source.open(LeafPolicy::index);
    std::vector<std::optional<std::uint64_t>> found(queries.size());
    tree->index_of(queries, found);
    std::string lines;
    bool all = true;
    for (std::size_t i = 0; i < queries.size(); ++i) {
      lines += to_hex(queries[i]) + " " + (found[i] ? std::to_string(*found[i]) : std::string("absent")) + "\n";
      all = all && found[i].has_value();
    }
    write_output("", lines);
    if (!all) throw CLI::RuntimeError(1);
  });
}

void register_consistency(CLI::App& app) {
  struct Args {
    TreeSource source;
    std::string old_size, size, old_root;
    CLI::Option* size_option = nullptr;
    CLI::Option* old_root_option = nullptr;
    ProofOutput output;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "consistency", "Print the proof that the tree of M leaves is a prefix of the tree of S leaves (JSON)");
  args->source.add_to(*command);
  command->add_option("--old-size", args->old_size, "Size M of the old tree")->required()->type_name("M");
  args->size_option =
      command->add_option("--size", args->size, "Size S of the new tree (default: all leaves)")->type_name("S");
  args->old_root_option = command->add_option(
      "--old-root", args->old_root, "Fail unless the old tree's root is this (64 hex digits)")
                                ->type_name("HEX");
  args->output.add_to(*command);
  command->callback([args] {
    const std::unique_ptr<AnySnapshot> tree =
        with_size(args->source.open(), *args->size_option, args->size);
    const std::uint64_t old_size = parse_size(args->old_size, "--old-size", tree->size());
    const ConsistencyProof proof = tree->consistency(old_size);
    if (args->old_root_option->count() > 0 && proof.old_root != parse_node(args->old_root, "--old-root"))
      throw Error(Errc::not_a_prefix, "the tree of " + std::to_string(old_size) + " leaves with root " +
                                          args->old_root + " is not a prefix of this tree");
    args->output.write(proof);
  });
}

// --- verify, verify-consistency ------------------------------------------------

// A size field of a proof that a verifier may know from a trusted source. The
// hashes do not bind a proof's tree_size / new_size (sizes giving the path the
// same shape give the same root), so only such a check pins them down.
template <class Proof>
struct TrustedSize {
  std::string flag, field;
  std::uint64_t Proof::*member;
  std::string text{};
  CLI::Option* option = nullptr;
};

// What differs between verify and verify-consistency.
template <class Proof>
struct VerifySpec {
  std::string name, description, root_flag, root_help;
  std::vector<TrustedSize<Proof>> sizes;
};

// A zk-kit proof (SPEC §6): arity 2, lean-imt and the hash --hash names; no
// sizes to check against.
template <class Args>
void verify_zkkit(std::string_view text, const Args& args) {
  for (const auto& size : args.spec.sizes)
    if (size.option->count() > 0)
      throw Error(Errc::invalid_argument, size.flag + ": a zk-kit proof carries no " + size.field);
  const ProofParams expected = args.expected.params().proof();
  ZkKitProof proof;
  try {
    proof = zkkit_from_json(text, expected.hash);
  } catch (const Error& e) {
    throw Error(e.code(), "proof " + display_name(args.proof_path) + ": " + e.what());
  }
  Verdict verdict;
  if (std::string why = args.expected.mismatch({2, expected.hash, NodeHash::lean_imt}); !why.empty())
    verdict = Verdict::fail("proof is for " + why);
  else
    verdict = verify(proof, expected.hash);
  if (verdict && args.trusted_root_option->count() > 0 &&
      proof.root != parse_node(args.trusted_root, args.spec.root_flag))
    verdict = Verdict::fail("the proof's root is not the trusted root");
  if (verdict) {
    write_output("", "valid\n");
    return;
  }
  write_output("", "invalid: " + verdict.reason + "\n");
  throw CLI::RuntimeError(1);
}

// One implementation for both proof types: trusted root and sizes, expected
// parameters, and the exit convention (0 valid, 1 invalid, 2 error).
template <class Proof>
void register_verify(CLI::App& app, VerifySpec<Proof> spec) {
  struct Args {
    VerifySpec<Proof> spec;
    std::string proof_path, trusted_root;
    CLI::Option* trusted_root_option = nullptr;
    ParamOptions expected;
  };
  auto args = std::make_shared<Args>(Args{std::move(spec), {}, {}, nullptr, {}});
  CLI::App* command = app.add_subcommand(args->spec.name, args->spec.description);
  command->add_option("proof", args->proof_path, "Proof file, JSON or binary (- for standard input)")
      ->required()
      ->type_name("FILE");
  args->trusted_root_option =
      command->add_option(args->spec.root_flag, args->trusted_root, args->spec.root_help)->type_name("HEX");
  for (TrustedSize<Proof>& size : args->spec.sizes)  // the vector is final: the bindings stay valid
    size.option = command->add_option(size.flag, size.text, "Also require the proof's " + size.field +
                                                                " to be this trusted size")
                      ->type_name("N");
  args->expected.add_to(*command, ParamOptions::Role::expect);

  command->callback([args] {
    // Options first: a bad option is a usage error whatever the proof is.
    std::optional<Node> trusted_root;
    if (args->trusted_root_option->count() > 0)
      trusted_root = parse_node(args->trusted_root, args->spec.root_flag);
    for (const TrustedSize<Proof>& size : args->spec.sizes)
      if (size.option->count() > 0) parse_u64(size.text, size.flag);
    args->expected.params();

    const std::vector<std::uint8_t> bytes = read_input(args->proof_path, kMaxProofFileBytes);
    if constexpr (std::is_same_v<Proof, InclusionProof>) {
      const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      if (looks_like_zkkit_json(text)) return verify_zkkit(text, *args);
    }
    Proof proof;
    try {
      AnyProof decoded = decode_proof(bytes);
      if (!std::holds_alternative<Proof>(decoded))
        throw Error(Errc::malformed_proof, std::is_same_v<Proof, InclusionProof>
                                               ? "expected an inclusion proof, got a consistency proof"
                                               : "expected a consistency proof, got an inclusion proof");
      proof = std::get<Proof>(std::move(decoded));
    } catch (const Error& e) {
      throw Error(e.code(), "proof " + display_name(args->proof_path) + ": " + e.what());
    }

    Verdict verdict;
    if (std::string why = args->expected.mismatch(proof.params); !why.empty())
      verdict = Verdict::fail("proof is for " + why);
    else
      verdict = trusted_root ? verify(proof, *trusted_root) : verify(proof);
    for (const TrustedSize<Proof>& size : args->spec.sizes) {
      if (!verdict || size.option->count() == 0) continue;
      const std::uint64_t expected = parse_u64(size.text, size.flag);
      if (proof.*size.member != expected)
        verdict = Verdict::fail("proof is for " + size.field + " " + std::to_string(proof.*size.member) +
                                ", expected " + std::to_string(expected));
    }
    if (verdict) {
      write_output("", "valid\n");
      return;
    }
    write_output("", "invalid: " + verdict.reason + "\n");
    throw CLI::RuntimeError(1);  // main exits 1 without a further message
  });
}

}  // namespace

void register_tree_commands(CLI::App& app) {
  register_root(app);
  register_prove(app);
  register_find(app);
  register_verify<InclusionProof>(
      app, {"verify", "Verify an inclusion proof: prints 'valid' (exit 0) or 'invalid: REASON' (exit 1)",
            "--root", "Also require the proof's root to be this trusted root (64 hex digits)",
            {{"--size", "tree_size", &InclusionProof::tree_size}}});
  register_consistency(app);
  register_verify<ConsistencyProof>(
      app, {"verify-consistency",
            "Verify a consistency proof: prints 'valid' (exit 0) or 'invalid: REASON' (exit 1)", "--old-root",
            "Also require the proof's old root to be this trusted old root (64 hex digits)",
            {{"--old-size", "old_size", &ConsistencyProof::old_size},
             {"--new-size", "new_size", &ConsistencyProof::new_size}}});
}

}  // namespace rotortree::cli
