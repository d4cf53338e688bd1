#include "params.hpp"

namespace rotortree::poseidon {

namespace {
#include "params.inc"
}  // namespace

const Tables& tables(unsigned width) noexcept { return kTables[width - kMinWidth]; }

}  // namespace rotortree::poseidon
