// The 8-lane AVX-512 IFMA path of the BN254 scalar field and of Poseidon
// (internal; see docs/poseidon-ifma.md).
//
// Every function here runs the IFMA kernels and must only be called when
// available() is true; callers fall back to the scalar path otherwise. No
// intrinsics appear in this header: the kernels live in ifma.cpp under
// target attributes, so the rest of the library builds for the baseline ISA.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "poseidon/poseidon.hpp"

namespace rotortree::detail::poseidon_ifma {

/// Lanes of one kernel call: eight independent field elements / hashes.
inline constexpr std::size_t kLanes = 8;

/// A value below 2^256 as four little-endian 64-bit words (word 0 least significant).
using Words = std::array<std::uint64_t, 4>;

/// True when the CPU and the OS support AVX-512F, AVX-512VL and AVX-512 IFMA.
bool available() noexcept;

// ---- 8-lane field operations on Montgomery-domain values (R = 2^260) --------
// These exist for the tests (against GMP) and the benchmarks; they convert
// between Words and the radix-2^52 lanes around every call. Inputs must be
// below 2^256; outputs are lazily reduced, with the bounds stated.

/// out[i] ≡ a[i]·b[i]·2^-260 (mod p), out[i] < a[i]·b[i]/2^260 + p  (< 2p).
void lanes_mul(const Words* a, const Words* b, Words* out) noexcept;
/// out[i] ≡ a[i]²·2^-260 (mod p), same bound as lanes_mul.
void lanes_square(const Words* a, Words* out) noexcept;
/// out[i] = a[i] + b[i] exactly (no reduction); a + b must stay below 2^256.
void lanes_add(const Words* a, const Words* b, Words* out) noexcept;
/// out[i] = a[i] - b[i] + 2p (≡ a - b mod p): needs b[i] <= 2p and
/// a[i] + 2p < 2^256 (a[i] < 2p gives out < 4p).
void lanes_sub(const Words* a, const Words* b, Words* out) noexcept;
/// Canonical a[i] < 2^256 (any value, reduced mod p) into Montgomery form a·R mod p, out < 2p.
void lanes_to_montgomery(const Words* a, Words* out) noexcept;
/// Montgomery-form a[i] < 2^256 back to the canonical value a·R^-1 mod p (< p).
void lanes_from_montgomery(const Words* a, Words* out) noexcept;

/// Benchmark kernels: acc[i] = acc[i]·b[i]·R^-1, `rounds` times, entirely in
/// registers: one dependent chain (latency) or four independent chains on
/// acc[0..3] (throughput; acc points at 4*kLanes values).
void lanes_mul_chain(Words* acc, const Words* b, std::size_t rounds) noexcept;
void lanes_mul_chains4(Words* acc, const Words* b, std::size_t rounds) noexcept;

// ---- Poseidon on 8 lanes ------------------------------------------------------

/// The Poseidon permutation of width t (2..17) of 8 independent states:
/// element i of lane l at state[i*kLanes + l], canonical (< p) in and out.
void permute(unsigned width, Words* state) noexcept;

/// A batch's last count % 8 messages go through one 8-lane group, the unused
/// lanes idle, when there are at least this many: an 8-lane permutation costs
/// about as much as three scalar ones at the scalar path's 6 µs target
/// (measured: ~17.5 µs for 8 lanes of width 3), so fewer are left to it.
inline constexpr std::size_t kMinPaddedGroup = 3;

/// Poseidon with k (1..16) inputs of the first n messages, n returned: the
/// whole batch, or count - count % 8 when count % 8 < kMinPaddedGroup.
/// Message i is k 32-byte big-endian elements at data + i*stride, digest i
/// (big-endian) at out + 32*i. A message holding an element >= p gets 32
/// bytes of 0xff, as on the scalar path. Returns 0 for k out of range.
std::size_t hash_batch(unsigned k, const std::uint8_t* data, std::size_t stride, std::size_t count,
                       std::uint8_t* out) noexcept;

/// &hash_batch when available(), else nullptr (the scalar path hashes
/// everything): what poseidon::hash_many's kernel selection registers.
poseidon::BatchKernel batch_kernel() noexcept;

}  // namespace rotortree::detail::poseidon_ifma
