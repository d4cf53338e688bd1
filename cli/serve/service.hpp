// The proof server's request handling (SPEC §7), independent of the network:
// a Request in, a Reply out. server.cpp moves bytes; replica.cpp feeds a
// replica's database. See docs/server.md.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "rotortree/any_db.hpp"
#include "rotortree/detail/published.hpp"

namespace rotortree::serve {

struct Limits {
  std::uint64_t max_body_bytes = std::uint64_t{64} << 20;
  std::uint32_t max_header_bytes = 8192;
  std::size_t max_connections = 1024;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds max_wait{60000};  ///< longest long poll
  std::uint64_t max_leaves_per_read = std::uint64_t{1} << 20;
};

/// The routes, for dispatch and for metrics labels.
enum class Route : unsigned {
  root, root_wait, proof, proof_by_leaf, leaf, consistency, leaves_get, leaves_post, rewind, metrics, healthz,
  unknown, count_
};
std::string_view route_name(Route route) noexcept;

struct Request {
  std::string_view method;  ///< "GET", "POST", ...
  std::string_view target;  ///< path and query, as received
  std::string_view authorization;
  std::string_view accept;
  std::string_view content_type;
  std::string_view body;
};

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// A JSON error reply {"error": message}.
Reply error_reply(unsigned status, std::string_view message);

/// What a request asks for, parsed once: the server uses it to decide where
/// the request runs (writes and long polls do not run on an I/O thread).
struct Parsed {
  Route route = Route::unknown;
  std::optional<Reply> refusal;  ///< set: answer this at once (bad request)
  std::uint64_t after = 0;       ///< root_wait
  std::chrono::milliseconds wait{0};
};

/// Counters and latency histograms per route, lock-free.
class Metrics {
 public:
  static constexpr std::array<double, 14> kBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                   0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};
  static constexpr std::array<unsigned, 14> kStatuses{200, 400, 401, 403, 404, 405, 409, 413, 431, 500, 501, 503, 0, 0};
  void record(Route route, unsigned status, std::chrono::nanoseconds elapsed) noexcept;
  std::string text() const;
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_refused{0};

 private:
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::count_);
  std::array<std::array<std::atomic<std::uint64_t>, kStatuses.size()>, kRoutes> by_status_{};
  std::array<std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1>, kRoutes> buckets_{};
  std::array<std::atomic<std::uint64_t>, kRoutes> sum_ns_{};
};

/// State a replica exposes (replica.cpp writes it).
struct ReplicaStatus {
  std::atomic<std::uint64_t> primary_size{0};
  std::atomic<std::uint64_t> behind_since_ms{0};  ///< steady ms when it fell behind; 0: caught up
  std::atomic<std::uint64_t> steps{0};
  std::atomic<std::uint64_t> verify_failures{0};
  std::atomic<std::uint64_t> fetch_errors{0};
  std::atomic<std::uint64_t> rewinds{0};
  std::mutex mutex;
  std::string last_error;  ///< guarded by mutex
};

class Service {
 public:
  /// `token`: empty = writes need no authorization. `replica`: refuse writes.
  Service(std::unique_ptr<AnyDb> db, std::string token, Limits limits, bool replica);
  ~Service();

  Parsed parse(const Request& request) const;
  /// Answer a parsed request (may block: writes wait for durability).
  Reply handle(const Request& request, const Parsed& parsed);
  /// A write with this Authorization header is refused (403 on a replica,
  /// 401 without the token): the reply, before the body is read.
  std::optional<Reply> refuse_write(std::string_view authorization) const;
  /// The size readers see now (long polls compare against it).
  std::uint64_t served_size() const;

  /// The state readers see: only durable (primary) or verified (replica) leaves.
  std::shared_ptr<const AnySnapshot> view() const { return view_.load(); }
  /// Publish the database's current state to readers (after it is durable/verified).
  void publish();

  AnyDb& db() { return *db_; }
  std::mutex& write_mutex() { return write_mutex_; }
  Metrics& metrics() { return metrics_; }
  ReplicaStatus& replica_status() { return replica_; }
  const Limits& limits() const { return limits_; }
  bool is_replica() const { return replica_mode_; }
  /// Close the database (flush, checkpoint by its policy). Idempotent.
  void close();

 private:
  Reply root_reply(const AnySnapshot& snap) const;
  Reply proof_reply(const Request& request, const InclusionProof& proof) const;
  Reply handle_read(const Request& request, const Parsed& parsed);
  Reply post_leaves(const Request& request);
  Reply post_rewind(const Request& request);
  Reply metrics_reply() const;
  bool authorized(std::string_view header) const;

  std::unique_ptr<AnyDb> db_;
  std::array<unsigned char, 32> token_digest_{};
  bool token_required_ = false;
  Limits limits_;
  bool replica_mode_;
  std::mutex write_mutex_;
  rotortree::detail::Published<AnySnapshot> view_;
  Metrics metrics_;
  ReplicaStatus replica_;
  std::once_flag closed_;
};

/// A lookup a database without a leaf index cannot answer (the route answers 501).
struct NotSupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};
std::optional<std::uint64_t> find_leaf(const AnySnapshot& snapshot, const Node& leaf);

}  // namespace rotortree::serve
