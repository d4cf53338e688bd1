// Hash functions against published test vectors and against the official
// streaming BLAKE3 implementation, and the multi-message path against the
// one-message path.
#include <blake3.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "rotortree/hash.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

template <class H>
Node digest(std::string_view message) {
  Node out{};
  H::hash(reinterpret_cast<const std::uint8_t*>(message.data()), message.size(), out.data());
  return out;
}

template <class H>
Node digest(const std::vector<std::uint8_t>& message) {
  Node out{};
  H::hash(message.data(), message.size(), out.data());
  return out;
}

/// The official BLAKE3 test-vector input: byte i is i % 251.
std::vector<std::uint8_t> blake3_vector_input(std::size_t length) {
  std::vector<std::uint8_t> input(length);
  for (std::size_t i = 0; i < length; ++i) input[i] = static_cast<std::uint8_t>(i % 251);
  return input;
}

/// The official streaming BLAKE3 hasher (blake3.h), a different code path from
/// Blake3::hash, which compresses messages of up to one chunk directly.
Node official_blake3(const std::uint8_t* data, std::size_t length) {
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, data, length);
  Node out{};
  blake3_hasher_finalize(&hasher, out.data(), out.size());
  return out;
}

TEST(Blake3, EmptyAndAbcMatchPublishedDigests) {
  EXPECT_EQ(to_hex(digest<Blake3>("")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  EXPECT_EQ(to_hex(digest<Blake3>("abc")),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
}

TEST(HashFunctions, EmptyMessageMayComeAsANullPointer) {
  // An empty span or vector has data() == nullptr: hashing it must not pass
  // the null pointer on to memcpy (undefined behaviour even for 0 bytes,
  // reported by UBSan in the sanitizer build).
  Node out{};
  Blake3::hash(nullptr, 0, out.data());
  EXPECT_EQ(to_hex(out), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  Blake3::hash_many(nullptr, 0, 0, 1, out.data());
  EXPECT_EQ(to_hex(out), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  Sha256::hash(nullptr, 0, out.data());
  EXPECT_EQ(to_hex(out), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Blake3, OfficialVectorInputsMatchAnIndependentImplementation) {
  // Digests of the official test-vector inputs (byte i = i % 251), computed
  // with @noble/hashes' blake3 (tests/reference/node_modules), an independent
  // implementation. They cover every block/chunk boundary case.
  const std::pair<std::size_t, const char*> vectors[] = {
      {1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
      {63, "e9bc37a594daad83be9470df7f7b3798297c3d834ce80ba85d6e207627b7db7b"},
      {64, "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98"},
      {65, "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee"},
      {127, "d81293fda863f008c09e92fc382a81f5a0b4a1251cba1634016a0f86a6bd640d"},
      {128, "f17e570564b26578c33bb7f44643f539624b05df1a76c81f30acd548c44b45ef"},
      {129, "683aaae9f3c5ba37eaaf072aed0f9e30bac0865137bae68b1fde4ca2aebdcb12"},
      {1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
      {1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
      {1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
      {2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"},
      {2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"},
      {3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"},
      {3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"},
      {4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969"},
      {4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"},
      {5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833"},
      {8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"},
      {31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
      {102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
  };
  for (const auto& [length, hex] : vectors)
    EXPECT_EQ(to_hex(digest<Blake3>(blake3_vector_input(length))), hex) << "length " << length;
}

TEST(Blake3, EveryLengthUpToThreeChunksEqualsTheOfficialStreamingHasher) {
  const std::vector<std::uint8_t> input = blake3_vector_input(3 * 1024 + 1);
  for (std::size_t length = 0; length <= input.size(); ++length) {
    // An exact-size copy, so that AddressSanitizer sees any read past the end
    // (the empty message is tested from a null pointer separately).
    const std::vector<std::uint8_t> message(input.begin(), input.begin() + length);
    Node out{};
    Blake3::hash(length > 0 ? message.data() : input.data(), length, out.data());
    ASSERT_EQ(out, official_blake3(input.data(), length)) << "length " << length;
  }
}

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(to_hex(digest<Sha256>("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(digest<Sha256>("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(digest<Sha256>("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(to_hex(digest<Sha256>(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/// hash_many over `count` messages of `length` bytes `stride` apart equals
/// hash of each message.
template <class H>
void expect_hash_many_equals_hash(const std::vector<std::uint8_t>& buffer, std::size_t length,
                                  std::size_t stride, std::size_t count) {
  std::vector<std::uint8_t> many(32 * count + 32, 0xee);  // one guard digest past the end
  H::hash_many(buffer.data(), stride, length, count, many.data());
  for (std::size_t i = 0; i < count; ++i) {
    Node single{};
    H::hash(buffer.data() + i * stride, length, single.data());
    ASSERT_TRUE(std::equal(single.begin(), single.end(), many.begin() + 32 * i))
        << H::name << " length " << length << " stride " << stride << " count " << count
        << ": message " << i << " differs";
  }
  for (std::size_t i = 32 * count; i < many.size(); ++i)
    ASSERT_EQ(many[i], 0xee) << "hash_many wrote past its " << count << " digests";
}

TEST(Blake3, HashManyEqualsHashForEveryLengthCountAndStride) {
  // Whole-block lengths up to one chunk take the multi-message SIMD kernel;
  // counts around the kernel's degrees (4, 8, 16) and batch (64) exercise
  // every tail.
  const std::size_t counts[] = {0, 1, 2, 3, 5, 16, 17, 65};
  const std::vector<std::uint8_t> buffer = blake3_vector_input(65 * (1100 + 67));
  for (std::size_t length = 0; length <= 1100; ++length)
    for (std::size_t count : counts)
      for (std::size_t stride : {length, length + 3, length + 64}) {
        if (length % 64 != 0 && count > 5) continue;  // non-kernel lengths: one path anyway
        expect_hash_many_equals_hash<Blake3>(buffer, length, stride, count);
        if (::testing::Test::HasFatalFailure()) return;
      }
}

TEST(Sha256, HashManyEqualsHash) {
  const std::vector<std::uint8_t> buffer = blake3_vector_input(17 * 600);
  for (std::size_t length : {0, 1, 55, 56, 64, 128, 512}) {
    expect_hash_many_equals_hash<Sha256>(buffer, length, length + 7, 17);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(HashGroup, LeanImtAndTaggedHashTheBytesSpecOneDefines) {
  // SPEC §1: lean-imt hashes c_0 ‖ … ‖ c_{k-1}; tagged hashes 0x01 ‖ u8(k) ‖ c_0 ‖ ….
  const std::vector<Node> children = random_leaves(16, 7);
  for (unsigned k = 2; k <= 16; ++k) {
    std::vector<std::uint8_t> plain;
    for (unsigned i = 0; i < k; ++i) plain.insert(plain.end(), children[i].begin(), children[i].end());
    std::vector<std::uint8_t> tagged = {0x01, static_cast<std::uint8_t>(k)};
    tagged.insert(tagged.end(), plain.begin(), plain.end());
    Node out{};
    hash_group<Blake3>(NodeHash::lean_imt, children.data(), k, out);
    EXPECT_EQ(out, digest<Blake3>(plain)) << "k=" << k;
    hash_group<Blake3>(NodeHash::tagged, children.data(), k, out);
    EXPECT_EQ(out, digest<Blake3>(tagged)) << "k=" << k;
    hash_group(HashId::sha256, NodeHash::tagged, children.data(), k, out);
    EXPECT_EQ(out, digest<Sha256>(tagged)) << "k=" << k;
    hash_group(HashId::sha256, NodeHash::lean_imt, children.data(), k, out);
    EXPECT_EQ(out, digest<Sha256>(plain)) << "k=" << k;
  }
}

TEST(Hex, RoundTripsAndRejectsMalformedText) {
  const Node node = random_leaves(1, 3)[0];
  const std::string hex = to_hex(node);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(node_from_hex(hex), node);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(node_from_hex(upper), node);
  EXPECT_FALSE(node_from_hex(hex.substr(1)));
  EXPECT_FALSE(node_from_hex(hex + "0"));
  EXPECT_FALSE(node_from_hex(std::string(63, '0') + "g"));
  EXPECT_FALSE(node_from_hex(""));
}

TEST(Names, ParseAndPrintHashesAndSchemes) {
  EXPECT_EQ(parse_hash_id("blake3"), HashId::blake3);
  EXPECT_EQ(parse_hash_id("sha256"), HashId::sha256);
  EXPECT_EQ(parse_node_hash("lean-imt"), NodeHash::lean_imt);
  EXPECT_EQ(parse_node_hash("tagged"), NodeHash::tagged);
  EXPECT_EQ(to_string(HashId::sha256), "sha256");
  EXPECT_EQ(to_string(NodeHash::lean_imt), "lean-imt");
  EXPECT_ERRC(parse_hash_id("BLAKE3x"), Errc::invalid_argument);
  EXPECT_ERRC(parse_node_hash("lean_imt"), Errc::invalid_argument);
  EXPECT_EQ(to_string(Errc::max_depth_exceeded), "max_depth_exceeded");
}

}  // namespace
}  // namespace rotortree::test
