// The level store (rotortree/storage.hpp) on its own, against std::vector
// models: appends across chunk boundaries, chunk counts at the boundaries,
// groups inside one chunk, replaced and external (mapped) chunks, rewinds
// and what snapshots of earlier generations still read; the chunk
// directory and arena beneath it.
#include "rotortree/storage.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <vector>

namespace rotortree {
namespace {

/// A node telling where it was written: level, index and a salt.
Node value(unsigned level, std::uint64_t index, std::uint32_t salt = 0) {
  Node node{};
  std::memcpy(node.data(), &index, sizeof index);
  std::memcpy(node.data() + 8, &level, sizeof level);
  std::memcpy(node.data() + 12, &salt, sizeof salt);
  node[31] = 0xA5;
  return node;
}

/// Chunk-aligned memory standing in for a mapped data file.
struct External {
  explicit External(std::size_t bytes) : memory(static_cast<Node*>(std::aligned_alloc(4096, bytes))) {}
  ~External() { std::free(memory); }
  Node* memory;
};

template <class T>
class LevelStoreTest : public ::testing::Test {};
template <std::size_t N>
using Arity = std::integral_constant<std::size_t, N>;
using Arities = ::testing::Types<Arity<2>, Arity<3>, Arity<4>, Arity<16>>;
TYPED_TEST_SUITE(LevelStoreTest, Arities);

/// Appends `count` nodes to `level` one at a time (reserve, then write), as the tree does.
template <std::size_t N>
void append(LevelStore<N>& store, std::vector<std::vector<Node>>& model, unsigned level, std::uint64_t count,
            std::uint32_t salt = 0) {
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t index = model[level].size();
    store.reserve(level, index + 1);
    *store.writable(level, index) = value(level, index, salt);
    model[level].push_back(value(level, index, salt));
  }
}

template <std::size_t N>
void expect_matches(const LevelStore<N>& store, const std::vector<std::vector<Node>>& model) {
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  for (unsigned l = 0; l < model.size(); ++l) {
    ASSERT_EQ(store.chunks_allocated(l), (model[l].size() + kChunk - 1) / kChunk) << "level " << l;
    for (std::uint64_t i = 0; i < model[l].size(); ++i) {
      ASSERT_EQ(store.at(l, i), model[l][i]) << "level " << l << " node " << i;
      ASSERT_EQ(&store.at(l, i), store.chunk_of(l, i) + i % kChunk);  // a chunk is contiguous
    }
  }
}

TYPED_TEST(LevelStoreTest, ChunkGeometry) {
  constexpr std::size_t N = TypeParam::value;
  EXPECT_EQ(LevelStore<N>::kChunkNodes, N * 128);
  EXPECT_EQ(LevelStore<N>::kChunkBytes, N * 128 * sizeof(Node));
  EXPECT_EQ(LevelStore<N>::kChunkBytes % 4096, 0u);
  LevelStore<N> store(5);
  EXPECT_EQ(store.levels(), 5u);
  for (unsigned l = 0; l < 5; ++l) EXPECT_EQ(store.chunks_allocated(l), 0u);
  EXPECT_EQ(store.bytes_mapped(), 0u);
}

TYPED_TEST(LevelStoreTest, AppendAcrossChunkBoundariesReadsBackEveryNode) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(3);
  std::vector<std::vector<Node>> model(3);
  append(store, model, 0, 3 * kChunk + 7);
  append(store, model, 1, kChunk + 1);
  append(store, model, 2, 1);
  expect_matches(store, model);
  EXPECT_EQ(store.chunks_allocated(0), 4u);
  EXPECT_EQ(store.chunks_allocated(1), 2u);
  EXPECT_EQ(store.chunks_allocated(2), 1u);
  EXPECT_GE(store.bytes_mapped(), 7 * LevelStore<N>::kChunkBytes);
  // Rewriting a node in place (the edge of a level) changes that node only.
  *store.writable(0, kChunk) = value(0, kChunk, 9);
  model[0][kChunk] = value(0, kChunk, 9);
  expect_matches(store, model);
}

TYPED_TEST(LevelStoreTest, ReserveAtChunkBoundaries) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(1);
  store.reserve(0, 0);
  EXPECT_EQ(store.chunks_allocated(0), 0u);
  store.reserve(0, 1);
  EXPECT_EQ(store.chunks_allocated(0), 1u);
  store.reserve(0, kChunk);
  EXPECT_EQ(store.chunks_allocated(0), 1u);
  store.reserve(0, kChunk + 1);
  EXPECT_EQ(store.chunks_allocated(0), 2u);
  store.reserve(0, 5 * kChunk);
  EXPECT_EQ(store.chunks_allocated(0), 5u);
  const Node* first = store.chunk_of(0, 0);
  store.reserve(0, 3);  // never shrinks, never moves
  EXPECT_EQ(store.chunks_allocated(0), 5u);
  EXPECT_EQ(store.chunk_of(0, 0), first);
  std::set<const Node*> chunks;
  for (std::uint64_t c = 0; c < 5; ++c) {
    const Node* chunk = store.chunk_of(0, c * kChunk);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(chunk) % 4096, 0u) << "chunk " << c << " is page-aligned";
    EXPECT_EQ(store.chunk_of(0, c * kChunk + kChunk - 1), chunk);
    chunks.insert(chunk);
  }
  EXPECT_EQ(chunks.size(), 5u);
}

TYPED_TEST(LevelStoreTest, GroupsNeverStraddleChunks) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(1);
  std::vector<std::vector<Node>> model(1);
  append(store, model, 0, 3 * kChunk);
  for (std::uint64_t start = 0; start < 3 * kChunk; start += N) {
    const Node* group = store.group(0, start);
    for (std::size_t j = 0; j < N; ++j) ASSERT_EQ(group[j], model[0][start + j]) << "group " << start;
  }
}

TYPED_TEST(LevelStoreTest, ReplacedChunkIsReadInstead) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(1);
  std::vector<std::vector<Node>> model(1);
  append(store, model, 0, 2 * kChunk + 5);
  External mapped(LevelStore<N>::kChunkBytes);
  for (std::size_t i = 0; i < kChunk; ++i) {
    mapped.memory[i] = value(0, kChunk + i, 7);
    model[0][kChunk + i] = value(0, kChunk + i, 7);
  }
  store.replace_chunk(0, 1, mapped.memory);
  EXPECT_EQ(store.chunk_of(0, kChunk), mapped.memory);
  EXPECT_EQ(store.chunks_allocated(0), 3u);
  expect_matches(store, model);
}

TYPED_TEST(LevelStoreTest, ExternalChunksThenOwnChunks) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(2);
  std::vector<std::vector<Node>> model(2);
  External mapped(2 * LevelStore<N>::kChunkBytes);
  for (std::size_t i = 0; i < 2 * kChunk; ++i) {
    mapped.memory[i] = value(0, i, 3);
    model[0].push_back(value(0, i, 3));
  }
  store.append_external_chunk(0, mapped.memory);
  store.append_external_chunk(0, mapped.memory + kChunk);
  EXPECT_EQ(store.chunks_allocated(0), 2u);
  EXPECT_EQ(store.bytes_mapped(), 0u);  // the store allocated nothing
  append(store, model, 0, kChunk + 1);  // the next chunks are the store's own
  EXPECT_EQ(store.chunks_allocated(0), 4u);
  EXPECT_NE(store.chunk_of(0, 2 * kChunk), mapped.memory + 2 * kChunk);
  append(store, model, 1, 2);
  expect_matches(store, model);
}

/// Rewind `store` (and the model) to the given lengths of every level.
template <std::size_t N>
void rewind(LevelStore<N>& store, std::vector<std::vector<Node>>& model, const std::vector<std::uint64_t>& lengths) {
  std::vector<std::uint64_t> old_length, new_length;
  for (unsigned l = 0; l < model.size(); ++l) {
    old_length.push_back(model[l].size());
    new_length.push_back(lengths[l]);
    model[l].resize(lengths[l]);
  }
  store.rewind(old_length.data(), new_length.data());
}

template <std::size_t N>
void expect_generation_reads(const LevelStore<N>& store, const detail::StoreGeneration& generation,
                             const std::vector<std::vector<Node>>& model) {
  for (unsigned l = 0; l < model.size(); ++l)
    for (std::uint64_t i = 0; i < model[l].size(); ++i)
      ASSERT_EQ(store.at_as_of(generation, l, i), model[l][i]) << "level " << l << " node " << i;
}

TYPED_TEST(LevelStoreTest, RewindCutsLevelsAndOldGenerationsKeepReading) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(3);
  std::vector<std::vector<Node>> model(3);
  append(store, model, 0, 3 * kChunk + kChunk / 2);
  append(store, model, 1, kChunk + 3);
  append(store, model, 2, 4);
  const std::shared_ptr<const detail::StoreGeneration> before = store.generation();
  const std::vector<std::vector<Node>> model_before = model;

  // Cut level 0 into its second chunk, level 1 onto a chunk boundary; keep level 2.
  rewind(store, model, {kChunk + 5, kChunk, 4});
  expect_matches(store, model);
  EXPECT_EQ(store.chunks_allocated(0), 2u);
  EXPECT_EQ(store.chunks_allocated(1), 1u);
  EXPECT_NE(store.generation(), before);
  expect_generation_reads(store, *before, model_before);

  // Regrow with other values: the old generation still reads the old ones.
  append(store, model, 0, 2 * kChunk, 1);
  append(store, model, 1, 10, 1);
  expect_matches(store, model);
  expect_generation_reads(store, *before, model_before);
  expect_generation_reads(store, *store.generation(), model);

  // A second rewind: both earlier generations keep their views.
  const std::shared_ptr<const detail::StoreGeneration> middle = store.generation();
  const std::vector<std::vector<Node>> model_middle = model;
  rewind(store, model, {1, 1, 1});
  expect_matches(store, model);
  append(store, model, 0, kChunk, 2);
  expect_matches(store, model);
  expect_generation_reads(store, *middle, model_middle);
  expect_generation_reads(store, *before, model_before);

  // To nothing.
  rewind(store, model, {0, 0, 0});
  for (unsigned l = 0; l < 3; ++l) EXPECT_EQ(store.chunks_allocated(l), 0u);
  append(store, model, 0, kChunk + 1, 3);
  expect_matches(store, model);
  expect_generation_reads(store, *before, model_before);
}

TYPED_TEST(LevelStoreTest, RewindOverExternalChunksKeepsCopies) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(1);
  std::vector<std::vector<Node>> model(1);
  auto mapped = std::make_unique<External>(3 * LevelStore<N>::kChunkBytes);
  for (std::size_t c = 0; c < 3; ++c) store.append_external_chunk(0, mapped->memory + c * kChunk);
  for (std::size_t i = 0; i < 3 * kChunk; ++i) {
    mapped->memory[i] = value(0, i, 4);
    model[0].push_back(value(0, i, 4));
  }
  const std::shared_ptr<const detail::StoreGeneration> before = store.generation();
  const std::vector<std::vector<Node>> model_before = model;
  rewind(store, model, {kChunk / 2});
  expect_matches(store, model);
  EXPECT_NE(store.chunk_of(0, 0), mapped->memory);  // the new last node's chunk is a copy
  // The mapping may now be rewritten (a later checkpoint) or go: the old
  // generation reads its own copies.
  for (std::size_t i = 0; i < 3 * kChunk; ++i) mapped->memory[i] = value(0, i, 99);
  expect_generation_reads(store, *before, model_before);
  mapped.reset();
  expect_generation_reads(store, *before, model_before);
  expect_matches(store, model);
}

TYPED_TEST(LevelStoreTest, RewoundChunksAreReusedOnceNoGenerationReadsThem) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  LevelStore<N> store(1);
  std::vector<std::vector<Node>> model(1);
  append(store, model, 0, 4 * kChunk);
  const std::size_t four_chunks = store.bytes_mapped();
  // No snapshot: the chunks a rewind takes out come back at once.
  rewind(store, model, {0});
  append(store, model, 0, 4 * kChunk, 1);
  expect_matches(store, model);
  EXPECT_EQ(store.bytes_mapped(), four_chunks);
  // A rewind into a chunk copies it before the old one returns: one chunk
  // more the first time (the arena grows by a slab), none after that.
  std::size_t steady = 0;
  for (std::uint32_t cycle = 2; cycle <= 5; ++cycle) {
    rewind(store, model, {kChunk / 2});
    append(store, model, 0, 4 * kChunk - model[0].size(), cycle);
    expect_matches(store, model);
    if (cycle == 2) steady = store.bytes_mapped();
    EXPECT_EQ(store.bytes_mapped(), steady) << "cycle " << cycle;
  }
  // Rewinds to the end of a chunk (that chunk is the one copied).
  for (std::uint32_t cycle = 6; cycle <= 40; ++cycle) {
    rewind(store, model, {(cycle % 3 + 1) * kChunk});
    append(store, model, 0, 4 * kChunk - model[0].size(), cycle);
    expect_matches(store, model);
    EXPECT_EQ(store.bytes_mapped(), steady) << "cycle " << cycle;
  }
  // A held generation keeps its chunks: regrowing takes new memory, and the
  // generation still reads what it saw.
  auto before = store.generation();
  const std::vector<std::vector<Node>> model_before = model;
  rewind(store, model, {kChunk + 1});
  append(store, model, 0, 7 * kChunk, 7);
  expect_generation_reads(store, *before, model_before);
  expect_matches(store, model);
  const std::size_t peak = store.bytes_mapped();
  EXPECT_GT(peak, steady);
  // Once it goes, its chunks serve the next regrowth: no new memory.
  before.reset();
  rewind(store, model, {0});
  append(store, model, 0, 4 * kChunk + kChunk + 1, 8);
  expect_matches(store, model);
  EXPECT_EQ(store.bytes_mapped(), peak);
}

TYPED_TEST(LevelStoreTest, RandomOperationsAgainstAModel) {
  constexpr std::size_t N = TypeParam::value;
  constexpr std::size_t kChunk = LevelStore<N>::kChunkNodes;
  std::mt19937_64 rng(N);
  LevelStore<N> store(2);
  std::vector<std::vector<Node>> model(2);
  std::vector<std::pair<std::shared_ptr<const detail::StoreGeneration>, std::vector<std::vector<Node>>>> views;
  for (int step = 0; step < 60; ++step) {
    const std::uint32_t salt = static_cast<std::uint32_t>(step);
    if (rng() % 3 != 0) {
      append(store, model, 0, rng() % (2 * kChunk), salt);
      append(store, model, 1, rng() % (kChunk / 2 + 2), salt);
    } else {
      rewind(store, model, {rng() % (model[0].size() + 1), rng() % (model[1].size() + 1)});
    }
    if (rng() % 4 == 0) views.emplace_back(store.generation(), model);
    // Dropping a view returns the chunks only it could read (reused by the
    // next appends): the views left must keep reading theirs.
    if (!views.empty() && rng() % 5 == 0) views.erase(views.begin() + static_cast<std::ptrdiff_t>(rng() % views.size()));
    expect_matches(store, model);
    for (const auto& [generation, seen] : views) expect_generation_reads(store, *generation, seen);
  }
  for (const auto& [generation, seen] : views) expect_generation_reads(store, *generation, seen);
}

TEST(ChunkDirectory, EntriesAcrossSegments) {
  detail::ChunkDirectory directory;
  // Segment s holds 16 << s entries: these cross the first several segments.
  constexpr std::size_t kEntries = 16 * ((1 << 7) - 1) + 5;
  for (std::size_t c = 0; c < kEntries; ++c)
    directory.set(c, reinterpret_cast<Node*>(std::uintptr_t{4096} * (c + 1)));  // never dereferenced
  for (std::size_t c = 0; c < kEntries; ++c)
    ASSERT_EQ(directory.get(c), reinterpret_cast<Node*>(std::uintptr_t{4096} * (c + 1))) << "chunk " << c;
  directory.set(17, nullptr);
  EXPECT_EQ(directory.get(17), nullptr);
  EXPECT_EQ(directory.get(16), reinterpret_cast<Node*>(std::uintptr_t{4096} * 17));
  EXPECT_EQ(directory.get(18), reinterpret_cast<Node*>(std::uintptr_t{4096} * 19));
  // A far entry allocates only its own segment.
  detail::ChunkDirectory sparse;
  const std::size_t far = 16 * ((std::size_t{1} << 12) - 1) + 3;  // the first entry of segment 12
  sparse.set(far, reinterpret_cast<Node*>(std::uintptr_t{8192}));
  EXPECT_EQ(sparse.get(far), reinterpret_cast<Node*>(std::uintptr_t{8192}));
}

TEST(ChunkArena, ChunksAreDistinctAlignedAndWritable) {
  for (std::size_t chunk_bytes : {std::size_t{2 * 128 * 32}, std::size_t{3 * 128 * 32}, std::size_t{16 * 128 * 32}}) {
    const std::size_t in_use = memory::bytes_in_use();
    std::vector<Node*> chunks;
    {
      detail::ChunkArena arena(chunk_bytes);
      for (int i = 0; i < 300; ++i) {
        Node* chunk = arena.allocate();
        ASSERT_EQ(reinterpret_cast<std::uintptr_t>(chunk) % 4096, 0u);
        std::memset(chunk, i & 0xFF, chunk_bytes);
        chunks.push_back(chunk);
      }
      for (int i = 0; i < 300; ++i) {  // no chunk overlapped another
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(chunks[i]);
        ASSERT_EQ(bytes[0], i & 0xFF);
        ASSERT_EQ(bytes[chunk_bytes - 1], i & 0xFF);
      }
      EXPECT_GE(arena.bytes_mapped(), 300 * chunk_bytes);
      EXPECT_GE(memory::bytes_in_use(), in_use + 300 * chunk_bytes);
    }
    EXPECT_EQ(memory::bytes_in_use(), in_use);  // released with the arena
  }
}

}  // namespace
}  // namespace rotortree
