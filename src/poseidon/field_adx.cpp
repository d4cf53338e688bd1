// The MULX/ADX arithmetic: this file is compiled with -mbmi2 -madx and only
// reached after CPUID reported both (field.cpp).
#include <array>
#include <utility>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "field.hpp"

#if !defined(__BMI2__) || !defined(__ADX__)
#error "field_adx.cpp must be compiled with -mbmi2 -madx"
#endif

namespace rotortree::bn254 {
namespace adx {
#include "field_impl.hpp"
}  // namespace adx

const FieldOps& adx_ops_table() noexcept {
  static constexpr FieldOps kOps{"mulx-adx", &adx::add_fn,    &adx::sub_fn, &adx::mul_fn,
                                 &adx::square_fn, &adx::pow5_fn, &adx::dot_fn, &adx::permute};
  return kOps;
}

}  // namespace rotortree::bn254
