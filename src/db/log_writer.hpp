// The log's writer: an in-memory buffer of encoded frames that a
// flush writes and fdatasyncs as one group commit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "rotortree/db/env.hpp"
#include "db/log_format.hpp"

namespace rotortree::db {

class WalWriter {
 public:
  /// Append to `file_id` (already holding a valid header and `valid_bytes`),
  /// or create it when `create` is set. `next_seq` numbers the next frame.
  /// `direct`: write the log with direct I/O where the file system allows
  /// (Env::open_direct): no page-cache copy, each write padded to whole blocks.
  /// `db_id` goes into the header of every log file it creates;
  /// `file_version` is the format of the file appended to (a version-1 log
  /// of an old database gets version-1 frames until the next rotation).
  /// `recycle`: a log file it creates reuses the spare log (kSpareLogName)
  /// when there is one, so its writes rewrite blocks the file holds.
  WalWriter(Env* env, std::string dir, TreeParams params, DbId db_id, std::uint64_t file_id, std::uint64_t next_seq,
            std::uint64_t valid_bytes, bool create, bool direct = true, std::uint32_t file_version = kFormatVersion,
            bool recycle = true);
  ~WalWriter();
  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;

  /// Start a background thread that flushes every `interval`.
  void start_interval(std::chrono::microseconds interval);
  /// Ask the background thread to write what is buffered now (a large batch
  /// then goes to the disk while the tree hashes it).
  void request_flush();
  void stop();

  /// Throws the background error: its own code the first time it is
  /// reported to a caller, Errc::closed afterwards.
  void check_writable();
  /// Encode a batch into the buffer; returns the sequence number of its last
  /// frame. Call under the tree's writer lock (log order == tree order).
  /// The background thread may write it at any moment after, so a batch
  /// can't be taken back: validate it first.
  std::uint64_t append(std::span<const Node> leaves);
  /// Encode a rewind record (the tree becomes its first `size` leaves);
  /// returns its sequence number. The file must be of format version 2 or
  /// later (file_version()): rotate first otherwise. Same rules as append.
  std::uint64_t append_rewind(std::uint64_t size);
  /// Format version of the log file appended to.
  std::uint32_t file_version();

  /// Make every frame up to `seq` durable (group commit). Throws the error
  /// of a failed flush (Errc::no_space / io_error).
  void flush_to(std::uint64_t seq);
  void flush_all();
  /// Flush, then continue in a new log file (id + 1, synced, directory
  /// synced; the spare log renamed when recycled). Returns the new file id.
  /// Call under the tree's writer lock.
  std::uint64_t rotate();

  std::uint64_t last_seq() const noexcept { return last_seq_.load(std::memory_order_acquire); }
  std::uint64_t durable_seq() const noexcept { return durable_seq_.load(std::memory_order_acquire); }
  std::uint64_t file_id() const;
  /// Record a failure (of a flush or a checkpoint): writes are refused from now on.
  void set_error(const Error& error);
  std::optional<Error> error() const;

 private:
  /// The buffer is a list of 2 MiB slabs (from the tree's slab cache: no
  /// page faults once warm, no copying on growth) written with one gathered write.
  struct Slab {
    std::uint8_t* memory;
    std::size_t used;
  };
  void open_file(bool create, std::uint64_t valid_bytes);
  void buffer_append_locked(const std::uint8_t* data, std::size_t size);
  void release(std::vector<Slab>& slabs) noexcept;
  /// Write every buffered byte (flush_mutex_ held); returns the last
  /// sequence number whose frames are all written.
  std::uint64_t write_buffered();
  [[noreturn]] void rethrow_locked();

  Env* env_;
  std::string dir_;
  TreeParams params_;
  DbId db_id_;
  std::uint32_t file_version_ = kFormatVersion;  // buffer_mutex_
  bool want_direct_;
  bool recycle_;
  // Encoded bytes for file offset base_ onwards (buffer_mutex_): the first
  // head_ of them are already in the file (the start of the partial block a
  // direct write rewrites), pending_ follow.
  std::mutex buffer_mutex_;
  std::vector<Slab> slabs_;
  std::uint64_t base_ = 0;
  std::size_t head_ = 0;
  std::size_t pending_ = 0;
  std::uint64_t buffered_last_seq_ = 0;
  std::atomic<std::uint64_t> last_seq_{0};
  // The file (flush_mutex_).
  mutable std::mutex flush_mutex_;
  std::unique_ptr<File> file_;
  std::size_t alignment_ = 1;
  std::uint64_t file_id_ = 0;
  std::atomic<std::uint64_t> durable_seq_{0};
  // Error state (error_mutex_).
  mutable std::mutex error_mutex_;
  std::optional<Error> error_;
  bool error_reported_ = false;
  std::atomic<bool> failed_{false};
  // Background flusher.
  std::mutex thread_mutex_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  bool flush_requested_ = false;
  std::thread thread_;
};

}  // namespace rotortree::db
