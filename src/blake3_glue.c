/* Thin C layer over the official BLAKE3 sources: a direct single-chunk
 * compression and the multi-message kernel, without the streaming state. */
#include <string.h>

#include "blake3_impl.h"

void rotortree_blake3_finish(const uint32_t cv_in[8], const uint8_t *message, size_t done,
                             size_t len, uint8_t out[32]);

/* Messages of at most one chunk (1024 bytes): compress block by block. */
void rotortree_blake3_hash_small(const uint8_t *data, size_t len, uint8_t out[32]) {
  rotortree_blake3_finish(IV, data, 0, len, out);
}

/* `count` messages of `blocks` whole blocks each (blocks*64 <= 1024). */
void rotortree_blake3_hash_many_blocks(const uint8_t *const *inputs, size_t count,
                                       size_t blocks, uint8_t *out) {
  blake3_hash_many(inputs, count, blocks, IV, 0, false, 0, CHUNK_START,
                   CHUNK_END | ROOT, out);
}

/* Which SIMD kernel blake3_hash_many dispatches to (same feature tests, for reports). */
const char *rotortree_blake3_kernel(void) {
#if defined(IS_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
#if !defined(BLAKE3_NO_AVX512)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return "avx512";
#endif
#if !defined(BLAKE3_NO_AVX2)
  if (__builtin_cpu_supports("avx2")) return "avx2";
#endif
#if !defined(BLAKE3_NO_SSE41)
  if (__builtin_cpu_supports("sse4.1")) return "sse4.1";
#endif
  return "sse2";
#elif BLAKE3_USE_NEON == 1
  return "neon";
#else
  return "portable";
#endif
}

/* Resume a single-chunk message from the chaining value after its first
 * `done` whole blocks: absorb blocks [done, until) (never the last block). */
void rotortree_blake3_absorb(uint32_t cv[8], const uint8_t *message, size_t done, size_t until) {
  for (size_t b = done; b < until; ++b)
    blake3_compress_in_place(cv, message + b * BLAKE3_BLOCK_LEN, BLAKE3_BLOCK_LEN, 0,
                             b == 0 ? CHUNK_START : 0);
}

/* Finish a single-chunk message of `len` bytes whose first `done` blocks are in `cv_in`. */
void rotortree_blake3_finish(const uint32_t cv_in[8], const uint8_t *message, size_t done,
                             size_t len, uint8_t out[32]) {
  uint32_t cv[8];
  memcpy(cv, cv_in, sizeof cv);
  size_t offset = done * BLAKE3_BLOCK_LEN;
  for (;;) {
    size_t remaining = len - offset;
    uint8_t flags = offset == 0 ? CHUNK_START : 0;
    if (remaining <= BLAKE3_BLOCK_LEN) {
      uint8_t block[BLAKE3_BLOCK_LEN] = {0};
      if (remaining > 0) memcpy(block, message + offset, remaining); /* an empty message may be NULL */
      blake3_compress_in_place(cv, block, (uint8_t)remaining, 0, flags | CHUNK_END | ROOT);
      break;
    }
    blake3_compress_in_place(cv, message + offset, BLAKE3_BLOCK_LEN, 0, flags);
    offset += BLAKE3_BLOCK_LEN;
  }
  store_cv_words(out, cv);
}

void rotortree_blake3_initial_cv(uint32_t cv[8]) { memcpy(cv, IV, 32); }
