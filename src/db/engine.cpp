// The engine's open, recovery and writes. The checkpoint side: checkpoint.cpp.
#include "db/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <variant>

#include "db/files.hpp"

namespace rotortree::db {

/// Batches of at least this many leaves wake the log writer at once: the
/// disk writes them while the tree hashes them.
constexpr std::size_t kEarlyWriteLeaves = 16384;

std::unique_ptr<Engine> open_engine(std::string dir, const DbConfig& config, const TreeParams& requested, bool exact,
                                    TreeLink& link) {
  return std::make_unique<DbEngine>(std::move(dir), config, requested, exact, link);
}

DbEngine::DbEngine(std::string dir, const DbConfig& config, const TreeParams& requested, bool exact, TreeLink& link)
    : dir_(std::move(dir)),
      config_(config),
      env_(config.env ? config.env : Env::posix()),
      link_(link),
      requested_(requested),
      exact_(exact),
      params_(requested) {
  if (params_.max_depth < 1 || params_.max_depth > link_.max_depth())
    throw Error(Errc::invalid_argument, "max depth " + std::to_string(params_.max_depth) + " must be in 1.." +
                                            std::to_string(link_.max_depth()) + " (this build's MaxDepth)");
  chunk_nodes_ = geometry::chunk_nodes(params_.arity);
  chunk_bytes_ = geometry::chunk_bytes(params_.arity);
  shard_chunks_ = geometry::shard_chunks(params_.arity);
  open();
}

DbEngine::~DbEngine() { close_quietly(); }

DbEngine::Epoch::~Epoch() {
  for (void* chunk : retired) detail::release_pages(chunk, chunk_bytes);
}

std::string DbEngine::path(const std::string& name) const { return detail::join(dir_, name); }

void DbEngine::warn(const Error& error) const noexcept {
  try {
    if (config_.on_warning) return config_.on_warning(error);
  } catch (...) {
  }
  std::fprintf(stderr, "rotortree: %s: %s\n", dir_.c_str(), error.what());
}

void DbEngine::check_open(const char* what) const {
  if (config_.read_only)
    throw Error(Errc::read_only, std::string("cannot ") + what + ": the database " + dir_ + " was opened read-only");
  if (!wal_ || closed_) throw Error(Errc::closed, std::string("cannot ") + what + ": the database " + dir_ + " is closed");
}

void DbEngine::check_writable(const char* what) const {
  check_open(what);
  wal_->check_writable();
}

void DbEngine::open() {
  if (config_.read_only) return open_read_only();
  env_->create_dir(dir_);
  lock_ = env_->lock(path(kLockName));
  std::optional<Meta> meta = detail::read_meta(*env_, dir_);
  if (!meta) {
    if (!config_.create_if_missing) throw detail::missing_database(*env_, dir_, "");
    create();
    meta = detail::read_meta(*env_, dir_);
  }
  recover(*meta);
  if (const auto* interval = std::get_if<flush::Interval>(&config_.flush)) wal_->start_interval(interval->period);
}

// A reader takes no lock, so `info`, `root --db` and `prove --db` work
// while a writer (in this or another process) appends and checkpoints. It
// sees a prefix that holds every insertion acknowledged before it opened:
// the log's unwritten tail reads as torn and is left alone. A checkpoint
// that replaces `meta` and removes the logs an attempt was reading makes
// that attempt fail; it starts again from the new `meta`. An error with
// `meta` unchanged is real.
void DbEngine::open_read_only() {
  constexpr int kAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    params_ = requested_;
    const std::optional<Meta> meta = detail::read_meta(*env_, dir_);
    if (!meta) throw detail::missing_database(*env_, dir_, "");
    try {
      recover(*meta);
      return;
    } catch (const Error& e) {
      if (attempt == kAttempts || (e.code() != Errc::corruption && e.code() != Errc::io_error)) throw;
      const std::optional<Meta> now = detail::read_meta(*env_, dir_);
      if (!now || (now->last_seq == meta->last_seq && now->wal_id == meta->wal_id)) throw;
    }
  }
}

// Load the checkpoint `meta` describes, verify it if asked, replay the logs.
void DbEngine::recover(const Meta& meta) {
  const unsigned levels = link_.max_depth() + 1;
  owner_ = std::make_shared<Owner>();
  owner_->store = link_.new_store();
  epoch_ = std::make_shared<Epoch>();
  epoch_->owner = owner_;
  epoch_->chunk_bytes = chunk_bytes_;
  checkpoint_chunks_.assign(levels, 0);
  mapped_chunks_.assign(levels, 0);
  chunk_crcs_.assign(levels, {});
  mapped_bytes_ = 0;
  // Parameters: the type's arity and hash must match; the rest only if given (exact_).
  TreeParams wanted = requested_;
  if (!exact_) {
    wanted.node_hash = meta.params.node_hash;
    wanted.max_depth = meta.params.max_depth;
  }
  check_params(meta.params, wanted, path(kMetaName));
  if (meta.params.max_depth > link_.max_depth())
    throw Error(Errc::parameter_mismatch, "max depth " + std::to_string(meta.params.max_depth) + " of " + dir_ +
                                              " exceeds this build's MaxDepth");
  params_ = meta.params;
  capacity_ = geometry::capacity_for_depth(params_.arity, params_.max_depth);
  meta_extensions_ = meta.extensions;
  data_version_ = meta.version;
  leaf_index_ = db::leaf_index(meta);
  params_.leaf_policy = leaf_index_.policy;
  if (exact_ && requested_.leaf_policy != leaf_index_.policy)
    throw Error(Errc::parameter_mismatch, "leaf policy " + std::string(to_string(requested_.leaf_policy)) +
                                              " requested but " + dir_ + " has leaf policy " +
                                              std::string(to_string(leaf_index_.policy)));

  // The logs first: a reader then has them even if a checkpoint removes
  // them while it loads the data files (which are never rewritten).
  const std::vector<LogFile> logs = read_logs(meta);
  // The identity: meta's (version 3). A database from before it adopts
  // the one its logs already carry (a rotation by this version that its
  // meta does not name yet), or a new one; the next checkpoint stores it.
  db_id_ = meta.db_id;
  if (db_id_ == DbId{}) {
    for (const LogFile& log : logs)
      if (log.bytes.size() >= kWalHeaderBytesV2 && (log.bytes[8] == 2 || log.bytes[8] == 3) && log.bytes[56] == kRoleLog) {
        std::memcpy(db_id_.data(), log.bytes.data() + 40, db_id_.size());
        break;
      }
    if (db_id_ == DbId{} && !config_.read_only) db_id_ = random_db_id();
  }
  load_checkpoint(meta);
  TreeOptions options = config_.tree;
  options.leaf_secret = leaf_index_.secret;
  if (config_.verify_on_open) verify(meta);
  // The index: the stored table with the leaves after it added, or rebuilt
  // from the leaves (a reader may go without it).
  const LeafPolicy policy = config_.read_only && !config_.leaf_index ? LeafPolicy::none : leaf_index_.policy;
  stored_index_ = leaf_index_.policy == LeafPolicy::none ? std::nullopt : db::stored_index(meta);
  std::shared_ptr<rotortree::detail::LeafTable> stored = policy == LeafPolicy::none ? nullptr : load_stored_index(meta, options);
  link_.build(keepalive(), meta.size, params_.node_hash, policy, options, stored, stored ? stored_index_->valid : 0);
  checkpoint_seq_ = meta.last_seq;
  checkpoint_size_ = meta.size;
  checkpoint_unix_ms_ = meta.unix_ms;
  replay(meta, logs);
  link_.share();
  if (pending_rewind_checkpoint_) {  // finish the rewind the last process logged
    pending_rewind_checkpoint_ = false;
    link_.with_writer([&] { write_checkpoint(*link_.snapshot(), recovered_seq_, wal_->rotate()); });
    checkpoint_seq_ = recovered_seq_;
  }
}

// Creation writes the first log (header only, synced with its directory
// entry), then meta: a meta always names a log that exists. It removes
// nothing: a directory holding database files but no meta is refused
// (its meta was lost; creating over it would discard the files), except
// what an interrupted creation leaves, which holds no leaves.
void DbEngine::create() {
  std::vector<std::string> found;
  for (const std::string& name : env_->list(dir_)) {
    if (!is_database_file_name(name)) continue;
    std::uint64_t id;
    const bool wal = parse_wal_name(name, id);
    if (!(wal && id == 1 && log_holds_no_leaves(path(name))) && !(name == kMetaTmpName && meta_tmp_is_new(path(name))))
      found.push_back(name);
  }
  if (!found.empty()) {
    std::string list;
    for (std::size_t i = 0; i < found.size() && i < 4; ++i) list += (i ? ", " : "") + found[i];
    if (found.size() > 4) list += ", ...";
    throw Error(Errc::corruption, "corrupted " + dir_ + ": " + path(kMetaName) +
                                      " is missing but the directory holds database files (" + list +
                                      "); restore meta from a backup. A new database is never created over them");
  }
  WalHeader header_fields;
  header_fields.params = params_;
  header_fields.file_id = 1;
  header_fields.first_seq = 1;
  header_fields.db_id = random_db_id();
  {
    const auto header = encode_wal_header(header_fields);
    auto log = env_->open(path(wal_name(1)), OpenMode::create_truncate);
    log->write_at(0, header);
    log->sync();
    env_->sync_dir(dir_);
  }
  Meta meta;
  meta.params = params_;
  meta.db_id = header_fields.db_id;
  meta.unix_ms = 0;
  if (params_.leaf_policy != LeafPolicy::none)
    set_leaf_index(meta, {params_.leaf_policy, config_.tree.leaf_secret.value_or(random_leaf_secret())});
  detail::write_atomically(*env_, dir_, kMetaName, encode_meta(meta));
}

// What an interrupted creation leaves: the first log with no frame (cut
// in or after its header) ...
bool DbEngine::log_holds_no_leaves(const std::string& file) {
  const auto bytes = read_whole_file(*env_, file);
  try {
    const WalScan scan = scan_wal(bytes, file, params_, 1);
    return scan.header_torn || (scan.batches.empty() && !scan.torn);
  } catch (const Error&) {
    return false;
  }
}
// ... and a meta.tmp of an empty database (or cut while written).
bool DbEngine::meta_tmp_is_new(const std::string& file) {
  const auto bytes = read_whole_file(*env_, file);
  try {
    const Meta meta = decode_meta(bytes, file);
    return meta.size == 0 && meta.last_seq == 0 && meta.wal_id == 1;
  } catch (const Error&) {
    return bytes.size() < 108;  // a record cut short, not a damaged complete one
  }
}

/// The log files from `meta`'s first one on, in order, read whole. A writer
/// also removes what a checkpoint made redundant or left behind when it
/// crashed before its meta: earlier logs, meta.tmp, index files meta does
/// not name.
std::vector<DbEngine::LogFile> DbEngine::read_logs(const Meta& meta) {
  const std::optional<StoredIndexRecord> named_index = db::stored_index(meta);
  std::vector<std::uint64_t> ids, checkpointed;
  for (const std::string& name : env_->list(dir_)) {
    std::uint64_t id;
    if (parse_index_name(name, id)) {
      if (!config_.read_only && !(named_index && named_index->file_id == id)) env_->remove(path(name));
      continue;
    }
    if (!parse_wal_name(name, id)) continue;
    (id < meta.wal_id ? checkpointed : ids).push_back(id);
  }
  if (!config_.read_only) {
    detail::retire_logs(*env_, dir_, checkpointed, config_.recycle_log);
    if (!config_.recycle_log && env_->exists(path(kSpareLogName))) env_->remove(path(kSpareLogName));
    if (env_->exists(path(kMetaTmpName))) env_->remove(path(kMetaTmpName));
  }
  std::sort(ids.begin(), ids.end());
  std::vector<LogFile> logs;
  for (std::uint64_t id : ids) logs.push_back({id, read_whole_file(*env_, path(wal_name(id)))});
  return logs;
}

void DbEngine::replay(const Meta& meta, const std::vector<LogFile>& logs) {
  std::uint64_t expected = meta.last_seq + 1;
  std::uint64_t append_id = 0, append_bytes = 0;
  std::uint32_t append_version = kFormatVersion;
  // A rewind below the checkpoint is the last record when the process
  // stopped before writing the checkpoint that follows it (see rewind).
  bool rewound_below_checkpoint = false;
  // The log meta names was created with its header and synced (file and
  // directory) before meta was written: its absence is damage, never an
  // empty log (the leaves acknowledged in it would vanish without a word).
  if (logs.empty() || logs.front().id != meta.wal_id)
    throw Error(Errc::corruption, "log file " + path(wal_name(meta.wal_id)) + " named by " + path(kMetaName) +
                                      " is missing" +
                                      (logs.empty() ? std::string() : " (found " + path(wal_name(logs.front().id)) + ")"));
  for (std::size_t k = 0; k < logs.size(); ++k) {
    const std::uint64_t id = logs[k].id;
    const std::string file = path(wal_name(id));
    const bool last = k + 1 == logs.size();
    if (id != meta.wal_id + k)
      throw Error(Errc::corruption, "log file " + path(wal_name(meta.wal_id + k)) + " is missing (found " + file + ")");
    // A reader beside a writer: one direct write in flight to a recycled
    // log may show a later block before an earlier one (the file's size
    // does not hide it), read as damage. Read it twice more before believing it.
    std::vector<std::uint8_t> reread;
    std::span<const std::uint8_t> bytes = logs[k].bytes;
    const WalScan scan = [&] {
      for (int attempt = 1;; ++attempt) {
        try {
          return scan_wal(bytes, file, params_, expected);
        } catch (const Error& e) {
          if (!config_.read_only || !last || attempt == 3 || e.code() != Errc::corruption || !is_recycled_log(bytes)) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          reread = read_whole_file(*env_, file);
          bytes = reread;
        }
      }
    }();
    if (!scan.header_torn) {
      // Tied to this database: a log of another one (or one without an
      // identity beside a meta that has one) is refused by name.
      if (scan.header.version >= 2 && scan.header.db_id != db_id_)
        throw Error(Errc::corruption, "corrupted " + file + " at byte offset 40: the log belongs to another database (identity " +
                                          to_hex(scan.header.db_id) + ", this database's is " + to_hex(db_id_) + ")");
      if (scan.header.version < 2 && meta.version >= 3)
        throw Error(Errc::corruption, "corrupted " + file + " at byte offset 8: a version-1 log (no database identity) beside a version-" +
                                          std::to_string(meta.version) + " " + path(kMetaName));
    }
    if (scan.header_torn) {
      // Only a log created by a rotation that meta does not name yet can
      // have been cut while its header was written.
      if (!last || k == 0)
        throw Error(Errc::corruption, "corrupted " + file + " at byte offset 0: truncated header (" +
                                          std::to_string(bytes.size()) + " bytes" +
                                          (k == 0 ? ", and " + path(kMetaName) + " names this log" : std::string()) + ")");
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
      if (batch.type == kRecordRewind) {
        if (batch.rewind_size > link_.size())
          throw Error(Errc::corruption, "log " + file + " rewinds a tree of " + std::to_string(link_.size()) +
                                            " leaves to " + std::to_string(batch.rewind_size));
        lower_stored_index(batch.rewind_size, link_.rewind(batch.rewind_size));
        rewound_below_checkpoint = forget_checkpointed_beyond(batch.rewind_size);
        continue;
      }
      if (batch.leaves.size() > capacity_ - link_.size())
        throw Error(Errc::corruption, "log " + file + " holds more leaves than max depth " +
                                          std::to_string(params_.max_depth) + " allows");
      try {
        link_.insert(batch.leaves, [] {});
      } catch (const DuplicateLeafError& e) {  // refused before logging when it was inserted
        throw Error(Errc::corruption, "log " + file + " repeats a leaf of this unique database: " + e.what());
      }
    }
    expected = scan.next_seq;
    if (last) {
      append_id = id;
      append_bytes = scan.valid_bytes;
      append_version = scan.header.version;
      // An unacknowledged partial write: drop it (in a recycled log, so the
      // whole frames of a batch cut short are not taken for this log's later).
      if (scan.torn && !config_.read_only) {
        auto handle = env_->open(file, OpenMode::read_write);
        handle->truncate(scan.valid_bytes);
        handle->sync();
      }
    }
  }
  recovered_seq_ = expected - 1;
  if (config_.read_only) return;
  pending_rewind_checkpoint_ = rewound_below_checkpoint;
  if (append_id != 0)
    wal_ = std::make_shared<WalWriter>(env_, dir_, params_, db_id_, append_id, expected, append_bytes, false,
                                       config_.direct_log, append_version, config_.recycle_log);
  else  // the last log was torn while being created (and removed)
    wal_ = std::make_shared<WalWriter>(env_, dir_, params_, db_id_, logs.back().id, expected, 0, true, config_.direct_log,
                                       kFormatVersion, config_.recycle_log);
}

DbInsertResult DbEngine::insert(std::span<const Node> leaves, bool single) {
  if (leaves.empty()) throw Error(Errc::empty_batch, "insert_many needs at least one leaf");
  check_writable(single ? "insert" : "insert_many");
  InsertResult inserted;
  std::uint64_t seq = 0;
  link_.with_writer([&] {
    const std::uint64_t size = link_.size();
    if (leaves.size() > capacity_ - size)
      throw Error(Errc::max_depth_exceeded, "inserting " + std::to_string(leaves.size()) + " leaves into a tree of " +
                                                std::to_string(size) + " would exceed max depth " +
                                                std::to_string(params_.max_depth));
    // The tree checks the batch (canonical leaves, unique leaves, its
    // capacity) before it logs it: a refused batch leaves no trace.
    auto log = [&] {
      seq = wal_->append(leaves);
      if (leaves.size() >= kEarlyWriteLeaves) wal_->request_flush();
    };
    try {
      inserted = link_.insert(leaves, log);
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

void DbEngine::reserve(std::uint64_t total_leaves) {
  check_writable("reserve");
  if (total_leaves > capacity_)
    throw Error(Errc::max_depth_exceeded, "cannot reserve " + std::to_string(total_leaves) +
                                              " leaves: max depth " + std::to_string(params_.max_depth) +
                                              " holds " + std::to_string(capacity_));
  link_.with_writer([&] { link_.reserve_leaves(total_leaves); });
}

DbRewindResult DbEngine::rewind(std::uint64_t size) {
  check_writable("rewind");
  std::lock_guard checkpointing(checkpoint_mutex_);  // the checkpointed-chunk counts change
  std::optional<Node> root;
  std::uint64_t seq = 0;
  link_.with_writer([&] {
    if (size > link_.size())
      throw Error(Errc::index_out_of_range, "cannot rewind a database of " + std::to_string(link_.size()) +
                                                " leaves to " + std::to_string(size));
    if (wal_->file_version() < 2) wal_->rotate();  // a version-1 log has no record types
    seq = wal_->append_rewind(size);
    try {
      root = link_.rewind(size);
      lower_stored_index(size, root);
    } catch (const std::exception&) {
      Error error(Errc::io_error, "rewind failed after logging: out of memory (reopen to replay it)");
      wal_->set_error(error);
      throw error;
    }
    if (!forget_checkpointed_beyond(size)) return;
    // Under the writer lock: nothing follows the rewind record in the log
    // until this meta names the log after it (recovery relies on that).
    try {
      write_checkpoint(*link_.snapshot(), seq, wal_->rotate());
    } catch (const Error& e) {
      wal_->set_error(e);
      throw;
    }
    checkpoint_seq_ = seq;
    checkpoint_bytes_ = logged_bytes_.load();
  });
  return {root, DurabilityToken(wal_, seq)};
}

void DbEngine::flush() {
  if (wal_) wal_->flush_all();
}

void DbEngine::checkpoint() {
  check_open("checkpoint");  // an earlier failure: checkpoint_locked says poisoned
  std::lock_guard lock(checkpoint_mutex_);
  checkpoint_locked(true);
}

void DbEngine::close() {
  if (closed_.exchange(true)) return;
  std::optional<Error> failure;
  if (wal_) {
    wal_->stop();
    try {
      if (!wal_->error()) {
        wal_->flush_all();
        if (std::holds_alternative<checkpoint::OnClose>(config_.checkpoint)) {
          std::lock_guard lock(checkpoint_mutex_);
          checkpoint_locked(true);
        }
      }
    } catch (const Error& e) {
      failure = e;
    }
  }
  lock_.reset();
  if (failure) throw *failure;
}

void DbEngine::close_quietly() noexcept {
  try {
    close();
  } catch (const Error& e) {
    warn(Error(e.code(), std::string("closing failed: ") + e.what()));
  } catch (const std::exception& e) {
    warn(Error(Errc::io_error, std::string("closing failed: ") + e.what()));
  }
}

std::optional<Error> DbEngine::background_error() const { return wal_ ? wal_->error() : std::nullopt; }

DbInfo DbEngine::info() const {
  DbInfo out;
  out.params = params_;
  detail::disk_usage(*env_, dir_, out.log_bytes, out.data_bytes);
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

/// After a rewind to `size`: the chunks of the data files beyond the
/// rewound tree's full chunks are stale (the next checkpoint writes new
/// ones at their offsets). Returns whether meta names any of them.
bool DbEngine::forget_checkpointed_beyond(std::uint64_t size) {
  bool named = false;
  const unsigned depth = geometry::depth_for_size(size, params_.arity);
  for (unsigned l = 0; l < checkpoint_chunks_.size(); ++l) {
    const std::uint64_t full = size == 0 || l > depth ? 0 : geometry::full_chunks(geometry::level_length(size, params_.arity, l), params_.arity);
    if (checkpoint_chunks_[l] > full) {
      checkpoint_chunks_[l] = full;
      chunk_crcs_[l].resize(full);
      named = true;
    }
    mapped_chunks_[l] = std::min(mapped_chunks_[l], full);
  }
  return named;
}

void DbEngine::maybe_checkpoint() {
  bool due = false;
  if (const auto* every = std::get_if<checkpoint::EveryNEntries>(&config_.checkpoint))
    due = wal_->last_seq() - checkpoint_seq_.load(std::memory_order_relaxed) >= std::max<std::uint64_t>(every->entries, 1);
  else if (const auto* memory = std::get_if<checkpoint::MemoryThreshold>(&config_.checkpoint))
    due = logged_bytes_.load(std::memory_order_relaxed) - checkpoint_bytes_.load(std::memory_order_relaxed) >= memory->bytes;
  if (!due) return;
  std::unique_lock lock(checkpoint_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is checkpointing
  try {
    checkpoint_locked(false);
  } catch (const Error&) {
    // recorded as the background error: reported to the next call
  }
}

void DbEngine::checkpoint_locked(bool requested) {
  if (auto error = wal_->error())
    throw Error(Errc::poisoned, std::string("the database refuses checkpoints after an earlier failure (reopen it): ") +
                                    error->what());
  std::unique_ptr<AnySnapshot> snap;
  std::shared_ptr<const rotortree::detail::LeafTable> index;  // the snapshot's table, if it is to be written
  std::uint64_t seq = 0, wal_id = 0, bytes = 0;
  link_.with_writer([&] {
    seq = wal_->last_seq();
    index = link_.leaf_table();
    if (index && !index_due(link_.size(), requested)) index.reset();
    // Nothing new, unless a requested checkpoint has an index to write.
    if (seq == checkpoint_seq_.load() && !(requested && index)) return;
    snap = link_.snapshot();
    bytes = logged_bytes_.load();
    wal_id = wal_->rotate();
  });
  if (wal_id == 0) return;
  try {
    write_checkpoint(*snap, seq, wal_id, index.get());
  } catch (const Error& e) {
    wal_->set_error(e);
    throw;
  }
  checkpoint_seq_ = seq;
  checkpoint_bytes_ = bytes;
  tier();
}

}  // namespace rotortree::db
