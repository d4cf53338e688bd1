// Test scaffolding, not installed: an in-memory db::Env that injects faults
// and simulates power loss. Linked by the tests as rotortree_testing.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "rotortree/db/env.hpp"

namespace rotortree::db {

/// In-memory file system with fault injection and crash simulation.
///
/// Model: every file has its current contents and its contents as of its last
/// sync(); the directory has its current entries and the entries as of the
/// last sync_dir(). crash() rolls both back to what was synced (optionally
/// keeping a random prefix of an unsynced appended tail: a torn write).
/// Mutating operations are counted; fail_at(k, kind) makes the k-th counted
/// operation fail (and, with kind == crash, every operation after it too,
/// as a dead process would).
class FaultInjectionEnv final : public Env {
 public:
  enum class Fault { none, no_space, io_error, short_write, crash };

  FaultInjectionEnv() = default;

  std::unique_ptr<File> open(const std::string& path, OpenMode mode) override;
  /// Files opened direct demand 4096-byte aligned writes (and throw
  /// Errc::io_error otherwise), so tests exercise the log's block padding.
  std::unique_ptr<File> open_direct(const std::string& path, OpenMode mode) override;
  bool exists(const std::string& path) override;
  std::vector<std::string> list(const std::string& dir) override;
  void create_dir(const std::string& dir) override;
  void rename(const std::string& from, const std::string& to) override;
  void remove(const std::string& path) override;
  void sync_dir(const std::string& dir) override;
  std::uint64_t file_size(const std::string& path) override;
  std::shared_ptr<MappedRegion> map(const std::string& path, std::uint64_t offset,
                                    std::size_t length) override;
  std::unique_ptr<FileLock> lock(const std::string& path) override;

  /// Make the k-th counted operation from now (1-based) fail with `fault`.
  /// no_space/io_error/short_write fail writes and syncs (a short write
  /// writes part of the data first); crash makes it and everything after fail.
  void fail_at(std::uint64_t k, Fault fault);
  /// Only count (and fail) operations of these kinds: writes, syncs, or both.
  void set_fail_only_syncs(bool only_syncs);
  void clear_faults();
  /// Operations counted so far (to enumerate crash points).
  std::uint64_t operations() const;
  bool crashed() const;
  /// Drop everything not synced (files and directory entries), release locks,
  /// and clear faults: the state a machine has after power loss and reboot.
  /// torn_seed != 0 keeps a random prefix of the unsynced writes (from the
  /// first byte that differs from the synced contents onwards), cut at a
  /// 512-byte sector boundary as a device would.
  void crash(std::uint64_t torn_seed = 0);

  /// Direct access for tests (corrupting bytes, inspecting files).
  std::vector<std::uint8_t>& contents(const std::string& path);
  std::vector<std::string> all_files() const;

 private:
  struct Inode {
    std::vector<std::uint8_t> data;
    std::vector<std::uint8_t> synced;
  };
  friend class FaultFile;
  std::unique_ptr<File> open_aligned(const std::string& path, OpenMode mode, std::size_t alignment);
  /// Count an operation; throws if it is the one chosen to fail. Returns the
  /// fault to apply partially (short_write) or none.
  Fault tick(bool is_sync, const std::string& what);

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Inode>> names_;
  std::map<std::string, std::shared_ptr<Inode>> synced_names_;
  std::map<std::string, bool> locks_;
  std::uint64_t ops_ = 0;
  std::uint64_t fail_op_ = 0;
  Fault fault_ = Fault::none;
  bool only_syncs_ = false;
  bool crashed_ = false;
};

}  // namespace rotortree::db
