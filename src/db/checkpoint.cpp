// The engine's levels in data files: loading a checkpoint (into memory or as
// mappings), verifying it, writing the next one, and tiering cold levels.
#include <algorithm>
#include <cstring>
#include <deque>

#include "db/engine.hpp"
#include "db/files.hpp"
#include "rotortree/geometry.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/parallel.hpp"

namespace rotortree::db {

std::shared_ptr<const Executor> open_executor(const TreeOptions& tree) {
  if (tree.threads == 0) return Executor::shared_default();
  if (tree.threads > 1) return std::make_shared<const Executor>(tree.threads);
  return nullptr;
}

// Chunks read into memory are checked against their CRC32C as they are
// read (cache-hot), in parallel work units: copying into fresh memory, not
// the checksum, is what costs. Mapped chunks are not read at open (that is
// the point of mapping them): verify_on_open checks those. A version-1
// record has no checksums: they are computed here and written by the next
// checkpoint.
void DbEngine::load_checkpoint(const Meta& meta) {
  if (meta.size == 0) return;
  const unsigned arity = params_.arity;
  const unsigned depth = geometry::depth_for_size(meta.size, arity);
  const bool have_crcs = !meta.chunk_crcs.empty();
  const std::shared_ptr<const Executor> executor = open_executor(config_.tree);
  for (unsigned l = 0; l <= depth; ++l) {
    const std::uint64_t length = geometry::level_length(meta.size, arity, l);
    const std::uint64_t full = geometry::full_chunks(length, arity);
    std::vector<std::uint32_t>& crcs = chunk_crcs_[l];
    crcs = have_crcs ? meta.chunk_crcs[l] : std::vector<std::uint32_t>(full);
    for (std::uint64_t first = 0; first < full; first += shard_chunks_) {
      const std::uint64_t count = std::min<std::uint64_t>(shard_chunks_, full - first);
      const std::uint64_t shard = first / shard_chunks_;
      const std::string file = path(data_name(l, shard, data_version_));
      // Every chunk is at a shard offset of its file (after its header).
      auto offset = [&](std::uint64_t c) { return data_offset(c, arity, data_version_); };
      auto handle = env_->open(file, OpenMode::read);
      if (data_version_ >= 4) {  // the file is this database's, of this level and shard
        std::vector<std::uint8_t> header(kDataHeaderBytes);
        header.resize(handle->read_at(0, header));
        check_data_header(header, file, data_header(l, shard));
      }
      if (l < config_.pin_above_level) {
        auto region = env_->map(file, offset(0), count * chunk_bytes_);
        // Mapped chunks are not read on open; the first and last of each
        // file are, so that a data file of another database (or another
        // level) is refused by name without verify_on_open.
        if (have_crcs && !config_.verify_on_open)  // verify checks every node (and names it)
          for (const std::uint64_t c : {std::uint64_t{0}, count - 1})
            if (crc32c(region->data() + c * chunk_bytes_, chunk_bytes_) != crcs[first + c])
              throw Error(Errc::corruption, "corrupted " + file + " at byte offset " + std::to_string(offset(c)) +
                                                ": checksum mismatch in chunk " + std::to_string(first + c) + " of level " +
                                                std::to_string(l) + " (a data file of another database?)");
        for (std::uint64_t c = 0; c < count; ++c) {
          const std::uint8_t* chunk = region->data() + c * chunk_bytes_;
          link_.append_mapped_chunk(l, reinterpret_cast<const Node*>(chunk));
          if (!have_crcs) crcs[first + c] = crc32c(chunk, chunk_bytes_);
        }
        owner_->maps.push_back(std::move(region));
        mapped_bytes_ += count * chunk_bytes_;
        continue;
      }
      link_.reserve(l, (first + count) * chunk_nodes_);
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
          auto* chunk = reinterpret_cast<std::uint8_t*>(link_.writable_chunk(l, first + c));
          try {
            if (handle->read_at(offset(c), {chunk, chunk_bytes_}) != chunk_bytes_)
              return fail(c, Error(Errc::corruption, "data file " + file + " is shorter than its checkpoint says (" +
                                                         std::to_string(offset(c + 1)) + " bytes needed)"));
          } catch (const Error& e) {
            return fail(c, e);
          }
          const std::uint32_t crc = crc32c(chunk, chunk_bytes_);
          if (!have_crcs)
            crcs[first + c] = crc;
          else if (crc != crcs[first + c])
            return fail(c, Error(Errc::corruption, "corrupted " + file + " at byte offset " + std::to_string(offset(c)) +
                                                       ": checksum mismatch in chunk " + std::to_string(first + c) +
                                                       " of level " + std::to_string(l)));
        }
      };
      const std::size_t read_grain = std::max<std::size_t>(1, (std::size_t{1} << 20) / chunk_bytes_);  // 1 MiB
      if (executor && count >= 4 * read_grain)
        executor->for_ranges(0, count, read_grain, read);
      else
        read(0, count);
      if (failure) throw *failure;
    }
    checkpoint_chunks_[l] = full;
    mapped_chunks_[l] = full;
    link_.reserve(l, length);
    if (!meta.tails[l].empty()) {
      // The tail starts the level's last chunk (a chunk holds whole groups).
      std::memcpy(link_.writable_chunk(l, full), meta.tails[l].data(), meta.tails[l].size() * sizeof(Node));
    }
  }
}

/// Map the pages of nodes [first, last) of `level` that are served from
/// data files (its first `mapped` nodes) by reading one byte per 64 KiB:
/// each read faults in a whole fault-around window (64 KiB by default).
/// Cheaper than MADV_POPULATE_READ, which also walks every mapped page, and
/// than faulting while hashing. Where the window is smaller, the hashing
/// faults in the rest.
void DbEngine::prefault_mapped(unsigned level, std::uint64_t first, std::uint64_t last, std::uint64_t mapped) const {
  constexpr std::uintptr_t kWindow = 64 << 10;
  last = std::min(last, mapped);
  if (first >= last) return;
  const std::uint64_t end = geometry::chunks_for(last, params_.arity);
  for (std::uint64_t c = first / chunk_nodes_; c < end;) {  // runs of chunks contiguous in one mapping
    const Node* start = link_.chunk(level, c);
    std::uint64_t next = c + 1;
    while (next < end && link_.chunk(level, next) == start + (next - c) * chunk_nodes_) ++next;
    const std::uintptr_t run_end = reinterpret_cast<std::uintptr_t>(start) + (next - c) * chunk_bytes_;
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
void DbEngine::verify(const Meta& meta) {
  if (meta.size == 0) return;
  const unsigned arity = params_.arity;
  const unsigned depth = geometry::depth_for_size(meta.size, arity);
  // Node `index` of `level`: chunks hold whole groups, so a group (and a
  // run of parents within one chunk) is contiguous.
  auto node = [&](unsigned level, std::uint64_t index) -> const Node& {
    return link_.chunk(level, index / chunk_nodes_)[index % chunk_nodes_];
  };
  auto corrupt = [&](unsigned level, std::uint64_t index, const std::string& what) {
    return Error(Errc::corruption, "checkpoint of " + dir_ + " fails verification: node " + std::to_string(index) +
                                       " of level " + std::to_string(level) + " (data file " +
                                       path(data_name(level, index / chunk_nodes_ / shard_chunks_, data_version_)) + ") " +
                                       what);
  };
  if (node(depth, 0) != meta.root)
    throw Error(Errc::corruption, "checkpoint of " + dir_ + " fails verification: the top node " + rotortree::to_hex(node(depth, 0)) +
                                      " differs from the stored root " + rotortree::to_hex(meta.root));
  const std::shared_ptr<const Executor> executor = open_executor(config_.tree);
  const NodeHash scheme = params_.node_hash;
  constexpr std::size_t kGrain = 2048;  // parents per parallel work unit
  auto mapped_nodes = [&](unsigned level) -> std::uint64_t {
    return level < config_.pin_above_level ? mapped_chunks_[level] * chunk_nodes_ : 0;
  };
  for (unsigned l = 0; l < depth; ++l) {
    const std::uint64_t length = geometry::level_length(meta.size, arity, l);
    const std::uint64_t full = geometry::full_groups(length, arity);
    // Only the leaves need mapping here: every higher level was mapped
    // as the stored parents of the level below.
    const std::uint64_t mapped_children = l == 0 ? mapped_nodes(0) : 0;
    const std::uint64_t mapped_parents = mapped_nodes(l + 1);
    std::atomic<std::uint64_t> first_bad{UINT64_MAX};
    auto check = [&](std::size_t begin, std::size_t end) {
      prefault_mapped(l, std::uint64_t{begin} * arity, std::uint64_t{end} * arity, mapped_children);
      prefault_mapped(l + 1, begin, end, mapped_parents);
      alignas(64) Node recomputed[geometry::kGroupsPerChunk];
      while (begin < end) {
        // Children from one chunk: their parents lie in one stored chunk too.
        const std::size_t run = geometry::chunk_run_end(begin, end) - begin;
        const Node* stored = &node(l + 1, begin);
        // Fetch the stored parents while hashing, not when comparing.
        for (std::size_t byte = 0; byte < run * sizeof(Node); byte += 64)
          __builtin_prefetch(reinterpret_cast<const std::uint8_t*>(stored) + byte);
        hash_full_groups(params_.hash, scheme, arity, &node(l, std::uint64_t{begin} * arity), run, recomputed);
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
    if (full * arity < length) {  // the last, partial group
      const unsigned k = static_cast<unsigned>(length - full * arity);
      Node expected = node(l, full * arity);
      if (k > 1) hash_group(params_.hash, scheme, &node(l, full * arity), k, expected);
      if (expected != node(l + 1, full)) throw corrupt(l + 1, full, "differs from its recomputed value");
    }
  }
}

void DbEngine::write_checkpoint(const AnySnapshot& snap, std::uint64_t seq, std::uint64_t wal_id,
                                const rotortree::detail::LeafTable* index) {
  const unsigned arity = params_.arity;
  const unsigned levels = link_.max_depth() + 1;
  Meta meta;
  meta.params = params_;
  meta.db_id = db_id_;
  meta.extensions = meta_extensions_;
  meta.size = snap.size();
  meta.last_seq = seq;
  meta.wal_id = wal_id;
  meta.unix_ms = detail::now_unix_ms();
  std::vector<std::uint64_t> full_after(levels, 0);
  const bool upgrade = data_version_ < kMetaVersion;
  if (meta.size > 0) {
    meta.root = *snap.root();
    std::map<std::uint64_t, std::unique_ptr<File>> files;  // key: level << 40 | shard
    std::deque<std::vector<std::uint8_t>> header_bytes;    // stable addresses for the gathered writes
    for (unsigned l = 0; l <= snap.depth(); ++l) {
      const std::uint64_t length = geometry::level_length(meta.size, arity, l);
      const std::uint64_t full = geometry::full_chunks(length, arity);
      full_after[l] = full;
      // Runs of chunks up to 2 MiB of file, one gathered write each: the
      // page cache then keeps them as large folios, which map (on reopen)
      // with one page-table entry per 2 MiB instead of one per 4 KiB.
      const std::uint64_t run_chunks = std::max<std::uint64_t>(1, (std::uint64_t{2} << 20) / chunk_bytes_);
      std::vector<std::span<const std::uint8_t>> run;
      // The checkpoint that upgrades headerless data files writes every
      // full chunk into new files (the old ones stay until meta names these).
      std::vector<std::uint32_t> crcs = upgrade ? std::vector<std::uint32_t>{} : chunk_crcs_[l];  // taken over once meta is written
      for (std::uint64_t c = upgrade ? 0 : checkpoint_chunks_[l]; c < full;) {
        const std::uint64_t shard = c / shard_chunks_;
        auto& file = files[std::uint64_t{l} << 40 | shard];
        if (!file) file = env_->open(path(data_name(l, shard)), OpenMode::create);
        const std::uint64_t stop = std::min({full, (c / run_chunks + 1) * run_chunks, (shard + 1) * shard_chunks_});
        run.clear();
        if (c % shard_chunks_ == 0) run.emplace_back(header_bytes.emplace_back(encode_data_header(data_header(l, shard))));
        for (std::uint64_t k = c; k < stop; ++k) {
          const auto* chunk = reinterpret_cast<const std::uint8_t*>(link_.chunk(l, k));
          run.emplace_back(chunk, chunk_bytes_);
          crcs.push_back(crc32c(chunk, chunk_bytes_));
        }
        file->write_gather(data_offset(c % shard_chunks_, arity) - (c % shard_chunks_ == 0 ? kDataHeaderBytes : 0), run);
        c = stop;
      }
      meta.chunk_crcs.push_back(std::move(crcs));
      std::vector<Node> tail;
      for (std::uint64_t i = full * chunk_nodes_; i < length; ++i) tail.push_back(snap.node(l, i));
      meta.tails.push_back(std::move(tail));
    }
    for (auto& [key, file] : files) file->sync();
    if (!files.empty() || index) env_->sync_dir(dir_);
  }
  // The leaf index this meta names: a new file (named after this
  // checkpoint's first log, so never one an older meta names), or the one
  // named before, valid for as many leaves as no rewind has taken back.
  std::optional<StoredIndexRecord> stored = stored_index_;
  if (index && meta.size > 0) {
    write_index_file(*index, meta.size, wal_id);
    stored = StoredIndexRecord{wal_id, meta.size, meta.root};
  }
  set_stored_index(meta, stored);
  detail::write_atomically(*env_, dir_, kMetaName, encode_meta(meta));
  stored_index_ = stored;
  data_version_ = kMetaVersion;
  // The log before wal_id is now redundant (the newest becomes the spare),
  // and so are data files without a header (an upgrade's leftovers); what
  // a failure here leaves is removed by the next checkpoint.
  try {
    std::vector<std::uint64_t> logs;
    for (const std::string& name : env_->list(dir_)) {
      std::uint64_t id;
      if (parse_wal_name(name, id) && id < wal_id)
        logs.push_back(id);
      else if (is_headerless_data_name(name) || (parse_index_name(name, id) && !(stored && stored->file_id == id)))
        env_->remove(path(name));
    }
    detail::retire_logs(*env_, dir_, logs, config_.recycle_log);
  } catch (const Error& e) {
    warn(Error(e.code(), std::string("a checkpoint could not remove a file it made redundant (the next one retries): ") +
                             e.what()));
  }
  for (unsigned l = 0; l < levels; ++l)
    checkpoint_chunks_[l] = upgrade ? full_after[l] : std::max(checkpoint_chunks_[l], full_after[l]);
  meta.chunk_crcs.resize(levels);
  chunk_crcs_ = std::move(meta.chunk_crcs);
  std::lock_guard lock(stats_mutex_);
  checkpoint_size_ = meta.size;
  checkpoint_unix_ms_ = meta.unix_ms;
}

/// Serve newly checkpointed chunks of the cold levels from mappings.
void DbEngine::tier() {
  struct Swap {
    unsigned level;
    std::uint64_t chunk;
    const Node* mapped;
  };
  std::vector<Swap> swaps;
  const unsigned levels = std::min<unsigned>(config_.pin_above_level, link_.max_depth() + 1);
  try {
    for (unsigned l = 0; l < levels; ++l) {
      std::uint64_t c = mapped_chunks_[l];
      while (c < checkpoint_chunks_[l]) {
        const std::uint64_t shard = c / shard_chunks_;
        const std::uint64_t end = std::min<std::uint64_t>(checkpoint_chunks_[l], (shard + 1) * shard_chunks_);
        auto region = env_->map(path(data_name(l, shard, data_version_)),
                                data_offset(c % shard_chunks_, params_.arity, data_version_), (end - c) * chunk_bytes_);
        for (std::uint64_t k = c; k < end; ++k)
          swaps.push_back({l, k, reinterpret_cast<const Node*>(region->data() + (k - c) * chunk_bytes_)});
        {
          std::lock_guard lock(owner_->mutex);
          owner_->maps.push_back(std::move(region));
        }
        c = end;
      }
    }
  } catch (const Error& e) {
    // Mapping is an optimisation: chunks stay in memory if it fails.
    warn(Error(e.code(), std::string("cold levels stay in memory: mapping a data file failed: ") + e.what()));
  }
  if (swaps.empty()) return;
  link_.with_writer([&] {
    auto next = std::make_shared<Epoch>();
    next->owner = owner_;
    next->chunk_bytes = chunk_bytes_;
    for (const Swap& s : swaps) {
      epoch_->retired.push_back(link_.writable_chunk(s.level, s.chunk));
      link_.replace_chunk(s.level, s.chunk, s.mapped);
      mapped_chunks_[s.level] = s.chunk + 1;
    }
    epoch_->next = next;
    epoch_ = next;
    link_.rebind(keepalive());
  });
  std::lock_guard lock(stats_mutex_);
  mapped_bytes_ += swaps.size() * chunk_bytes_;
}

}  // namespace rotortree::db
