// The log's format (docs/file-formats.md): its header, its frames and their
// record types. Written by log_writer.hpp, read by log_reader.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "db/format.hpp"

namespace rotortree::db {

/// Of the log: 2 adds the database identity and the file's role to the
/// header and a record type to every frame; 3 lets a file be recycled: its
/// header says how many bytes of an earlier use it may still hold
/// (`recycled_bytes`). Version-1 and -2 logs are still read (and appended
/// to in their version until the next checkpoint rotates the log).
inline constexpr std::uint32_t kFormatVersion = 3;
inline constexpr std::size_t kWalHeaderBytes = 72;       ///< version 3
inline constexpr std::size_t kWalHeaderBytesV2 = 64;     ///< version 2
inline constexpr std::size_t kWalHeaderBytesV1 = 48;     ///< version 1

/// Record types, bits 8..15 of a frame's flags. 1: leaves appended (the
/// payload is the leaves); version-1 logs have 0 there, read as leaves. A
/// reader refuses a type it does not know (corruption naming file and offset);
/// new types (e.g. a rewind record) are added here without a format break.
inline constexpr std::uint8_t kRecordLeaves = 1;
/// 2: the tree was rewound (docs/rewind.md). One frame, never continued, of
/// 32 bytes: the new size (u64) and 24 zero bytes.
inline constexpr std::uint8_t kRecordRewind = 2;
inline constexpr std::size_t kFrameHeaderBytes = 20;
inline constexpr std::size_t kFrameTrailerBytes = 4;
/// Most leaf bytes in one frame (64 MiB = 2^21 leaves); larger batches are
/// split into consecutive frames replayed all-or-nothing.
inline constexpr std::size_t kMaxFramePayload = std::size_t{64} << 20;
inline constexpr std::uint32_t kFrameContinued = 1;  ///< more frames of this batch follow
/// Devices write whole sectors of (at least) this size: a torn write ends on a boundary.
inline constexpr std::size_t kTornSectorBytes = 512;

struct WalHeader {
  TreeParams params;
  std::uint64_t file_id = 0;
  std::uint64_t first_seq = 1;
  DbId db_id{};
  /// Version 3: the file's size when it was recycled (0: a new file).
  /// Frames before this offset may be followed by bytes of its earlier use.
  std::uint64_t recycled_bytes = 0;
  std::uint32_t version = kFormatVersion;  ///< encode writes 3 (or 1 or 2, for tests of old logs)
  std::size_t bytes() const noexcept { return header_bytes(version); }
  static constexpr std::size_t header_bytes(std::uint32_t version) noexcept {
    return version == 1 ? kWalHeaderBytesV1 : version == 2 ? kWalHeaderBytesV2 : kWalHeaderBytes;
  }
};
std::vector<std::uint8_t> encode_wal_header(const WalHeader& header);
/// Frame layout: payload length u32, flags u32, sequence u64, CRC32C of those
/// 16 bytes u32; the payload; CRC32C of header and payload u32. A batch is
/// split into frames of at most kMaxFramePayload bytes.
/// `flags`: kFrameContinued | record type << 8 (version 2; 0 in version 1).
void encode_frame_header(std::uint8_t* out, std::uint32_t payload_bytes, std::uint32_t flags, std::uint64_t seq);
inline constexpr std::uint32_t frame_flags(std::uint8_t type, bool continued, std::uint32_t log_version) {
  return (log_version >= 2 ? std::uint32_t{type} << 8 : 0u) | (continued ? kFrameContinued : 0u);
}
/// The trailer: `crc` = CRC32C of the header and the payload.
void encode_frame_trailer(std::uint8_t* out, std::uint32_t crc);

}  // namespace rotortree::db
