// On-disk formats of the database (docs/file-formats.md): write-ahead log
// files and the checkpoint metadata record. Parsers take hostile bytes: they
// never crash and throw Error(Errc::corruption) naming the file and offset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rotortree/geometry.hpp"
#include "rotortree/leaf_index.hpp"
#include "rotortree/types.hpp"

namespace rotortree::db {

/// CRC32C (Castagnoli), computed with ISA-L's crc32_iscsi.
std::uint32_t crc32c(const std::uint8_t* data, std::size_t length, std::uint32_t crc = 0) noexcept;

/// Throws Error(parameter_mismatch) naming the first differing field of those a file
/// header stores (the leaf policy is meta's leaf-index record: not compared here).
void check_params(const TreeParams& stored, const TreeParams& wanted, const std::string& file);

/// The identity of a database: 16 random bytes chosen at creation, stored in
/// meta and in the header of every log file. All zero: not known (a
/// database created before meta version 3, until its next checkpoint).
using DbId = std::array<std::uint8_t, 16>;
/// A fresh random identity (never all zero).
DbId random_db_id();
std::string to_hex(const DbId& id);

/// The role byte of a log header (meta and data files are told by their
/// magic / name): a file of another role is refused.
inline constexpr std::uint8_t kRoleLog = 2;
inline constexpr std::uint8_t kRoleData = 3;
/// Of the metadata record: 2 adds a CRC32C of every full chunk of the data
/// files; 3 adds the database identity and an extension area. Versions 1
/// and 2 are still read and are rewritten as 3 by the next checkpoint.
/// 4 (same layout as 3) names data files with a header (DataHeader, files
/// `data-Lll-ssssss.dat`); up to 3 they have none (`.bin`). The checkpoint
/// that upgrades a database rewrites its full chunks into the new files,
/// and removes the old ones once the new meta is written.
inline constexpr std::uint32_t kMetaVersion = 4;
// The chunks of the data files: rotortree/geometry.hpp (chunk_nodes, shard_chunks, full_chunks).

/// The checkpoint metadata record ("meta").
struct Meta {
  std::uint32_t version = kMetaVersion;  ///< as read; encode writes 3 (1 and 2 for tests of old records)
  TreeParams params;
  DbId db_id{};                       ///< zero in versions 1 and 2
  std::uint64_t size = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t wal_id = 1;          ///< first log file to replay
  std::uint64_t unix_ms = 0;         ///< when the checkpoint was taken
  Node root{};                        ///< zero for an empty tree
  /// Tail of every level 0..depth: nodes after the level's last full chunk.
  std::vector<std::vector<Node>> tails;
  /// CRC32C of every full chunk of every level 0..depth, in chunk order
  /// (encode requires it; decode leaves it empty for a version-1 record).
  std::vector<std::vector<std::uint32_t>> chunk_crcs;
  /// The extension area (version 3): tagged records for later fields, kept
  /// across checkpoints. A tag with kExtensionRequired set that a reader
  /// does not know makes it refuse the database; other unknown tags are kept.
  std::map<std::uint16_t, std::vector<std::uint8_t>> extensions;
};
inline constexpr std::uint16_t kExtensionRequired = 0x8000;
/// The leaf index (required: a reader without it would accept duplicates):
/// the policy (1 index, 2 unique), three zero bytes, the 16-byte secret.
/// Absent: policy none.
inline constexpr std::uint16_t kExtLeafIndex = kExtensionRequired | 1;
/// Tags this build understands (docs/file-formats.md).
bool known_extension(std::uint16_t tag);
struct LeafIndexRecord {
  LeafPolicy policy = LeafPolicy::none;
  LeafSecret secret{};
};
/// Store `record` in meta's extensions (policy none: no record).
void set_leaf_index(Meta& meta, const LeafIndexRecord& record);
/// The record decode_meta validated (policy none if absent).
LeafIndexRecord leaf_index(const Meta& meta);
/// The stored leaf index (optional: an older rotortree ignores it and keeps
/// it unchanged, hence the root below): the id of its file
/// (`leaf-index-NNNNNN.idx`), the leaves it is valid for — its first
/// `valid` leaves are those it indexed (a rewind below them lowers it) —
/// and the root of the tree of those leaves, compared on open.
inline constexpr std::uint16_t kExtStoredIndex = 2;
struct StoredIndexRecord {
  std::uint64_t file_id = 0;
  std::uint64_t valid = 0;
  Node root{};
};
/// Store `record` in meta's extensions (nothing: no record).
void set_stored_index(Meta& meta, const std::optional<StoredIndexRecord>& record);
/// The record, or nothing if absent or malformed (derived data: never an error).
std::optional<StoredIndexRecord> stored_index(const Meta& meta);
std::vector<std::uint8_t> encode_meta(const Meta& meta);
/// Throws Error(corruption) naming the file and offset.
Meta decode_meta(std::span<const std::uint8_t> bytes, const std::string& file);

/// The header of a data file (meta version 4): one page, so that every
/// chunk stays page-aligned for mappings. It ties the file to its database,
/// role, level and shard: a file of another database or another place is
/// refused by name. Layout in docs/file-formats.md.
inline constexpr std::size_t kDataHeaderBytes = 4096;
struct DataHeader {
  TreeParams params;
  DbId db_id{};
  unsigned level = 0;
  std::uint64_t shard = 0;
};
std::vector<std::uint8_t> encode_data_header(const DataHeader& header);
/// Throws Error(corruption) naming `file` and the offset unless `bytes` is
/// the header `expected` describes (Error(parameter_mismatch) for other parameters).
void check_data_header(std::span<const std::uint8_t> bytes, const std::string& file, const DataHeader& expected);

/// The header of a stored leaf index file (docs/file-formats.md): one page,
/// then the table's buckets (64 bytes each) in 1 MiB blocks, then a CRC32C
/// of every block.
inline constexpr std::uint8_t kRoleLeafIndex = 4;
inline constexpr std::size_t kIndexHeaderBytes = 4096;
inline constexpr std::size_t kIndexBlockBytes = std::size_t{1} << 20;
struct IndexHeader {
  TreeParams params;  ///< leaf_policy included
  DbId db_id{};
  std::uint64_t buckets = 0;
  std::uint64_t entries = 0;
  std::uint64_t covered = 0;    ///< the table indexes the first `covered` leaves
  std::uint64_t key_check = 0;  ///< leaf_index_key_check of the secret's keys
  std::uint32_t blocks_crc = 0; ///< CRC32C of the block checksums
};
inline std::uint64_t index_blocks(std::uint64_t buckets) { return (buckets * 64 + kIndexBlockBytes - 1) / kIndexBlockBytes; }
/// The whole file's length for a table of `buckets`.
inline std::uint64_t index_file_bytes(std::uint64_t buckets) {
  return kIndexHeaderBytes + buckets * 64 + 4 * index_blocks(buckets);
}
std::vector<std::uint8_t> encode_index_header(const IndexHeader& header);
/// Throws Error(corruption) naming `file` and the offset unless `bytes` is
/// a well-formed header (the engine compares its fields with its own).
IndexHeader decode_index_header(std::span<const std::uint8_t> bytes, const std::string& file);

/// File names.
std::string index_name(std::uint64_t id);
bool parse_index_name(const std::string& name, std::uint64_t& id);
std::string wal_name(std::uint64_t id);
bool parse_wal_name(const std::string& name, std::uint64_t& id);
/// The data file of `level`'s `shard` for a meta of `meta_version`.
std::string data_name(unsigned level, std::uint64_t shard, std::uint32_t meta_version = kMetaVersion);
/// Where chunk `chunk` of its shard starts in a data file of `meta_version`.
inline constexpr std::uint64_t data_offset(std::uint64_t chunk, unsigned arity, std::uint32_t meta_version = kMetaVersion) {
  return (meta_version >= 4 ? kDataHeaderBytes : 0) + chunk * geometry::chunk_bytes(arity);
}
/// Any data file (either version).
bool parse_data_name(const std::string& name);
/// A data file of the versions without a header (`.bin`).
bool is_headerless_data_name(const std::string& name);
inline constexpr const char* kMetaName = "meta";
inline constexpr const char* kMetaTmpName = "meta.tmp";
inline constexpr const char* kLockName = "LOCK";
/// A log file a checkpoint made redundant, kept to be recycled as the next
/// log: rewriting blocks a file holds is faster than writing new ones.
inline constexpr const char* kSpareLogName = "wal-spare.log";
/// A log (or the spare), data file, leaf index file or meta.tmp: what a database (or an
/// interrupted creation or checkpoint) holds besides meta and LOCK.
bool is_database_file_name(const std::string& name);

}  // namespace rotortree::db
