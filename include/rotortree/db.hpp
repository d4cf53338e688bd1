// RotorTree: the durable database. A ConcurrentLeanIMT whose every insertion
// is also appended to a write-ahead log, with checkpoints of the levels' chunks
// to data files, memory-mapped cold levels and crash recovery.
// See docs/database.md (guarantees) and docs/file-formats.md (formats).
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "rotortree/concurrent.hpp"
#include "rotortree/db/env.hpp"
#include "rotortree/db/format.hpp"
#include "rotortree/db/wal.hpp"
#include "rotortree/tree.hpp"

namespace rotortree {

using db::DbParams;
using db::DurabilityToken;

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
  NodeHash node_hash = NodeHash::lean_imt;
  /// Maximum depth stored at creation; 0 = the MaxDepth template parameter
  /// when creating, whatever is stored when opening.
  unsigned max_depth = 0;
  bool create_if_missing = true;
  /// Recover into memory without writing anything or taking the lock (a
  /// writer may be running); insertions throw Errc::closed.
  bool read_only = false;
  db::Env* env = nullptr;  ///< nullptr: the POSIX environment
  /// The leaf policy (SPEC §5), stored at creation: nullopt creates `none`
  /// and opens whatever is stored; a policy given must be the stored one
  /// when opening (Errc::parameter_mismatch).
  std::optional<LeafPolicy> leaf_policy;
  /// The index's secret at creation (nullopt: random). Tests only.
  std::optional<LeafSecret> leaf_secret;
  /// Build the leaf index on open (a pass over every leaf). A read-only
  /// open that never looks leaves up may skip it: its lookups then throw
  /// Error(invalid_argument). Ignored by writers (they check uniqueness).
  bool leaf_index = true;
  /// Hashing threads and parallel threshold of the tree (its node_hash,
  /// leaf_policy and leaf_secret are the database's).
  TreeOptions tree{};
};

/// What `info` reports.
struct DbInfo {
  DbParams params;
  LeafPolicy leaf_policy = LeafPolicy::none;
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

namespace db::detail {
std::string join(const std::string& dir, const std::string& name);
std::uint64_t now_unix_ms();
/// Write `bytes` to dir/name atomically: temp file, fsync, rename, fsync dir.
void write_atomically(Env& env, const std::string& dir, const std::string& name, std::span<const std::uint8_t> bytes);
/// Totals of the log and data files of a directory.
void disk_usage(Env& env, const std::string& dir, std::uint64_t& log_bytes, std::uint64_t& data_bytes);
/// Read the metadata record; nullopt if the database does not exist.
std::optional<Meta> read_meta(Env& env, const std::string& dir);
/// The error for a directory without meta: Errc::not_found if it holds
/// nothing of a database (`advice` then follows), Errc::corruption naming
/// the files if it holds logs or data files (meta was lost).
Error missing_database(Env& env, const std::string& dir, const std::string& advice);
/// Release the pages of retired chunks (MADV_DONTNEED).
void release_pages(void* address, std::size_t bytes) noexcept;
}  // namespace db::detail

template <Hasher H, std::size_t N, std::size_t MaxDepth = 32>
class RotorTree {
 public:
  using tree_type = LeanIMT<H, N, MaxDepth>;
  using concurrent_type = ConcurrentLeanIMT<H, N, MaxDepth>;
  using snapshot_type = Snapshot<H, N, MaxDepth>;
  static constexpr std::size_t kChunkNodes = LevelStore<N>::kChunkNodes;
  static constexpr std::size_t kChunkBytes = LevelStore<N>::kChunkBytes;
  static constexpr std::size_t kShardChunks = db::shard_chunks(N);

  /// Batches of at least this many leaves wake the log writer at once: the
  /// disk writes them while the tree hashes them.
  static constexpr std::size_t kEarlyWriteLeaves = 16384;

  struct InsertResult {
    Node root;
    DurabilityToken token;
    std::uint64_t first_index = 0;  ///< the index of the (first) leaf inserted
  };

  /// Open (creating or recovering) the database in `dir`. Throws Error:
  /// locked, parameter_mismatch, corruption, io_error, no_space.
  explicit RotorTree(std::string dir, DbConfig config = {})
      : dir_(std::move(dir)), config_(config), env_(config.env ? config.env : db::Env::posix()) {
    static_assert(db::chunk_nodes(N) == kChunkNodes);
    params_ = {static_cast<unsigned>(N), config.max_depth ? config.max_depth : static_cast<unsigned>(MaxDepth),
               H::id, config.node_hash};
    if (params_.max_depth > MaxDepth)
      throw Error(Errc::invalid_argument, "max depth " + std::to_string(params_.max_depth) +
                                              " exceeds this build's MaxDepth " + std::to_string(MaxDepth));
    check_node_hash<H>(params_.node_hash);
    open();
  }
  ~RotorTree() {
    try {
      close();
    } catch (...) {
    }
  }
  RotorTree(const RotorTree&) = delete;
  RotorTree& operator=(const RotorTree&) = delete;

  const std::string& directory() const noexcept { return dir_; }
  const DbParams& params() const noexcept { return params_; }
  std::uint64_t capacity() const noexcept { return capacity_; }

  /// Append one leaf: its root and a token for its durability. With leaf
  /// policy unique, a leaf the database holds is refused (DuplicateLeafError)
  /// before anything is logged: the check is atomic with the append.
  InsertResult insert(const Node& leaf) { return insert_impl(std::span<const Node>(&leaf, 1), true); }
  /// Append a batch atomically (one log entry; split into frames of at most
  /// 64 MiB that recovery applies all or nothing).
  InsertResult insert_many(std::span<const Node> leaves) {
    if (leaves.empty()) throw Error(Errc::empty_batch, "insert_many needs at least one leaf");
    return insert_impl(leaves, false);
  }
  /// Insert and wait until it is on stable storage.
  Node insert_durable(const Node& leaf) {
    auto result = insert(leaf);
    result.token.wait();
    return result.root;
  }
  Node insert_many_durable(std::span<const Node> leaves) {
    auto result = insert_many(leaves);
    result.token.wait();
    return result.root;
  }

  struct RewindResult {
    std::optional<Node> root;  ///< nothing for size 0
    DurabilityToken token;
  };
  /// Become the tree of the first `size` leaves (SPEC §5, docs/rewind.md):
  /// a log record, durable like an insert (wait on the token). A rewind below
  /// the last checkpoint's full chunks also writes a checkpoint of the
  /// rewound tree at once (meta only: its chunks are in the data files
  /// already), so that no meta ever names a chunk a later checkpoint
  /// rewrites. Waits for a running checkpoint. Throws Error: index_out_of_range
  /// (beyond size(), nothing changed), read_only, closed, io_error, no_space.
  RewindResult rewind(std::uint64_t size) {
    if (config_.read_only) throw Error(Errc::read_only, "the database " + dir_ + " was opened read-only");
    if (!wal_ || closed_) throw Error(Errc::closed, "the database " + dir_ + " is closed");
    wal_->check_writable();
    std::lock_guard checkpointing(checkpoint_mutex_);  // the checkpointed-chunk counts change
    std::optional<Node> root;
    std::uint64_t seq = 0;
    tree_->with_writer([&](tree_type& tree) {
      if (size > tree.size())
        throw Error(Errc::index_out_of_range, "cannot rewind a database of " + std::to_string(tree.size()) +
                                                  " leaves to " + std::to_string(size));
      if (wal_->file_version() < 2) wal_->rotate();  // a version-1 log has no record types
      seq = wal_->append_rewind(size);
      try {
        root = tree.rewind(size);
      } catch (const std::exception&) {
        Error error(Errc::io_error, "rewind failed after logging: out of memory (reopen to replay it)");
        wal_->set_error(error);
        throw error;
      }
      if (!forget_checkpointed_beyond(size)) return;
      // Under the writer lock: nothing follows the rewind record in the log
      // until this meta names the log after it (recovery relies on that).
      try {
        const snapshot_type snap = tree.snapshot();
        write_checkpoint(snap, seq, wal_->rotate());
      } catch (const Error& e) {
        wal_->set_error(e);
        throw;
      }
      checkpoint_seq_ = seq;
      checkpoint_bytes_ = logged_bytes_.load();
    });
    return {root, DurabilityToken(wal_, seq)};
  }

  /// Make every insertion so far durable.
  void flush() {
    if (wal_) wal_->flush_all();
  }
  /// Write a checkpoint now (and truncate the log).
  void checkpoint() {
    if (config_.read_only) throw Error(Errc::read_only, "the database " + dir_ + " was opened read-only");
    if (!wal_ || closed_) throw Error(Errc::closed, "the database " + dir_ + " is closed");
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_locked();
  }
  /// Flush, checkpoint if the policy says so, release the directory. Idempotent.
  void close() {
    if (closed_) return;
    closed_ = true;
    std::optional<Error> failure;
    if (wal_) {
      wal_->stop();
      try {
        if (!wal_->error()) {
          wal_->flush_all();
          if (std::holds_alternative<checkpoint::OnClose>(config_.checkpoint)) {
            std::lock_guard lock(checkpoint_mutex_);
            checkpoint_locked();
          }
        }
      } catch (const Error& e) {
        failure = e;
      }
    }
    lock_.reset();
    if (failure) throw *failure;
  }

  snapshot_type snapshot() const { return tree_->snapshot(); }
  std::optional<Node> root() const { return tree_->root(); }
  std::uint64_t size() const { return tree_->size(); }
  unsigned depth() const { return tree_->depth(); }
  InclusionProof prove(std::uint64_t index) const { return tree_->prove(index); }

  /// Lookups (SPEC §5) in the latest state, lock-free like proofs. Throw
  /// Error(invalid_argument) for a database of leaf policy none.
  LeafPolicy leaf_policy() const noexcept { return leaf_index_.policy; }
  std::optional<std::uint64_t> index_of(const Node& leaf) const { return tree_->index_of(leaf); }
  bool contains(const Node& leaf) const { return tree_->contains(leaf); }
  void index_of(std::span<const Node> leaves, std::span<std::optional<std::uint64_t>> out) const {
    tree_->index_of(leaves, out);
  }
  std::size_t index_bytes() const { return tree_->index_bytes(); }

  /// The error that stopped the database, if any.
  std::optional<Error> background_error() const { return wal_ ? wal_->error() : std::nullopt; }

  DbInfo info() const {
    DbInfo out;
    const auto snap = snapshot();
    out.params = params_;
    out.leaf_policy = leaf_index_.policy;
    out.index_bytes = snap.index_bytes();
    out.size = snap.size();
    out.depth = snap.depth();
    out.root = snap.root();
    db::detail::disk_usage(*env_, dir_, out.log_bytes, out.data_bytes);
    {
      std::lock_guard lock(stats_mutex_);
      out.checkpoint_size = checkpoint_size_;
      out.checkpoint_unix_ms = checkpoint_unix_ms_;
      out.mapped_bytes = mapped_bytes_;
    }
    out.last_seq = wal_ ? wal_->last_seq() : recovered_seq_;
    out.durable_seq = wal_ ? wal_->durable_seq() : recovered_seq_;
    return out;
  }

 private:
  // Everything snapshots need to stay valid: the store and the data-file
  // mappings its full chunks may point into.
  struct Owner {
    std::shared_ptr<LevelStore<N>> store;
    std::mutex mutex;
    std::vector<std::shared_ptr<db::MappedRegion>> maps;
  };
  // Heap chunks replaced by mapped copies are released when no snapshot
  // taken before the replacement remains: each such snapshot co-owns the
  // epoch current when it was taken, and every epoch keeps the next one alive.
  struct Epoch {
    std::shared_ptr<Owner> owner;
    std::vector<void*> retired;
    std::shared_ptr<Epoch> next;
    ~Epoch() {
      for (void* chunk : retired) db::detail::release_pages(chunk, kChunkBytes);
    }
  };

  std::string path(const std::string& name) const { return db::detail::join(dir_, name); }
  db::DataHeader data_header(unsigned level, std::uint64_t shard) const { return {params_, db_id_, level, shard}; }

  Error no_database() const { return db::detail::missing_database(*env_, dir_, ""); }

  void open() {
    if (config_.read_only) return open_read_only();
    env_->create_dir(dir_);
    lock_ = env_->lock(path(db::kLockName));
    std::optional<db::Meta> meta = db::detail::read_meta(*env_, dir_);
    if (!meta) {
      if (!config_.create_if_missing) throw no_database();
      create();
      meta = db::detail::read_meta(*env_, dir_);
    }
    recover(*meta);
    if (const auto* interval = std::get_if<flush::Interval>(&config_.flush))
      wal_->start_interval(interval->period);
  }

  // A reader takes no lock, so `info`, `root --db` and `prove --db` work
  // while a writer (in this or another process) appends and checkpoints. It
  // sees a prefix that holds every insertion acknowledged before it opened:
  // the log's unwritten tail reads as torn and is left alone. A checkpoint
  // that replaces `meta` and removes the logs an attempt was reading makes
  // that attempt fail; it starts again from the new `meta`. An error with
  // `meta` unchanged is real.
  void open_read_only() {
    constexpr int kAttempts = 8;
    const DbParams requested = params_;
    for (int attempt = 1;; ++attempt) {
      params_ = requested;
      const std::optional<db::Meta> meta = db::detail::read_meta(*env_, dir_);
      if (!meta) throw no_database();
      try {
        recover(*meta);
        return;
      } catch (const Error& e) {
        if (attempt == kAttempts || (e.code() != Errc::corruption && e.code() != Errc::io_error)) throw;
        const std::optional<db::Meta> now = db::detail::read_meta(*env_, dir_);
        if (!now || (now->last_seq == meta->last_seq && now->wal_id == meta->wal_id)) throw;
      }
    }
  }

  // Load the checkpoint `meta` describes, verify it if asked, replay the logs.
  void recover(const db::Meta& meta) {
    owner_ = std::make_shared<Owner>();
    owner_->store = std::make_shared<LevelStore<N>>(MaxDepth + 1);
    epoch_ = std::make_shared<Epoch>();
    epoch_->owner = owner_;
    checkpoint_chunks_.assign(MaxDepth + 1, 0);
    mapped_chunks_.assign(MaxDepth + 1, 0);
    chunk_crcs_.assign(MaxDepth + 1, {});
    mapped_bytes_ = 0;
    // Parameters: an explicit max depth must match; 0 accepts the stored one.
    DbParams wanted = params_;
    if (config_.max_depth == 0) wanted.max_depth = meta.params.max_depth;
    db::check_params(meta.params, wanted, path(db::kMetaName));
    if (meta.params.max_depth > MaxDepth)
      throw Error(Errc::parameter_mismatch, "max depth " + std::to_string(meta.params.max_depth) +
                                                " of " + dir_ + " exceeds this build's MaxDepth");
    params_ = meta.params;
    capacity_ = capacity_for_depth(N, params_.max_depth);
    meta_extensions_ = meta.extensions;
    data_version_ = meta.version;
    leaf_index_ = db::leaf_index(meta);
    if (config_.leaf_policy && *config_.leaf_policy != leaf_index_.policy)
      throw Error(Errc::parameter_mismatch, "leaf policy " + std::string(to_string(*config_.leaf_policy)) +
                                                " requested but " + dir_ + " has leaf policy " +
                                                std::string(to_string(leaf_index_.policy)));

    // The logs first: a reader then has them even if a checkpoint removes
    // them while it loads the data files (which are never rewritten).
    const std::vector<LogFile> logs = read_logs(meta);
    // The identity: meta's (version 3). A database from before it adopts
    // the one its logs already carry (a rotation by this version that its
    // meta does not name yet), or a new one; the next checkpoint stores it.
    db_id_ = meta.db_id;
    if (db_id_ == db::DbId{}) {
      for (const LogFile& log : logs)
        if (log.bytes.size() >= db::kWalHeaderBytes && log.bytes[8] == 2 && log.bytes[56] == db::kRoleLog) {
          std::memcpy(db_id_.data(), log.bytes.data() + 40, db_id_.size());
          break;
        }
      if (db_id_ == db::DbId{} && !config_.read_only) db_id_ = db::random_db_id();
    }
    load_checkpoint(meta);
    TreeOptions options = config_.tree;
    options.node_hash = params_.node_hash;
    // The index is rebuilt from the leaves (a reader may go without it).
    options.leaf_policy = config_.read_only && !config_.leaf_index ? LeafPolicy::none : leaf_index_.policy;
    options.leaf_secret = leaf_index_.secret;
    if (config_.verify_on_open) verify(meta);
    tree_type tree(aliased_store(), meta.size, options);
    checkpoint_seq_ = meta.last_seq;
    checkpoint_size_ = meta.size;
    checkpoint_unix_ms_ = meta.unix_ms;
    replay(meta, tree, logs);
    tree_ = std::make_unique<concurrent_type>(std::move(tree));
    if (pending_rewind_checkpoint_) {  // finish the rewind the last process logged
      pending_rewind_checkpoint_ = false;
      tree_->with_writer([&](tree_type& t) { write_checkpoint(t.snapshot(), recovered_seq_, wal_->rotate()); });
      checkpoint_seq_ = recovered_seq_;
    }
  }

  std::shared_ptr<LevelStore<N>> aliased_store() const {
    return std::shared_ptr<LevelStore<N>>(epoch_, owner_->store.get());
  }

  // Creation writes the first log (header only, synced with its directory
  // entry), then meta: a meta always names a log that exists. It removes
  // nothing: a directory holding database files but no meta is refused
  // (its meta was lost; creating over it would discard the files), except
  // what an interrupted creation leaves, which holds no leaves.
  void create() {
    std::vector<std::string> found;
    for (const std::string& name : env_->list(dir_)) {
      std::uint64_t id;
      const bool wal = db::parse_wal_name(name, id);
      if (!wal && !db::parse_data_name(name) && name != db::kMetaTmpName) continue;
      if (!(wal && id == 1 && log_holds_no_leaves(path(name))) && !(name == db::kMetaTmpName && meta_tmp_is_new(path(name))))
        found.push_back(name);
    }
    if (!found.empty()) {
      std::string list;
      for (std::size_t i = 0; i < found.size() && i < 4; ++i) list += (i ? ", " : "") + found[i];
      if (found.size() > 4) list += ", ...";
      throw Error(Errc::corruption, "corrupted " + dir_ + ": " + path(db::kMetaName) + " is missing but the directory holds database files (" +
                                        list + "); restore meta from a backup. A new database is never created over them");
    }
    db::WalHeader header_fields;
    header_fields.params = params_;
    header_fields.file_id = 1;
    header_fields.first_seq = 1;
    header_fields.db_id = db::random_db_id();
    {
      const auto header = db::encode_wal_header(header_fields);
      auto log = env_->open(path(db::wal_name(1)), db::OpenMode::create_truncate);
      log->write_at(0, header);
      log->sync();
      env_->sync_dir(dir_);
    }
    db::Meta meta;
    meta.params = params_;
    meta.db_id = header_fields.db_id;
    meta.unix_ms = 0;
    const LeafPolicy policy = config_.leaf_policy.value_or(LeafPolicy::none);
    if (policy != LeafPolicy::none)
      db::set_leaf_index(meta, {policy, config_.leaf_secret.value_or(random_leaf_secret())});
    const auto bytes = db::encode_meta(meta);
    db::detail::write_atomically(*env_, dir_, db::kMetaName, bytes);
  }

  // What an interrupted creation leaves: the first log with no frame (cut
  // in or after its header) ...
  bool log_holds_no_leaves(const std::string& file) {
    const auto bytes = db::read_whole_file(*env_, file);
    try {
      const db::WalScan scan = db::scan_wal(bytes, file, params_, 1);
      return scan.header_torn || (scan.batches.empty() && !scan.torn);
    } catch (const Error&) {
      return false;
    }
  }
  // ... and a meta.tmp of an empty database (or cut while written).
  bool meta_tmp_is_new(const std::string& file) {
    const auto bytes = db::read_whole_file(*env_, file);
    try {
      const db::Meta meta = db::decode_meta(bytes, file);
      return meta.size == 0 && meta.last_seq == 0 && meta.wal_id == 1;
    } catch (const Error&) {
      return bytes.size() < 108;  // a record cut short, not a damaged complete one
    }
  }

  /// The hashing threads' pool, for the parallel parts of opening.
  std::shared_ptr<const Executor> open_executor() const {
    if (config_.tree.threads == 0) return Executor::shared_default();
    if (config_.tree.threads > 1) return std::make_shared<const Executor>(config_.tree.threads);
    return nullptr;
  }

  // Chunks read into memory are checked against their CRC32C as they are
  // read (cache-hot), in parallel work units: copying into fresh memory, not
  // the checksum, is what costs. Mapped chunks are not read at open (that is
  // the point of mapping them): verify_on_open checks those. A version-1
  // record has no checksums: they are computed here and written by the next
  // checkpoint.
  void load_checkpoint(const db::Meta& meta) {
    if (meta.size == 0) return;
    LevelStore<N>& store = *owner_->store;
    const unsigned depth = depth_for_size(meta.size, N);
    const bool have_crcs = !meta.chunk_crcs.empty();
    const std::shared_ptr<const Executor> executor = open_executor();
    for (unsigned l = 0; l <= depth; ++l) {
      const std::uint64_t length = db::level_length(meta.size, N, l);
      const std::uint64_t full = db::full_chunks(length, N);
      std::vector<std::uint32_t>& crcs = chunk_crcs_[l];
      crcs = have_crcs ? meta.chunk_crcs[l] : std::vector<std::uint32_t>(full);
      for (std::uint64_t first = 0; first < full; first += kShardChunks) {
        const std::uint64_t count = std::min<std::uint64_t>(kShardChunks, full - first);
        const std::uint64_t shard = first / kShardChunks;
        const std::string file = path(db::data_name(l, shard, data_version_));
        // Every chunk is at a shard offset of its file (after its header).
        auto offset = [&](std::uint64_t c) { return db::data_offset(c, N, data_version_); };
        auto handle = env_->open(file, db::OpenMode::read);
        if (data_version_ >= 4) {  // the file is this database's, of this level and shard
          std::vector<std::uint8_t> header(db::kDataHeaderBytes);
          header.resize(handle->read_at(0, header));
          db::check_data_header(header, file, data_header(l, shard));
        }
        if (l < config_.pin_above_level) {
          auto region = env_->map(file, offset(0), count * kChunkBytes);
          // Mapped chunks are not read on open; the first and last of each
          // file are, so that a data file of another database (or another
          // level) is refused by name without verify_on_open.
          if (have_crcs && !config_.verify_on_open)  // verify checks every node (and names it)
            for (const std::uint64_t c : {std::uint64_t{0}, count - 1})
              if (db::crc32c(region->data() + c * kChunkBytes, kChunkBytes) != crcs[first + c])
                throw Error(Errc::corruption, "corrupted " + file + " at byte offset " + std::to_string(offset(c)) +
                                                  ": checksum mismatch in chunk " + std::to_string(first + c) + " of level " +
                                                  std::to_string(l) + " (a data file of another database?)");
          for (std::uint64_t c = 0; c < count; ++c) {
            const std::uint8_t* chunk = region->data() + c * kChunkBytes;
            store.append_external_chunk(l, reinterpret_cast<Node*>(const_cast<std::uint8_t*>(chunk)));
            if (!have_crcs) crcs[first + c] = db::crc32c(chunk, kChunkBytes);
          }
          owner_->maps.push_back(std::move(region));
          mapped_bytes_ += count * kChunkBytes;
          continue;
        }
        store.reserve(l, (first + count) * kChunkNodes);
        // The failure of the lowest chunk is reported, whatever the order of the work units.
        std::mutex failure_mutex;
        std::uint64_t failed_chunk = UINT64_MAX;
        std::optional<Error> failure;
        auto fail = [&](std::uint64_t c, Error error) {
          std::lock_guard lock(failure_mutex);
          if (c < failed_chunk) {
            failed_chunk = c;
            failure = std::move(error);
          }
        };
        auto read = [&](std::size_t begin, std::size_t end) {
          for (std::uint64_t c = begin; c < end; ++c) {
            auto* chunk = reinterpret_cast<std::uint8_t*>(store.writable(l, (first + c) * kChunkNodes));
            try {
              if (handle->read_at(offset(c), {chunk, kChunkBytes}) != kChunkBytes)
                return fail(c, Error(Errc::corruption, "data file " + file + " is shorter than its checkpoint says (" +
                                                           std::to_string(offset(c + 1)) + " bytes needed)"));
            } catch (const Error& e) {
              return fail(c, e);
            }
            const std::uint32_t crc = db::crc32c(chunk, kChunkBytes);
            if (!have_crcs)
              crcs[first + c] = crc;
            else if (crc != crcs[first + c])
              return fail(c, Error(Errc::corruption, "corrupted " + file + " at byte offset " +
                                                         std::to_string(offset(c)) + ": checksum mismatch in chunk " +
                                                         std::to_string(first + c) + " of level " + std::to_string(l)));
          }
        };
        constexpr std::size_t kReadGrain = std::max<std::size_t>(1, (std::size_t{1} << 20) / kChunkBytes);  // 1 MiB
        if (executor && count >= 4 * kReadGrain)
          executor->for_ranges(0, count, kReadGrain, read);
        else
          read(0, count);
        if (failure) throw *failure;
      }
      checkpoint_chunks_[l] = full;
      mapped_chunks_[l] = full;
      store.reserve(l, length);
      if (!meta.tails[l].empty())
        std::memcpy(store.writable(l, full * kChunkNodes), meta.tails[l].data(), meta.tails[l].size() * sizeof(Node));
    }
  }

  /// Map the pages of nodes [first, last) of `level` that are served from
  /// data files (its first `mapped` nodes) by reading one byte per 64 KiB:
  /// each read faults in a whole fault-around window (64 KiB by default).
  /// Cheaper than MADV_POPULATE_READ, which also walks every mapped page, and
  /// than faulting while hashing. Where the window is smaller, the hashing
  /// faults in the rest.
  void prefault_mapped(unsigned level, std::uint64_t first, std::uint64_t last, std::uint64_t mapped) const {
    constexpr std::uintptr_t kWindow = 64 << 10;
    last = std::min(last, mapped);
    if (first >= last) return;
    const LevelStore<N>& store = *owner_->store;
    const std::uint64_t end = (last - 1) / kChunkNodes + 1;
    for (std::uint64_t c = first / kChunkNodes; c < end;) {  // runs of chunks contiguous in one mapping
      const Node* start = store.chunk_of(level, c * kChunkNodes);
      std::uint64_t next = c + 1;
      while (next < end && store.chunk_of(level, next * kChunkNodes) == start + (next - c) * kChunkNodes) ++next;
      const std::uintptr_t run_end = reinterpret_cast<std::uintptr_t>(start) + (next - c) * kChunkBytes;
      for (std::uintptr_t at = reinterpret_cast<std::uintptr_t>(start); at < run_end; at = (at | (kWindow - 1)) + 1)
        (void)*reinterpret_cast<const volatile std::uint8_t*>(at);
      c = next;
    }
  }

  /// Rebuild the checkpoint's tree from its leaves and compare every node.
  // Every stored level is recomputed from the one below it, level by level,
  // on all hashing threads: each work unit maps its pages of the data files
  // (prefault_mapped), then hashes runs of one chunk of children through the
  // multi-message kernel into a buffer that stays in L1 and compares it with
  // the stored parents, prefetched during the hashing. The hashing of a full
  // rebuild, without a second tree's memory or a pass of its own for mapping.
  void verify(const db::Meta& meta) {
    if (meta.size == 0) return;
    const LevelStore<N>& store = *owner_->store;
    const unsigned depth = depth_for_size(meta.size, N);
    auto corrupt = [&](unsigned level, std::uint64_t index, const std::string& what) {
      return Error(Errc::corruption, "checkpoint of " + dir_ + " fails verification: node " + std::to_string(index) +
                                         " of level " + std::to_string(level) + " (data file " +
                                         path(db::data_name(level, index / kChunkNodes / kShardChunks, data_version_)) + ") " + what);
    };
    if (store.at(depth, 0) != meta.root)
      throw Error(Errc::corruption, "checkpoint of " + dir_ + " fails verification: the top node " +
                                        to_hex(store.at(depth, 0)) + " differs from the stored root " + to_hex(meta.root));
    const std::shared_ptr<const Executor> executor = open_executor();
    const NodeHash scheme = params_.node_hash;
    constexpr std::size_t kGrain = 2048;  // parents per parallel work unit
    auto mapped_nodes = [&](unsigned level) -> std::uint64_t {
      return level < config_.pin_above_level ? mapped_chunks_[level] * kChunkNodes : 0;
    };
    for (unsigned l = 0; l < depth; ++l) {
      const std::uint64_t length = db::level_length(meta.size, N, l);
      const std::uint64_t full = length / N;
      // Only the leaves need mapping here: every higher level was mapped
      // as the stored parents of the level below.
      const std::uint64_t mapped_children = l == 0 ? mapped_nodes(0) : 0;
      const std::uint64_t mapped_parents = mapped_nodes(l + 1);
      std::atomic<std::uint64_t> first_bad{UINT64_MAX};
      auto check = [&](std::size_t begin, std::size_t end) {
        prefault_mapped(l, std::uint64_t{begin} * N, std::uint64_t{end} * N, mapped_children);
        prefault_mapped(l + 1, begin, end, mapped_parents);
        alignas(64) Node recomputed[kGroupsPerChunk];
        while (begin < end) {
          // Children from one chunk: their parents lie in one stored chunk too.
          const std::size_t run = std::min<std::size_t>(end, (begin / kGroupsPerChunk + 1) * kGroupsPerChunk) - begin;
          const Node* stored = &store.at(l + 1, begin);
          // Fetch the stored parents while hashing, not when comparing.
          for (std::size_t byte = 0; byte < run * sizeof(Node); byte += 64)
            __builtin_prefetch(reinterpret_cast<const std::uint8_t*>(stored) + byte);
          hash_full_groups<H>(scheme, N, &store.at(l, std::uint64_t{begin} * N), run, recomputed);
          if (std::memcmp(recomputed, stored, run * sizeof(Node)) != 0) {
            std::size_t i = 0;
            while (recomputed[i] == stored[i]) ++i;
            std::uint64_t bad = first_bad.load();
            while (begin + i < bad && !first_bad.compare_exchange_weak(bad, begin + i)) {
            }
            return;
          }
          begin += run;
        }
      };
      if (executor && full >= 4096)
        executor->for_ranges(0, full, kGrain, check);
      else
        check(0, full);
      if (first_bad.load() != UINT64_MAX) throw corrupt(l + 1, first_bad.load(), "differs from its recomputed value");
      if (full * N < length) {  // the last, partial group
        const unsigned k = static_cast<unsigned>(length - full * N);
        Node expected = store.at(l, full * N);
        if (k > 1) hash_group<H>(scheme, &store.at(l, full * N), k, expected);
        if (expected != store.at(l + 1, full)) throw corrupt(l + 1, full, "differs from its recomputed value");
      }
    }
  }

  struct LogFile {
    std::uint64_t id;
    std::vector<std::uint8_t> bytes;
  };

  /// The log files from `meta`'s first one on, in order, read whole.
  std::vector<LogFile> read_logs(const db::Meta& meta) {
    std::vector<std::uint64_t> ids;
    for (const std::string& name : env_->list(dir_)) {
      std::uint64_t id;
      if (!db::parse_wal_name(name, id)) continue;
      if (id < meta.wal_id) {
        if (!config_.read_only) env_->remove(path(name));  // checkpointed already
        continue;
      }
      ids.push_back(id);
    }
    if (!config_.read_only && env_->exists(path(db::kMetaTmpName))) env_->remove(path(db::kMetaTmpName));
    std::sort(ids.begin(), ids.end());
    std::vector<LogFile> logs;
    for (std::uint64_t id : ids) logs.push_back({id, db::read_whole_file(*env_, path(db::wal_name(id)))});
    return logs;
  }

  void replay(const db::Meta& meta, tree_type& tree, const std::vector<LogFile>& logs) {
    std::uint64_t expected = meta.last_seq + 1;
    std::uint64_t append_id = 0, append_bytes = 0;
    std::uint32_t append_version = db::kFormatVersion;
    // A rewind below the checkpoint is the last record when the process
    // stopped before writing the checkpoint that follows it (see rewind).
    bool rewound_below_checkpoint = false;
    // The log meta names was created with its header and synced (file and
    // directory) before meta was written: its absence is damage, never an
    // empty log (the leaves acknowledged in it would vanish without a word).
    if (logs.empty() || logs.front().id != meta.wal_id)
      throw Error(Errc::corruption, "log file " + path(db::wal_name(meta.wal_id)) + " named by " +
                                        path(db::kMetaName) + " is missing" +
                                        (logs.empty() ? std::string() : " (found " + path(db::wal_name(logs.front().id)) + ")"));
    for (std::size_t k = 0; k < logs.size(); ++k) {
      const std::uint64_t id = logs[k].id;
      const std::string file = path(db::wal_name(id));
      const bool last = k + 1 == logs.size();
      if (id != meta.wal_id + k)
        throw Error(Errc::corruption, "log file " + path(db::wal_name(meta.wal_id + k)) + " is missing (found " + file + ")");
      const auto& bytes = logs[k].bytes;
      const db::WalScan scan = db::scan_wal(bytes, file, params_, expected);
      if (!scan.header_torn) {
        // Tied to this database: a log of another one (or one without an
        // identity beside a meta that has one) is refused by name.
        if (scan.header.version >= 2 && scan.header.db_id != db_id_)
          throw Error(Errc::corruption, "corrupted " + file + " at byte offset 40: the log belongs to another database (identity " +
                                            db::to_hex(scan.header.db_id) + ", this database's is " + db::to_hex(db_id_) + ")");
        if (scan.header.version < 2 && meta.version >= 3)
          throw Error(Errc::corruption, "corrupted " + file + " at byte offset 8: a version-1 log (no database identity) beside a version-" +
                                            std::to_string(meta.version) + " " + path(db::kMetaName));
      }
      if (scan.header_torn) {
        // Only a log created by a rotation that meta does not name yet can
        // have been cut while its header was written.
        if (!last || k == 0)
          throw Error(Errc::corruption, "corrupted " + file + " at byte offset 0: truncated header (" +
                                            std::to_string(bytes.size()) + " bytes" +
                                            (k == 0 ? ", and " + path(db::kMetaName) + " names this log" : std::string()) + ")");
        if (!config_.read_only) env_->remove(file);  // crashed while creating it: holds nothing
        break;
      }
      if (scan.header.file_id != id)
        throw Error(Errc::corruption, "corrupted " + file + " at byte offset 24: header names log " +
                                          std::to_string(scan.header.file_id));
      if (scan.torn && !last)
        throw Error(Errc::corruption, "corrupted " + file + " at byte offset " + std::to_string(scan.valid_bytes) +
                                          ": incomplete entry in a log that is not the last");
      for (const auto& batch : scan.batches) {
        if (rewound_below_checkpoint)
          throw Error(Errc::corruption, "log " + file + ": records follow a rewind below the checkpoint without the checkpoint that must follow it");
        if (batch.type == db::kRecordRewind) {
          if (batch.rewind_size > tree.size())
            throw Error(Errc::corruption, "log " + file + " rewinds a tree of " + std::to_string(tree.size()) +
                                              " leaves to " + std::to_string(batch.rewind_size));
          tree.rewind(batch.rewind_size);
          rewound_below_checkpoint = forget_checkpointed_beyond(batch.rewind_size);
          continue;
        }
        if (batch.leaves.size() > capacity_ - tree.size())
          throw Error(Errc::corruption, "log " + file + " holds more leaves than max depth " +
                                            std::to_string(params_.max_depth) + " allows");
        try {
          if (batch.leaves.size() == 1)
            tree.insert(batch.leaves[0]);
          else
            tree.insert_many(batch.leaves);
        } catch (const DuplicateLeafError& e) {  // refused before logging when it was inserted
          throw Error(Errc::corruption, "log " + file + " repeats a leaf of this unique database: " + e.what());
        }
      }
      expected = scan.next_seq;
      if (last) {
        append_id = id;
        append_bytes = scan.valid_bytes;
        append_version = scan.header.version;
        if (scan.torn && !config_.read_only) {  // an unacknowledged partial write: drop it
          auto handle = env_->open(file, db::OpenMode::read_write);
          handle->truncate(scan.valid_bytes);
          handle->sync();
        }
      }
    }
    recovered_seq_ = expected - 1;
    if (config_.read_only) return;
    pending_rewind_checkpoint_ = rewound_below_checkpoint;
    if (append_id != 0)
      wal_ = std::make_shared<db::WalWriter>(env_, dir_, params_, db_id_, append_id, expected, append_bytes, false,
                                             config_.direct_log, append_version);
    else  // the last log was torn while being created (and removed)
      wal_ = std::make_shared<db::WalWriter>(env_, dir_, params_, db_id_, logs.back().id, expected, 0, true,
                                             config_.direct_log);
  }

  InsertResult insert_impl(std::span<const Node> leaves, bool single) {
    if (config_.read_only) throw Error(Errc::read_only, "the database " + dir_ + " was opened read-only");
    if (!wal_ || closed_) throw Error(Errc::closed, "the database " + dir_ + " is closed");
    wal_->check_writable();
    rotortree::InsertResult inserted;
    std::uint64_t seq = 0;
    tree_->with_writer([&](tree_type& tree) {
      if (leaves.size() > capacity_ - tree.size())
        throw Error(Errc::max_depth_exceeded,
                    "inserting " + std::to_string(leaves.size()) + " leaves into a tree of " +
                        std::to_string(tree.size()) + " would exceed max depth " + std::to_string(params_.max_depth));
      if (leaves.empty()) throw Error(Errc::empty_batch, "insert_many needs at least one leaf");
      // The tree checks the batch (canonical leaves, unique leaves, its
      // capacity) before it logs it: a refused batch leaves no trace.
      auto log = [&] {
        seq = wal_->append(leaves);
        if (leaves.size() >= kEarlyWriteLeaves) wal_->request_flush();
      };
      try {
        inserted = single || leaves.size() == 1 ? tree.insert_with_index(leaves[0], log)
                                                : tree.insert_many_with_index(leaves, log);
      } catch (const std::exception&) {
        if (seq == 0) throw;  // refused before logging: nothing changed
        // Only memory exhaustion gets here: the log holds a batch the tree
        // lacks, so refuse writes until reopened (recovery replays it).
        Error error(Errc::io_error, "insertion failed after logging: out of memory (the log holds the batch; reopen to replay it)");
        wal_->set_error(error);
        throw error;
      }
    });
    logged_bytes_.fetch_add(leaves.size() * sizeof(Node), std::memory_order_relaxed);
    maybe_checkpoint();
    return {inserted.root, DurabilityToken(wal_, seq), inserted.first_index};
  }

  /// After a rewind to `size`: the chunks of the data files beyond the
  /// rewound tree's full chunks are stale (the next checkpoint writes new
  /// ones at their offsets). Returns whether meta names any of them.
  bool forget_checkpointed_beyond(std::uint64_t size) {
    bool named = false;
    const unsigned depth = depth_for_size(size, N);
    for (unsigned l = 0; l <= MaxDepth; ++l) {
      const std::uint64_t full = size == 0 || l > depth ? 0 : db::full_chunks(db::level_length(size, N, l), N);
      if (checkpoint_chunks_[l] > full) {
        checkpoint_chunks_[l] = full;
        chunk_crcs_[l].resize(full);
        named = true;
      }
      mapped_chunks_[l] = std::min(mapped_chunks_[l], full);
    }
    return named;
  }

  void maybe_checkpoint() {
    bool due = false;
    if (const auto* every = std::get_if<checkpoint::EveryNEntries>(&config_.checkpoint))
      due = wal_->last_seq() - checkpoint_seq_.load(std::memory_order_relaxed) >= std::max<std::uint64_t>(every->entries, 1);
    else if (const auto* memory = std::get_if<checkpoint::MemoryThreshold>(&config_.checkpoint))
      due = logged_bytes_.load(std::memory_order_relaxed) - checkpoint_bytes_.load(std::memory_order_relaxed) >=
            memory->bytes;
    if (!due) return;
    std::unique_lock lock(checkpoint_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // another thread is checkpointing
    try {
      checkpoint_locked();
    } catch (const Error&) {
      // recorded as the background error: reported to the next call
    }
  }

  void checkpoint_locked() {
    if (auto error = wal_->error())
      throw Error(Errc::closed, std::string("the database refuses checkpoints after an earlier failure: ") + error->what());
    snapshot_type snap;
    std::uint64_t seq = 0, wal_id = 0, bytes = 0;
    tree_->with_writer([&](tree_type& tree) {
      seq = wal_->last_seq();
      if (seq == checkpoint_seq_.load()) return;  // nothing new
      snap = tree.snapshot();
      bytes = logged_bytes_.load();
      wal_id = wal_->rotate();
    });
    if (wal_id == 0) return;
    try {
      write_checkpoint(snap, seq, wal_id);
    } catch (const Error& e) {
      wal_->set_error(e);
      throw;
    }
    checkpoint_seq_ = seq;
    checkpoint_bytes_ = bytes;
    tier();
  }

  void write_checkpoint(const snapshot_type& snap, std::uint64_t seq, std::uint64_t wal_id) {
    const LevelStore<N>& store = *owner_->store;
    db::Meta meta;
    meta.params = params_;
    meta.db_id = db_id_;
    meta.extensions = meta_extensions_;
    meta.size = snap.size();
    meta.last_seq = seq;
    meta.wal_id = wal_id;
    meta.unix_ms = db::detail::now_unix_ms();
    std::vector<std::uint64_t> full_after(MaxDepth + 1, 0);
    const bool upgrade = data_version_ < db::kMetaVersion;
    if (meta.size > 0) {
      meta.root = *snap.root();
      std::map<std::uint64_t, std::unique_ptr<db::File>> files;  // key: level << 40 | shard
      std::deque<std::vector<std::uint8_t>> header_bytes;  // stable addresses for the gathered writes
      for (unsigned l = 0; l <= snap.depth(); ++l) {
        const std::uint64_t length = db::level_length(meta.size, N, l);
        const std::uint64_t full = db::full_chunks(length, N);
        full_after[l] = full;
        // Runs of chunks up to 2 MiB of file, one gathered write each: the
        // page cache then keeps them as large folios, which map (on reopen)
        // with one page-table entry per 2 MiB instead of one per 4 KiB.
        constexpr std::uint64_t kRunChunks = std::max<std::uint64_t>(1, (std::uint64_t{2} << 20) / kChunkBytes);
        std::vector<std::span<const std::uint8_t>> run;
        // The checkpoint that upgrades headerless data files writes every
        // full chunk into new files (the old ones stay until meta names these).
        std::vector<std::uint32_t> crcs = upgrade ? std::vector<std::uint32_t>{} : chunk_crcs_[l];  // taken over once meta is written
        for (std::uint64_t c = upgrade ? 0 : checkpoint_chunks_[l]; c < full;) {
          const std::uint64_t shard = c / kShardChunks;
          auto& file = files[std::uint64_t{l} << 40 | shard];
          if (!file) file = env_->open(path(db::data_name(l, shard)), db::OpenMode::create);
          const std::uint64_t stop = std::min({full, (c / kRunChunks + 1) * kRunChunks, (shard + 1) * kShardChunks});
          run.clear();
          if (c % kShardChunks == 0) run.emplace_back(header_bytes.emplace_back(db::encode_data_header(data_header(l, shard))));
          for (std::uint64_t k = c; k < stop; ++k) {
            const auto* chunk = reinterpret_cast<const std::uint8_t*>(store.chunk_of(l, k * kChunkNodes));
            run.emplace_back(chunk, kChunkBytes);
            crcs.push_back(db::crc32c(chunk, kChunkBytes));
          }
          file->write_gather(db::data_offset(c % kShardChunks, N) - (c % kShardChunks == 0 ? db::kDataHeaderBytes : 0), run);
          c = stop;
        }
        meta.chunk_crcs.push_back(std::move(crcs));
        std::vector<Node> tail;
        for (std::uint64_t i = full * kChunkNodes; i < length; ++i) tail.push_back(snap.node(l, i));
        meta.tails.push_back(std::move(tail));
      }
      for (auto& [key, file] : files) file->sync();
      if (!files.empty()) env_->sync_dir(dir_);
    }
    db::detail::write_atomically(*env_, dir_, db::kMetaName, db::encode_meta(meta));
    data_version_ = db::kMetaVersion;
    // The log before wal_id is now redundant, and so are data files without
    // a header (an upgrade's leftovers); what a failure here leaves is
    // removed by the next checkpoint.
    try {
      for (const std::string& name : env_->list(dir_)) {
        std::uint64_t id;
        if ((db::parse_wal_name(name, id) && id < wal_id) || db::is_headerless_data_name(name)) env_->remove(path(name));
      }
    } catch (const Error&) {
    }
    for (unsigned l = 0; l <= MaxDepth; ++l)
      checkpoint_chunks_[l] = upgrade ? full_after[l] : std::max(checkpoint_chunks_[l], full_after[l]);
    meta.chunk_crcs.resize(MaxDepth + 1);
    chunk_crcs_ = std::move(meta.chunk_crcs);
    std::lock_guard lock(stats_mutex_);
    checkpoint_size_ = meta.size;
    checkpoint_unix_ms_ = meta.unix_ms;
  }

  /// Serve newly checkpointed chunks of the cold levels from mappings.
  void tier() {
    struct Swap {
      unsigned level;
      std::uint64_t chunk;
      Node* mapped;
    };
    std::vector<Swap> swaps;
    const unsigned levels = std::min<unsigned>(config_.pin_above_level, MaxDepth + 1);
    try {
      for (unsigned l = 0; l < levels; ++l) {
        std::uint64_t c = mapped_chunks_[l];
        while (c < checkpoint_chunks_[l]) {
          const std::uint64_t shard = c / kShardChunks;
          const std::uint64_t end = std::min<std::uint64_t>(checkpoint_chunks_[l], (shard + 1) * kShardChunks);
          auto region = env_->map(path(db::data_name(l, shard, data_version_)), db::data_offset(c % kShardChunks, N, data_version_),
                                  (end - c) * kChunkBytes);
          for (std::uint64_t k = c; k < end; ++k)
            swaps.push_back({l, k, reinterpret_cast<Node*>(const_cast<std::uint8_t*>(region->data()) + (k - c) * kChunkBytes)});
          {
            std::lock_guard lock(owner_->mutex);
            owner_->maps.push_back(std::move(region));
          }
          c = end;
        }
      }
    } catch (const Error&) {
      // Mapping is an optimisation: chunks stay in memory if it fails.
    }
    if (swaps.empty()) return;
    tree_->with_writer([&](tree_type& tree) {
      LevelStore<N>& store = *owner_->store;
      auto next = std::make_shared<Epoch>();
      next->owner = owner_;
      for (const Swap& s : swaps) {
        epoch_->retired.push_back(store.writable(s.level, s.chunk * kChunkNodes));
        store.replace_chunk(s.level, s.chunk, s.mapped);
        mapped_chunks_[s.level] = s.chunk + 1;
      }
      epoch_->next = next;
      epoch_ = next;
      tree.rebind_store(aliased_store());
    });
    std::lock_guard lock(stats_mutex_);
    mapped_bytes_ += swaps.size() * kChunkBytes;
  }

  std::string dir_;
  DbConfig config_;
  db::Env* env_;
  DbParams params_;
  std::uint64_t capacity_ = 0;
  std::unique_ptr<db::FileLock> lock_;
  std::shared_ptr<Owner> owner_;
  std::shared_ptr<Epoch> epoch_;
  std::unique_ptr<concurrent_type> tree_;
  std::shared_ptr<db::WalWriter> wal_;
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
  db::DbId db_id_{};
  std::map<std::uint16_t, std::vector<std::uint8_t>> meta_extensions_;
  db::LeafIndexRecord leaf_index_;
  /// The format of the data files meta names (its version): below 4 they
  /// have no header, and the next checkpoint rewrites them (write_checkpoint).
  std::uint32_t data_version_ = db::kMetaVersion;
  bool closed_ = false;
  bool pending_rewind_checkpoint_ = false;
};

}  // namespace rotortree
