#include "rotortree/parallel.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rotortree/types.hpp"

// ThreadSanitizer cannot see the synchronisation inside libtbb (not built with
// -fsanitize=thread): without help it reports every hand-over of data between
// a caller and the pool as a race. Declare the two edges oneTBB guarantees:
// what the caller did before a parallel call happens before every work item,
// and every work item happens before the call returns. Items get no edge
// between each other, so races between them are still reported.
#if defined(__SANITIZE_THREAD__)
#define ROTORTREE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ROTORTREE_TSAN 1
#endif
#endif
#ifdef ROTORTREE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace rotortree {

namespace {
/// Happens-before edges around work handed to the pool (no-ops without TSan).
struct PoolHandOver {
  char to_items;  // released by the caller, acquired by each item
  char to_caller; // released by each item, acquired by the caller
#ifdef ROTORTREE_TSAN
  void before_call() { __tsan_release(&to_items); }
  void item_begins() { __tsan_acquire(&to_items); }
  void item_ends() { __tsan_release(&to_caller); }
  void after_call() { __tsan_acquire(&to_caller); }
#else
  void before_call() {}
  void item_begins() {}
  void item_ends() {}
  void after_call() {}
#endif
};
}  // namespace

std::size_t parallel_threshold_from_env(std::size_t fallback) {
  const char* value = std::getenv("ROTORTREE_PARALLEL_THRESHOLD");
  if (value == nullptr) return fallback;
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
  PoolHandOver hand_over;
  hand_over.before_call();
  arena_->arena.execute([&] {
    tbb::this_task_arena::isolate([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(begin, end, grain),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          hand_over.item_begins();
                          body(r.begin(), r.end());
                          hand_over.item_ends();
                        });
    });
  });
  hand_over.after_call();
}

void Executor::run(const std::function<void()>& body) const {
  PoolHandOver hand_over;
  hand_over.before_call();
  arena_->arena.execute([&] {
    tbb::this_task_arena::isolate([&] {
      hand_over.item_begins();
      body();
      hand_over.item_ends();
    });
  });
  hand_over.after_call();
}

std::shared_ptr<const Executor> Executor::shared_default() {
  static const std::shared_ptr<const Executor> instance = std::make_shared<Executor>(0);
  return instance;
}

}  // namespace rotortree
