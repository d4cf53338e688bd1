#include "rotortree/parallel.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rotortree/types.hpp"

namespace rotortree {

std::size_t parallel_threshold_from_env() {
  const char* value = std::getenv("ROTORTREE_PARALLEL_THRESHOLD");
  if (value == nullptr) return kDefaultParallelThreshold;
  // Digits only: no sign, no white space, no suffix, no zero.
  const std::string_view text(value);
  std::size_t parsed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || parsed == 0)
    throw Error(Errc::invalid_argument,
                "ROTORTREE_PARALLEL_THRESHOLD must be a positive integer, got '" + std::string(text) + "'");
  return parsed;
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
