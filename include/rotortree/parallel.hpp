// Thread control for parallel hashing (oneTBB, hidden behind this interface).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace rotortree {

/// Parents hashed by one parallel work unit (a range handed to the pool),
/// unless the hasher sets its own (default_parallel_grain in hash.hpp).
inline constexpr std::size_t kParallelGrain = 64;
/// A level is hashed in parallel once it has at least this many new parents
/// (unless the hasher sets its own: default_parallel_threshold).
inline constexpr std::size_t kDefaultParallelThreshold = 1024;

/// ROTORTREE_PARALLEL_THRESHOLD if set (a positive integer), else `fallback`
/// (the hasher's default). Throws Error(invalid_argument) naming the variable
/// for any other value.
std::size_t parallel_threshold_from_env(std::size_t fallback = kDefaultParallelThreshold);

/// Number of hardware threads the pool may use by default.
std::size_t hardware_threads() noexcept;

/// A bounded work-stealing pool (a oneTBB task arena). Work submitted from
/// inside another parallel loop is isolated: a thread waiting for its own
/// ranges never picks up an unrelated outer task (which could then block on a
/// lock the waiting thread holds).
class Executor {
 public:
  /// threads == 0: all hardware threads.
  explicit Executor(std::size_t threads = 0);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  std::size_t threads() const noexcept { return threads_; }
  /// Call body(b, e) on disjoint subranges covering [begin, end), each about
  /// `grain` long, in parallel; returns when all are done.
  void for_ranges(std::size_t begin, std::size_t end, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body) const;
  /// Run `body` inside the pool (so nested for_ranges calls share it).
  void run(const std::function<void()>& body) const;

  /// A process-wide executor with all hardware threads.
  static std::shared_ptr<const Executor> shared_default();

 private:
  struct Arena;
  std::size_t threads_;
  std::unique_ptr<Arena> arena_;
};

}  // namespace rotortree
