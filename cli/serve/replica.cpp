// The replica's puller (docs/deployment.md).
#include "replica.hpp"

#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "http_client.hpp"
#include "rotortree/codec.hpp"

namespace rotortree::serve {
namespace {

constexpr std::uint64_t kPullLeaves = std::uint64_t{1} << 20;  ///< the primary's default read limit
constexpr const char* kOctets = "application/octet-stream";

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

struct PrimaryRoot {
  std::uint64_t size = 0;
  std::optional<Node> root;
  nlohmann::json json;
};

PrimaryRoot get_root(HttpClient& client, const std::string& target) {
  const auto reply = client.get(target);
  if (reply.status != 200) throw std::runtime_error("primary answered " + std::to_string(reply.status) + " to " + target);
  PrimaryRoot out;
  out.json = nlohmann::json::parse(reply.body);
  out.size = out.json.at("size").get<std::uint64_t>();
  if (!out.json.at("root").is_null()) {
    auto node = node_from_hex(out.json.at("root").get<std::string>());
    if (!node) throw std::runtime_error("primary sent a malformed root");
    out.root = *node;
  }
  if (out.size > 0 && !out.root) throw std::runtime_error("primary sent no root for a non-empty tree");
  return out;
}

/// The primary's root of its first `size` leaves, from an inclusion proof it
/// must verify (size >= 1).
Node primary_root_at(HttpClient& client, std::uint64_t size) {
  const auto reply = client.get("/v1/proof/" + std::to_string(size - 1) + "?size=" + std::to_string(size), kOctets);
  if (reply.status != 200) throw std::runtime_error("primary answered " + std::to_string(reply.status) + " to a proof");
  const auto proof = inclusion_from_binary(std::span(reinterpret_cast<const std::uint8_t*>(reply.body.data()), reply.body.size()));
  if (proof.tree_size != size || !verify(proof)) throw Error(Errc::malformed_proof, "the primary's proof does not verify");
  return proof.root;
}

}  // namespace

TreeParams primary_params(const std::string& url) {
  HttpClient client(url, std::chrono::seconds(10));
  const auto root = get_root(client, "/v1/root");
  TreeParams params;
  params.arity = root.json.at("arity").get<unsigned>();
  params.hash = parse_hash_id(root.json.at("hash").get<std::string>());
  params.node_hash = parse_node_hash(root.json.at("node_hash").get<std::string>());
  params.leaf_policy = parse_leaf_policy(root.json.at("leaf_policy").get<std::string>());
  return params;
}

Replica::Replica(Service& service, std::string url) : service_(service), url_(std::move(url)) {
  thread_ = std::thread([this] { run(); });
}
Replica::~Replica() { stop(); }
void Replica::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Replica::fail(const std::string& message) {
  std::lock_guard lock(service_.replica_status().mutex);
  service_.replica_status().last_error = message;
}

void Replica::run() {
  // Long polls end within a second, so a stop is noticed within about that.
  HttpClient client(url_, std::chrono::seconds(30));
  auto& status = service_.replica_status();
  while (!stop_) {
    try {
      if (!step(client)) continue;
    } catch (const std::exception& e) {
      status.fetch_errors.fetch_add(1);
      fail(e.what());
      for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// One round: wait for the primary to grow, pull up to kPullLeaves leaves,
// check them and serve them. Returns false when there was nothing to do.
bool Replica::step(HttpClient& client) {
  auto& status = service_.replica_status();
  const auto local = service_.db().snapshot();
  const std::uint64_t L = local->size();
  const auto local_root = local->root();
  const auto primary = get_root(client, "/v1/root?after=" + std::to_string(L) + "&wait_ms=1000");
  const std::uint64_t S = primary.size;
  status.primary_size = S;
  if (S > service_.served_size()) {
    std::uint64_t expected = 0;
    status.behind_since_ms.compare_exchange_strong(expected, steady_ms());
  }
  if (S < L || (S == L && primary.root != local_root)) {
    repair(client);
    return true;
  }
  if (S == L) {
    status.behind_since_ms = 0;
    return false;
  }
  const std::uint64_t target = std::min(S, L + kPullLeaves);
  Node new_root{};
  if (L > 0) {
    const auto reply = client.get("/v1/consistency?old_size=" + std::to_string(L) + "&size=" + std::to_string(target), kOctets);
    if (reply.status != 200) throw std::runtime_error("primary answered " + std::to_string(reply.status) + " to consistency");
    const auto proof =
        consistency_from_binary(std::span(reinterpret_cast<const std::uint8_t*>(reply.body.data()), reply.body.size()));
    const auto verdict = verify(proof, *local_root, L);
    if (!verdict || proof.new_size != target || (target == S && proof.new_root != *primary.root)) {
      // The primary's tree no longer extends ours (it was rewound), or it lies.
      status.verify_failures.fetch_add(1);
      fail("consistency from " + std::to_string(L) + " failed: " + (verdict ? "sizes or roots differ" : verdict.reason));
      repair(client);
      return true;
    }
    new_root = proof.new_root;
  } else {
    new_root = target == S ? *primary.root : primary_root_at(client, target);
  }
  const auto reply = client.get("/v1/leaves?from=" + std::to_string(L) + "&count=" + std::to_string(target - L));
  if (reply.status != 200 || reply.body.size() != (target - L) * sizeof(Node))
    throw std::runtime_error("primary answered " + std::to_string(reply.status) + " to a leaf range");
  std::vector<Node> leaves(target - L);
  std::memcpy(leaves.data(), reply.body.data(), reply.body.size());
  AnyDb::InsertResult inserted;
  {
    std::lock_guard lock(service_.write_mutex());
    inserted = service_.db().insert_many(leaves);
  }
  inserted.token.wait();
  if (inserted.root != new_root) {
    // The leaves do not make the root the proof vouched for (the primary
    // changed between the two requests): take them back and start again.
    status.verify_failures.fetch_add(1);
    fail("the leaves " + std::to_string(L) + ".." + std::to_string(target - 1) + " do not give the primary's root");
    repair(client);
    return true;
  }
  service_.publish();
  status.steps.fetch_add(1);
  if (target == S) status.behind_since_ms = 0;
  return true;
}

// The replica holds leaves the primary does not vouch for: find the longest
// common prefix (roots of prefixes agree up to it and differ after) and rewind to it.
void Replica::repair(HttpClient& client) {
  auto& status = service_.replica_status();
  const auto local = service_.db().snapshot();
  const std::uint64_t primary_size = get_root(client, "/v1/root").size;
  std::uint64_t good = 0, bad = std::min(local->size(), primary_size) + 1;  // root(good) agrees, root(bad) does not
  while (bad - good > 1) {
    const std::uint64_t mid = good + (bad - good) / 2;
    if (local->prefix(mid)->root() == primary_root_at(client, mid))
      good = mid;
    else
      bad = mid;
  }
  if (good == local->size()) return;
  {
    std::lock_guard lock(service_.write_mutex());
    service_.db().rewind(good);
    service_.db().flush();
  }
  status.rewinds.fetch_add(1);
  service_.publish();
}

}  // namespace rotortree::serve
