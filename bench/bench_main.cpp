// main() of rotortree_gbench: the suites of bench_tree.cpp, bench_read.cpp and bench_index.cpp.
#include <string>

#include "bench_support.hpp"
#include "rotortree/parallel.hpp"

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
