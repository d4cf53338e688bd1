// The database's vocabulary: its options (DbConfig), what `info` reports,
// and what writes return. The database itself: rotortree/db.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <variant>

#include "rotortree/db/env.hpp"
#include "rotortree/tree.hpp"

namespace rotortree {

namespace flush {
/// A background thread makes the log durable every `period` (group commit).
struct Interval {
  std::chrono::microseconds period{std::chrono::milliseconds(10)};
};
/// Only flush(), token.wait() and insert_durable make the log durable.
struct Manual {};
}  // namespace flush
using FlushPolicy = std::variant<flush::Interval, flush::Manual>;

namespace checkpoint {
struct OnClose {};                       ///< checkpoint when the database is closed
struct Manual {};                        ///< only checkpoint() (recovery replays the whole log)
struct EveryNEntries { std::uint64_t entries; };   ///< after this many log entries
struct MemoryThreshold { std::uint64_t bytes; };   ///< after this many leaf bytes logged
}  // namespace checkpoint
using CheckpointPolicy =
    std::variant<checkpoint::OnClose, checkpoint::Manual, checkpoint::EveryNEntries, checkpoint::MemoryThreshold>;

struct DbConfig {
  FlushPolicy flush = flush::Interval{};
  CheckpointPolicy checkpoint = checkpoint::OnClose{};
  /// Levels below this one keep their checkpointed chunks memory-mapped from
  /// the data files instead of in memory. 0: everything in memory; MaxDepth+1: all mapped.
  unsigned pin_above_level = 0;
  /// Recompute the checkpoint's tree from its leaves on open and compare
  /// every stored node (detects any corruption of the data files).
  bool verify_on_open = false;
  /// Write the log with direct I/O (O_DIRECT) where the file system allows:
  /// large batches go to the disk at its bandwidth instead of through the
  /// page cache. Off: buffered writes (each flush still ends with fdatasync).
  bool direct_log = true;
  /// Keep the log a checkpoint made redundant and reuse its blocks for the
  /// log after the next checkpoint (rewriting blocks a file holds is faster
  /// than allocating new ones). Off: redundant logs are removed. The spare
  /// takes as much disk as the log it was.
  bool recycle_log = true;
  bool create_if_missing = true;
  /// Recover without writing anything or taking the lock (a writer may be
  /// running); writes throw Errc::read_only.
  bool read_only = false;
  db::Env* env = nullptr;  ///< nullptr: the POSIX environment
  /// Build the leaf index on open (a pass over every leaf). A read-only
  /// open that never looks leaves up may skip it: its lookups then throw
  /// Error(invalid_argument). Ignored by writers (they check uniqueness).
  bool leaf_index = true;
  /// Hashing threads and parallel threshold of the tree; leaf_secret is the
  /// index's secret at creation (nothing: random; tests only), the stored one after.
  TreeOptions tree{};
  /// Failures no call returns: a failed close in the destructor, tiering
  /// that fell back to memory, log files a checkpoint could not remove.
  /// nullptr: one line on standard error.
  std::function<void(const Error&)> on_warning;
};

/// What `info` reports.
struct DbInfo {
  TreeParams params;
  std::uint64_t index_bytes = 0;         ///< memory of the leaf index (0 if not built)
  std::uint64_t size = 0;
  unsigned depth = 0;
  std::optional<Node> root;
  std::uint64_t log_bytes = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t checkpoint_size = 0;     ///< leaves covered by the last checkpoint
  std::uint64_t checkpoint_unix_ms = 0;  ///< when it was taken (0: never)
  std::uint64_t last_seq = 0;            ///< last log sequence number appended
  std::uint64_t durable_seq = 0;         ///< last one on stable storage
  std::uint64_t mapped_bytes = 0;        ///< checkpointed chunks served from mappings
};

namespace db {
class WalWriter;
}

/// Returned by every insertion: wait() blocks until the insertion is on
/// stable storage, and throws the error of the flush that failed to put it there.
class DurabilityToken {
 public:
  DurabilityToken() = default;
  DurabilityToken(std::shared_ptr<db::WalWriter> wal, std::uint64_t seq) : wal_(std::move(wal)), seq_(seq) {}
  void wait() const;
  bool ready() const noexcept;
  std::uint64_t sequence() const noexcept { return seq_; }

 private:
  std::shared_ptr<db::WalWriter> wal_;
  std::uint64_t seq_ = 0;
};

struct DbInsertResult {
  Node root;
  DurabilityToken token;
  std::uint64_t first_index = 0;  ///< the index of the (first) leaf inserted
};
struct DbRewindResult {
  std::optional<Node> root;  ///< nothing for size 0
  DurabilityToken token;
};

}  // namespace rotortree
