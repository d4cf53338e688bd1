#pragma once
// A shared_ptr that one thread replaces while others copy it.

#include <memory>
#include <mutex>
#include <utility>

namespace rotortree::detail {

/// The lock is held only to copy or swap the pointer, never while a reader
/// uses what it points to, so readers never wait for a writer's work.
/// (libstdc++ 12's atomic<shared_ptr> releases its internal lock with a
/// relaxed store after a load, which ThreadSanitizer rightly reports.)
template <class T>
class Published {
 public:
  explicit Published(std::shared_ptr<const T> initial = nullptr) : current_(std::move(initial)) {}
  std::shared_ptr<const T> load() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void store(std::shared_ptr<const T> next) {
    {
      std::lock_guard lock(mutex_);
      current_.swap(next);
    }
    // the old state is released here, after the lock, in `next`
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;
};

}  // namespace rotortree::detail
