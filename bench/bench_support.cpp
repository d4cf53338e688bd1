#include "bench_support.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "rotortree/parallel.hpp"

namespace rtbench {

bool large_mode() noexcept {
  const char* env = std::getenv("ROTORTREE_BENCH_LARGE");
  return env != nullptr && std::strcmp(env, "1") == 0;
}

std::int64_t max_tree_size() noexcept { return large_mode() ? 100'000'000 : 10'000'000; }

std::span<const Node> leaves(std::uint64_t count) {
  static std::mutex mutex;
  static std::vector<Node> pool;
  static std::uint64_t state = 0x726f746f72747265ull;  // "rotortre"
  std::lock_guard lock(mutex);
  if (pool.size() < count) {
    pool.reserve(count);
    while (pool.size() < count) {
      Node leaf;
      for (int w = 0; w < 4; ++w) {
        const std::uint64_t word = splitmix64(state);
        std::memcpy(leaf.data() + 8 * w, &word, 8);
      }
      pool.push_back(leaf);
    }
  }
  return {pool.data(), count};
}

std::vector<std::uint64_t> random_indices(std::uint64_t bound, std::size_t count) {
  std::uint64_t state = 0x1234'5678'9abc'def0ull ^ bound;
  std::vector<std::uint64_t> out(count);
  for (auto& index : out) index = splitmix64(state) % bound;
  return out;
}

}  // namespace rtbench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("blake3_kernel", std::string(rotortree::Blake3::kernel()));
  benchmark::AddCustomContext("hardware_threads", std::to_string(rotortree::hardware_threads()));
  benchmark::AddCustomContext("ROTORTREE_BENCH_LARGE", rtbench::large_mode() ? "1" : "0");
  rtbench::register_write_benchmarks();
  rtbench::register_read_benchmarks();
  rtbench::register_index_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
