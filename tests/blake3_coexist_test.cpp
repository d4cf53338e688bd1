// librotortree carries its own BLAKE3 under prefixed names: a program that
// also links another copy of BLAKE3 under the official names (as a Rust
// component or a system libblake3 would bring) links without duplicate
// symbols, and both copies agree. This file links such a second copy.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "blake3.h"  // the second copy's official, unprefixed API
#include "rotortree/hash.hpp"

TEST(Blake3Coexist, BothCopiesLinkAndAgree) {
  std::array<std::uint8_t, 128> group{};
  for (std::size_t i = 0; i < group.size(); ++i) group[i] = static_cast<std::uint8_t>(i * 7 + 1);
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, group.data(), group.size());
  std::array<std::uint8_t, 32> official{};
  blake3_hasher_finalize(&hasher, official.data(), official.size());
  rotortree::Node ours{};
  rotortree::Blake3::hash(group.data(), group.size(), ours.data());
  EXPECT_EQ(0, std::memcmp(official.data(), ours.data(), 32));
  EXPECT_STREQ(blake3_version(), BLAKE3_VERSION_STRING);
}
