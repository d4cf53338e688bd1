// The one place run-time parameters become template instantiations: the hash
// functions and the arities the run-time wrappers (make_tree, open_any_db)
// and the command line provide.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "rotortree/hash.hpp"
#include "rotortree/types.hpp"

namespace rotortree::detail {

inline constexpr unsigned kRuntimeArities[] = {2, 3, 4, 8, 16};

/// "2, 3, 4, 8 or 16": the arities for an error message.
inline std::string runtime_arity_list() {
  std::string list;
  for (std::size_t i = 0; i < std::size(kRuntimeArities); ++i)
    list += (i == 0 ? "" : i + 1 == std::size(kRuntimeArities) ? " or " : ", ") + std::to_string(kRuntimeArities[i]);
  return list;
}

/// fn.template operator()<H, N>() for the hasher H of `hash` and N = `arity`.
/// Throws Error(invalid_argument) for an arity outside kRuntimeArities.
template <class Fn>
auto dispatch(HashId hash, unsigned arity, Fn&& fn) {
  auto for_hash = [&]<Hasher H>() {
    using Result = decltype(fn.template operator()<H, kRuntimeArities[0]>());
    std::optional<Result> result;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((arity == kRuntimeArities[I] && (result.emplace(fn.template operator()<H, kRuntimeArities[I]>()), true)) ||
       ...);
    }(std::make_index_sequence<std::size(kRuntimeArities)>{});
    if (!result)
      throw Error(Errc::invalid_argument,
                  "unsupported arity " + std::to_string(arity) + " (expected " + runtime_arity_list() + ")");
    return std::move(*result);
  };
  switch (hash) {
    case HashId::blake3: return for_hash.template operator()<Blake3>();
    case HashId::sha256: return for_hash.template operator()<Sha256>();
    case HashId::poseidon: return for_hash.template operator()<Poseidon>();
  }
  throw Error(Errc::invalid_argument, "unknown hash function");
}

}  // namespace rotortree::detail
