// Hash functions and node-hash schemes.
//
// A Hasher hashes one message (`hash`) or many equal-length messages at once
// (`hash_many`); the tree only ever hashes groups of 2..16 children of 32 bytes.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "rotortree/parallel.hpp"

#include "rotortree/types.hpp"

namespace rotortree {

/// What the tree needs from a hash function with a 32-byte output.
template <class H>
concept Hasher = requires(const std::uint8_t* in, std::uint8_t* out, std::size_t n) {
  { H::id } -> std::convertible_to<HashId>;
  { H::name } -> std::convertible_to<std::string_view>;
  { H::hash(in, n, out) } noexcept;
  { H::hash_many(in, n, n, n, out) } noexcept;
};

/// BLAKE3 (official C implementation, SIMD chosen at run time).
struct Blake3 {
  static constexpr HashId id = HashId::blake3;
  static constexpr std::string_view name = "blake3";
  /// One message; messages of at most 1024 bytes (every node group) are
  /// compressed directly, without the streaming hasher state.
  static void hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) noexcept;
  /// `count` messages of `len` bytes at `data + i*stride`, digests contiguous at `out`.
  /// Whole-block single-chunk messages go through the multi-message SIMD kernel.
  static void hash_many(const std::uint8_t* data, std::size_t stride, std::size_t len,
                        std::size_t count, std::uint8_t* out) noexcept;
  /// Name of the kernel the run-time dispatch picked: "avx512", "avx2", "sse4.1", ...
  static std::string_view kernel() noexcept;

  /// The state after the first `blocks` whole 64-byte blocks of a message of
  /// at most 1024 bytes. Single inserts keep one per level: the blocks holding
  /// only final children of the edge group are compressed once, not per insert.
  struct PrefixState {
    std::uint32_t cv[8];
    std::size_t blocks = 0;
    PrefixState() noexcept;
  };
  /// Advance `state` over whole blocks [state.blocks, blocks) of `message`;
  /// `blocks` must leave at least one byte of the message after it.
  static void absorb(PrefixState& state, const std::uint8_t* message, std::size_t blocks) noexcept;
  /// Digest of the `len`-byte `message` whose first state.blocks blocks `state` covers.
  static void finish(const PrefixState& state, const std::uint8_t* message, std::size_t len,
                     std::uint8_t* out) noexcept;
};

/// Hashers that can resume a message from a cached prefix state.
template <class H>
concept PrefixHasher = Hasher<H> && requires(typename H::PrefixState& state, const std::uint8_t* in,
                                             std::uint8_t* out, std::size_t n) {
  H::absorb(state, in, n);
  H::finish(state, in, n, out);
};

/// SHA-256 through OpenSSL.
struct Sha256 {
  static constexpr HashId id = HashId::sha256;
  static constexpr std::string_view name = "sha256";
  static void hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) noexcept;
  static void hash_many(const std::uint8_t* data, std::size_t stride, std::size_t len,
                        std::size_t count, std::uint8_t* out) noexcept;
};

/// Poseidon over the BN254 scalar field, exactly as circomlib and poseidon-lite
/// (SPEC §6; docs/poseidon.md). A message of 32k bytes (1 <= k <= 16) is k
/// field elements, 32 bytes big-endian each; the digest is poseidonK of them,
/// big-endian. Elements must be canonical (< p): trees refuse other leaves
/// (Errc::invalid_leaf) and decoders other values; a message holding one, or
/// of another length, gets 32 bytes of 0xff, which is no field element.
struct Poseidon {
  static constexpr HashId id = HashId::poseidon;
  static constexpr std::string_view name = "poseidon";
  /// A parent costs about a thousand BLAKE3 parents (~5 µs against a pool
  /// hand-off of a few µs), so a level is worth splitting from a few parents
  /// on; a work unit holds two batches of the 8-lane kernel (docs/poseidon.md).
  static constexpr std::size_t parallel_threshold = 32;
  static constexpr std::size_t parallel_grain = 16;
  static void hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) noexcept;
  static void hash_many(const std::uint8_t* data, std::size_t stride, std::size_t len,
                        std::size_t count, std::uint8_t* out) noexcept;
  /// "ifma", "mulx-adx" or "portable": the kernel batches go through.
  static std::string_view kernel() noexcept;
  /// Whether `value` is a canonical field element (< p).
  static bool is_field_element(const Node& value) noexcept;
};

static_assert(Hasher<Blake3> && Hasher<Sha256> && Hasher<Poseidon>);

/// Hashers whose leaves must lie in a domain (field elements).
template <class H>
concept DomainHasher = Hasher<H> && requires(const Node& n) {
  { H::is_field_element(n) } -> std::convertible_to<bool>;
};

/// Throws Error(invalid_leaf) naming the first leaf outside H's domain.
template <Hasher H>
inline void check_leaves(const Node* leaves, std::size_t count) {
  if constexpr (DomainHasher<H>) {
    for (std::size_t i = 0; i < count; ++i)
      if (!H::is_field_element(leaves[i]))
        throw Error(Errc::invalid_leaf, "leaf " + to_hex(leaves[i]) + " (position " + std::to_string(i) +
                                            " of the batch) is not a field element: it is not below p");
  }
}

/// Throws Error(invalid_argument) for a node-hash scheme H cannot use
/// (Poseidon hashes field elements: only lean-imt applies).
template <Hasher H>
inline void check_node_hash(NodeHash scheme) {
  if constexpr (DomainHasher<H>) {
    if (scheme != NodeHash::lean_imt)
      throw Error(Errc::invalid_argument, std::string("node hash '") + std::string(to_string(scheme)) +
                                              "' does not apply to " + std::string(H::name) +
                                              " (only lean-imt)");
  }
}

/// The parallel plan's defaults for H: parents per level before a level is
/// hashed in parallel, and parents per work unit.
template <Hasher H>
constexpr std::size_t default_parallel_threshold() noexcept {
  if constexpr (requires { H::parallel_threshold; }) return H::parallel_threshold;
  else return kDefaultParallelThreshold;
}
template <Hasher H>
constexpr std::size_t default_parallel_grain() noexcept {
  if constexpr (requires { H::parallel_grain; }) return H::parallel_grain;
  else return kParallelGrain;
}

/// Hash a group of k (2..16) contiguous children into `out` under `scheme`.
template <Hasher H>
inline void hash_group(NodeHash scheme, const Node* children, unsigned k, Node& out) noexcept {
  if (scheme == NodeHash::lean_imt) {
    H::hash(children->data(), 32u * k, out.data());
    return;
  }
  std::uint8_t buffer[2 + 32 * kMaxArity];
  buffer[0] = 0x01;
  buffer[1] = static_cast<std::uint8_t>(k);
  std::memcpy(buffer + 2, children->data(), 32u * k);
  H::hash(buffer, 2 + 32u * k, out.data());
}

/// Hash `count` consecutive full groups of `arity` contiguous children into
/// `count` consecutive parents.
template <Hasher H>
inline void hash_full_groups(NodeHash scheme, unsigned arity, const Node* children,
                             std::size_t count, Node* parents) noexcept {
  if (scheme == NodeHash::lean_imt) {
    const std::size_t len = 32u * arity;
    H::hash_many(children->data(), len, len, count, parents->data());
    return;
  }
  for (std::size_t i = 0; i < count; ++i)
    hash_group<H>(scheme, children + i * arity, arity, parents[i]);
}

/// Run-time dispatch of hash_group, for code that handles any hash (verifiers, CLI).
void hash_group(HashId hash, NodeHash scheme, const Node* children, unsigned k, Node& out);
/// Run-time dispatch of hash_full_groups (the database's verification).
void hash_full_groups(HashId hash, NodeHash scheme, unsigned arity, const Node* children, std::size_t count,
                      Node* parents);

}  // namespace rotortree
