// A light client over the network: follow a `rotortree serve` from ONE
// trusted (size, root) using consistency proofs only, and keep inclusion
// proofs of a few leaves current with update_inclusion_proof.
//
//   rotortree_http_light_client URL [--rounds R] [--track K]
//                               [--trusted-size S --trusted-root HEX]
//                               [--post B [--token-file F]]
//
// Without --trusted-size/--trusted-root the client trusts the first root the
// server gives (trust on first use; a real wallet takes it from a source it
// trusts). Each round it long-polls GET /v1/root for a larger size, fetches
// the consistency proof from the size it trusts (binary encoding), verifies
// it against the root it trusts and only then trusts the new root; it updates
// the proofs it tracks with that proof alone and checks them against the new
// root; it checks a freshly fetched proof and leaf against the new root too,
// and that a tampered consistency proof is rejected. --post B makes the
// client also the writer: it posts B random leaves before each round (the demo).
// Exit status 0 only if every check passed.
#include <rotortree/rotortree.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../cli/serve/http_client.hpp"

using namespace rotortree;
using rotortree::serve::HttpClient;

namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

serve::HttpReply must(serve::HttpReply reply, const std::string& what) {
  if (reply.status != 200) throw std::runtime_error(what + ": HTTP " + std::to_string(reply.status) + " " + reply.body);
  return reply;
}

constexpr const char* kOctets = "application/octet-stream";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [--rounds R] [--track K] [--trusted-size S --trusted-root HEX] [--post B [--token-file F]]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  int rounds = 10;
  unsigned track = 4;
  std::uint64_t post = 0;
  std::string token, trusted_root_hex;
  std::uint64_t trusted_size = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--rounds") rounds = std::atoi(value.c_str());
    else if (flag == "--track") track = static_cast<unsigned>(std::atoi(value.c_str()));
    else if (flag == "--post") post = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--trusted-size") trusted_size = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--trusted-root") trusted_root_hex = value;
    else if (flag == "--token-file") {
      std::ifstream in(value);
      std::getline(in, token);
    } else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    HttpClient client(url);
    std::mt19937_64 rng(42);
    auto post_leaves = [&] {
      std::string body(post * 32, '\0');
      for (auto& c : body) c = static_cast<char>(rng());
      must(client.request(serve::http::verb::post, "/v1/leaves", body, kOctets, token), "POST /v1/leaves");
    };
    // The one trusted header.
    Node trusted_root{};
    if (!trusted_root_hex.empty()) {
      auto node = node_from_hex(trusted_root_hex);
      if (!node || trusted_size == 0) throw std::runtime_error("--trusted-root needs 64 hex digits and --trusted-size");
      trusted_root = *node;
    } else {
      if (post) post_leaves();
      const auto root = nlohmann::json::parse(must(client.get("/v1/root"), "GET /v1/root").body);
      if (root["root"].is_null()) throw std::runtime_error("the tree is empty: nothing to trust yet");
      trusted_size = root["size"].get<std::uint64_t>();
      trusted_root = *node_from_hex(root["root"].get<std::string>());
    }
    std::printf("trusting size %llu root %s\n", static_cast<unsigned long long>(trusted_size), to_hex(trusted_root).c_str());

    // The leaves this client cares about, each proof checked once against the trusted root.
    std::vector<InclusionProof> tracked;
    for (unsigned k = 0; k < track && k < trusted_size; ++k) {
      const std::uint64_t index = rng() % trusted_size;
      auto proof = inclusion_from_binary(bytes(must(client.get("/v1/proof/" + std::to_string(index) + "?size=" +
                                                                   std::to_string(trusted_size), kOctets),
                                                    "GET /v1/proof").body));
      const auto leaf = must(client.get("/v1/leaves?from=" + std::to_string(index) + "&count=1"), "GET /v1/leaves").body;
      check(proof.leaf_index == index && std::equal(leaf.begin(), leaf.end(), reinterpret_cast<const char*>(proof.leaf.data())),
            "the proof is of the leaf asked for");
      check(static_cast<bool>(verify(proof, trusted_root, trusted_size)), "a tracked proof verifies against the trusted root");
      tracked.push_back(std::move(proof));
    }

    for (int round = 0; round < rounds; ++round) {
      if (post) post_leaves();
      const auto header = nlohmann::json::parse(
          must(client.get("/v1/root?after=" + std::to_string(trusted_size) + "&wait_ms=5000"), "GET /v1/root").body);
      const std::uint64_t size = header["size"].get<std::uint64_t>();
      if (size == trusted_size) continue;  // nothing new within the wait
      check(size > trusted_size, "the tree never shrinks under a light client");
      const Node claimed = *node_from_hex(header["root"].get<std::string>());
      const std::string raw = must(client.get("/v1/consistency?old_size=" + std::to_string(trusted_size) +
                                                  "&size=" + std::to_string(size), kOctets),
                                   "GET /v1/consistency").body;
      const auto proof = consistency_from_binary(bytes(raw));
      const auto verdict = verify(proof, trusted_root, trusted_size);
      check(static_cast<bool>(verdict), "consistency proof: " + verdict.reason);
      check(proof.new_size == size && proof.new_root == claimed, "the consistency proof ends at the header");
      // A proof altered in transit is refused.
      std::string tampered = raw;
      tampered[tampered.size() / 2] ^= 0x01;
      bool refused = false;
      try {
        refused = !verify(consistency_from_binary(bytes(tampered)), trusted_root, trusted_size);
      } catch (const Error&) {
        refused = true;
      }
      check(refused, "a tampered consistency proof is refused");
      if (failures) break;
      trusted_size = size;
      trusted_root = proof.new_root;
      for (auto& p : tracked) {
        p = update_inclusion_proof(p, proof);
        check(static_cast<bool>(verify(p, trusted_root, trusted_size)), "an updated proof verifies against the new root");
      }
      // Anything else fetched is checked against the trusted root too.
      const std::uint64_t index = rng() % size;
      const auto fresh = inclusion_from_binary(bytes(
          must(client.get("/v1/proof/" + std::to_string(index) + "?size=" + std::to_string(size), kOctets), "GET /v1/proof").body));
      check(fresh.leaf_index == index && verify(fresh, trusted_root, trusted_size), "a fresh proof verifies");
      std::printf("round %d: size %llu root %s, %zu proofs current\n", round, static_cast<unsigned long long>(size),
                  to_hex(trusted_root).c_str(), tracked.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  if (failures) return 1;
  std::printf("all checks passed\n");
  return 0;
}
