// ConcurrentLeanIMT with several writers (nested parallelism: writers in a
// oneTBB parallel_for, each insert_many hashing in parallel inside) and
// readers taking snapshots and verifying proofs while the tree grows.
// Short on purpose: these also run under ThreadSanitizer.
#include <gtest/gtest.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rotortree/concurrent.hpp"
#include "support.hpp"

#if defined(__SANITIZE_THREAD__)
#define ROTORTREE_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ROTORTREE_TEST_TSAN 1
#endif
#endif
#ifdef ROTORTREE_TEST_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace rotortree::test {
namespace {

/// ThreadSanitizer does not see the synchronisation inside libtbb (not built
/// with -fsanitize=thread). These declare what tbb::parallel_for guarantees:
/// the caller's work before it happens before each body, each body happens
/// before it returns. Bodies get no edge between each other.
struct ParallelForEdges {
  char to_bodies, to_caller;
#ifdef ROTORTREE_TEST_TSAN
  void before() { __tsan_release(&to_bodies); }
  void body_begins() { __tsan_acquire(&to_bodies); }
  void body_ends() { __tsan_release(&to_caller); }
  void after() { __tsan_acquire(&to_caller); }
#else
  void before() {}
  void body_begins() {}
  void body_ends() {}
  void after() {}
#endif
};

using Tree = ConcurrentLeanIMT<Blake3, 4>;

/// A leaf that names its writer and its place in that writer's sequence.
Node tagged_leaf(std::uint32_t writer, std::uint32_t sequence) {
  Node leaf = random_leaves(1, (std::uint64_t{writer} << 32) | sequence)[0];
  std::memcpy(leaf.data(), &writer, 4);
  std::memcpy(leaf.data() + 4, &sequence, 4);
  return leaf;
}
std::uint32_t writer_of(const Node& leaf) {
  std::uint32_t w;
  std::memcpy(&w, leaf.data(), 4);
  return w;
}
std::uint32_t sequence_of(const Node& leaf) {
  std::uint32_t s;
  std::memcpy(&s, leaf.data() + 4, 4);
  return s;
}

TreeOptions nested_parallel_options() {
  TreeOptions options;
  options.threads = 0;              // every hardware thread
  options.parallel_threshold = 64;  // batches of a few hundred leaves hash in parallel
  return options;
}

/// One insertion call of a writer: its leaves and the root it returned.
struct Call {
  std::uint32_t writer;
  std::uint32_t first_sequence;
  std::uint32_t count;
  Node returned_root;
};

/// The tree's leaves, read back through a snapshot.
std::vector<Node> leaves_of(const Tree::snapshot_type& snapshot) {
  std::vector<Node> leaves;
  for (std::uint64_t i = 0; i < snapshot.size(); ++i) leaves.push_back(snapshot.node(0, i));
  return leaves;
}

TEST(ConcurrentTree, WritersInAParallelForGiveTheModelTreeOfTheOrderApplied) {
  constexpr std::uint32_t kWriters = 4;
  constexpr int kCallsPerWriter = 12;
  Tree tree(nested_parallel_options());
  std::vector<std::vector<Call>> calls(kWriters);

  ParallelForEdges edges;
  edges.before();
  tbb::parallel_for(
      tbb::blocked_range<std::uint32_t>(0, kWriters, 1),
      [&](const tbb::blocked_range<std::uint32_t>& range) {
        edges.body_begins();
        for (std::uint32_t w = range.begin(); w != range.end(); ++w) {
          std::mt19937 random(w);
          std::uint32_t sequence = 0;
          for (int c = 0; c < kCallsPerWriter; ++c) {
            // Every third call a single insert, the others batches of 1..400 leaves.
            const std::uint32_t count = c % 3 == 2 ? 1 : 1 + random() % 400;
            std::vector<Node> batch;
            for (std::uint32_t i = 0; i < count; ++i) batch.push_back(tagged_leaf(w, sequence + i));
            const Node root = count == 1 && c % 3 == 2 ? tree.insert(batch[0]) : tree.insert_many(batch);
            calls[w].push_back({w, sequence, count, root});
            sequence += count;
          }
        }
        edges.body_ends();
      },
      tbb::simple_partitioner());
  edges.after();

  const auto snapshot = tree.snapshot();
  const std::vector<Node> leaves = leaves_of(snapshot);
  std::uint64_t expected_total = 0;
  for (const auto& writer_calls : calls)
    for (const Call& call : writer_calls) expected_total += call.count;
  ASSERT_EQ(leaves.size(), expected_total);

  // Where every leaf landed; each writer's leaves in its own order.
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> position;
  std::vector<std::int64_t> last_sequence(kWriters, -1);
  for (std::uint64_t i = 0; i < leaves.size(); ++i) {
    const std::uint32_t w = writer_of(leaves[i]), s = sequence_of(leaves[i]);
    ASSERT_LT(w, kWriters) << "leaf " << i << " was never inserted";
    ASSERT_EQ(leaves[i], tagged_leaf(w, s)) << "leaf " << i << " was altered";
    ASSERT_EQ(static_cast<std::int64_t>(s), last_sequence[w] + 1) << "writer " << w << " out of order";
    last_sequence[w] = s;
    position[{w, s}] = i;
  }

  const NaiveModel model(4, HashId::blake3, NodeHash::lean_imt);
  EXPECT_EQ(snapshot.root(), model.root(leaves));
  EXPECT_EQ(tree.root(), model.root(leaves));
  EXPECT_EQ(tree.size(), leaves.size());
  for (const auto& writer_calls : calls)
    for (const Call& call : writer_calls) {
      // A batch is applied whole: its leaves are contiguous...
      const std::uint64_t first = position.at({call.writer, call.first_sequence});
      for (std::uint32_t i = 1; i < call.count; ++i)
        ASSERT_EQ(position.at({call.writer, call.first_sequence + i}), first + i)
            << "batch of writer " << call.writer << " was interleaved";
      // ...and the root it returned is the model's root right after it.
      ASSERT_EQ(call.returned_root, model.root(std::span(leaves.data(), first + call.count)))
          << "writer " << call.writer << ", call at sequence " << call.first_sequence;
    }
}

TEST(ConcurrentTree, ReadersVerifyProofsOfSnapshotsWhileWritersInsert) {
  constexpr int kWriters = 2, kReaders = 3, kCallsPerWriter = 250;
  Tree tree(nested_parallel_options());
  std::atomic<int> writers_done{0};
  std::atomic<std::uint64_t> proofs_checked{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  auto fail = [&](std::string what) {
    std::lock_guard lock(failures_mutex);
    if (failures.size() < 20) failures.push_back(std::move(what));
  };
  // (size, root) pairs readers saw, checked against the model at the end.
  std::mutex seen_mutex;
  std::vector<std::pair<std::uint64_t, Node>> seen;

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      std::mt19937 random(100 + w);
      std::uint32_t sequence = 0;
      for (int c = 0; c < kCallsPerWriter; ++c) {
        const std::uint32_t count = c % 4 == 3 ? 1 : 1 + random() % 150;
        std::vector<Node> batch;
        for (std::uint32_t i = 0; i < count; ++i) batch.push_back(tagged_leaf(w, sequence + i));
        if (count == 1)
          tree.insert(batch[0]);
        else
          tree.insert_many(batch);
        sequence += count;
      }
      writers_done.fetch_add(1);
    });
  for (int r = 0; r < kReaders; ++r)
    threads.emplace_back([&, r] {
      std::mt19937_64 random(200 + r);
      std::uint64_t last_size = 0;
      std::optional<Tree::snapshot_type> held;  // an early snapshot, re-checked at the end
      std::optional<Node> held_root;
      std::vector<InclusionProof> held_proofs;
      int rounds = 0;
      while (writers_done.load() < kWriters || rounds < 2) {
        ++rounds;
        const auto snapshot = tree.snapshot();
        if (snapshot.size() < last_size) fail("snapshot size went backwards");
        last_size = snapshot.size();
        if (snapshot.size() == 0) continue;
        const Node root = *snapshot.root();
        for (int i = 0; i < 4; ++i) {
          const InclusionProof proof = snapshot.prove(random() % snapshot.size());
          if (!verify(proof, root)) fail("a proof of a snapshot does not verify: " + verify(proof).reason);
          proofs_checked.fetch_add(1);
        }
        if (snapshot.size() > 1) {
          const std::uint64_t old_size = 1 + random() % (snapshot.size() - 1);
          if (!verify(snapshot.consistency(old_size))) fail("a consistency proof does not verify");
        }
        if (!held && snapshot.size() >= 50) {
          held = snapshot;
          held_root = root;
          for (std::uint64_t i = 0; i < 50; ++i) held_proofs.push_back(snapshot.prove(i));
        }
        if (rounds % 8 == 0) {
          std::lock_guard lock(seen_mutex);
          seen.emplace_back(snapshot.size(), root);
        }
      }
      if (held) {
        if (held->root() != held_root) fail("a held snapshot's root changed");
        for (std::uint64_t i = 0; i < held_proofs.size(); ++i)
          if (held->prove(i) != held_proofs[i]) fail("a held snapshot's proof changed");
      }
    });
  for (auto& t : threads) t.join();

  for (const auto& failure : failures) ADD_FAILURE() << failure;
  EXPECT_GT(proofs_checked.load(), 0u);
  const auto snapshot = tree.snapshot();
  const std::vector<Node> leaves = leaves_of(snapshot);
  const NaiveModel model(4, HashId::blake3, NodeHash::lean_imt);
  EXPECT_EQ(snapshot.root(), model.root(leaves));
  for (const auto& [size, root] : seen)
    EXPECT_EQ(model.root(std::span(leaves.data(), size)), root) << "a reader saw size " << size;
}

TEST(ConcurrentHashing, TheFirstHashesOfTheProcessComeFromManyThreadsAtOnce) {
  // CTest runs every test in its own process, so these are the process's first
  // BLAKE3 calls, as in a program whose first insert_many hashes in parallel:
  // the run-time CPU feature detection must be safe to race (ThreadSanitizer
  // checks it in the TSan build).
  constexpr int kThreads = 4;
  std::atomic<int> ready{0};
  std::vector<Node> digests(kThreads);
  std::vector<std::thread> threads;
  const std::vector<std::uint8_t> group(128, 0x5a);  // two 64-byte blocks: the SIMD path too
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      if (t % 2 == 0)
        Blake3::hash(group.data(), group.size(), digests[t].data());
      else
        Blake3::hash_many(group.data(), group.size(), group.size(), 1, digests[t].data());
    });
  for (auto& thread : threads) thread.join();
  Node expected{};
  Blake3::hash(group.data(), group.size(), expected.data());
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(digests[t], expected) << "thread " << t;
}

TEST(ConcurrentTree, WithWriterPublishesWhatTheCallbackInserted) {
  Tree tree(nested_parallel_options());
  const std::vector<Node> leaves = random_leaves(300, 9);
  tree.with_writer([&](Tree::tree_type& inner) {
    inner.insert_many(std::span(leaves.data(), 200));
    inner.insert(leaves[200]);
  });
  EXPECT_EQ(tree.size(), 201u);
  const NaiveModel model(4, HashId::blake3, NodeHash::lean_imt);
  EXPECT_EQ(tree.root(), model.root(std::span(leaves.data(), 201)));
  // A failing callback still leaves a consistent, published tree.
  EXPECT_ERRC(tree.with_writer([&](Tree::tree_type& inner) {
    inner.insert_many(std::span(leaves.data() + 201, 99));
    return inner.insert_many(std::span<const Node>());
  }), Errc::empty_batch);
  EXPECT_EQ(tree.size(), 300u);
  EXPECT_EQ(tree.root(), model.root(leaves));
  EXPECT_TRUE(verify(tree.prove(299), *model.root(leaves)));
}

// Readers keep snapshots for a while and prove from them (and from fresh
// ones) while one writer inserts, rewinds into the middle of chunks and
// regrows past the old sizes with different leaves: every proof verifies
// against its snapshot's root, names the leaf that snapshot holds, and a
// proof taken again later from the same snapshot is identical.
TEST(ConcurrentTree, ReadersProveFromSnapshotsWhileAWriterInsertsAndRewinds) {
  Tree tree;  // Blake3, N=4: a chunk holds 512 leaves
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> proofs{0};
  std::atomic<int> failures{0};
  // The leaf at index i inserted in round r: readers recompute what they expect.
  auto leaf_for = [](std::uint32_t round, std::uint32_t index) { return tagged_leaf(round, index); };
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 random(r);
      while (!done.load()) {
        const auto snap = tree.snapshot();
        if (snap.size() == 0) continue;
        const Node root = *snap.root();
        std::vector<std::pair<std::uint64_t, InclusionProof>> first;
        for (int k = 0; k < 4; ++k) {
          const std::uint64_t index = random() % snap.size();
          first.emplace_back(index, snap.prove(index));
        }
        for (int pass = 0; pass < 20 && !done.load(); ++pass) {
          for (const auto& [index, proof] : first) {
            const InclusionProof again = snap.prove(index);
            if (again != proof || !verify(again, root, snap.size()) || snap.node(0, index) != again.leaf ||
                sequence_of(again.leaf) != index)
              failures.fetch_add(1);
            proofs.fetch_add(1);
          }
          std::this_thread::yield();
        }
      }
    });
  }
  std::mt19937_64 random(42);
  std::uint32_t round = 0;
  std::vector<std::uint32_t> rounds;  // the round of each leaf now in the tree
  bool readers_seen = false;
  for (int step = 0; step < 120 || !readers_seen; ++step) {
    // From the middle on, wait (once) until the readers have proved from a
    // non-empty tree: on a loaded machine they may not run at all otherwise.
    if (!readers_seen && step >= 60 && !rounds.empty()) {
      while (proofs.load() == 0) std::this_thread::yield();
      readers_seen = true;
    }
    const int op = static_cast<int>(step >= 120 ? 1 : random() % 4);
    if (op == 0 && !rounds.empty()) {
      const std::uint64_t target = random() % (rounds.size() + 1);
      rounds.resize(target);
      tree.rewind(target);
      ++round;
    } else {
      const std::size_t count = op == 1 ? 1 : 1 + random() % 1500;
      std::vector<Node> batch;
      for (std::size_t i = 0; i < count; ++i) {
        batch.push_back(leaf_for(round, static_cast<std::uint32_t>(rounds.size())));
        rounds.push_back(round);
      }
      if (count == 1)
        tree.insert(batch[0]);
      else
        tree.insert_many(batch);
    }
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(proofs.load(), 0u);
  // The final tree holds exactly the leaves the writer's record says.
  const auto snap = tree.snapshot();
  ASSERT_EQ(snap.size(), rounds.size());
  for (std::uint64_t i = 0; i < rounds.size(); ++i)
    ASSERT_EQ(snap.node(0, i), leaf_for(rounds[i], static_cast<std::uint32_t>(i)));
}

}  // namespace
}  // namespace rotortree::test
