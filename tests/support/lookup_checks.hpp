// Lookups of a tree or database checked against a model of its leaves.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <span>
#include <vector>

#include "rotortree/types.hpp"

namespace rotortree::test {

/// `leaves` are exactly the leaves of `db`: each of them (and of `absent`)
/// answers index_of as its lowest index there, one at a time and batched.
template <class Db>
void expect_lookups(const Db& db, std::span<const Node> leaves, std::span<const Node> absent) {
  ASSERT_EQ(db.size(), leaves.size());
  std::map<Node, std::uint64_t> lowest;
  for (std::uint64_t i = 0; i < leaves.size(); ++i) lowest.emplace(leaves[i], i);
  std::vector<Node> queries(leaves.begin(), leaves.end());
  queries.insert(queries.end(), absent.begin(), absent.end());
  std::vector<std::optional<std::uint64_t>> batched(queries.size());
  db.index_of(queries, batched);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const auto it = lowest.find(queries[q]);
    const std::optional<std::uint64_t> want = it == lowest.end() ? std::nullopt : std::optional<std::uint64_t>(it->second);
    ASSERT_EQ(db.index_of(queries[q]), want) << "query " << q;
    ASSERT_EQ(batched[q], want) << "batched query " << q;
  }
}

}  // namespace rotortree::test
