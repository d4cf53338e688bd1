#include <sys/mman.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <new>

#include "rotortree/detail/leaf_table.hpp"
#include "rotortree/leaf_index.hpp"

namespace rotortree {
namespace {
std::atomic<std::uint64_t> g_indexed_leaf_limit{kMaxIndexedLeaves};
}  // namespace

LeafSecret random_leaf_secret() {
  LeafSecret secret;
  std::size_t done = 0;
  while (done < secret.size()) {
    const ssize_t n = getrandom(secret.data() + done, secret.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io_error, "getrandom failed: cannot create the leaf index's secret");
    }
    done += static_cast<std::size_t>(n);
  }
  return secret;
}

std::uint64_t indexed_leaf_limit() noexcept { return g_indexed_leaf_limit.load(std::memory_order_relaxed); }

namespace testing {
void set_indexed_leaf_limit(std::uint64_t limit) noexcept {
  g_indexed_leaf_limit.store(limit == 0 || limit > kMaxIndexedLeaves ? kMaxIndexedLeaves : limit,
                             std::memory_order_relaxed);
}
}  // namespace testing

namespace detail {

LeafTable::LeafTable(std::uint64_t buckets, const LeafHashKeys& keys) : buckets_(buckets), keys_(keys) {
  if (buckets_ == 0) buckets_ = 1;
  // Fresh anonymous pages are zero: every slot empty, every overflow count 0.
  void* memory = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  if (bytes() >= (std::size_t{2} << 20)) madvise(memory, bytes(), MADV_HUGEPAGE);
  table_ = static_cast<LeafBucket*>(memory);
}

LeafTable::~LeafTable() { munmap(table_, bytes()); }

}  // namespace detail
}  // namespace rotortree
