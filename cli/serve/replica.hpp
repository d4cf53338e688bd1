// A verifying read replica (`serve --follow URL`): copies the primary's
// leaves into the local database, checking every step with a consistency
// proof from the replica's own (size, root) before serving it.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "rotortree/db.hpp"
#include "service.hpp"

namespace rotortree::serve {

/// The primary's parameters with its leaf policy (GET /v1/root), to create
/// the local database like it (lookups work on the replica too).
TreeParams primary_params(const std::string& url);

class Replica {
 public:
  Replica(Service& service, std::string url);
  ~Replica();
  void stop();

 private:
  void run();
  bool step(class HttpClient& client);
  void repair(class HttpClient& client);
  void fail(const std::string& message);

  Service& service_;
  std::string url_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rotortree::serve
