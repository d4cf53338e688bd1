#include "db/format.hpp"

#include "db/coding.hpp"

#include <isa-l/crc.h>

#include <algorithm>
#include <random>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace rotortree::db {
namespace {
constexpr char kMetaMagic[8] = {'R', 'T', 'R', 'E', 'E', 'M', 'T', 'A'};
}  // namespace

void corrupt(const std::string& file, std::uint64_t offset, const std::string& what) {
  throw Error(Errc::corruption, "corrupted " + file + " at byte offset " + std::to_string(offset) + ": " + what);
}

void put_params(std::uint8_t* p, const TreeParams& params) {
  put32(p, params.arity);
  put32(p + 4, params.max_depth);
  p[8] = static_cast<std::uint8_t>(params.hash);
  p[9] = static_cast<std::uint8_t>(params.node_hash);
  p[10] = p[11] = 0;
}
TreeParams get_params(const std::uint8_t* p, const std::string& file, std::uint64_t offset) {
  TreeParams params;
  params.arity = get32(p);
  params.max_depth = get32(p + 4);
  if (params.arity < kMinArity || params.arity > kMaxArity) corrupt(file, offset, "arity out of range");
  if (params.max_depth < 1 || params.max_depth >= kMaxLevels) corrupt(file, offset + 4, "max depth out of range");
  if (p[8] != 1 && p[8] != 2 && p[8] != 3) corrupt(file, offset + 8, "unknown hash id");
  if (p[9] != 1 && p[9] != 2) corrupt(file, offset + 9, "unknown node-hash id");
  params.hash = static_cast<HashId>(p[8]);
  params.node_hash = static_cast<NodeHash>(p[9]);
  return params;
}

std::uint32_t crc32c(const std::uint8_t* data, std::size_t length, std::uint32_t crc) noexcept {
  // crc32_iscsi takes and returns the register without final inversion.
  std::uint32_t state = ~crc;
  while (length > 0) {
    const int n = static_cast<int>(std::min<std::size_t>(length, std::size_t{1} << 30));
    state = crc32_iscsi(const_cast<unsigned char*>(data), n, state);
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return ~state;
}

void check_params(const TreeParams& stored, const TreeParams& wanted, const std::string& file) {
  auto fail = [&](const std::string& field, const std::string& have, const std::string& want) {
    throw Error(Errc::parameter_mismatch, "parameter mismatch in " + file + ": " + field + " is " + have +
                                              " in the database, " + want + " requested");
  };
  if (stored.arity != wanted.arity) fail("arity", std::to_string(stored.arity), std::to_string(wanted.arity));
  if (stored.max_depth != wanted.max_depth)
    fail("max depth", std::to_string(stored.max_depth), std::to_string(wanted.max_depth));
  if (stored.hash != wanted.hash)
    fail("hash", std::string(to_string(stored.hash)), std::string(to_string(wanted.hash)));
  if (stored.node_hash != wanted.node_hash)
    fail("node hash", std::string(to_string(stored.node_hash)), std::string(to_string(wanted.node_hash)));
}

DbId random_db_id() {
  std::random_device device;
  DbId id{};
  do {
    for (std::size_t i = 0; i < id.size(); i += 4) {
      const std::uint32_t word = device();
      std::memcpy(id.data() + i, &word, 4);
    }
  } while (id == DbId{});
  return id;
}

std::string to_hex(const DbId& id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : id) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

bool known_extension(std::uint16_t tag) { return tag == kExtLeafIndex; }

namespace {
constexpr std::size_t kLeafIndexRecordBytes = 4 + sizeof(LeafSecret);

// Throws Error(corruption) at `offset` of `file` for anything but a record of
// policy index or unique.
LeafIndexRecord decode_leaf_index(std::span<const std::uint8_t> value, const std::string& file, std::size_t offset) {
  if (value.size() != kLeafIndexRecordBytes)
    corrupt(file, offset, "leaf index record of " + std::to_string(value.size()) + " bytes");
  if (value[0] != static_cast<std::uint8_t>(LeafPolicy::index) && value[0] != static_cast<std::uint8_t>(LeafPolicy::unique))
    corrupt(file, offset, "leaf index record with unknown policy " + std::to_string(value[0]));
  if (value[1] != 0 || value[2] != 0 || value[3] != 0) corrupt(file, offset, "leaf index record with nonzero reserved bytes");
  LeafIndexRecord record;
  record.policy = static_cast<LeafPolicy>(value[0]);
  std::memcpy(record.secret.data(), value.data() + 4, record.secret.size());
  return record;
}
}  // namespace

void set_leaf_index(Meta& meta, const LeafIndexRecord& record) {
  if (record.policy == LeafPolicy::none) {
    meta.extensions.erase(kExtLeafIndex);
    return;
  }
  std::vector<std::uint8_t> value(kLeafIndexRecordBytes, 0);
  value[0] = static_cast<std::uint8_t>(record.policy);
  std::memcpy(value.data() + 4, record.secret.data(), record.secret.size());
  meta.extensions[kExtLeafIndex] = std::move(value);
}

LeafIndexRecord leaf_index(const Meta& meta) {
  const auto it = meta.extensions.find(kExtLeafIndex);
  if (it == meta.extensions.end()) return {};
  return decode_leaf_index(it->second, "meta", 0);
}

namespace {
constexpr std::size_t kStoredIndexRecordBytes = 48;
}  // namespace

void set_stored_index(Meta& meta, const std::optional<StoredIndexRecord>& record) {
  if (!record) {
    meta.extensions.erase(kExtStoredIndex);
    return;
  }
  std::vector<std::uint8_t> value(kStoredIndexRecordBytes, 0);
  put64(value.data(), record->file_id);
  put64(value.data() + 8, record->valid);
  std::memcpy(value.data() + 16, record->root.data(), 32);
  meta.extensions[kExtStoredIndex] = std::move(value);
}

std::optional<StoredIndexRecord> stored_index(const Meta& meta) {
  const auto it = meta.extensions.find(kExtStoredIndex);
  if (it == meta.extensions.end() || it->second.size() != kStoredIndexRecordBytes) return std::nullopt;
  StoredIndexRecord record;
  record.file_id = get64(it->second.data());
  record.valid = get64(it->second.data() + 8);
  std::memcpy(record.root.data(), it->second.data() + 16, 32);
  if (record.file_id == 0 || record.valid == 0) return std::nullopt;
  return record;
}

std::vector<std::uint8_t> encode_meta(const Meta& meta) {
  std::size_t tail_nodes = 0, chunks = 0;
  for (const auto& t : meta.tails) tail_nodes += t.size();
  if (meta.version != 1 && meta.chunk_crcs.size() != meta.tails.size())
    throw Error(Errc::invalid_argument, "metadata record: chunk checksums for " + std::to_string(meta.chunk_crcs.size()) +
                                            " levels, tails for " + std::to_string(meta.tails.size()));
  for (unsigned l = 0; meta.version != 1 && l < meta.chunk_crcs.size(); ++l) {
    if (meta.chunk_crcs[l].size() != geometry::full_chunks(geometry::level_length(meta.size, meta.params.arity, l), meta.params.arity))
      throw Error(Errc::invalid_argument, "metadata record: wrong chunk checksum count for level " + std::to_string(l));
    chunks += meta.chunk_crcs[l].size();
  }
  const std::uint32_t version = meta.version >= 1 && meta.version < kMetaVersion ? meta.version : kMetaVersion;
  if (version == 1) chunks = 0;
  std::size_t extension_bytes = 0;
  if (version >= 3)
    for (const auto& [tag, value] : meta.extensions) extension_bytes += 8 + value.size();
  const std::size_t fixed = version >= 3 ? 124 : 104;
  std::vector<std::uint8_t> out(fixed + extension_bytes + tail_nodes * 32 + chunks * 4 + 4, 0);
  std::uint8_t* p = out.data();
  std::memcpy(p, kMetaMagic, 8);
  put32(p + 8, version);
  put_params(p + 12, meta.params);
  put64(p + 24, meta.size);
  put64(p + 32, meta.last_seq);
  put64(p + 40, meta.wal_id);
  put64(p + 48, meta.unix_ms);
  put32(p + 56, static_cast<std::uint32_t>(meta.tails.size()));
  put32(p + 60, static_cast<std::uint32_t>(geometry::chunk_nodes(meta.params.arity)));
  put32(p + 64, static_cast<std::uint32_t>(geometry::shard_chunks(meta.params.arity)));
  put32(p + 68, 0);
  std::memcpy(p + 72, meta.root.data(), 32);
  std::size_t at = 104;
  if (version >= 3) {
    std::memcpy(p + 104, meta.db_id.data(), 16);
    put32(p + 120, static_cast<std::uint32_t>(extension_bytes));
    at = 124;
    for (const auto& [tag, value] : meta.extensions) {
      p[at] = static_cast<std::uint8_t>(tag);
      p[at + 1] = static_cast<std::uint8_t>(tag >> 8);
      p[at + 2] = p[at + 3] = 0;
      put32(p + at + 4, static_cast<std::uint32_t>(value.size()));
      if (!value.empty()) std::memcpy(p + at + 8, value.data(), value.size());
      at += 8 + value.size();
    }
  }
  for (const auto& t : meta.tails) {
    if (!t.empty()) std::memcpy(p + at, t.data(), t.size() * 32);
    at += t.size() * 32;
  }
  if (version >= 2)
  for (const auto& level : meta.chunk_crcs)
    for (std::uint32_t crc : level) {
      put32(p + at, crc);
      at += 4;
    }
  put32(p + at, crc32c(p, at));
  return out;
}

Meta decode_meta(std::span<const std::uint8_t> bytes, const std::string& file) {
  if (bytes.size() < 108) corrupt(file, bytes.size(), "metadata record truncated");
  const std::uint8_t* p = bytes.data();
  if (std::memcmp(p, kMetaMagic, 8) != 0) corrupt(file, 0, "not a rotortree checkpoint (bad magic)");
  const std::size_t body = bytes.size() - 4;
  if (crc32c(p, body) != get32(p + body)) corrupt(file, body, "metadata checksum mismatch");
  const std::uint32_t version = get32(p + 8);
  if (version < 1 || version > kMetaVersion) corrupt(file, 8, "unsupported checkpoint format version " + std::to_string(version));
  Meta meta;
  meta.version = version;
  meta.params = get_params(p + 12, file, 12);
  meta.size = get64(p + 24);
  meta.last_seq = get64(p + 32);
  meta.wal_id = get64(p + 40);
  meta.unix_ms = get64(p + 48);
  const std::uint32_t levels = get32(p + 56);
  const unsigned arity = meta.params.arity;
  if (get32(p + 60) != geometry::chunk_nodes(arity) || get32(p + 64) != geometry::shard_chunks(arity))
    corrupt(file, 60, "chunk geometry does not match the arity");
  if (meta.size > geometry::capacity_for_depth(arity, meta.params.max_depth)) corrupt(file, 24, "size exceeds capacity");
  const unsigned depth = geometry::depth_for_size(meta.size, arity);
  if (levels != (meta.size == 0 ? 0u : depth + 1)) corrupt(file, 56, "level count does not match the size");
  if (meta.wal_id == 0) corrupt(file, 40, "log id 0");
  std::memcpy(meta.root.data(), p + 72, 32);
  std::size_t at = 104;
  if (version >= 3) {
    if (body < 124) corrupt(file, 104, "metadata record truncated in its identity");
    std::memcpy(meta.db_id.data(), p + 104, 16);
    if (meta.db_id == DbId{}) corrupt(file, 104, "metadata record without a database identity");
    const std::uint64_t extension_bytes = get32(p + 120);
    at = 124;
    if (extension_bytes > body - at) corrupt(file, 120, "extension area longer than the record");
    const std::size_t end = at + static_cast<std::size_t>(extension_bytes);
    while (at < end) {
      if (end - at < 8) corrupt(file, at, "extension record truncated");
      const std::uint16_t tag = static_cast<std::uint16_t>(p[at] | p[at + 1] << 8);
      const std::uint32_t length = get32(p + at + 4);
      if (p[at + 2] != 0 || p[at + 3] != 0) corrupt(file, at + 2, "extension record with nonzero reserved bytes");
      if (length > end - at - 8) corrupt(file, at + 4, "extension record longer than the extension area");
      if ((tag & kExtensionRequired) && !known_extension(tag))
        corrupt(file, at, "required extension " + std::to_string(tag) + " unknown to this version of rotortree");
      if (!meta.extensions.emplace(tag, std::vector<std::uint8_t>(p + at + 8, p + at + 8 + length)).second)
        corrupt(file, at, "duplicate extension " + std::to_string(tag));
      if (tag == kExtLeafIndex) decode_leaf_index(std::span<const std::uint8_t>(p + at + 8, length), file, at + 8);
      at += 8 + length;
    }
  }
  for (unsigned l = 0; l < levels; ++l) {
    const std::uint64_t length = geometry::level_length(meta.size, arity, l);
    const std::uint64_t tail = length - geometry::full_chunks(length, arity) * geometry::chunk_nodes(arity);
    if (at + tail * 32 > body) corrupt(file, at, "metadata record truncated in the tail of level " + std::to_string(l));
    meta.tails.emplace_back(tail);
    if (tail > 0) std::memcpy(meta.tails.back().data(), p + at, tail * 32);
    at += tail * 32;
  }
  if (version >= 2) {
    for (unsigned l = 0; l < levels; ++l) {
      const std::uint64_t chunks = geometry::full_chunks(geometry::level_length(meta.size, arity, l), arity);
      if (chunks > (body - at) / 4)
        corrupt(file, at, "metadata record truncated in the chunk checksums of level " + std::to_string(l));
      auto& crcs = meta.chunk_crcs.emplace_back(chunks);
      for (auto& crc : crcs) {
        crc = get32(p + at);
        at += 4;
      }
    }
  }
  if (at != body) corrupt(file, at, "trailing bytes in the metadata record");
  if (levels > 0 && meta.tails[depth][0] != meta.root) corrupt(file, 72, "root differs from the top level");
  return meta;
}

std::string wal_name(std::uint64_t id) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "wal-%06llu.log", static_cast<unsigned long long>(id));
  return buffer;
}
namespace {
/// `name` is PREFIX + 1..18 decimal digits + SUFFIX; the digits go to `id`.
bool parse_numbered_name(const std::string& name, std::string_view prefix, std::string_view suffix,
                         std::uint64_t& id) {
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string_view digits(name.data() + prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18) return false;
  id = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    id = id * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}
}  // namespace

bool parse_wal_name(const std::string& name, std::uint64_t& id) { return parse_numbered_name(name, "wal-", ".log", id); }
std::string data_name(unsigned level, std::uint64_t shard, std::uint32_t meta_version) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "data-L%02u-%06llu.%s", level, static_cast<unsigned long long>(shard),
                meta_version >= 4 ? "dat" : "bin");
  return buffer;
}
std::string index_name(std::uint64_t id) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "leaf-index-%06llu.idx", static_cast<unsigned long long>(id));
  return buffer;
}
bool parse_index_name(const std::string& name, std::uint64_t& id) {
  return parse_numbered_name(name, "leaf-index-", ".idx", id);
}
bool parse_data_name(const std::string& name) { return name.compare(0, 6, "data-L") == 0; }
bool is_database_file_name(const std::string& name) {
  std::uint64_t id;
  return parse_wal_name(name, id) || name == kSpareLogName || parse_data_name(name) || parse_index_name(name, id) ||
         name == kMetaTmpName;
}
bool is_headerless_data_name(const std::string& name) {
  return parse_data_name(name) && name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0;
}

namespace {
constexpr char kDataMagic[9] = "RTREEDAT";
constexpr std::uint32_t kDataVersion = 1;
constexpr char kIndexMagic[9] = "RTREEIDX";
constexpr std::uint32_t kIndexVersion = 1;

/// What data files and leaf index files share: a 4096-byte header holding
/// magic (0), version (8), parameters (12), database identity (24) and role
/// (40), its CRC32C in the last 4 bytes.
struct FileKind {
  const char* magic;
  std::uint32_t version;
  std::uint8_t role;
  const char* noun;  // in errors: "data file", "leaf index file"
};
constexpr FileKind kDataFile{kDataMagic, kDataVersion, kRoleData, "data file"};
constexpr FileKind kIndexFile{kIndexMagic, kIndexVersion, kRoleLeafIndex, "leaf index file"};
static_assert(kDataHeaderBytes == kIndexHeaderBytes);
constexpr std::size_t kHeaderBytes = kDataHeaderBytes;

std::vector<std::uint8_t> encode_file_header(const FileKind& kind, const TreeParams& params, const DbId& db_id) {
  std::vector<std::uint8_t> out(kHeaderBytes, 0);
  std::memcpy(out.data(), kind.magic, 8);
  put32(out.data() + 8, kind.version);
  put_params(out.data() + 12, params);
  std::memcpy(out.data() + 24, db_id.data(), 16);
  out[40] = kind.role;
  return out;
}
void seal_file_header(std::vector<std::uint8_t>& out) {
  put32(out.data() + kHeaderBytes - 4, crc32c(out.data(), kHeaderBytes - 4));
}

/// Checks size, magic, checksum, version and role; returns the parameters
/// (without checking them) and puts the identity in `db_id`.
TreeParams decode_file_header(const FileKind& kind, std::span<const std::uint8_t> bytes, const std::string& file,
                              DbId& db_id) {
  const std::string noun = kind.noun;
  if (bytes.size() < kHeaderBytes) corrupt(file, bytes.size(), noun + " shorter than its header");
  const std::uint8_t* h = bytes.data();
  if (std::memcmp(h, kind.magic, 8) != 0) corrupt(file, 0, "not a rotortree " + noun + " (bad magic)");
  if (crc32c(h, kHeaderBytes - 4) != get32(h + kHeaderBytes - 4))
    corrupt(file, kHeaderBytes - 4, noun + " header checksum mismatch");
  if (get32(h + 8) != kind.version) corrupt(file, 8, "unsupported " + noun + " version " + std::to_string(get32(h + 8)));
  if (h[40] != kind.role) corrupt(file, 40, "not a " + noun + " (role " + std::to_string(h[40]) + ")");
  std::memcpy(db_id.data(), h + 24, 16);
  return get_params(h + 12, file, 12);
}
}  // namespace

std::vector<std::uint8_t> encode_data_header(const DataHeader& header) {
  std::vector<std::uint8_t> out = encode_file_header(kDataFile, header.params, header.db_id);
  put32(out.data() + 44, header.level);
  put64(out.data() + 48, header.shard);
  seal_file_header(out);
  return out;
}

void check_data_header(std::span<const std::uint8_t> bytes, const std::string& file, const DataHeader& expected) {
  DbId id;
  check_params(decode_file_header(kDataFile, bytes, file, id), expected.params, file);
  if (id != expected.db_id)
    corrupt(file, 24, "the data file belongs to another database (identity " + to_hex(id) + ", this database's is " +
                          to_hex(expected.db_id) + ")");
  const std::uint8_t* h = bytes.data();
  const std::uint32_t level = get32(h + 44);
  const std::uint64_t shard = get64(h + 48);
  if (level != expected.level || shard != expected.shard)
    corrupt(file, 44, "the file holds shard " + std::to_string(shard) + " of level " + std::to_string(level) +
                          ", not shard " + std::to_string(expected.shard) + " of level " + std::to_string(expected.level));
}

std::vector<std::uint8_t> encode_index_header(const IndexHeader& header) {
  std::vector<std::uint8_t> out = encode_file_header(kIndexFile, header.params, header.db_id);
  std::uint8_t* h = out.data();
  h[41] = static_cast<std::uint8_t>(header.params.leaf_policy);
  put32(h + 44, 64);
  put64(h + 48, header.buckets);
  put64(h + 56, header.entries);
  put64(h + 64, header.covered);
  put64(h + 72, header.key_check);
  put32(h + 80, static_cast<std::uint32_t>(kIndexBlockBytes));
  put32(h + 84, header.blocks_crc);
  seal_file_header(out);
  return out;
}

IndexHeader decode_index_header(std::span<const std::uint8_t> bytes, const std::string& file) {
  IndexHeader header;
  header.params = decode_file_header(kIndexFile, bytes, file, header.db_id);
  const std::uint8_t* h = bytes.data();
  if (h[41] != static_cast<std::uint8_t>(LeafPolicy::index) && h[41] != static_cast<std::uint8_t>(LeafPolicy::unique))
    corrupt(file, 41, "unknown leaf policy " + std::to_string(h[41]));
  header.params.leaf_policy = static_cast<LeafPolicy>(h[41]);
  if (h[42] != 0 || h[43] != 0) corrupt(file, 42, "nonzero reserved bytes");
  if (get32(h + 44) != 64) corrupt(file, 44, "bucket size " + std::to_string(get32(h + 44)) + " (64 expected)");
  header.buckets = get64(h + 48);
  header.entries = get64(h + 56);
  header.covered = get64(h + 64);
  header.key_check = get64(h + 72);
  if (header.buckets == 0 || header.buckets > (std::uint64_t{1} << 40)) corrupt(file, 48, "bucket count out of range");
  if (header.entries >= header.buckets * 12) corrupt(file, 56, "more entries than the table has room for");
  if (header.covered > kMaxIndexedLeaves) corrupt(file, 64, "covers more leaves than an index holds");
  if (get32(h + 80) != kIndexBlockBytes) corrupt(file, 80, "block size " + std::to_string(get32(h + 80)));
  header.blocks_crc = get32(h + 84);
  return header;
}

}  // namespace rotortree::db
