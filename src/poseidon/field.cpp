#include "field.hpp"

#include <cpuid.h>

#include <vector>

namespace rotortree::bn254 {

const FieldOps& adx_ops_table() noexcept;  // field_adx.cpp

namespace {

bool cpu_has_bmi2_adx() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  return (b & bit_BMI2) && (b & bit_ADX);
}

// R^2 mod p, to enter Montgomery form with one multiplication.
constexpr Fe kR2 = {{0x1bb8e645ae216da7u, 0x53fe3ab1e35c59e3u, 0x8c49833d53bb8085u,
                     0x0216d0b17f4e44a5u}};

bool less_than_p(const Limbs& v) noexcept {
  for (int i = 3; i >= 0; --i) {
    if (v[i] != poseidon::kModulus[i]) return v[i] < poseidon::kModulus[i];
  }
  return false;
}

Limbs limbs_from_bytes(const std::uint8_t* be32) noexcept {
  Limbs v{};
  for (int i = 0; i < 4; ++i) {
    std::uint64_t w = 0;
    for (int j = 0; j < 8; ++j) w = w << 8 | be32[(3 - i) * 8 + j];
    v[i] = w;
  }
  return v;
}

struct AllTables {
  std::vector<Fe> storage;
  MontTables widths[poseidon::kMaxWidth - poseidon::kMinWidth + 1];
  AllTables() {
    std::size_t total = 0;
    for (unsigned t = poseidon::kMinWidth; t <= poseidon::kMaxWidth; ++t) {
      const auto& d = poseidon::tables(t);
      total += 2 * t * t + d.full_rounds * t + d.partial_rounds * 2 * t;
    }
    storage.reserve(total);  // no reallocation: the pointers below stay valid
    auto convert = [&](const Limbs* values, std::size_t n) {
      const Fe* first = storage.data() + storage.size();
      for (std::size_t i = 0; i < n; ++i) storage.push_back(to_montgomery(values[i]));
      return first;
    };
    for (unsigned t = poseidon::kMinWidth; t <= poseidon::kMaxWidth; ++t) {
      const auto& d = poseidon::tables(t);
      MontTables& m = widths[t - poseidon::kMinWidth];
      m.width = t;
      m.full_rounds = d.full_rounds;
      m.partial_rounds = d.partial_rounds;
      m.mds = convert(d.mds, t * t);
      m.full_constants = convert(d.full_constants, d.full_rounds * t);
      m.partial_constants = convert(d.partial_constants, d.partial_rounds);
      m.pre_sparse = convert(d.pre_sparse, t * t);
      m.sparse = convert(d.sparse, d.partial_rounds * (2 * t - 1));
    }
  }
};

}  // namespace

const FieldOps* adx_ops() noexcept {
  static const bool available = cpu_has_bmi2_adx();
  return available ? &adx_ops_table() : nullptr;
}

const FieldOps& ops() noexcept {
  static const FieldOps& chosen = adx_ops() ? *adx_ops() : portable_ops();
  return chosen;
}

Fe to_montgomery(const Limbs& value) noexcept {
  Fe plain{{value[0], value[1], value[2], value[3]}}, out;
  portable_ops().mul(plain, kR2, out);
  return out;
}

Limbs from_montgomery(const Fe& value) noexcept {
  const Fe one{{1, 0, 0, 0}};
  Fe out;
  portable_ops().mul(value, one, out);
  return {out.limb[0], out.limb[1], out.limb[2], out.limb[3]};
}

bool is_canonical(const std::uint8_t* be32) noexcept { return less_than_p(limbs_from_bytes(be32)); }

bool from_bytes(const std::uint8_t* be32, Fe& out) noexcept {
  const Limbs v = limbs_from_bytes(be32);
  if (!less_than_p(v)) return false;
  out = to_montgomery(v);
  return true;
}

void to_bytes(const Fe& value, std::uint8_t* be32) noexcept {
  const Limbs v = from_montgomery(value);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) be32[(3 - i) * 8 + j] = static_cast<std::uint8_t>(v[i] >> (56 - 8 * j));
}

const MontTables& mont_tables(unsigned width) noexcept {
  static const AllTables all;
  return all.widths[width - poseidon::kMinWidth];
}

}  // namespace rotortree::bn254
