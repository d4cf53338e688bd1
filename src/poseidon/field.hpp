// The BN254 scalar field (p = 0x30644e72...f0000001) in Montgomery form with
// four 64-bit limbs, and the Poseidon permutation on it. Two implementations
// of the same arithmetic: portable (unsigned __int128) and MULX/ADX, chosen
// once at load by CPUID. Values are public: nothing here is constant time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "params.hpp"

namespace rotortree::bn254 {

using poseidon::Limbs;

/// A field element a, stored as a*R mod p (R = 2^256), fully reduced (< p).
struct Fe {
  std::uint64_t limb[4];
  friend bool operator==(const Fe&, const Fe&) = default;
};

/// The Poseidon tables of every width in Montgomery form (built once at load).
struct MontTables {
  unsigned width, full_rounds, partial_rounds;
  const Fe* mds;                // width*width, row-major
  const Fe* full_constants;     // full_rounds*width
  const Fe* partial_constants;  // partial_rounds
  const Fe* pre_sparse;         // width*width, row-major
  const Fe* sparse;             // partial_rounds*(2*width-1)
};
const MontTables& mont_tables(unsigned width) noexcept;

/// One implementation of the arithmetic. Every output may alias an input.
struct FieldOps {
  const char* name;
  void (*add)(const Fe& a, const Fe& b, Fe& out) noexcept;
  void (*sub)(const Fe& a, const Fe& b, Fe& out) noexcept;
  void (*mul)(const Fe& a, const Fe& b, Fe& out) noexcept;
  void (*square)(const Fe& a, Fe& out) noexcept;
  void (*pow5)(const Fe& a, Fe& out) noexcept;
  /// out = sum_j m[j]*s[j] for j < n (1..17), reduced once per five products;
  /// `out` must not alias m or s.
  void (*dot)(const Fe* m, const Fe* s, unsigned n, Fe& out) noexcept;
  /// The Poseidon permutation of width t (optimised form) on state[0..t).
  void (*permute)(const MontTables& tables, Fe* state) noexcept;
};

const FieldOps& portable_ops() noexcept;
/// The MULX/ADX implementation, or nullptr when the CPU lacks BMI2 or ADX.
const FieldOps* adx_ops() noexcept;
/// The implementation chosen at load: MULX/ADX when available.
const FieldOps& ops() noexcept;

/// Canonical little-endian limbs (< p) to Montgomery form and back.
Fe to_montgomery(const Limbs& value) noexcept;
Limbs from_montgomery(const Fe& value) noexcept;

/// Whether 32 big-endian bytes hold a value < p.
bool is_canonical(const std::uint8_t* be32) noexcept;
/// 32 big-endian bytes to a field element; false (and `out` untouched) if the
/// value is >= p: a non-canonical encoding is refused, never reduced.
bool from_bytes(const std::uint8_t* be32, Fe& out) noexcept;
/// The canonical 32 big-endian bytes of `value`.
void to_bytes(const Fe& value, std::uint8_t* be32) noexcept;

}  // namespace rotortree::bn254
