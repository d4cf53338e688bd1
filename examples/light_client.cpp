// Light client: follow a growing tree from ONE trusted (size, root) using
// consistency proofs only, and keep inclusion proofs of a few leaves current
// without asking for them again.
//
//   rotortree_light_client [--blocks B] [--max-block L]
//
// The server inserts leaves in blocks. After each block it publishes a header
// (size, root) and a consistency proof from its previous header, encoded with
// the compact binary codec (as it would travel over a network). The client
//   * trusts one header, received out of band, and nothing else;
//   * for each new header, decodes the proof, verifies it against the root it
//     trusts, checks it ends at the header, and only then trusts the new root;
//   * holds inclusion proofs of its own leaves (each checked once against a
//     trusted root when it is received) and updates them with every
//     consistency proof (update_inclusion_proof), checking them against the
//     new root;
//   * rejects a forged header and a tampered proof along the way.
// Exit status 0 only if every check passed.
#include <rotortree/rotortree.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace rotortree;

namespace {

using Bytes = std::vector<std::uint8_t>;

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

/// What the server publishes after each block.
struct Header {
  std::uint64_t size = 0;
  Node root{};
  Bytes consistency;  // binary consistency proof from the previous header (empty for the first)
};

/// The server: a tree it appends to, the headers it published.
class Server {
 public:
  Header append_block(const std::vector<Node>& block) {
    const std::uint64_t previous_size = tree_.size();
    const Node previous_root = previous_size ? *tree_.root() : Node{};
    if (block.size() == 1)
      tree_.insert(block[0]);
    else
      tree_.insert_many(block);
    Header header{tree_.size(), *tree_.root(), {}};
    if (previous_size > 0)
      header.consistency = to_binary(tree_.snapshot().consistency(previous_size, previous_root));
    return header;
  }
  /// An inclusion proof of a leaf, at the current size, binary encoded.
  Bytes prove(std::uint64_t index) const { return to_binary(tree_.snapshot().prove(index)); }

 private:
  LeanIMT<Blake3, 4> tree_;
};

/// The client: one trusted state, the proofs it keeps.
class Client {
 public:
  Client(std::uint64_t size, Node root) : size_(size), root_(root) {}
  std::uint64_t size() const { return size_; }
  const Node& root() const { return root_; }

  /// Accept an inclusion proof of one of our leaves, at the trusted state.
  bool keep(const Bytes& wire, const Node& expected_leaf) {
    const InclusionProof proof = inclusion_from_binary(wire);
    if (proof.leaf != expected_leaf || !verify(proof, root_, size_)) return false;
    held_.push_back(proof);
    return true;
  }

  /// Follow the server to `header`. Returns false (and trusts nothing new) if
  /// the header is not proven consistent with what we trust.
  bool follow(const Header& header) {
    ConsistencyProof proof;
    try {
      proof = consistency_from_binary(header.consistency);
    } catch (const Error&) {
      return false;  // malformed
    }
    if (!verify(proof, root_, size_)) return false;                                 // from what we trust ...
    if (proof.new_size != header.size || proof.new_root != header.root) return false;  // ... to this header
    for (InclusionProof& held : held_) {
      held = update_inclusion_proof(held, proof);
      check(verify(held, proof.new_root, header.size).valid,
            "updated proof of leaf " + std::to_string(held.leaf_index) + " at size " + std::to_string(header.size));
    }
    size_ = proof.new_size;
    root_ = proof.new_root;
    return true;
  }
  const std::vector<InclusionProof>& held() const { return held_; }

 private:
  std::uint64_t size_;
  Node root_;
  std::vector<InclusionProof> held_;
};

Node make_leaf(std::mt19937_64& random) {
  Node leaf;
  for (std::size_t i = 0; i < leaf.size(); i += 8) {
    const std::uint64_t word = random();
    for (int b = 0; b < 8; ++b) leaf[i + b] = static_cast<std::uint8_t>(word >> (8 * b));
  }
  return leaf;
}

}  // namespace

int main(int argc, char** argv) {
  int blocks = 60;
  std::uint64_t max_block = 700;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--blocks")
      blocks = std::atoi(argv[i + 1]);
    else if (arg == "--max-block")
      max_block = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: rotortree_light_client [--blocks B] [--max-block L]\n");
      return 2;
    }
  }
  if (blocks < 3 || max_block < 1) {
    std::fprintf(stderr, "light_client: need --blocks >= 3 and --max-block >= 1\n");
    return 2;
  }

  std::mt19937_64 random(11);
  Server server;
  auto block_of = [&](std::uint64_t n) {
    std::vector<Node> block(n);
    for (Node& leaf : block) leaf = make_leaf(random);
    return block;
  };

  // Block 0. The client learns this one header out of band (a checkpoint, a
  // signed genesis, ...): the only state it ever trusts without a proof.
  std::vector<Node> first = block_of(5);
  const Header genesis = server.append_block(first);
  Client client(genesis.size, genesis.root);
  // Its own leaves are in block 0; it asks for their proofs once.
  for (std::uint64_t index : {0ull, 3ull, 4ull})
    check(client.keep(server.prove(index), first[index]), "initial proof of leaf " + std::to_string(index));

  std::size_t proof_bytes = 0, forgeries_rejected = 0;
  for (int b = 1; b < blocks; ++b) {
    // Blocks of 1..max_block leaves; some single-leaf blocks.
    const std::uint64_t n = b % 7 == 0 ? 1 : 1 + random() % max_block;
    const std::vector<Node> block = block_of(n);
    Header header = server.append_block(block);
    proof_bytes += header.consistency.size();

    if (b == blocks / 3) {  // a forged header: a root the proof does not lead to
      Header forged = header;
      forged.root[5] ^= 0x10;
      const bool rejected = !client.follow(forged);
      check(rejected, "a forged header must be rejected");
      forgeries_rejected += rejected;
    }
    if (b == 2 * blocks / 3) {  // a tampered proof: one byte changed in transit
      Header tampered = header;
      tampered.consistency[tampered.consistency.size() / 2] ^= 0x01;
      const bool rejected = !client.follow(tampered);
      check(rejected, "a tampered consistency proof must be rejected");
      forgeries_rejected += rejected;
    }
    check(client.follow(header), "block " + std::to_string(b) + ": the consistency proof to size " +
                                     std::to_string(header.size) + " must verify");
    // A new leaf of ours in this block: one more proof to keep current.
    if (b % 10 == 5) {
      const std::uint64_t index = header.size - 1;
      check(client.keep(server.prove(index), block.back()), "proof of new leaf " + std::to_string(index));
    }
  }

  // The client's proofs, never re-fetched, are exactly the server's current ones.
  for (const InclusionProof& held : client.held())
    check(to_binary(held) == server.prove(held.leaf_index),
          "held proof of leaf " + std::to_string(held.leaf_index) + " equals a fresh one");

  std::printf("client followed %d blocks from one trusted root to size %llu, root %s\n", blocks - 1,
              static_cast<unsigned long long>(client.size()), to_hex(client.root()).c_str());
  std::printf("consistency proofs received: %zu bytes in all (%.0f bytes per block)\n", proof_bytes,
              double(proof_bytes) / (blocks - 1));
  std::printf("inclusion proofs kept current: %zu; forgeries rejected: %zu\n", client.held().size(),
              forgeries_rejected);
  if (failures) {
    std::printf("%d checks FAILED\n", failures);
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
