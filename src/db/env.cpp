#include "rotortree/db/env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>

namespace rotortree::db {
namespace {

[[noreturn]] void throw_errno(int err, const std::string& what, const std::string& path) {
  const Errc code = err == ENOSPC || err == EDQUOT ? Errc::no_space : Errc::io_error;
  throw Error(code, what + " " + path + ": " + std::strerror(err));
}

// Open a database file without blocking (a FIFO put in its place would block
// open() forever) and refuse anything that is not a regular file: a device,
// FIFO or socket (also through a symbolic link) holds no database content.
int open_regular(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_NONBLOCK, 0644);
  if (fd < 0) return fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw_errno(err, "stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(Errc::corruption, "corrupted " + path + ": not a regular file (a " +
                                      (S_ISFIFO(st.st_mode)  ? "FIFO"
                                       : S_ISCHR(st.st_mode) ? "character device"
                                       : S_ISBLK(st.st_mode) ? "block device"
                                       : S_ISDIR(st.st_mode) ? "directory"
                                       : S_ISSOCK(st.st_mode) ? "socket"
                                                              : "special file") +
                                      " is in its place)");
  }
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(fd);
    throw_errno(err, "fcntl", path);
  }
  return fd;
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path, std::size_t alignment = 1)
      : fd_(fd), path_(std::move(path)), alignment_(alignment) {}
  ~PosixFile() override { ::close(fd_); }
  void append(std::span<const std::uint8_t> data) override {
    const std::uint64_t end = size();
    write_at(end, data);
  }
  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                                 static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(errno, "write", path_);
      }
      if (n == 0) throw_errno(ENOSPC, "write", path_);
      done += static_cast<std::size_t>(n);
    }
  }
  void write_gather(std::uint64_t offset, std::span<const std::span<const std::uint8_t>> pieces) override {
    std::vector<iovec> iov;
    iov.reserve(pieces.size());
    for (const auto& piece : pieces)
      if (!piece.empty()) iov.push_back({const_cast<std::uint8_t*>(piece.data()), piece.size()});
    std::size_t first = 0;
    while (first < iov.size()) {
      const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
      const ssize_t n = ::pwritev(fd_, iov.data() + first, count, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(errno, "write", path_);
      }
      if (n == 0) throw_errno(ENOSPC, "write", path_);
      offset += static_cast<std::uint64_t>(n);
      // Skip what was written; a short write resumes inside a piece.
      for (std::size_t left = static_cast<std::size_t>(n); left > 0;) {
        if (left >= iov[first].iov_len) {
          left -= iov[first].iov_len;
          ++first;
        } else {
          iov[first].iov_base = static_cast<std::uint8_t*>(iov[first].iov_base) + left;
          iov[first].iov_len -= left;
          left = 0;
        }
      }
    }
  }
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno(errno, "read", path_);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }
  void sync() override {
    if (::fdatasync(fd_) != 0) throw_errno(errno, "fdatasync", path_);
  }
  void truncate(std::uint64_t length) override {
    if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) throw_errno(errno, "truncate", path_);
  }
  std::uint64_t size() override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_errno(errno, "stat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }
  std::size_t write_alignment() const noexcept override { return alignment_; }

 private:
  int fd_;
  std::string path_;
  std::size_t alignment_;
};

class PosixMapping final : public MappedRegion {
 public:
  PosixMapping(void* base, std::size_t length) : base_(base), length_(length) {}
  ~PosixMapping() override {
    if (length_ > 0) ::munmap(base_, length_);
  }
  const std::uint8_t* data() const noexcept override { return static_cast<const std::uint8_t*>(base_); }
  std::size_t size() const noexcept override { return length_; }

 private:
  void* base_;
  std::size_t length_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixEnv final : public Env {
  static constexpr std::size_t kDirectAlignment = 4096;
  static int open_flags(OpenMode mode) {
    switch (mode) {
      case OpenMode::read: return O_CLOEXEC | O_RDONLY;
      case OpenMode::read_write: return O_CLOEXEC | O_RDWR;
      case OpenMode::create: return O_CLOEXEC | O_RDWR | O_CREAT;
      case OpenMode::create_truncate: return O_CLOEXEC | O_RDWR | O_CREAT | O_TRUNC;
    }
    return O_CLOEXEC | O_RDONLY;
  }

 public:
  std::unique_ptr<File> open(const std::string& path, OpenMode mode) override {
    const int fd = open_regular(path, open_flags(mode));
    if (fd < 0) throw_errno(errno, "open", path);
    return std::make_unique<PosixFile>(fd, path);
  }
  std::unique_ptr<File> open_direct(const std::string& path, OpenMode mode) override {
    const int fd = open_regular(path, open_flags(mode) | O_DIRECT);
    if (fd < 0 && errno == EINVAL) return open(path, mode);  // e.g. tmpfs: no direct I/O
    if (fd < 0) throw_errno(errno, "open", path);
    // 4096 satisfies every logical block size up to a page.
    return std::make_unique<PosixFile>(fd, path, kDirectAlignment);
  }
  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }
  std::vector<std::string> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) throw_errno(errno, "list directory", dir);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    return names;
  }
  void create_dir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw_errno(errno, "create directory", dir);
  }
  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) throw_errno(errno, "rename to " + to, from);
  }
  void remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno(errno, "remove", path);
  }
  void sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno(errno, "open directory", dir);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) throw_errno(err, "fsync directory", dir);
  }
  std::uint64_t file_size(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw_errno(errno, "stat", path);
    return static_cast<std::uint64_t>(st.st_size);
  }
  std::shared_ptr<MappedRegion> map(const std::string& path, std::uint64_t offset,
                                    std::size_t length) override {
    if (length == 0) return std::make_shared<PosixMapping>(nullptr, 0);
    const int fd = open_regular(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno(errno, "open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < offset + length) {
      ::close(fd);
      throw Error(Errc::corruption, "data file " + path + " is shorter than its checkpoint says (" +
                                        std::to_string(offset + length) + " bytes needed)");
    }
    void* base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
    const int err = errno;
    ::close(fd);
    if (base == MAP_FAILED) throw_errno(err, "mmap", path);
    return std::make_shared<PosixMapping>(base, length);
  }
  std::unique_ptr<FileLock> lock(const std::string& path) override {
    const int fd = open_regular(path, O_RDWR | O_CREAT | O_CLOEXEC);
    if (fd < 0) throw_errno(errno, "open lock file", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK)
        throw Error(Errc::locked, "database is locked: " + path +
                                      " is held by another opener (this or another process)");
      throw_errno(err, "lock", path);
    }
    return std::make_unique<PosixLock>(fd);
  }
};

}  // namespace

Env* Env::posix() {
  static PosixEnv env;
  return &env;
}

std::vector<std::uint8_t> read_whole_file(Env& env, const std::string& path) {
  auto file = env.open(path, OpenMode::read);
  const std::uint64_t size = file->size();
  std::vector<std::uint8_t> data(size);
  data.resize(file->read_at(0, data));
  return data;
}

}  // namespace rotortree::db
