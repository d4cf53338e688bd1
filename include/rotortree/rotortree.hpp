// rotortree: append-only N-ary Merkle trees (Lean Incremental Merkle Trees).
#pragma once

#include "rotortree/any_tree.hpp"
#include "rotortree/codec.hpp"
#include "rotortree/concurrent.hpp"
#include "rotortree/geometry.hpp"
#include "rotortree/hash.hpp"
#include "rotortree/parallel.hpp"
#include "rotortree/proof.hpp"
#include "rotortree/storage.hpp"
#include "rotortree/tree.hpp"
#include "rotortree/types.hpp"
#include "rotortree/version.hpp"
