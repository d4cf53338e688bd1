// Poseidon hashing of byte messages (the library's internal entry points; the
// public face is rotortree::Poseidon in include/rotortree/hash.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "field.hpp"

namespace rotortree::poseidon {

/// The canonical little-endian limbs of permutation(state) for width t = state
/// size (kMinWidth..kMaxWidth); state values must be < p. The scalar reference
/// the multi-lane kernel is checked against.
void permute(unsigned width, Limbs* state) noexcept;

/// poseidonK of the k (1..16) 32-byte big-endian elements at `data` into `out`
/// (big-endian). An element >= p makes the digest 32 bytes of 0xff (no field
/// element): callers refuse such input before hashing.
void hash(unsigned k, const std::uint8_t* data, std::uint8_t* out) noexcept;

/// A multi-lane kernel: hashes messages [0, n) of a batch (n <= count, chosen
/// by the kernel, e.g. a multiple of its lanes) and returns n. Messages are k
/// elements at data + i*stride, digests contiguous at out. A message holding an
/// element >= p gets the 0xff digest, as on the scalar path.
using BatchKernel = std::size_t (*)(unsigned k, const std::uint8_t* data, std::size_t stride,
                                    std::size_t count, std::uint8_t* out) noexcept;

/// `count` messages of k elements at data + i*stride, digests contiguous at
/// `out`: the batch kernel (when the CPU has one) takes what it can, the
/// scalar path the rest.
void hash_many(unsigned k, const std::uint8_t* data, std::size_t stride, std::size_t count,
               std::uint8_t* out) noexcept;

/// "ifma" or the scalar field implementation's name ("mulx-adx", "portable").
std::string_view kernel() noexcept;

}  // namespace rotortree::poseidon
