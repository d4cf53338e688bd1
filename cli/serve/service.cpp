// Request handling of the proof server (SPEC §7; docs/server.md).
#include "service.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "rotortree/codec.hpp"

namespace rotortree::serve {
namespace {

constexpr std::string_view kOctets = "application/octet-stream";

std::string json_string(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

/// A refused request: thrown inside handlers, turned into its reply.
struct Refusal {
  unsigned status;
  std::string message;
};

/// Decimal digits only, no sign, at most 2^64-1.
std::uint64_t parse_number(std::string_view text, std::string_view name) {
  if (text.empty() || text.size() > 20) throw Refusal{400, std::string(name) + " must be a decimal number"};
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') throw Refusal{400, std::string(name) + " must be a decimal number"};
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) throw Refusal{400, std::string(name) + " is too large"};
    value = value * 10 + digit;
  }
  return value;
}

Node parse_hex(std::string_view text, std::string_view name) {
  auto node = node_from_hex(text);
  if (!node) throw Refusal{400, std::string(name) + " must be 64 hex digits"};
  return *node;
}

/// The query of a target as name=value pairs: names must be in `allowed`,
/// none twice; values are used as they are (numbers and hex need no escapes).
class Query {
 public:
  Query(std::string_view query, std::initializer_list<std::string_view> allowed) {
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) throw Refusal{400, "query parameter without a value: " + std::string(pair)};
      const std::string_view name = pair.substr(0, eq);
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        throw Refusal{400, "unknown query parameter '" + std::string(name.substr(0, 64)) + "'"};
      for (const auto& [n, v] : pairs_)
        if (n == name) throw Refusal{400, "query parameter '" + std::string(name) + "' given twice"};
      pairs_.emplace_back(name, pair.substr(eq + 1));
    }
  }
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& [n, v] : pairs_)
      if (n == name) return v;
    return std::nullopt;
  }
  std::optional<std::uint64_t> number(std::string_view name) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    return parse_number(*v, name);
  }
  std::uint64_t required(std::string_view name) const {
    auto v = number(name);
    if (!v) throw Refusal{400, "query parameter '" + std::string(name) + "' is required"};
    return *v;
  }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> pairs_;
};

/// The status of a library error.
unsigned status_of(const Error& e) {
  switch (e.code()) {
    case Errc::duplicate_leaf: return 409;
    case Errc::batch_too_large: return 413;
    case Errc::io_error:
    case Errc::no_space:
    case Errc::corruption:
    case Errc::locked:
    case Errc::closed:
    case Errc::poisoned: return 503;
    default: return 400;
  }
}

bool wants_binary(std::string_view accept) { return accept.find(kOctets) != std::string_view::npos; }

}  // namespace

std::string_view route_name(Route route) noexcept {
  switch (route) {
    case Route::root: return "root";
    case Route::root_wait: return "root_wait";
    case Route::proof: return "proof";
    case Route::proof_by_leaf: return "proof_by_leaf";
    case Route::leaf: return "leaf";
    case Route::consistency: return "consistency";
    case Route::leaves_get: return "leaves_get";
    case Route::leaves_post: return "leaves_post";
    case Route::rewind: return "rewind";
    case Route::metrics: return "metrics";
    case Route::healthz: return "healthz";
    default: return "unknown";
  }
}

Reply error_reply(unsigned status, std::string_view message) {
  return Reply{status, "application/json", "{\"error\":" + json_string(message) + "}"};
}

// ---------------------------------------------------------------- adapters

// A lookup in a database without an index answers 501, never 404: a client
// must not take "cannot tell" for "absent" (an unspent nullifier).
std::optional<std::uint64_t> find_leaf(const AnySnapshot& snapshot, const Node& leaf) {
  if (snapshot.leaf_policy() == LeafPolicy::none)
    throw NotSupported("this database has no leaf index (leaf policy none; create it with --leaf-policy index or unique)");
  return snapshot.index_of(leaf);
}

// ---------------------------------------------------------------- metrics

void Metrics::record(Route route, unsigned status, std::chrono::nanoseconds elapsed) noexcept {
  const auto r = static_cast<std::size_t>(route);
  std::size_t s = 0;
  while (s + 1 < kStatuses.size() && kStatuses[s] != status && kStatuses[s] != 0) ++s;
  if (kStatuses[s] != status) s = kStatuses.size() - 1;  // other statuses share the last slot
  by_status_[r][s].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  buckets_[r][b].fetch_add(1, std::memory_order_relaxed);
  sum_ns_[r].fetch_add(static_cast<std::uint64_t>(elapsed.count()), std::memory_order_relaxed);
}

std::string Metrics::text() const {
  std::string out;
  char line[256];
  out += "# HELP rotortree_http_requests_total HTTP requests by route and status.\n"
         "# TYPE rotortree_http_requests_total counter\n";
  for (std::size_t r = 0; r < kRoutes; ++r)
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto n = by_status_[r][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string status = kStatuses[s] ? std::to_string(kStatuses[s]) : "other";
      std::snprintf(line, sizeof line, "rotortree_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                    route_name(static_cast<Route>(r)).data(), status.c_str(), static_cast<unsigned long long>(n));
      out += line;
    }
  out += "# HELP rotortree_http_request_seconds Time from a whole request to its answer, by route.\n"
         "# TYPE rotortree_http_request_seconds histogram\n";
  for (std::size_t r = 0; r < kRoutes; ++r) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= kBuckets.size(); ++b) cumulative += buckets_[r][b].load(std::memory_order_relaxed);
    if (cumulative == 0) continue;
    const char* name = route_name(static_cast<Route>(r)).data();
    cumulative = 0;
    for (std::size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += buckets_[r][b].load(std::memory_order_relaxed);
      if (b < kBuckets.size())
        std::snprintf(line, sizeof line, "rotortree_http_request_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", name,
                      kBuckets[b], static_cast<unsigned long long>(cumulative));
      else
        std::snprintf(line, sizeof line, "rotortree_http_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                      name, static_cast<unsigned long long>(cumulative));
      out += line;
    }
    std::snprintf(line, sizeof line,
                  "rotortree_http_request_seconds_sum{route=\"%s\"} %.9f\n"
                  "rotortree_http_request_seconds_count{route=\"%s\"} %llu\n",
                  name, sum_ns_[r].load(std::memory_order_relaxed) / 1e9, name,
                  static_cast<unsigned long long>(cumulative));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "# TYPE rotortree_http_connections_open gauge\nrotortree_http_connections_open %llu\n"
                "# TYPE rotortree_http_connections_refused_total counter\n"
                "rotortree_http_connections_refused_total %llu\n",
                static_cast<unsigned long long>(connections_open.load()),
                static_cast<unsigned long long>(connections_refused.load()));
  out += line;
  return out;
}

// ---------------------------------------------------------------- service

Service::Service(std::unique_ptr<AnyDb> db, std::string token, Limits limits, bool replica)
    : db_(std::move(db)), token_required_(!token.empty()), limits_(limits), replica_mode_(replica) {
  if (token_required_)
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), token_digest_.data());
  publish();
}

Service::~Service() {
  try {
    close();
  } catch (...) {
  }
}

void Service::close() {
  std::call_once(closed_, [this] { db_->close(); });
}

void Service::publish() {
  view_.store(std::shared_ptr<const AnySnapshot>(db_->snapshot()));
}

std::uint64_t Service::served_size() const { return view()->size(); }

bool Service::authorized(std::string_view header) const {
  if (!token_required_) return true;
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return false;
  const std::string_view token = header.substr(kScheme.size());
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return CRYPTO_memcmp(digest.data(), token_digest_.data(), digest.size()) == 0;
}

std::optional<Reply> Service::refuse_write(std::string_view authorization) const {
  if (replica_mode_) return error_reply(403, "this server is a read-only replica");
  if (!authorized(authorization)) return error_reply(401, "missing or wrong bearer token");
  return std::nullopt;
}

Parsed Service::parse(const Request& request) const {
  Parsed parsed;
  const auto question = request.target.find('?');
  const std::string_view path = request.target.substr(0, question);
  const bool get = request.method == "GET", post = request.method == "POST";
  auto want = [&](Route route, bool method_ok) {
    parsed.route = route;
    if (!method_ok) parsed.refusal = error_reply(405, "method not allowed on " + std::string(path));
  };
  if (path == "/v1/root") {
    want(Route::root, get);
    if (!parsed.refusal && question != std::string_view::npos) {
      try {
        Query query(request.target.substr(question + 1), {"after", "wait_ms"});
        if (auto after = query.number("after")) {
          parsed.route = Route::root_wait;
          parsed.after = *after;
          const auto wait = query.number("wait_ms").value_or(static_cast<std::uint64_t>(limits_.max_wait.count()));
          parsed.wait = std::chrono::milliseconds(std::min<std::uint64_t>(wait, limits_.max_wait.count()));
        } else if (query.get("wait_ms")) {
          parsed.refusal = error_reply(400, "wait_ms needs after");
        }
      } catch (const Refusal& r) {
        parsed.refusal = error_reply(r.status, r.message);
      }
    }
  } else if (path.rfind("/v1/proof/", 0) == 0) {
    want(Route::proof, get);
  } else if (path == "/v1/proof") {
    want(Route::proof_by_leaf, get);
  } else if (path.rfind("/v1/leaf/", 0) == 0) {
    want(Route::leaf, get);
  } else if (path == "/v1/consistency") {
    want(Route::consistency, get);
  } else if (path == "/v1/leaves") {
    parsed.route = post ? Route::leaves_post : Route::leaves_get;
    if (!get && !post) parsed.refusal = error_reply(405, "method not allowed on /v1/leaves");
  } else if (path == "/v1/rewind") {
    want(Route::rewind, post);
  } else if (path == "/metrics") {
    want(Route::metrics, get);
  } else if (path == "/healthz") {
    want(Route::healthz, get);
  } else {
    parsed.refusal = error_reply(404, "no such route");
  }
  return parsed;
}

Reply Service::root_reply(const AnySnapshot& snap) const {
  const auto params = snap.params();
  const auto root = snap.root();
  std::string out = "{\"size\":" + std::to_string(snap.size()) + ",\"root\":" +
                    (root ? "\"" + to_hex(*root) + "\"" : std::string("null")) +
                    ",\"depth\":" + std::to_string(snap.depth()) + ",\"arity\":" + std::to_string(params.arity) +
                    ",\"hash\":\"" + std::string(to_string(params.hash)) + "\",\"node_hash\":\"" +
                    std::string(to_string(params.node_hash)) + "\",\"leaf_policy\":\"" +
                    std::string(to_string(db_->params().leaf_policy)) + "\"}";
  return Reply{200, "application/json", std::move(out)};
}

Reply Service::proof_reply(const Request& request, const InclusionProof& proof) const {
  if (wants_binary(request.accept)) {
    const auto bytes = to_binary(proof);
    return Reply{200, std::string(kOctets), std::string(bytes.begin(), bytes.end())};
  }
  return Reply{200, "application/json", to_json(proof)};
}

Reply Service::handle(const Request& request, const Parsed& parsed) {
  if (parsed.refusal) return *parsed.refusal;
  try {
    switch (parsed.route) {
      case Route::leaves_post: return post_leaves(request);
      case Route::rewind: return post_rewind(request);
      default: return handle_read(request, parsed);
    }
  } catch (const Refusal& r) {
    return error_reply(r.status, r.message);
  } catch (const NotSupported& e) {
    return error_reply(501, e.what());
  } catch (const Error& e) {
    return error_reply(status_of(e), e.what());
  } catch (const std::bad_alloc&) {
    return error_reply(503, "out of memory");
  } catch (const std::exception& e) {
    return error_reply(500, e.what());
  }
}

Reply Service::handle_read(const Request& request, const Parsed& parsed) {
  const auto question = request.target.find('?');
  const std::string_view path = request.target.substr(0, question);
  const std::string_view query_text =
      question == std::string_view::npos ? std::string_view{} : request.target.substr(question + 1);
  const auto snap = view();
  // The tree of the first `size` leaves (default: all served ones).
  auto sized = [&](std::optional<std::uint64_t> size) -> std::shared_ptr<const AnySnapshot> {
    if (!size || *size == snap->size()) return snap;
    if (*size == 0 || *size > snap->size())
      throw Refusal{400, "size " + std::to_string(*size) + " is not in 1.." + std::to_string(snap->size())};
    return std::shared_ptr<const AnySnapshot>(snap->prefix(*size));
  };
  switch (parsed.route) {
    case Route::root:
    case Route::root_wait: return root_reply(*snap);
    case Route::proof: {
      Query query(query_text, {"size"});
      const std::uint64_t index = parse_number(path.substr(std::strlen("/v1/proof/")), "index");
      const auto tree = sized(query.number("size"));
      if (index >= tree->size())
        throw Refusal{404, "no leaf at index " + std::to_string(index) + " in a tree of " +
                               std::to_string(tree->size())};
      return proof_reply(request, tree->prove(index));
    }
    case Route::proof_by_leaf: {
      Query query(query_text, {"leaf", "size"});
      const auto hex = query.get("leaf");
      if (!hex) throw Refusal{400, "query parameter 'leaf' is required"};
      const Node leaf = parse_hex(*hex, "leaf");
      const auto tree = sized(query.number("size"));
      const auto index = find_leaf(*tree, leaf);
      if (!index) throw Refusal{404, "absent"};
      return proof_reply(request, tree->prove(*index));
    }
    case Route::leaf: {
      Query query(query_text, {});
      const Node leaf = parse_hex(path.substr(std::strlen("/v1/leaf/")), "leaf");
      const auto index = find_leaf(*snap, leaf);
      if (!index) throw Refusal{404, "absent"};
      return Reply{200, "application/json", "{\"index\":" + std::to_string(*index) + "}"};
    }
    case Route::consistency: {
      Query query(query_text, {"old_size", "size"});
      const std::uint64_t old_size = query.required("old_size");
      const auto tree = sized(query.number("size"));
      if (old_size == 0 || old_size > tree->size())
        throw Refusal{400, "old_size " + std::to_string(old_size) + " is not in 1.." + std::to_string(tree->size())};
      const auto proof = tree->consistency(old_size);
      if (wants_binary(request.accept)) {
        const auto bytes = to_binary(proof);
        return Reply{200, std::string(kOctets), std::string(bytes.begin(), bytes.end())};
      }
      return Reply{200, "application/json", to_json(proof)};
    }
    case Route::leaves_get: {
      Query query(query_text, {"from", "count"});
      const std::uint64_t from = query.required("from"), count = query.required("count");
      if (count == 0 || count > limits_.max_leaves_per_read)
        throw Refusal{400, "count must be in 1.." + std::to_string(limits_.max_leaves_per_read)};
      if (from > snap->size() || count > snap->size() - from)
        throw Refusal{400, "leaves " + std::to_string(from) + ".." + std::to_string(from + count - 1) +
                               " are not all in a tree of " + std::to_string(snap->size())};
      std::string body(count * sizeof(Node), '\0');
      for (std::uint64_t i = 0; i < count; ++i) {
        const Node leaf = snap->node(0, from + i);
        std::memcpy(body.data() + i * sizeof(Node), leaf.data(), sizeof(Node));
      }
      return Reply{200, std::string(kOctets), std::move(body)};
    }
    case Route::metrics: return metrics_reply();
    case Route::healthz: {
      if (auto failure = db_->background_error()) return error_reply(503, failure->what());
      return Reply{200, "text/plain", "ok\n"};
    }
    default: return error_reply(404, "no such route");
  }
}

Reply Service::post_leaves(const Request& request) {
  if (replica_mode_) throw Refusal{403, "this server is a read-only replica"};
  if (!authorized(request.authorization)) throw Refusal{401, "missing or wrong bearer token"};
  std::vector<Node> leaves;
  if (request.content_type.rfind("application/json", 0) == 0) {
    const auto json = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_array()) throw Refusal{400, "the body must be a JSON array of hex strings"};
    leaves.reserve(json.size());
    for (std::size_t i = 0; i < json.size(); ++i) {
      if (!json[i].is_string()) throw Refusal{400, "leaf " + std::to_string(i) + " is not a string"};
      const auto node = node_from_hex(json[i].get_ref<const std::string&>());
      if (!node) throw Refusal{400, "leaf " + std::to_string(i) + " is not 64 hex digits"};
      leaves.push_back(*node);
    }
  } else {
    if (request.body.size() % sizeof(Node) != 0)
      throw Refusal{400, "a body of " + std::to_string(request.body.size()) + " bytes is not whole 32-byte leaves"};
    leaves.resize(request.body.size() / sizeof(Node));
    if (!leaves.empty()) std::memcpy(leaves.data(), request.body.data(), request.body.size());
  }
  if (leaves.empty()) throw Refusal{400, "no leaves in the body"};
  AnyDb::InsertResult result;
  {
    std::lock_guard lock(write_mutex_);
    result = db_->insert_many(leaves);
  }
  const std::uint64_t first = result.first_index;
  result.token.wait();  // outside the lock: concurrent writers share a flush
  if (auto failure = db_->background_error()) throw *failure;
  const std::uint64_t size = first + leaves.size();
  {
    // Readers see only durable leaves: publish this batch's prefix, never
    // going back behind a batch published by a writer that finished first.
    std::lock_guard lock(write_mutex_);
    if (view()->size() < size && db_->size() >= size)
      view_.store(std::shared_ptr<const AnySnapshot>(db_->snapshot()->prefix(size)));
  }
  return Reply{200, "application/json",
               "{\"size\":" + std::to_string(size) + ",\"root\":\"" + to_hex(result.root) +
                   "\",\"first_index\":" + std::to_string(first) + "}"};
}

Reply Service::post_rewind(const Request& request) {
  if (replica_mode_) throw Refusal{403, "this server is a read-only replica"};
  if (!authorized(request.authorization)) throw Refusal{401, "missing or wrong bearer token"};
  const auto question = request.target.find('?');
  Query query(question == std::string_view::npos ? std::string_view{} : request.target.substr(question + 1), {"size"});
  const std::uint64_t size = query.required("size");
  std::lock_guard lock(write_mutex_);
  if (size > db_->size())
    throw Refusal{400, "size " + std::to_string(size) + " is above the tree's " + std::to_string(db_->size())};
  db_->rewind(size);
  db_->flush();
  publish();
  const auto root = db_->root();
  return Reply{200, "application/json",
               "{\"size\":" + std::to_string(size) + ",\"root\":" +
                   (root ? "\"" + to_hex(*root) + "\"" : std::string("null")) + "}"};
}

Reply Service::metrics_reply() const {
  std::string out = metrics_.text();
  const auto info = db_->info();
  const auto served = view()->size();
  const double now_ms = static_cast<double>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  char line[1024];
  std::snprintf(line, sizeof line,
                "# HELP rotortree_tree_size Leaves served (durable on a primary, verified on a replica).\n"
                "# TYPE rotortree_tree_size gauge\nrotortree_tree_size %llu\n"
                "# TYPE rotortree_db_size gauge\nrotortree_db_size %llu\n"
                "# TYPE rotortree_log_bytes gauge\nrotortree_log_bytes %llu\n"
                "# TYPE rotortree_data_bytes gauge\nrotortree_data_bytes %llu\n"
                "# HELP rotortree_checkpoint_age_seconds Time since the last checkpoint (-1: never).\n"
                "# TYPE rotortree_checkpoint_age_seconds gauge\nrotortree_checkpoint_age_seconds %.3f\n"
                "# TYPE rotortree_db_errors gauge\nrotortree_db_errors %d\n",
                static_cast<unsigned long long>(served), static_cast<unsigned long long>(info.size),
                static_cast<unsigned long long>(info.log_bytes), static_cast<unsigned long long>(info.data_bytes),
                info.checkpoint_unix_ms ? (now_ms - static_cast<double>(info.checkpoint_unix_ms)) / 1000.0 : -1.0,
                db_->background_error() ? 1 : 0);
  out += line;
  if (replica_mode_) {
    const auto primary = replica_.primary_size.load();
    const auto since = replica_.behind_since_ms.load();
    const double lag_s = since ? (steady_ms() - since) / 1000.0 : 0.0;
    std::snprintf(line, sizeof line,
                  "# TYPE rotortree_replica_primary_size gauge\nrotortree_replica_primary_size %llu\n"
                  "# HELP rotortree_replica_lag_leaves Leaves the primary has that this replica does not serve yet.\n"
                  "# TYPE rotortree_replica_lag_leaves gauge\nrotortree_replica_lag_leaves %llu\n"
                  "# HELP rotortree_replica_lag_seconds How long this replica has been behind the primary.\n"
                  "# TYPE rotortree_replica_lag_seconds gauge\nrotortree_replica_lag_seconds %.3f\n"
                  "# TYPE rotortree_replica_steps_total counter\nrotortree_replica_steps_total %llu\n"
                  "# TYPE rotortree_replica_verify_failures_total counter\n"
                  "rotortree_replica_verify_failures_total %llu\n"
                  "# TYPE rotortree_replica_fetch_errors_total counter\nrotortree_replica_fetch_errors_total %llu\n"
                  "# TYPE rotortree_replica_rewinds_total counter\nrotortree_replica_rewinds_total %llu\n",
                  static_cast<unsigned long long>(primary),
                  static_cast<unsigned long long>(primary > served ? primary - served : 0), lag_s,
                  static_cast<unsigned long long>(replica_.steps.load()),
                  static_cast<unsigned long long>(replica_.verify_failures.load()),
                  static_cast<unsigned long long>(replica_.fetch_errors.load()),
                  static_cast<unsigned long long>(replica_.rewinds.load()));
    out += line;
  }
  return Reply{200, "text/plain; version=0.0.4", std::move(out)};
}

}  // namespace rotortree::serve
