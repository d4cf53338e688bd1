// 8-lane BN254 field operations and Poseidon on AVX-512 IFMA (see ifma_field.hpp
// for the representation and bounds, docs/poseidon-ifma.md for the design).
#include "poseidon/ifma.hpp"

#include "poseidon/ifma_field.hpp"

namespace rotortree::detail::poseidon_ifma {

bool available() noexcept {
  // __builtin_cpu_supports also checks that the OS saves the AVX-512 state
  // (XCR0). The explicit init makes this safe from static initialisers
  // (poseidon.cpp picks its batch kernel at load).
  static const bool yes = (__builtin_cpu_init(), true) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512ifma");
  return yes;
}

ROTORTREE_IFMA_TARGET void lanes_mul(const Words* a, const Words* b, Words* out) noexcept {
  store(mont_mul(load(a), load(b)), out);
}
ROTORTREE_IFMA_TARGET void lanes_square(const Words* a, Words* out) noexcept {
  store(mont_square(load(a)), out);
}
ROTORTREE_IFMA_TARGET void lanes_add(const Words* a, const Words* b, Words* out) noexcept {
  store(add(load(a), load(b)), out);
}
ROTORTREE_IFMA_TARGET void lanes_sub(const Words* a, const Words* b, Words* out) noexcept {
  store(sub(load(a), load(b)), out);
}
ROTORTREE_IFMA_TARGET void lanes_to_montgomery(const Words* a, Words* out) noexcept {
  store(to_montgomery(load(a)), out);
}
ROTORTREE_IFMA_TARGET void lanes_from_montgomery(const Words* a, Words* out) noexcept {
  store(from_montgomery(load(a)), out);
}

ROTORTREE_IFMA_TARGET void lanes_mul_chain(Words* acc, const Words* b, std::size_t rounds) noexcept {
  Fe8 x = load(acc);
  const Fe8 y = load(b);
  for (std::size_t r = 0; r < rounds; ++r) x = mont_mul(x, y);
  store(x, acc);
}

ROTORTREE_IFMA_TARGET void lanes_mul_chains4(Words* acc, const Words* b, std::size_t rounds) noexcept {
  Fe8 x0 = load(acc), x1 = load(acc + kLanes), x2 = load(acc + 2 * kLanes), x3 = load(acc + 3 * kLanes);
  const Fe8 y = load(b);
  for (std::size_t r = 0; r < rounds; ++r) {
    x0 = mont_mul(x0, y);
    x1 = mont_mul(x1, y);
    x2 = mont_mul(x2, y);
    x3 = mont_mul(x3, y);
  }
  store(x0, acc);
  store(x1, acc + kLanes);
  store(x2, acc + 2 * kLanes);
  store(x3, acc + 3 * kLanes);
}

}  // namespace rotortree::detail::poseidon_ifma
