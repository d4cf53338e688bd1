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

// ---- FaultInjectionEnv ----

class CopyRegion final : public MappedRegion {
 public:
  explicit CopyRegion(std::size_t length)
      : base_(length ? static_cast<std::uint8_t*>(std::aligned_alloc(4096, (length + 4095) / 4096 * 4096))
                     : nullptr),
        length_(length) {
    if (length && !base_) throw std::bad_alloc();
  }
  ~CopyRegion() override { std::free(base_); }
  std::uint8_t* mutable_data() noexcept { return base_; }
  const std::uint8_t* data() const noexcept override { return base_; }
  std::size_t size() const noexcept override { return length_; }

 private:
  std::uint8_t* base_;
  std::size_t length_;
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

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionEnv* env, std::shared_ptr<FaultInjectionEnv::Inode> inode, std::string path,
            bool writable, std::size_t alignment)
      : env_(env), inode_(std::move(inode)), path_(std::move(path)), writable_(writable), alignment_(alignment) {}
  void append(std::span<const std::uint8_t> data) override {
    std::lock_guard lock(env_->mutex_);
    write_locked(inode_->data.size(), data);
  }
  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    std::lock_guard lock(env_->mutex_);
    write_locked(offset, data);
  }
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    std::lock_guard lock(env_->mutex_);
    if (env_->crashed_) throw Error(Errc::io_error, "read " + path_ + ": process crashed");
    if (offset >= inode_->data.size()) return 0;
    const std::size_t n = std::min<std::size_t>(out.size(), inode_->data.size() - offset);
    if (n > 0) std::memcpy(out.data(), inode_->data.data() + offset, n);
    return n;
  }
  void sync() override {
    std::lock_guard lock(env_->mutex_);
    env_->tick(true, "fdatasync " + path_);
    inode_->synced = inode_->data;
  }
  void truncate(std::uint64_t length) override {
    std::lock_guard lock(env_->mutex_);
    env_->tick(false, "truncate " + path_);
    inode_->data.resize(length);
  }
  std::uint64_t size() override {
    std::lock_guard lock(env_->mutex_);
    return inode_->data.size();
  }
  std::size_t write_alignment() const noexcept override { return alignment_; }

 private:
  void write_locked(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (!writable_) throw Error(Errc::io_error, "write " + path_ + ": opened read-only");
    if (offset % alignment_ != 0 || data.size() % alignment_ != 0 ||
        reinterpret_cast<std::uintptr_t>(data.data()) % alignment_ != 0)
      throw Error(Errc::io_error, "write " + path_ + ": unaligned direct write (EINVAL)");
    const auto fault = env_->tick(false, "write " + path_);
    std::size_t n = data.size();
    if (fault == FaultInjectionEnv::Fault::short_write) n /= 2;
    if (inode_->data.size() < offset + n) inode_->data.resize(offset + n);
    if (n > 0) std::memcpy(inode_->data.data() + offset, data.data(), n);  // empty vectors may hold null
    if (fault == FaultInjectionEnv::Fault::short_write)
      throw Error(Errc::no_space, "write " + path_ + ": short write (injected ENOSPC)");
  }
  FaultInjectionEnv* env_;
  std::shared_ptr<FaultInjectionEnv::Inode> inode_;
  std::string path_;
  bool writable_;
  std::size_t alignment_;
};

FaultInjectionEnv::Fault FaultInjectionEnv::tick(bool is_sync, const std::string& what) {
  if (crashed_) throw Error(Errc::io_error, what + ": process crashed (injected)");
  if (only_syncs_ && !is_sync) return Fault::none;
  ++ops_;
  if (fail_op_ == 0 || ops_ != fail_op_) return Fault::none;
  switch (fault_) {
    case Fault::none: return Fault::none;
    case Fault::no_space: throw Error(Errc::no_space, what + ": No space left on device (injected)");
    case Fault::io_error: throw Error(Errc::io_error, what + ": Input/output error (injected)");
    case Fault::short_write:
      if (is_sync) throw Error(Errc::io_error, what + ": Input/output error (injected)");
      return Fault::short_write;
    case Fault::crash:
      crashed_ = true;
      throw Error(Errc::io_error, what + ": process crashed (injected)");
  }
  return Fault::none;
}

std::unique_ptr<File> FaultInjectionEnv::open(const std::string& path, OpenMode mode) {
  return open_aligned(path, mode, 1);
}

std::unique_ptr<File> FaultInjectionEnv::open_direct(const std::string& path, OpenMode mode) {
  return open_aligned(path, mode, 4096);
}

std::unique_ptr<File> FaultInjectionEnv::open_aligned(const std::string& path, OpenMode mode, std::size_t alignment) {
  std::lock_guard lock(mutex_);
  if (crashed_) throw Error(Errc::io_error, "open " + path + ": process crashed (injected)");
  auto it = names_.find(path);
  if (it == names_.end()) {
    if (mode == OpenMode::read || mode == OpenMode::read_write)
      throw Error(Errc::io_error, "open " + path + ": No such file or directory");
    tick(false, "create " + path);
    it = names_.emplace(path, std::make_shared<Inode>()).first;
  } else if (mode == OpenMode::create_truncate) {
    tick(false, "truncate " + path);
    it->second->data.clear();
  }
  return std::make_unique<FaultFile>(this, it->second, path, mode != OpenMode::read, alignment);
}

bool FaultInjectionEnv::exists(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (names_.count(path)) return true;
  const std::string prefix = path + "/";
  for (const auto& [name, inode] : names_)
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::vector<std::string> FaultInjectionEnv::list(const std::string& dir) {
  std::lock_guard lock(mutex_);
  if (crashed_) throw Error(Errc::io_error, "list " + dir + ": process crashed (injected)");
  std::vector<std::string> out;
  const std::string prefix = dir + "/";
  for (const auto& [name, inode] : names_)
    if (name.compare(0, prefix.size(), prefix) == 0 && name.find('/', prefix.size()) == std::string::npos)
      out.push_back(name.substr(prefix.size()));
  return out;
}

void FaultInjectionEnv::create_dir(const std::string&) {}

void FaultInjectionEnv::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mutex_);
  tick(false, "rename " + from);
  auto it = names_.find(from);
  if (it == names_.end()) throw Error(Errc::io_error, "rename " + from + ": No such file");
  auto inode = it->second;
  names_.erase(it);
  names_[to] = inode;
}

void FaultInjectionEnv::remove(const std::string& path) {
  std::lock_guard lock(mutex_);
  tick(false, "remove " + path);
  names_.erase(path);
}

void FaultInjectionEnv::sync_dir(const std::string& dir) {
  std::lock_guard lock(mutex_);
  tick(true, "fsync directory " + dir);
  const std::string prefix = dir + "/";
  for (auto it = synced_names_.begin(); it != synced_names_.end();) {
    if (it->first.compare(0, prefix.size(), prefix) == 0)
      it = synced_names_.erase(it);
    else
      ++it;
  }
  for (const auto& [name, inode] : names_)
    if (name.compare(0, prefix.size(), prefix) == 0) synced_names_[name] = inode;
}

std::uint64_t FaultInjectionEnv::file_size(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(path);
  if (it == names_.end()) throw Error(Errc::io_error, "stat " + path + ": No such file");
  return it->second->data.size();
}

std::shared_ptr<MappedRegion> FaultInjectionEnv::map(const std::string& path, std::uint64_t offset,
                                                     std::size_t length) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(path);
  if (it == names_.end()) throw Error(Errc::io_error, "mmap " + path + ": No such file");
  if (it->second->data.size() < offset + length)
    throw Error(Errc::corruption, "data file " + path + " is shorter than its checkpoint says (" +
                                      std::to_string(offset + length) + " bytes needed)");
  auto region = std::make_shared<CopyRegion>(length);
  if (length) std::memcpy(region->mutable_data(), it->second->data.data() + offset, length);
  return region;
}

namespace {
class FaultLock final : public FileLock {
 public:
  FaultLock(std::mutex* mutex, std::map<std::string, bool>* locks, std::string path)
      : mutex_(mutex), locks_(locks), path_(std::move(path)) {}
  ~FaultLock() override {
    std::lock_guard lock(*mutex_);
    locks_->erase(path_);
  }

 private:
  std::mutex* mutex_;
  std::map<std::string, bool>* locks_;
  std::string path_;
};
}  // namespace

std::unique_ptr<FileLock> FaultInjectionEnv::lock(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (locks_.count(path))
    throw Error(Errc::locked, "database is locked: " + path + " is held by another opener");
  locks_[path] = true;
  if (!names_.count(path)) names_[path] = std::make_shared<Inode>();
  return std::make_unique<FaultLock>(&mutex_, &locks_, path);
}

void FaultInjectionEnv::fail_at(std::uint64_t k, Fault fault) {
  std::lock_guard lock(mutex_);
  fail_op_ = ops_ + k;
  fault_ = fault;
}
void FaultInjectionEnv::set_fail_only_syncs(bool only_syncs) {
  std::lock_guard lock(mutex_);
  only_syncs_ = only_syncs;
}
void FaultInjectionEnv::clear_faults() {
  std::lock_guard lock(mutex_);
  fail_op_ = 0;
  fault_ = Fault::none;
}
std::uint64_t FaultInjectionEnv::operations() const {
  std::lock_guard lock(mutex_);
  return ops_;
}
bool FaultInjectionEnv::crashed() const {
  std::lock_guard lock(mutex_);
  return crashed_;
}

void FaultInjectionEnv::crash(std::uint64_t torn_seed) {
  std::lock_guard lock(mutex_);
  std::mt19937_64 rng(torn_seed);
  std::set<Inode*> seen;
  for (auto& [name, inode] : synced_names_) {
    if (!seen.insert(inode.get()).second) continue;
    auto& data = inode->data;
    auto& synced = inode->synced;
    std::vector<std::uint8_t> kept = synced;
    if (torn_seed != 0 && data != synced) {
      // Writes land in order: the new bytes from the first difference on
      // are kept up to a random point; past it, the synced bytes remain.
      const std::size_t common = std::min(data.size(), synced.size());
      const std::size_t first = static_cast<std::size_t>(
          std::mismatch(data.begin(), data.begin() + common, synced.begin()).first - data.begin());
      const std::size_t upto = first + rng() % (data.size() - first + 1);
      kept.assign(data.begin(), data.begin() + upto);
      if (synced.size() > upto) kept.insert(kept.end(), synced.begin() + upto, synced.end());
    }
    data = kept;
    synced = kept;
  }
  names_ = synced_names_;
  locks_.clear();
  crashed_ = false;
  fail_op_ = 0;
  fault_ = Fault::none;
}

std::vector<std::uint8_t>& FaultInjectionEnv::contents(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(path);
  if (it == names_.end()) throw Error(Errc::io_error, "no file " + path);
  return it->second->data;
}

std::vector<std::string> FaultInjectionEnv::all_files() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, inode] : names_) out.push_back(name);
  return out;
}

}  // namespace rotortree::db
