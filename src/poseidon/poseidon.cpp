#include "poseidon.hpp"

#include <cstring>

#include "ifma.hpp"
#include "rotortree/hash.hpp"

namespace rotortree::poseidon {

namespace {

// The multi-lane kernel for this CPU, chosen once at load: AVX-512 IFMA
// where the CPU has it, else nullptr (the scalar path hashes every message).
BatchKernel select_batch_kernel() noexcept { return detail::poseidon_ifma::batch_kernel(); }
const BatchKernel kBatchKernel = select_batch_kernel();

void hash_scalar(unsigned k, const std::uint8_t* data, std::uint8_t* out) noexcept {
  const bn254::MontTables& tables = bn254::mont_tables(k + 1);
  bn254::Fe state[kMaxWidth];
  state[0] = bn254::Fe{{0, 0, 0, 0}};
  for (unsigned i = 0; i < k; ++i) {
    if (!bn254::from_bytes(data + 32 * i, state[i + 1])) {
      std::memset(out, 0xff, 32);
      return;
    }
  }
  bn254::ops().permute(tables, state);
  bn254::to_bytes(state[0], out);
}

}  // namespace

void permute(unsigned width, Limbs* state) noexcept {
  bn254::Fe s[kMaxWidth];
  for (unsigned i = 0; i < width; ++i) s[i] = bn254::to_montgomery(state[i]);
  bn254::ops().permute(bn254::mont_tables(width), s);
  for (unsigned i = 0; i < width; ++i) state[i] = bn254::from_montgomery(s[i]);
}

void hash(unsigned k, const std::uint8_t* data, std::uint8_t* out) noexcept { hash_scalar(k, data, out); }

void hash_many(unsigned k, const std::uint8_t* data, std::size_t stride, std::size_t count,
               std::uint8_t* out) noexcept {
  std::size_t done = 0;
  if (kBatchKernel != nullptr) done = kBatchKernel(k, data, stride, count, out);
  for (; done < count; ++done) hash_scalar(k, data + done * stride, out + 32 * done);
}

std::string_view kernel() noexcept { return kBatchKernel != nullptr ? "ifma" : bn254::ops().name; }

}  // namespace rotortree::poseidon

namespace rotortree {

namespace {
// Messages of whole field elements only: anything else gets the 0xff digest.
bool valid_length(std::size_t len) noexcept {
  return len != 0 && len % 32 == 0 && len / 32 <= poseidon::kMaxWidth - 1;
}
}  // namespace

void Poseidon::hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) noexcept {
  if (!valid_length(len)) {
    std::memset(out, 0xff, 32);
    return;
  }
  poseidon::hash(static_cast<unsigned>(len / 32), data, out);
}

void Poseidon::hash_many(const std::uint8_t* data, std::size_t stride, std::size_t len,
                         std::size_t count, std::uint8_t* out) noexcept {
  if (!valid_length(len)) {
    std::memset(out, 0xff, 32 * count);
    return;
  }
  poseidon::hash_many(static_cast<unsigned>(len / 32), data, stride, count, out);
}

std::string_view Poseidon::kernel() noexcept { return poseidon::kernel(); }

bool Poseidon::is_field_element(const Node& value) noexcept { return bn254::is_canonical(value.data()); }

}  // namespace rotortree
