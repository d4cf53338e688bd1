// The log's reader: a scan of a log file's bytes into its complete batches
// (views of those bytes), with the torn tail told from damage.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "db/log_format.hpp"

namespace rotortree::db {

/// A frame of a complete batch found in a log: a view of its leaves in the
/// bytes scanned (a batch larger than a frame is several of these, all but
/// the last `continued`; a batch cut short is not listed at all).
struct WalBatch {
  std::uint64_t seq;  ///< of its frame
  std::span<const Node> leaves;
  std::uint8_t type = kRecordLeaves;
  std::uint64_t rewind_size = 0;  ///< kRecordRewind: the size the tree was rewound to
  bool continued = false;
};
struct WalScan {
  WalHeader header;
  bool header_torn = false;      ///< file shorter than a header: crashed while creating
  std::vector<WalBatch> batches;
  std::uint64_t valid_bytes = 0; ///< end of the last complete batch
  bool torn = false;             ///< bytes after valid_bytes (an unacknowledged partial write)
  std::uint64_t next_seq = 1;    ///< sequence number the next frame must have
};
/// Parse a log file; its batches are views of `bytes`. `expected_first_seq`
/// == 0 accepts any. A log written with direct I/O ends with zero bytes up to
/// its last block boundary; the scan stops there (end of log, not a torn
/// entry). Throws Error(corruption) for a bad header, a CRC or sequence
/// error before the end, and Error(parameter_mismatch) for a header with
/// other parameters.
/// Whether `bytes` start with the header of a recycled log (version 3,
/// recycled_bytes > 0); the header is not checked.
bool is_recycled_log(std::span<const std::uint8_t> bytes) noexcept;
WalScan scan_wal(std::span<const std::uint8_t> bytes, const std::string& file,
                 const TreeParams& params, std::uint64_t expected_first_seq);

}  // namespace rotortree::db
