// `rotortree bench --report DIR [--quick]`: the benchmark sweep, as a CSV,
// PNG plots (gnuplot) and a Markdown summary.
//
// Every figure comes from a run of this very binary (`bench --json …`, and
// `bench --storage --json …` when the build has it) in a child process: each
// measurement starts from a fresh process, exactly as a user reproduces it
// with the command recorded beside it.
//
// ROTORTREE_REPORT_MAX_LEAVES (a positive integer) caps every run's tree size;
// the tests use it to exercise the whole report in seconds.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/parallel.hpp"
#include "rotortree/version.hpp"

extern char** environ;

namespace rotortree::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

[[noreturn]] void io_failure(const std::string& what) { throw Error(Errc::io_error, what); }

// --- Child processes -------------------------------------------------------------

struct ChildResult {
  int status = -1;  // exit code, or -1 if killed by a signal / not started
  std::string out;
};

/// Run argv[0] with argv (in directory `cwd` if given), standard output
/// captured, standard error appended to `log`.
ChildResult run_child(const std::vector<std::string>& argv, const std::string& log, const std::string& cwd = {}) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) io_failure("cannot create a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  ChildResult result;
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    io_failure("cannot run " + argv[0] + ": " + std::strerror(spawned));
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      result.out.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string self_path() {
  std::error_code ec;
  const fs::path path = fs::read_symlink("/proc/self/exe", ec);
  if (ec) io_failure("cannot find this program (/proc/self/exe): " + ec.message());
  return path.string();
}

bool bench_has_storage(const std::string& self) {
  const ChildResult help = run_child({self, "bench", "--help"}, "/dev/null");
  return help.status == 0 && help.out.find("--storage") != std::string::npos;
}

std::optional<std::string> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

// --- Machine ------------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::uint64_t mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0) return std::strtoull(line.c_str() + 13, nullptr, 10) * 1024;
  return 0;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

// --- The sweep --------------------------------------------------------------------------

struct Run {
  std::string sweep;              // size, arity, threads, storage
  std::vector<std::string> args;  // after "rotortree"
  json result;                    // the run's JSON object (empty if it failed)
  double seconds = 0;
  std::string command() const {
    std::string text = "rotortree";
    for (const std::string& arg : args) text += " " + arg;
    return text;
  }
};

std::vector<std::string> bench_args(bool storage, std::uint64_t leaves, unsigned arity, std::size_t threads,
                                    bool quick) {
  // Single inserts: up to 1M (SPEC §4), never more than the tree already holds,
  // so that the figure is the one for a tree of about `leaves` leaves.
  const std::uint64_t singles = std::min<std::uint64_t>(leaves, quick ? 100'000 : 1'000'000);
  std::vector<std::string> args = {"bench"};
  if (storage) args.push_back("--storage");
  args.insert(args.end(), {"--json", "--leaves", std::to_string(leaves), "--arity", std::to_string(arity),
                           "--threads", std::to_string(threads), "--single-inserts", std::to_string(singles)});
  if (storage) {
    args.insert(args.end(), {"--reopen-leaves", std::to_string(leaves)});
  } else {
    args.insert(args.end(), {"--proofs", std::to_string(quick ? 20'000 : 200'000)});
  }
  return args;
}

/// Leaf counts 10^3 .. 10^max_exponent, capped.
std::vector<std::uint64_t> sizes(int max_exponent, std::uint64_t cap) {
  std::vector<std::uint64_t> out;
  std::uint64_t value = 1000;
  for (int e = 3; e <= max_exponent; ++e, value *= 10)
    if (value <= cap) out.push_back(value);
  return out;
}

std::vector<std::size_t> thread_counts(std::size_t cores) {
  std::vector<std::size_t> out;
  if (cores <= 8) {
    for (std::size_t t = 1; t <= cores; ++t) out.push_back(t);
  } else {
    for (std::size_t t = 1; t < cores; t *= 2) out.push_back(t);
    out.push_back(cores);
  }
  return out;
}

/// Bytes a `bench` run of `leaves` leaves needs at its peak: the leaves, the
/// tree and the slab cache it keeps for reuse (an estimate to skip what cannot fit).
std::uint64_t bench_peak_bytes(std::uint64_t leaves, unsigned arity) {
  const double tree = leaves * 32.0 * arity / (arity - 1) * 1.1;
  return static_cast<std::uint64_t>(leaves * 32.0 + 2 * tree) + (256u << 20);
}

// --- Output: CSV ----------------------------------------------------------------------------

std::string csv_field(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  }
  return value.dump();
}

void write_csv(const std::string& path, const std::vector<Run>& runs) {
  std::vector<std::string> columns;
  for (const Run& run : runs)
    for (const auto& [key, value] : run.result.items())
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
  std::ofstream csv(path);
  csv << "sweep,storage";
  for (const std::string& column : columns) csv << "," << column;
  csv << ",seconds,command\n";
  for (const Run& run : runs) {
    if (run.result.empty()) continue;
    const bool storage = std::find(run.args.begin(), run.args.end(), "--storage") != run.args.end();
    csv << run.sweep << "," << (storage ? 1 : 0);
    for (const std::string& column : columns)
      csv << "," << (run.result.contains(column) ? csv_field(run.result[column]) : "");
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", run.seconds);
    csv << "," << seconds << "," << csv_field(json(run.command())) << "\n";
  }
  if (!csv) io_failure("cannot write " + path);
}

// --- Output: plots ------------------------------------------------------------------------

double number(const json& result, const char* key) {
  return result.contains(key) && result[key].is_number() ? result[key].get<double>() : std::nan("");
}

/// A whitespace-separated data file for gnuplot: x, then the given fields
/// (scaled), one row per run of `sweep`.
void write_data(const std::string& path, const std::vector<Run>& runs, const std::string& sweep, const char* x_key,
                const std::vector<std::pair<const char*, double>>& fields) {
  std::ofstream data(path);
  data << "# " << x_key;
  for (const auto& [key, scale] : fields) data << " " << key;
  data << "\n";
  for (const Run& run : runs) {
    if (run.sweep != sweep || run.result.empty()) continue;
    data << number(run.result, x_key);
    for (const auto& [key, scale] : fields) {
      const double value = number(run.result, key);
      data << " ";
      if (std::isnan(value))
        data << "NaN";
      else
        data << value * scale;
    }
    data << "\n";
  }
}

struct Series {
  std::string file;
  std::string using_;  // gnuplot "using" clause
  std::string title;
  std::string style;   // gnuplot "with" clause
};

void write_plot(const std::string& dir, const std::string& png, const std::string& terminal, const std::string& title,
                const std::string& x_label, const std::string& y_label, bool log_x, const std::string& extra,
                const std::vector<Series>& series) {
  std::ostringstream gp;
  gp << "set terminal " << terminal << " size 900,560 font 'DejaVu Sans,11'\n"
     << "set output '" << png << "'\n"
     << "set title '" << title << "'\n"
     << "set xlabel '" << x_label << "'\nset ylabel '" << y_label << "'\n"
     << "set grid\nset key below\nset yrange [0:*]\nset datafile missing 'NaN'\n";
  if (log_x) gp << "set logscale x 10\nset format x '10^{%L}'\n";
  gp << extra;
  gp << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    gp << (i ? ", \\\n     " : "") << "'" << s.file << "' using " << s.using_ << " title '" << s.title << "' with "
       << s.style;
  }
  gp << "\n";
  std::ofstream script(fs::path(dir) / (fs::path(png).stem().string() + ".gp"));
  script << gp.str();
}

// --- Output: summary --------------------------------------------------------------------------

std::string fixed(double value, int digits) {
  if (std::isnan(value)) return "–";
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}
std::string millions(double value) { return fixed(value / 1e6, 2); }
std::string leaves_text(std::uint64_t leaves) {
  int exponent = 0;
  std::uint64_t v = leaves;
  while (v >= 10 && v % 10 == 0) v /= 10, ++exponent;
  if (v == 1 && exponent >= 3) return "10^" + std::to_string(exponent);
  return std::to_string(leaves);
}

}  // namespace

void write_bench_report(const std::string& dir, bool quick) {
  std::uint64_t cap = UINT64_MAX;
  if (const char* env = std::getenv("ROTORTREE_REPORT_MAX_LEAVES"); env && *env) {
    cap = parse_u64(env, "ROTORTREE_REPORT_MAX_LEAVES");
    if (cap < 1000) throw Error(Errc::invalid_argument, "ROTORTREE_REPORT_MAX_LEAVES must be at least 1000");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) io_failure("cannot create the report directory '" + dir + "': " + ec.message());
  const std::string self = self_path();
  const std::string log = fs::absolute(fs::path(dir) / "bench.log").string();
  { std::ofstream truncate(log); }
  const std::size_t cores = hardware_threads();
  const bool storage = bench_has_storage(self);
  const std::uint64_t at_1m = std::min<std::uint64_t>(1'000'000, cap);
  const std::uint64_t at_10m = std::min<std::uint64_t>(quick ? 1'000'000 : 10'000'000, cap);

  std::vector<Run> runs;
  std::vector<std::string> notes;
  for (std::uint64_t leaves : sizes(quick ? 6 : 8, cap)) {
    if (const std::uint64_t need = bench_peak_bytes(leaves, 4); leaves > 10'000'000 && need > mem_available_bytes()) {
      notes.push_back("skipped " + std::to_string(leaves) + " leaves: a run needs about " +
                      std::to_string(need >> 30) + " GiB, " + std::to_string(mem_available_bytes() >> 30) +
                      " GiB are available");
      continue;
    }
    runs.push_back({"size", bench_args(false, leaves, 4, cores, quick), {}, 0});
  }
  for (unsigned arity : {2u, 4u, 8u, 16u}) runs.push_back({"arity", bench_args(false, at_1m, arity, cores, quick), {}, 0});
  for (std::size_t threads : thread_counts(cores))
    runs.push_back({"threads", bench_args(false, at_10m, 4, threads, quick), {}, 0});
  if (storage) {
    for (std::uint64_t leaves : sizes(quick ? 6 : 7, cap)) runs.push_back({"storage", bench_args(true, leaves, 4, cores, quick), {}, 0});
  } else {
    notes.push_back("this build's `rotortree bench` has no --storage option: the storage sweep is left out");
  }

  std::fprintf(stderr, "bench report: %zu runs into %s (child output in %s)\n", runs.size(), dir.c_str(), log.c_str());
  std::vector<std::string> failed;
  const auto report_start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    Run& run = runs[i];
    std::fprintf(stderr, "  [%zu/%zu] %s ", i + 1, runs.size(), run.command().c_str());
    std::fflush(stderr);
    std::vector<std::string> argv = {self};
    argv.insert(argv.end(), run.args.begin(), run.args.end());
    const auto start = std::chrono::steady_clock::now();
    const ChildResult child = run_child(argv, log);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The JSON object is the last line of the output.
    std::string line;
    std::stringstream lines(child.out);
    for (std::string l; std::getline(lines, l);)
      if (!l.empty()) line = l;
    if (child.status == 0) {
      try {
        run.result = json::parse(line);
      } catch (const json::exception&) {
        run.result = json();
      }
    }
    if (run.result.is_object() && !run.result.empty()) {
      std::fprintf(stderr, "%.1f s\n", run.seconds);
    } else {
      run.result = json();
      std::fprintf(stderr, "FAILED (exit %d)\n", child.status);
      failed.push_back(run.command());
    }
  }

  // The last successful run of `sweep` that satisfies `pred`.
  auto find = [&](const std::string& sweep, auto&& pred) -> const Run* {
    const Run* found = nullptr;
    for (const Run& run : runs)
      if (run.sweep == sweep && !run.result.empty() && pred(run.result)) found = &run;
    return found;
  };

  // CSV: every field of every run.
  write_csv((fs::path(dir) / "results.csv").string(), runs);

  // Plots.
  const fs::path data_dir = fs::path(dir);
  write_data((data_dir / "size.dat").string(), runs, "size", "leaves",
             {{"insert_many_leaves_per_sec", 1e-6},
              {"hash_limit_leaves_per_sec", 1e-6},
              {"single_insert_per_sec", 1e-6},
              {"proof_ns", 1},
              {"verify_ns", 1},
              {"snapshot_ns", 1}});
  write_data((data_dir / "storage.dat").string(), runs, "storage", "leaves",
             {{"memory_insert_many_leaves_per_sec", 1e-6},
              {"durable_insert_many_leaves_per_sec", 1e-6},
              {"memory_single_insert_per_sec", 1e-6},
              {"durable_single_insert_per_sec", 1e-6}});
  write_data((data_dir / "arity.dat").string(), runs, "arity", "arity",
             {{"insert_many_leaves_per_sec", 1e-6},
              {"hash_limit_leaves_per_sec", 1e-6},
              {"single_insert_per_sec", 1e-6},
              {"proof_ns", 1},
              {"verify_ns", 1}});
  write_data((data_dir / "threads.dat").string(), runs, "threads", "threads",
             {{"insert_many_leaves_per_sec", 1e-6}, {"hash_limit_leaves_per_sec", 1e-6}});

  const bool have_storage = std::any_of(runs.begin(), runs.end(),
                                        [](const Run& r) { return r.sweep == "storage" && !r.result.empty(); });
  std::string terminal = "pngcairo";
  const std::optional<std::string> gnuplot = find_program("gnuplot");
  std::vector<std::string> plots;
  if (!gnuplot) {
    notes.push_back("gnuplot is not installed (apt-get install gnuplot-nox): no plots; the data is in results.csv");
  } else {
    if (run_child({*gnuplot, "-e", "set terminal pngcairo"}, "/dev/null").status != 0) terminal = "png";
    const std::string lines = "linespoints lw 2 pt 7";
    std::vector<Series> throughput = {{"size.dat", "1:2", "insert\\_many, in memory", lines},
                                      {"size.dat", "1:4", "single insert, in memory", lines},
                                      {"size.dat", "1:3", "hashing limit (same hashes)", "lines dt 2 lw 2"}};
    if (have_storage) {
      throughput.push_back({"storage.dat", "1:3", "insert\\_many, durable (each batch awaited)", lines});
      throughput.push_back({"storage.dat", "1:5", "single insert, durable (group commit)", lines});
    }
    // The x range of the size plots: the sizes measured, with a margin.
    double smallest = INFINITY, largest = 0;
    for (const Run& run : runs)
      if ((run.sweep == "size" || run.sweep == "storage") && !run.result.empty()) {
        smallest = std::min(smallest, number(run.result, "leaves"));
        largest = std::max(largest, number(run.result, "leaves"));
      }
    const std::string size_range =
        largest > 0 ? "set xrange [" + std::to_string(smallest / 1.6) + ":" + std::to_string(largest * 1.6) + "]\n" : "";
    write_plot(dir, "throughput_vs_size.png", terminal, "Insertion throughput against tree size (N=4, BLAKE3, " +
               std::to_string(cores) + " threads)", "leaves", "million leaves per second (log scale)", true,
               size_range + "set logscale y 10\nset yrange [*:*]\n", throughput);
    write_plot(dir, "proof_latency_vs_size.png", terminal, "Proof latency against tree size (N=4, BLAKE3)", "leaves",
               "nanoseconds", true, size_range,
               {{"size.dat", "1:5", "inclusion proof (from a snapshot)", lines},
                {"size.dat", "1:6", "verify", lines},
                {"size.dat", "1:7", "snapshot", lines}});
    write_plot(dir, "throughput_vs_arity.png", terminal,
               "Throughput against arity (" + leaves_text(at_1m) + " leaves, " + std::to_string(cores) + " threads)",
               "arity N", "million leaves per second", true,
               "unset format x\nset logscale x 2\nset xtics (2, 4, 8, 16)\nset xrange [1.7:19]\n"
               "set y2label 'single inserts, million per second'\nset y2tics\nset y2range [0:*]\nset ytics nomirror\n",
               {{"arity.dat", "1:2", "insert\\_many", lines},
                {"arity.dat", "1:3", "hashing limit", "lines dt 2 lw 2"},
                {"arity.dat", "1:4 axes x1y2", "single insert (right axis)", lines}});
    std::vector<Series> scaling = {{"threads.dat", "1:2", "insert\\_many", lines},
                                   {"threads.dat", "1:3", "hashing limit", "lines dt 2 lw 2"}};
    if (const Run* one = find("threads", [](const json& r) { return r["threads"] == 1; }))
      scaling.push_back({"threads.dat", "1:($1*" + std::to_string(number(one->result, "insert_many_leaves_per_sec") / 1e6) + ")",
                         "linear scaling from 1 thread", "lines dt 3 lw 2 lc rgb 'gray'"});
    write_plot(dir, "throughput_vs_threads.png", terminal,
               "insert\\_many against threads (" + leaves_text(at_10m) + " leaves, N=4)", "threads",
               "million leaves per second", false,
               "set xtics 1\nset xrange [0.5:" + std::to_string(cores) + ".5]\n", scaling);
    for (const char* name : {"throughput_vs_size", "proof_latency_vs_size", "throughput_vs_arity", "throughput_vs_threads"}) {
      // gnuplot runs in the report directory: the data files are found by name.
      const ChildResult plot = run_child({*gnuplot, std::string(name) + ".gp"}, log, fs::absolute(dir).string());
      if (plot.status == 0 && fs::exists(fs::path(dir) / (std::string(name) + ".png")))
        plots.push_back(name);
      else
        notes.push_back(std::string("gnuplot failed for ") + name + ".gp (see bench.log)");
    }
  }

  // Summary.
  std::ostringstream md;
  md << "# rotortree benchmark report\n\n"
     << "rotortree " << kVersion << " · " << utc_now() << " · " << cpu_model() << " · " << cores
     << " hardware threads · BLAKE3 kernel `" << Blake3::kernel() << "`" << (quick ? " · **quick** sweep" : "")
     << "\n\n"
     << "Every figure below was measured by the command beside it (`rotortree bench`, README.md, *Performance*), each in a fresh "
        "process; `results.csv` holds every field of every run. Leaves are prehashed 32-byte values inserted "
        "with `insert_many` in batches of 1,000,000 unless said otherwise.\n\n";
  md << "## Key figures\n\n| figure | value | command |\n|---|---|---|\n";
  if (const Run* big = find("size", [](const json&) { return true; })) {
    const json& r = big->result;
    const std::string at = " (" + leaves_text(r["leaves"].get<std::uint64_t>()) + " leaves)";
    md << "| insert_many" << at << " | " << millions(number(r, "insert_many_leaves_per_sec")) << " M leaves/s | `"
       << big->command() << "` |\n";
    md << "| hashing limit" << at << " | " << millions(number(r, "hash_limit_leaves_per_sec"))
       << " M leaves/s (insert_many at " << fixed(number(r, "insert_many_to_limit_ratio") * 100, 0)
       << "% of it) | same |\n";
    md << "| single insert" << at << " | " << millions(number(r, "single_insert_per_sec")) << " M/s | same |\n";
    md << "| inclusion proof" << at << " | " << fixed(number(r, "proof_ns"), 0) << " ns | same |\n";
    md << "| verify" << at << " | " << fixed(number(r, "verify_ns"), 0) << " ns | same |\n";
    md << "| snapshot" << at << " | " << fixed(number(r, "snapshot_ns"), 0) << " ns | same |\n";
    md << "| memory" << at << " | " << fixed(number(r, "bytes_per_leaf"), 1) << " bytes/leaf | same |\n";
  }
  if (const Run* best = find("threads", [&](const json& r) { return r["threads"] == cores; })) {
    const Run* one = find("threads", [](const json& r) { return r["threads"] == 1; });
    if (one && one != best)
      md << "| speed-up, " << cores << " threads over 1 | "
         << fixed(number(best->result, "insert_many_leaves_per_sec") / number(one->result, "insert_many_leaves_per_sec"), 2)
         << "x | `" << one->command() << "`, `" << best->command() << "` |\n";
  }
  if (const Run* big = find("storage", [](const json&) { return true; })) {
    const json& r = big->result;
    const std::string at = " (" + leaves_text(r["leaves"].get<std::uint64_t>()) + " leaves)";
    md << "| durable insert_many" << at << " | " << millions(number(r, "durable_insert_many_leaves_per_sec"))
       << " M leaves/s (" << fixed(number(r, "durable_to_memory_batch_ratio") * 100, 0) << "% of memory) | `"
       << big->command() << "` |\n";
    md << "| durable single insert" << at << " | " << millions(number(r, "durable_single_insert_per_sec"))
       << " M/s | same |\n";
    md << "| reopen" << at << " | " << fixed(number(r, "reopen_ms"), 1) << " ms (mapped "
       << fixed(number(r, "reopen_mapped_ms"), 1) << " ms, verified " << fixed(number(r, "reopen_verify_ms"), 1)
       << " ms) | same |\n";
    md << "| disk" << at << " | " << fixed(number(r, "disk_bytes_per_leaf"), 1) << " bytes/leaf | same |\n";
  }
  md << "\n";
  for (const std::string& plot : plots) md << "![" << plot << "](" << plot << ".png)\n\n";

  auto table = [&](const std::string& sweep, const std::string& heading, const std::string& header,
                   auto&& row) {
    bool any = false;
    for (const Run& run : runs) any |= run.sweep == sweep;
    if (!any) return;
    md << "## " << heading << "\n\n" << header << "\n";
    for (const Run& run : runs) {
      if (run.sweep != sweep) continue;
      if (run.result.empty())
        md << "| failed | | | | | | `" << run.command() << "` |\n";
      else
        md << row(run.result) << " `" << run.command() << "` |\n";
    }
    md << "\n";
  };
  const std::string size_header =
      "| leaves | insert_many M/s | hashing limit M/s | single insert M/s | proof ns | verify ns | bytes/leaf | command |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---|";
  auto size_row = [&](const json& r) {
    return "| " + std::to_string(r["leaves"].get<std::uint64_t>()) + " | " +
           millions(number(r, "insert_many_leaves_per_sec")) + " | " + millions(number(r, "hash_limit_leaves_per_sec")) +
           " | " + millions(number(r, "single_insert_per_sec")) + " | " + fixed(number(r, "proof_ns"), 0) + " | " +
           fixed(number(r, "verify_ns"), 0) + " | " + fixed(number(r, "bytes_per_leaf"), 1) + " |";
  };
  table("size", "Tree size (N=4, all threads)", size_header, size_row);
  table("arity", "Arity (" + leaves_text(at_1m) + " leaves)",
        "| arity | insert_many M/s | hashing limit M/s | single insert M/s | proof ns | verify ns | bytes/leaf | command |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---|",
        [&](const json& r) {
          return "| " + std::to_string(r["arity"].get<unsigned>()) + " | " + millions(number(r, "insert_many_leaves_per_sec")) +
                 " | " + millions(number(r, "hash_limit_leaves_per_sec")) + " | " +
                 millions(number(r, "single_insert_per_sec")) + " | " + fixed(number(r, "proof_ns"), 0) + " | " +
                 fixed(number(r, "verify_ns"), 0) + " | " + fixed(number(r, "bytes_per_leaf"), 1) + " |";
        });
  table("threads", "Threads (" + leaves_text(at_10m) + " leaves, N=4)",
        "| threads | insert_many M/s | hashing limit M/s | insert_many / limit | command |\n|---:|---:|---:|---:|---|",
        [&](const json& r) {
          return "| " + std::to_string(r["threads"].get<unsigned>()) + " | " +
                 millions(number(r, "insert_many_leaves_per_sec")) + " | " +
                 millions(number(r, "hash_limit_leaves_per_sec")) + " | " +
                 fixed(number(r, "insert_many_to_limit_ratio"), 2) + " |";
        });
  table("storage", "Storage: durable database against memory (N=4, all threads)",
        "| leaves | insert_many memory M/s | insert_many durable M/s | single memory M/s | single durable M/s | reopen ms "
        "| disk bytes/leaf | command |\n|---:|---:|---:|---:|---:|---:|---:|---|",
        [&](const json& r) {
          return "| " + std::to_string(r["leaves"].get<std::uint64_t>()) + " | " +
                 millions(number(r, "memory_insert_many_leaves_per_sec")) + " | " +
                 millions(number(r, "durable_insert_many_leaves_per_sec")) + " | " +
                 millions(number(r, "memory_single_insert_per_sec")) + " | " +
                 millions(number(r, "durable_single_insert_per_sec")) + " | " + fixed(number(r, "reopen_ms"), 1) +
                 " | " + fixed(number(r, "disk_bytes_per_leaf"), 1) + " |";
        });
  md << "## How to reproduce\n\n```sh\nrotortree bench --report " << dir << (quick ? " --quick" : "") << "\n```\n\n"
     << "The plots are drawn by gnuplot from the `.dat` files with the `.gp` scripts in this directory "
        "(`gnuplot throughput_vs_size.gp`). The durable runs (`--storage`) wait for every batch's durability token; "
        "their single inserts are group-committed every 10 ms without waiting.\n";
  if (!notes.empty()) {
    md << "\n## Notes\n\n";
    for (const std::string& note : notes) md << "* " << note << "\n";
  }
  if (!failed.empty()) {
    md << "\n## Failed runs\n\n";
    for (const std::string& command : failed) md << "* `" << command << "` (see bench.log)\n";
  }
  std::ofstream summary(fs::path(dir) / "summary.md");
  summary << md.str();
  if (!summary) io_failure("cannot write " + (fs::path(dir) / "summary.md").string());

  if (std::error_code size_ec; fs::file_size(log, size_ec) == 0 && !size_ec) fs::remove(log, size_ec);  // nothing logged
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - report_start).count();
  std::fprintf(stderr, "bench report: %zu runs in %.0f s; wrote results.csv, %zu plots and summary.md to %s\n",
               runs.size(), total, plots.size(), dir.c_str());
  for (const std::string& note : notes) std::fprintf(stderr, "  note: %s\n", note.c_str());
  if (!failed.empty())
    throw Error(Errc::io_error, std::to_string(failed.size()) + " benchmark run(s) failed; see " + log);
}

}  // namespace rotortree::cli
