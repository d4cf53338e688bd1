// Bulk loader: a file of raw 32-byte leaves into a durable database, through
// the parallel insert_many path, reading the next batch while the current one
// is hashed and logged.
//
//   rotortree_bulk_loader [--generate N] [--batch B] [--verify] LEAVES_FILE DB_DIR
//
//   --generate N  first write N pseudo-random leaves to LEAVES_FILE
//   --batch B     leaves per insert_many call (default 1048576)
//   --verify      afterwards, reopen the database read-only and compare its
//                 root with an in-memory tree built from the same file
//
// An existing database in DB_DIR (arity 4, BLAKE3) is appended to.
#include <fcntl.h>
#include <unistd.h>

#include <rotortree/db.hpp>
#include <rotortree/rotortree.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

using namespace rotortree;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bulk_loader: %s\n", message.c_str());
  std::exit(1);
}

/// Read up to `max` leaves; 0 at the end of the file.
std::size_t read_leaves(int fd, std::vector<Node>& buffer, std::size_t max) {
  buffer.resize(max);
  auto* out = reinterpret_cast<std::uint8_t*>(buffer.data());
  const std::size_t want = max * sizeof(Node);
  std::size_t done = 0;
  while (done < want) {
    const ssize_t n = ::read(fd, out + done, want - done);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      die(std::string("read failed: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (done % sizeof(Node) != 0) die("the leaf file's length is not a multiple of 32 bytes");
  buffer.resize(done / sizeof(Node));
  return buffer.size();
}

void generate(const std::string& path, std::uint64_t count) {
  if (const auto parent = std::filesystem::path(path).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) die("cannot create " + path + ": " + std::strerror(errno));
  std::vector<Node> block(1 << 16);
  std::uint64_t state = 0x0123456789abcdefULL;
  for (std::uint64_t done = 0; done < count;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), count - done));
    for (std::size_t i = 0; i < n; ++i)
      for (int word = 0; word < 4; ++word) {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);  // splitmix64
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        std::memcpy(block[i].data() + 8 * word, &z, 8);
      }
    if (std::fwrite(block.data(), sizeof(Node), n, file) != n) die("cannot write " + path);
    done += n;
  }
  if (std::fclose(file) != 0) die("cannot write " + path);
  std::printf("generated %llu leaves in %s\n", static_cast<unsigned long long>(count), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t generate_count = 0;
  std::size_t batch = std::size_t{1} << 20;
  bool check = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--generate" && i + 1 < argc)
      generate_count = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--batch" && i + 1 < argc)
      batch = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--verify")
      check = true;
    else if (!arg.empty() && arg[0] == '-')
      die("unknown option " + arg);
    else
      positional.push_back(arg);
  }
  if (positional.size() != 2 || batch == 0)
    die("usage: rotortree_bulk_loader [--generate N] [--batch B] [--verify] LEAVES_FILE DB_DIR");
  const std::string& leaves_path = positional[0];
  const std::string& dir = positional[1];
  if (generate_count > 0) generate(leaves_path, generate_count);

  try {
    const int fd = ::open(leaves_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + leaves_path + ": " + std::strerror(errno));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    // The default configuration: the log is group-committed in the background
    // every 10 ms, the tree hashes with every core, a checkpoint on close.
    RotorTree<Blake3, 4> db(dir, DbConfig{});
    const std::uint64_t start_size = db.size();
    std::printf("database %s: %llu leaves to start with, %zu hashing threads\n", dir.c_str(),
                static_cast<unsigned long long>(start_size), hardware_threads());

    const auto start = Clock::now();
    double insert_seconds = 0;
    std::vector<Node> current, next;
    read_leaves(fd, current, batch);
    DurabilityToken last;
    while (!current.empty()) {
      // Read the next batch while this one is hashed and logged.
      auto reader = std::async(std::launch::async, [&] { return read_leaves(fd, next, batch); });
      const auto insert_start = Clock::now();
      last = db.insert_many(current).token;
      insert_seconds += seconds_since(insert_start);
      reader.get();
      std::swap(current, next);
    }
    ::close(fd);
    last.wait();  // the log is written in order: every batch is durable now
    const double load_seconds = seconds_since(start);
    const std::uint64_t loaded = db.size() - start_size;
    const auto checkpoint_start = Clock::now();
    db.close();  // checkpoint on close: the next open reads data files, not the log
    const double checkpoint_seconds = seconds_since(checkpoint_start);
    if (loaded == 0) die(leaves_path + " holds no leaves");

    std::printf("loaded %llu leaves in %.3f s: %.2f M leaves/s durable (insert_many alone %.2f M leaves/s)\n",
                static_cast<unsigned long long>(loaded), load_seconds, loaded / load_seconds / 1e6,
                loaded / insert_seconds / 1e6);
    std::printf("checkpoint on close %.3f s; size %llu, root %s\n", checkpoint_seconds,
                static_cast<unsigned long long>(start_size + loaded), to_hex(*db.root()).c_str());

    if (check) {
      // Reopen read-only (recovery) and rebuild the same leaves in memory.
      DbConfig read_only;
      read_only.read_only = true;
      RotorTree<Blake3, 4> reopened(dir, read_only);
      if (start_size != 0) {
        std::printf("verify: skipped (the database held leaves before this load)\n");
        return 0;
      }
      LeanIMT<Blake3, 4> memory;
      const int again = ::open(leaves_path.c_str(), O_RDONLY | O_CLOEXEC);
      std::vector<Node> buffer;
      while (read_leaves(again, buffer, batch) > 0) memory.insert_many(buffer);
      ::close(again);
      if (reopened.size() != memory.size() || reopened.root() != memory.root())
        die("verify: the reopened database differs from the in-memory tree of " + leaves_path);
      std::printf("verify: reopened database == in-memory tree (%llu leaves)\n",
                  static_cast<unsigned long long>(memory.size()));
    }
  } catch (const Error& e) {
    die(std::string(to_string(e.code())) + ": " + e.what());
  }
  return 0;
}
