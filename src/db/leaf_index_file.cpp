// The stored leaf index (docs/leaf-index.md, *Stored with the checkpoint*;
// layout in docs/file-formats.md): written by checkpoints, loaded on open
// instead of rebuilding the table from level 0. It is derived data: any
// doubt about a file means a rebuild, never a failed or wrong open.
#include <bit>
#include <cstring>
#include <mutex>

#include "db/engine.hpp"
#include "db/coding.hpp"
#include "db/files.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/parallel.hpp"

namespace rotortree::db {
namespace {

constexpr std::uint64_t kBlockBuckets = kIndexBlockBytes / sizeof(rotortree::detail::LeafBucket);
static_assert(kIndexBlockBytes % sizeof(rotortree::detail::LeafBucket) == 0);

/// A function of the secret's keys: a table of another secret is refused.
std::uint64_t key_check(const rotortree::detail::LeafHashKeys& keys) {
  Node probe{};
  std::memcpy(probe.data(), "rotortree leaf index key check", 30);
  return rotortree::detail::leaf_hash(keys, probe);
}

/// Entries of `count` buckets (their nonzero tags), and whether one of
/// them has no overflow count (a probe always ends: see load_stored_index).
struct BlockCount {
  std::uint64_t entries = 0;
  bool zero_overflow = false;
};
BlockCount count_block(const rotortree::detail::LeafBucket* buckets, std::uint64_t count) noexcept {
  constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL, kHigh = 0x8080808080808080ULL;
  auto nonzero_bytes = [](std::uint64_t x) {
    return std::popcount(((((x & kLow7) + kLow7) | x) & kHigh));
  };
  BlockCount out;
  for (std::uint64_t b = 0; b < count; ++b) {
    const std::uint64_t w1 = buckets[b].words[1];
    out.entries += static_cast<std::uint64_t>(nonzero_bytes(buckets[b].words[0]) + nonzero_bytes(w1 & 0xffffffffULL));
    out.zero_overflow |= (w1 >> 32) == 0;
  }
  return out;
}

}  // namespace

bool DbEngine::index_due(std::uint64_t size, bool requested) const {
  const std::uint64_t valid = stored_index_ ? stored_index_->valid : 0;
  // When the leaves an open would index from level 0 pass 1/64 (requested
  // checkpoints) or 1/4 (automatic ones) of those the file holds: each
  // write of the table (~6 bytes a leaf) is amortised over many new
  // leaves, and after a requested checkpoint an open indexes at most 1.6%
  // of the tree from level 0.
  return size > valid && size - valid > valid / (requested ? 64 : 4);
}

void DbEngine::lower_stored_index(std::uint64_t size, const std::optional<Node>& root) {
  if (!stored_index_ || size >= stored_index_->valid) return;
  if (size == 0) {
    stored_index_.reset();
    return;
  }
  stored_index_->valid = size;
  stored_index_->root = *root;
}

Node DbEngine::loaded_prefix_root(std::uint64_t size) const {
  const unsigned arity = params_.arity;
  auto node = [&](unsigned level, std::uint64_t index) -> const Node& {
    return link_.chunk(level, index / chunk_nodes_)[index % chunk_nodes_];
  };
  // As Snapshot::prefix: fold the last leaf upwards with the nodes left of it.
  const unsigned depth = geometry::depth_for_size(size, arity);
  std::uint64_t index = size - 1;
  Node current = node(0, index);
  Node group[kMaxArity];
  for (unsigned l = 0; l < depth; ++l) {
    const std::uint64_t start = geometry::group_start(index, arity);
    const auto position = static_cast<unsigned>(index - start);
    if (position > 0) {
      for (unsigned j = 0; j < position; ++j) group[j] = node(l, start + j);
      group[position] = current;
      hash_group(params_.hash, params_.node_hash, group, position + 1, current);
    }
    index = geometry::parent_of(index, arity);
  }
  return current;
}

void DbEngine::write_index_file(const rotortree::detail::LeafTable& table, std::uint64_t covered, std::uint64_t id) {
  const std::string file = path(index_name(id));
  auto handle = env_->open(file, OpenMode::create_truncate);
  const std::uint64_t buckets = table.buckets(), blocks = index_blocks(buckets);
  // Staged block by block with the readers' atomic loads: the writer may
  // append meanwhile (entries of positions at or above `covered`, harmless:
  // docs/leaf-index.md); the entries counted are those of the bytes written.
  std::vector<rotortree::detail::LeafBucket> stage(kBlockBuckets);
  std::vector<std::uint8_t> crcs(4 * blocks);
  std::uint64_t entries = 0;
  for (std::uint64_t k = 0; k < blocks; ++k) {
    const std::uint64_t first = k * kBlockBuckets, count = std::min(kBlockBuckets, buckets - first);
    table.copy_buckets(first, count, stage.data());
    entries += count_block(stage.data(), count).entries;
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(stage.data()), count * 64);
    put32(crcs.data() + 4 * k, crc32c(bytes.data(), bytes.size()));
    handle->write_at(kIndexHeaderBytes + first * 64, bytes);
  }
  handle->write_at(kIndexHeaderBytes + buckets * 64, crcs);
  IndexHeader header;
  header.params = params_;
  header.params.leaf_policy = leaf_index_.policy;
  header.db_id = db_id_;
  header.buckets = buckets;
  header.entries = entries;
  header.covered = covered;
  header.key_check = key_check(table.keys());
  header.blocks_crc = crc32c(crcs.data(), crcs.size());
  handle->write_at(0, encode_index_header(header));
  handle->sync();
}

std::shared_ptr<rotortree::detail::LeafTable> DbEngine::load_stored_index(const Meta& meta, const TreeOptions& options) {
  if (!stored_index_) return nullptr;
  const StoredIndexRecord record = *stored_index_;
  const std::string file = path(index_name(record.file_id));
  try {
    // Its first `valid` leaves must be those of the loaded tree: meta's
    // record says so when this version wrote it; the root also catches a
    // rewind by a version that kept the record without knowing it.
    if (record.valid > meta.size)
      throw Error(Errc::corruption, "it is valid for " + std::to_string(record.valid) + " leaves, the checkpoint holds " +
                                        std::to_string(meta.size));
    if (loaded_prefix_root(record.valid) != record.root)
      throw Error(Errc::corruption, "the tree of its first " + std::to_string(record.valid) +
                                        " leaves has another root than when it was written");
    auto handle = env_->open(file, OpenMode::read);
    std::vector<std::uint8_t> header_bytes(kIndexHeaderBytes);
    header_bytes.resize(handle->read_at(0, header_bytes));
    const IndexHeader header = decode_index_header(header_bytes, file);
    check_params(header.params, params_, file);
    if (header.params.leaf_policy != leaf_index_.policy) throw Error(Errc::corruption, "another leaf policy");
    if (header.db_id != db_id_) throw Error(Errc::corruption, "the file belongs to another database");
    const rotortree::detail::LeafHashKeys keys = rotortree::detail::expand_leaf_secret(leaf_index_.secret);
    if (header.key_check != key_check(keys)) throw Error(Errc::corruption, "a table of another secret");
    if (header.covered < record.valid)
      throw Error(Errc::corruption, "it covers " + std::to_string(header.covered) + " leaves, meta says " +
                                        std::to_string(record.valid));
    if (handle->size() != index_file_bytes(header.buckets))
      throw Error(Errc::corruption, std::to_string(handle->size()) + " bytes, " +
                                        std::to_string(index_file_bytes(header.buckets)) + " expected");
    const std::uint64_t blocks = index_blocks(header.buckets);
    std::vector<std::uint8_t> crcs(4 * blocks);
    if (handle->read_at(kIndexHeaderBytes + header.buckets * 64, crcs) != crcs.size() ||
        crc32c(crcs.data(), crcs.size()) != header.blocks_crc)
      throw Error(Errc::corruption, "block checksums damaged");
    auto table = std::make_shared<rotortree::detail::LeafTable>(header.buckets, keys);
    rotortree::detail::LeafBucket* buckets = table->fill_buckets();
    // Read into the table in parallel work units, each block checked and
    // counted while it is cache-hot.
    std::mutex mutex;
    std::optional<Error> failure;
    BlockCount total;
    auto read = [&](std::size_t begin, std::size_t end) {
      BlockCount part;
      for (std::uint64_t k = begin; k < end; ++k) {
        const std::uint64_t first = k * kBlockBuckets, count = std::min(kBlockBuckets, header.buckets - first);
        auto* bytes = reinterpret_cast<std::uint8_t*>(buckets + first);
        std::optional<Error> error;
        try {
          if (handle->read_at(kIndexHeaderBytes + first * 64, {bytes, count * 64}) != count * 64)
            error = Error(Errc::corruption, "shorter than its header says");
          else if (crc32c(bytes, count * 64) != get32(crcs.data() + 4 * k))
            error = Error(Errc::corruption, "checksum mismatch in block " + std::to_string(k));
        } catch (const Error& e) {
          error = e;
        }
        if (error) {
          std::lock_guard lock(mutex);
          if (!failure) failure = std::move(error);
          return;
        }
        const BlockCount c = count_block(buckets + first, count);
        part.entries += c.entries;
        part.zero_overflow |= c.zero_overflow;
      }
      std::lock_guard lock(mutex);
      total.entries += part.entries;
      total.zero_overflow |= part.zero_overflow;
    };
    const std::shared_ptr<const Executor> executor = open_executor(options);
    if (executor && blocks >= 8)
      executor->for_ranges(0, blocks, 2, read);
    else
      read(0, blocks);
    if (failure) throw *failure;
    // Every probe ends at a bucket without overflow and every append finds
    // a free slot: checked, not assumed, so that no file makes them loop.
    if (total.entries != header.entries || !total.zero_overflow)
      throw Error(Errc::corruption, "its entries or overflow counts are inconsistent");
    table->set_entries(total.entries);
    return table;
  } catch (const std::exception& e) {
    warn(Error(Errc::corruption, "the stored leaf index " + file + " is not used (the index is rebuilt from the leaves): " +
                                     e.what()));
    stored_index_.reset();  // the next checkpoint writes a new one
    return nullptr;
  }
}

}  // namespace rotortree::db
