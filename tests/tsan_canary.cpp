// ThreadSanitizer canary (built only with ROTORTREE_SANITIZE=thread): work
// items of Executor::for_ranges race on purpose, and the test passes only if
// TSan reports that race. It proves that the oneTBB suppressions
// (tests/tsan.supp) and ignore list (tests/tsan-ignorelist.txt) do not blind
// TSan to races in code that runs inside the pool, as tree hashing does.
#include <cstdio>
#include <vector>

#include "rotortree/parallel.hpp"

namespace {
int unsynchronised_counter = 0;  // written by every work item, no lock: a data race
}

int main() {
  rotortree::Executor executor(4);
  std::vector<int> data(1 << 16);
  for (int round = 0; round < 50; ++round)
    executor.for_ranges(0, data.size(), 64, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) data[i] += 1;  // disjoint: no race
      unsynchronised_counter = unsynchronised_counter + 1;     // the race
    });
  for (int value : data)
    if (value != 50) return 2;  // the ranges must still cover everything exactly once
  std::printf("work items: %d\n", unsynchronised_counter);
  return 0;
}
