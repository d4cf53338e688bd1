#include "rotortree/hash.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

extern "C" {
void rotortree_blake3_hash_small(const std::uint8_t* data, std::size_t len, std::uint8_t out[32]);
void rotortree_blake3_hash_many_blocks(const std::uint8_t* const* inputs, std::size_t count,
                                       std::size_t blocks, std::uint8_t* out);
const char* rotortree_blake3_kernel(void);
void rotortree_blake3_absorb(std::uint32_t cv[8], const std::uint8_t* message, std::size_t done,
                             std::size_t until);
void rotortree_blake3_finish(const std::uint32_t cv[8], const std::uint8_t* message,
                             std::size_t done, std::size_t len, std::uint8_t out[32]);
void rotortree_blake3_initial_cv(std::uint32_t cv[8]);
}
#include "blake3.h"

namespace rotortree {

namespace {
constexpr std::size_t kBlake3BlockLen = 64;
constexpr std::size_t kBlake3ChunkLen = 1024;
// Messages per kernel call: a multiple of every SIMD degree (16 with AVX-512).
constexpr std::size_t kHashManyBatch = 64;
}  // namespace

void Blake3::hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) noexcept {
  if (len <= kBlake3ChunkLen) {
    rotortree_blake3_hash_small(data, len, out);
    return;
  }
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, data, len);
  blake3_hasher_finalize(&hasher, out, 32);
}

void Blake3::hash_many(const std::uint8_t* data, std::size_t stride, std::size_t len,
                       std::size_t count, std::uint8_t* out) noexcept {
  // The multi-message kernel hashes whole blocks of one chunk only.
  if (len == 0 || len % kBlake3BlockLen != 0 || len > kBlake3ChunkLen) {
    for (std::size_t i = 0; i < count; ++i) hash(data + i * stride, len, out + 32 * i);
    return;
  }
  const std::uint8_t* inputs[kHashManyBatch];
  const std::size_t blocks = len / kBlake3BlockLen;
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = count - done < kHashManyBatch ? count - done : kHashManyBatch;
    for (std::size_t i = 0; i < n; ++i) inputs[i] = data + (done + i) * stride;
    rotortree_blake3_hash_many_blocks(inputs, n, blocks, out + 32 * done);
    done += n;
  }
}

std::string_view Blake3::kernel() noexcept { return rotortree_blake3_kernel(); }

namespace {
// BLAKE3's dispatch detects the CPU on first use into a plain global: detect it
// once while the library loads, before any thread can race on it.
const bool kBlake3CpuDetected = [] {
  std::uint8_t digest[32] = {};
  rotortree_blake3_hash_small(digest, 0, digest);
  return true;
}();
}  // namespace

Blake3::PrefixState::PrefixState() noexcept { rotortree_blake3_initial_cv(cv); }

void Blake3::absorb(PrefixState& state, const std::uint8_t* message, std::size_t blocks) noexcept {
  if (blocks <= state.blocks) return;
  rotortree_blake3_absorb(state.cv, message, state.blocks, blocks);
  state.blocks = blocks;
}

void Blake3::finish(const PrefixState& state, const std::uint8_t* message, std::size_t len,
                    std::uint8_t* out) noexcept {
  rotortree_blake3_finish(state.cv, message, state.blocks, len, out);
}

namespace {
// One fetched SHA-256 implementation and one context per thread: EVP_Digest
// would allocate a context on every call.
struct Sha256Context {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Sha256Context() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
};
}  // namespace

void Sha256::hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) noexcept {
  thread_local Sha256Context state;
  unsigned int out_len = 0;
  EVP_DigestInit_ex2(state.ctx, state.md, nullptr);
  EVP_DigestUpdate(state.ctx, data, len);
  EVP_DigestFinal_ex(state.ctx, out, &out_len);
}

void Sha256::hash_many(const std::uint8_t* data, std::size_t stride, std::size_t len,
                       std::size_t count, std::uint8_t* out) noexcept {
  for (std::size_t i = 0; i < count; ++i) hash(data + i * stride, len, out + 32 * i);
}

void hash_group(HashId hash, NodeHash scheme, const Node* children, unsigned k, Node& out) {
  switch (hash) {
    case HashId::blake3: return hash_group<Blake3>(scheme, children, k, out);
    case HashId::sha256: return hash_group<Sha256>(scheme, children, k, out);
    case HashId::poseidon:
      check_node_hash<Poseidon>(scheme);
      return hash_group<Poseidon>(scheme, children, k, out);
  }
  throw Error(Errc::invalid_argument, "unknown hash function");
}

void hash_full_groups(HashId hash, NodeHash scheme, unsigned arity, const Node* children, std::size_t count,
                      Node* parents) {
  switch (hash) {
    case HashId::blake3: return hash_full_groups<Blake3>(scheme, arity, children, count, parents);
    case HashId::sha256: return hash_full_groups<Sha256>(scheme, arity, children, count, parents);
    case HashId::poseidon:
      check_node_hash<Poseidon>(scheme);
      return hash_full_groups<Poseidon>(scheme, arity, children, count, parents);
  }
  throw Error(Errc::invalid_argument, "unknown hash function");
}

}  // namespace rotortree
