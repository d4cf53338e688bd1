// The portable arithmetic (unsigned __int128), for every x86-64 and other CPUs.
#include <array>
#include <utility>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "field.hpp"

namespace rotortree::bn254 {
namespace portable {
#include "field_impl.hpp"
}  // namespace portable

const FieldOps& portable_ops() noexcept {
  static constexpr FieldOps kOps{"portable",         &portable::add_fn,   &portable::sub_fn,
                                 &portable::mul_fn,  &portable::square_fn, &portable::pow5_fn, &portable::dot_fn,
                                 &portable::permute};
  return kOps;
}

}  // namespace rotortree::bn254
