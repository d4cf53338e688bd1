// The database engine: open and recovery (engine.cpp), the checkpoint and
// its data files, mapped levels (checkpoint.cpp). Non-template code: the tree
// is reached through TreeLink (rotortree/detail/db_engine.hpp), the geometry
// and hashing through the runtime parameters.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/format.hpp"
#include "db/log_reader.hpp"
#include "db/log_writer.hpp"
#include "rotortree/db.hpp"

namespace rotortree::db {

/// The hashing threads' pool, for the parallel parts of opening.
std::shared_ptr<const Executor> open_executor(const TreeOptions& tree);

class DbEngine final : public Engine {
 public:
  DbEngine(std::string dir, const DbConfig& config, const TreeParams& requested, bool exact, TreeLink& link);
  ~DbEngine() override;

  const std::string& directory() const noexcept override { return dir_; }
  const TreeParams& params() const noexcept override { return params_; }
  DbInsertResult insert(std::span<const Node> leaves, bool single) override;
  DbRewindResult rewind(std::uint64_t size) override;
  void reserve(std::uint64_t total_leaves) override;
  void flush() override;
  void checkpoint() override;
  void close() override;
  void close_quietly() noexcept override;
  DbInfo info() const override;
  std::optional<Error> background_error() const override;

 private:
  // Everything snapshots need to stay valid: the store and the data-file
  // mappings its full chunks may point into.
  struct Owner {
    std::shared_ptr<void> store;
    std::mutex mutex;
    std::vector<std::shared_ptr<MappedRegion>> maps;
  };
  // Heap chunks replaced by mapped copies are released when no snapshot
  // taken before the replacement remains: each such snapshot co-owns the
  // epoch current when it was taken, and every epoch keeps the next one alive.
  struct Epoch {
    std::shared_ptr<Owner> owner;
    std::size_t chunk_bytes = 0;
    std::vector<void*> retired;
    std::shared_ptr<Epoch> next;
    ~Epoch();
  };
  struct LogFile {
    std::uint64_t id;
    std::vector<std::uint8_t> bytes;
  };

  std::string path(const std::string& name) const;
  DataHeader data_header(unsigned level, std::uint64_t shard) const { return {params_, db_id_, level, shard}; }
  /// Throws read_only or closed; check_writable also poisoned.
  void check_open(const char* what) const;
  void check_writable(const char* what) const;
  void warn(const Error& error) const noexcept;

  // engine.cpp: open, recovery, writes.
  void open();
  void open_read_only();
  void recover(const Meta& meta);
  std::shared_ptr<void> keepalive() const { return epoch_; }
  void create();
  bool log_holds_no_leaves(const std::string& file);
  bool meta_tmp_is_new(const std::string& file);
  std::vector<LogFile> read_logs(const Meta& meta);
  void replay(const Meta& meta, const std::vector<LogFile>& logs);
  bool forget_checkpointed_beyond(std::uint64_t size);
  void maybe_checkpoint();
  /// `requested`: checkpoint() or the one at close (they also write the leaf
  /// index when it does not cover the tree), not an automatic one.
  void checkpoint_locked(bool requested);

  // checkpoint.cpp: the levels in the data files.
  void load_checkpoint(const Meta& meta);
  void prefault_mapped(unsigned level, std::uint64_t first, std::uint64_t last, std::uint64_t mapped) const;
  void verify(const Meta& meta);
  /// With `index` (the snapshot's leaf table), also write it as a file.
  void write_checkpoint(const AnySnapshot& snap, std::uint64_t seq, std::uint64_t wal_id,
                        const rotortree::detail::LeafTable* index = nullptr);
  void tier();

  // leaf_index_file.cpp: the stored leaf index (docs/leaf-index.md, *Stored with the checkpoint*).
  /// The table meta's record names, checked, or null (the caller rebuilds;
  /// a warning says why unless there is no record).
  std::shared_ptr<rotortree::detail::LeafTable> load_stored_index(const Meta& meta, const TreeOptions& options);
  /// Write `table` (indexing the first `covered` leaves) as index_name(id), synced.
  void write_index_file(const rotortree::detail::LeafTable& table, std::uint64_t covered, std::uint64_t id);
  /// Whether a checkpoint of a tree of `size` leaves writes the index.
  bool index_due(std::uint64_t size, bool requested) const;
  /// After a rewind to `size` (root `root`): the stored table is valid for its first `size` leaves at most.
  void lower_stored_index(std::uint64_t size, const std::optional<Node>& root);
  /// The root of the loaded tree's first `size` leaves (1..loaded size).
  Node loaded_prefix_root(std::uint64_t size) const;

  std::string dir_;
  DbConfig config_;
  Env* env_;
  TreeLink& link_;
  const TreeParams requested_;  // what the front asked for; all of it if exact_
  const bool exact_;
  TreeParams params_;           // the open database's
  std::uint64_t capacity_ = 0;
  std::size_t chunk_nodes_ = 0, chunk_bytes_ = 0, shard_chunks_ = 0;
  std::unique_ptr<FileLock> lock_;
  std::shared_ptr<Owner> owner_;
  std::shared_ptr<Epoch> epoch_;
  std::shared_ptr<WalWriter> wal_;
  std::mutex checkpoint_mutex_;
  std::vector<std::uint64_t> checkpoint_chunks_;  // full chunks in data files, per level
  std::vector<std::uint64_t> mapped_chunks_;      // of those, served from mappings
  std::atomic<std::uint64_t> checkpoint_seq_{0};
  std::atomic<std::uint64_t> checkpoint_bytes_{0};
  std::atomic<std::uint64_t> logged_bytes_{0};
  std::uint64_t recovered_seq_ = 0;
  mutable std::mutex stats_mutex_;
  std::uint64_t checkpoint_size_ = 0, checkpoint_unix_ms_ = 0, mapped_bytes_ = 0;
  /// CRC32C of every checkpointed full chunk, per level (written into meta).
  std::vector<std::vector<std::uint32_t>> chunk_crcs_;
  DbId db_id_{};
  std::map<std::uint16_t, std::vector<std::uint8_t>> meta_extensions_;
  LeafIndexRecord leaf_index_;
  /// The stored leaf index the next meta names (under checkpoint_mutex_ once open).
  std::optional<StoredIndexRecord> stored_index_;
  /// The format of the data files meta names (its version): below 4 they
  /// have no header, and the next checkpoint rewrites them (write_checkpoint).
  std::uint32_t data_version_ = kMetaVersion;
  std::atomic<bool> closed_{false};
  bool pending_rewind_checkpoint_ = false;
};

}  // namespace rotortree::db
