// Little-endian fields, the parameter block and the corruption error, shared
// by the encoders and parsers of every file (format.cpp, log_*.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include "rotortree/types.hpp"

namespace rotortree::db {

inline constexpr char kWalMagic[8] = {'R', 'T', 'R', 'E', 'E', 'W', 'A', 'L'};

inline void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void put64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint32_t get32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
inline std::uint64_t get64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

/// Throws Error(corruption) naming the file and the offset.
[[noreturn]] void corrupt(const std::string& file, std::uint64_t offset, const std::string& what);

/// The parameter block of every header: arity u32, max_depth u32, hash u8,
/// node_hash u8, u16 0. get_params refuses values out of range (corrupt).
void put_params(std::uint8_t* p, const TreeParams& params);
TreeParams get_params(const std::uint8_t* p, const std::string& file, std::uint64_t offset);

/// Nothing but zeros (the block padding of a directly written log).
inline bool all_zero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace rotortree::db
