#include "db/log_reader.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "db/coding.hpp"

namespace rotortree::db {
namespace {

/// Whether a whole frame with sound checksums, numbered `min_seq` or later,
/// starts at `offset` (its contents are checked by the scan, not here).
bool whole_frame_at(std::span<const std::uint8_t> bytes, std::uint64_t offset, std::uint64_t min_seq) {
  if (bytes.size() - offset < kFrameHeaderBytes + kFrameTrailerBytes) return false;
  const std::uint8_t* f = bytes.data() + offset;
  const std::uint32_t length = get32(f);
  if (length == 0 || length % sizeof(Node) != 0 || length > kMaxFramePayload) return false;  // most stale bytes stop here
  if (crc32c(f, 16) != get32(f + 16) || get64(f + 8) < min_seq) return false;
  if (bytes.size() - offset - kFrameHeaderBytes - kFrameTrailerBytes < length) return false;
  return crc32c(f, kFrameHeaderBytes + length) == get32(f + kFrameHeaderBytes + length);
}

}  // namespace

bool is_recycled_log(std::span<const std::uint8_t> bytes) noexcept {
  return bytes.size() >= kWalHeaderBytes && get32(bytes.data() + 8) == 3 && get64(bytes.data() + 60) > 0;
}

WalScan scan_wal(std::span<const std::uint8_t> bytes, const std::string& file, const TreeParams& params,
                 std::uint64_t expected_first_seq) {
  WalScan scan;
  // The header's length depends on its version: a file too short to say,
  // or shorter than its version's header, was cut while it was created.
  const std::uint32_t version = bytes.size() >= 12 ? get32(bytes.data() + 8) : 0;
  const std::size_t header_bytes = WalHeader::header_bytes(version);
  if (bytes.size() < header_bytes) {
    scan.header_torn = true;
    return scan;
  }
  const std::uint8_t* h = bytes.data();
  if (std::memcmp(h, kWalMagic, 8) != 0) corrupt(file, 0, "not a rotortree log (bad magic)");
  if (version < 1 || version > kFormatVersion) corrupt(file, 8, "unsupported log format version " + std::to_string(version));
  if (crc32c(h, header_bytes - 4) != get32(h + header_bytes - 4))
    corrupt(file, header_bytes - 4, "log header checksum mismatch");
  scan.header.version = version;
  scan.header.params = get_params(h + 12, file, 12);
  scan.header.file_id = get64(h + 24);
  scan.header.first_seq = get64(h + 32);
  if (version >= 2) {
    if (h[56] != kRoleLog) corrupt(file, 56, "not a log file (role " + std::to_string(h[56]) + ")");
    std::memcpy(scan.header.db_id.data(), h + 40, 16);
    if (scan.header.db_id == DbId{}) corrupt(file, 40, "log header without a database identity");
  }
  if (version >= 3) scan.header.recycled_bytes = get64(h + 60);
  check_params(scan.header.params, params, file);
  if (expected_first_seq != 0 && scan.header.first_seq != expected_first_seq)
    corrupt(file, 32, "log starts at sequence " + std::to_string(scan.header.first_seq) + ", expected " +
                          std::to_string(expected_first_seq));
  std::uint64_t offset = header_bytes;
  std::uint64_t seq = scan.header.first_seq;
  scan.valid_bytes = offset;
  scan.next_seq = seq;
  std::size_t pending = 0;  // frames of the batch in progress (the last ones listed)
  // A torn write of a directly written log: its frames landed up to a
  // sector boundary, the block padding (zeros) it was written over remains
  // after it. A frame that fails its checks where, from a sector boundary
  // inside it to the end of the file, only zeros remain is that torn tail,
  // not damage (nothing after it was ever written).
  std::size_t zeros_from = bytes.size();
  while (zeros_from > 0 && bytes[zeros_from - 1] == 0) --zeros_from;
  const std::uint64_t torn_from = (zeros_from + kTornSectorBytes - 1) / kTornSectorBytes * kTornSectorBytes;
  auto cut_inside = [&](std::uint64_t begin, std::uint64_t end) { return torn_from > begin && torn_from < end; };
  // A recycled file (version 3) holds bytes of its earlier use up to
  // recycled_bytes: there the log ends at the first place that is not the
  // next frame of this log, unless a frame of this log (numbered from the
  // header's first_seq on: sequence numbers are never reused, so the
  // earlier use's are all lower) follows it, which is damage.
  const std::uint64_t recycled_end = std::min<std::uint64_t>(scan.header.recycled_bytes, bytes.size());
  std::optional<std::uint64_t> recycled_stop;
  while (offset < bytes.size()) {
    const std::uint64_t remaining = bytes.size() - offset;
    const std::uint8_t* f = bytes.data() + offset;
    if (offset < recycled_end && !(whole_frame_at(bytes, offset, seq) && get64(f + 8) == seq)) {
      recycled_stop = offset;
      break;
    }
    // Block padding of a directly written log: nothing but zeros to the end.
    if (all_zero({f, remaining})) break;
    if (remaining < kFrameHeaderBytes) break;  // torn: checked below
    if (crc32c(f, 16) != get32(f + 16)) {
      if (cut_inside(offset, offset + kFrameHeaderBytes)) break;  // torn: checked below
      corrupt(file, offset, "frame header checksum mismatch");
    }
    const std::uint32_t length = get32(f);
    const std::uint32_t flags = get32(f + 4);
    const std::uint64_t frame_seq = get64(f + 8);
    if (length == 0 || length % sizeof(Node) != 0 || length > kMaxFramePayload)
      corrupt(file, offset, "invalid frame length " + std::to_string(length));
    const std::uint32_t type = flags >> 8 & 0xff;
    if ((flags & ~(kFrameContinued | 0xff00u)) != 0) corrupt(file, offset + 4, "unknown frame flags");
    if (version >= 2 ? type != kRecordLeaves && type != kRecordRewind : type != 0)
      corrupt(file, offset + 5, "unknown record type " + std::to_string(type));
    if (type == kRecordRewind && (length != sizeof(Node) || (flags & kFrameContinued) != 0 || pending != 0))
      corrupt(file, offset, "malformed rewind record");
    if (frame_seq != seq)
      corrupt(file, offset + 8, "sequence number " + std::to_string(frame_seq) + ", expected " + std::to_string(seq));
    const std::uint64_t total = kFrameHeaderBytes + std::uint64_t{length} + kFrameTrailerBytes;
    if (remaining < total) break;  // torn: checked below
    if (crc32c(f, kFrameHeaderBytes + length) != get32(f + kFrameHeaderBytes + length)) {
      if (cut_inside(offset, offset + total)) break;  // torn: checked below
      corrupt(file, offset, "frame checksum mismatch");
    }
    if (type == kRecordRewind) {
      const std::uint8_t* payload = f + kFrameHeaderBytes;
      if (!all_zero({payload + 8, sizeof(Node) - 8})) corrupt(file, offset + kFrameHeaderBytes + 8, "malformed rewind record");
      scan.batches.push_back({seq, {}, kRecordRewind, get64(payload)});
      offset += total;
      ++seq;
      scan.valid_bytes = offset;
      scan.next_seq = seq;
      continue;
    }
    const bool continued = (flags & kFrameContinued) != 0;
    scan.batches.push_back({seq, {reinterpret_cast<const Node*>(f + kFrameHeaderBytes), length / sizeof(Node)},
                            kRecordLeaves, 0, continued});
    ++pending;
    offset += total;
    ++seq;
    if (!continued) {
      pending = 0;
      scan.valid_bytes = offset;
      scan.next_seq = seq;
    }
  }
  if (recycled_stop) {
    for (std::uint64_t at = *recycled_stop + 8; at + kFrameHeaderBytes + kFrameTrailerBytes <= bytes.size(); at += 8)
      if (whole_frame_at(bytes, at, scan.header.first_seq))
        corrupt(file, *recycled_stop, "damaged frame: a frame of this log follows it at byte offset " + std::to_string(at));
  }
  scan.batches.resize(scan.batches.size() - pending);  // a batch cut short is not one
  if (recycled_stop) {
    // What follows the end is the earlier use's, unless it is this log's
    // own: the frames of a batch cut short, or a frame of it cut short.
    const std::uint8_t* f = bytes.data() + *recycled_stop;
    const bool cut_frame = bytes.size() - *recycled_stop >= kFrameHeaderBytes && crc32c(f, 16) == get32(f + 16) &&
                           get64(f + 8) == seq;
    scan.torn = pending > 0 || cut_frame;
  } else {
    // Anything but block padding after the last complete batch was never acknowledged.
    scan.torn = !all_zero(bytes.subspan(scan.valid_bytes));
  }
  return scan;
}

}  // namespace rotortree::db
