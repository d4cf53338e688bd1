// The fault-injecting file system of the tests (tests/support/fault_injection_env.hpp).
#include "fault_injection_env.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

namespace rotortree::db {
namespace {
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
  constexpr std::size_t kSectorBytes = 512;
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
      // Devices write whole sectors: a torn write ends at a 512-byte boundary
      // (or at the end of what was written).
      std::size_t upto = first + rng() % (data.size() - first + 1);
      if (upto < data.size()) upto = std::max(first, upto / kSectorBytes * kSectorBytes);
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
