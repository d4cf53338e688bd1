#include "rotortree/parallel.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "rotortree/types.hpp"

namespace rotortree {

std::size_t parallel_threshold_from_env() {
  const char* value = std::getenv("ROTORTREE_PARALLEL_THRESHOLD");
  if (value == nullptr) return kDefaultParallelThreshold;
  char* end = nullptr;
  errno = 0;
  const unsigned long long parsed = std::strtoull(value, &end, 10);
  if (*value == '\0' || *value == '-' || *end != '\0' || errno != 0 || parsed == 0)
    throw Error(Errc::invalid_argument,
                std::string("ROTORTREE_PARALLEL_THRESHOLD must be a positive integer, got '") +
                    value + "'");
  return static_cast<std::size_t>(parsed);
}

std::size_t hardware_threads() noexcept {
  return static_cast<std::size_t>(tbb::this_task_arena::max_concurrency());
}

struct Executor::Arena {
  tbb::task_arena arena;
  explicit Arena(int threads) : arena(threads) {}
};

Executor::Executor(std::size_t threads)
    : threads_(threads == 0 ? hardware_threads() : threads),
      arena_(std::make_unique<Arena>(static_cast<int>(threads_))) {}

Executor::~Executor() = default;

void Executor::for_ranges(std::size_t begin, std::size_t end, std::size_t grain,
                          const std::function<void(std::size_t, std::size_t)>& body) const {
  arena_->arena.execute([&] {
    tbb::this_task_arena::isolate([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(begin, end, grain),
                        [&](const tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); });
    });
  });
}

void Executor::run(const std::function<void()>& body) const {
  arena_->arena.execute([&] { tbb::this_task_arena::isolate([&] { body(); }); });
}

std::shared_ptr<const Executor> Executor::shared_default() {
  static const std::shared_ptr<const Executor> instance = std::make_shared<Executor>(0);
  return instance;
}

}  // namespace rotortree
