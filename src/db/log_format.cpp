#include "db/log_format.hpp"

#include <cstring>

#include "db/coding.hpp"

namespace rotortree::db {

std::vector<std::uint8_t> encode_wal_header(const WalHeader& header) {
  const std::size_t size = header.bytes();
  std::vector<std::uint8_t> out(size, 0);
  std::memcpy(out.data(), kWalMagic, 8);
  put32(out.data() + 8, header.version);
  put_params(out.data() + 12, header.params);
  put64(out.data() + 24, header.file_id);
  put64(out.data() + 32, header.first_seq);
  if (header.version != 1) {
    std::memcpy(out.data() + 40, header.db_id.data(), 16);
    out[56] = kRoleLog;
  }
  if (header.version >= 3) put64(out.data() + 60, header.recycled_bytes);
  put32(out.data() + size - 4, crc32c(out.data(), size - 4));
  return out;
}

void encode_frame_header(std::uint8_t* out, std::uint32_t payload_bytes, std::uint32_t flags, std::uint64_t seq) {
  put32(out, payload_bytes);
  put32(out + 4, flags);
  put64(out + 8, seq);
  put32(out + 16, crc32c(out, 16));
}

void encode_frame_trailer(std::uint8_t* out, std::uint32_t crc) { put32(out, crc); }

}  // namespace rotortree::db
