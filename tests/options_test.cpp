// Options: ROTORTREE_PARALLEL_THRESHOLD and the thread count of a tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "rotortree/parallel.hpp"
#include "rotortree/tree.hpp"
#include "support.hpp"

namespace rotortree::test {
namespace {

constexpr const char* kThresholdVariable = "ROTORTREE_PARALLEL_THRESHOLD";

/// Sets (or unsets) the variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved_)
      ::setenv(name_, saved_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(ParallelThresholdFromEnv, UnsetMeansTheDefault1024) {
  ScopedEnv env(kThresholdVariable, nullptr);
  EXPECT_EQ(parallel_threshold_from_env(), 1024u);
  EXPECT_EQ(kDefaultParallelThreshold, 1024u);
  LeanIMT<Blake3, 4> tree;
  EXPECT_EQ(tree.parallel_threshold(), 1024u);
}

TEST(ParallelThresholdFromEnv, APositiveIntegerIsTaken) {
  ScopedEnv env(kThresholdVariable, "77");
  EXPECT_EQ(parallel_threshold_from_env(), 77u);
  LeanIMT<Blake3, 4> tree;  // parallel_threshold 0 in the options: from the environment
  EXPECT_EQ(tree.parallel_threshold(), 77u);
  TreeOptions explicit_threshold;
  explicit_threshold.parallel_threshold = 5;
  EXPECT_EQ((LeanIMT<Blake3, 4>(explicit_threshold).parallel_threshold()), 5u);
}

TEST(ParallelThresholdFromEnv, AnythingElseIsAnInvalidArgumentNamingTheVariable) {
  for (const char* value : {"abc", "0", "-3", "", "5 ", "12x", "1e3", "+", "-0",
                            "99999999999999999999999999"}) {
    ScopedEnv env(kThresholdVariable, value);
    try {
      (void)parallel_threshold_from_env();
      ADD_FAILURE() << "'" << value << "' was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument) << "'" << value << "'";
      EXPECT_NE(std::string(e.what()).find(kThresholdVariable), std::string::npos) << e.what();
    }
    EXPECT_ERRC((LeanIMT<Blake3, 4>()), Errc::invalid_argument) << "'" << value << "'";
  }
}

TEST(ParallelThresholdFromEnv, LeadingWhitespaceOrASignIsNotAPositiveInteger) {
  // strtoull skips leading whitespace and accepts a sign: " -3" would become
  // 2^64 - 3 and " 5" / "+5" would pass for 5. None is "a positive integer".
  for (const char* value : {" -3", "\t-1", " 5", "+5"}) {
    ScopedEnv env(kThresholdVariable, value);
    std::size_t parsed = 0;
    EXPECT_ERRC(parsed = parallel_threshold_from_env(), Errc::invalid_argument)
        << "'" << value << "' was read as " << parsed;
  }
}

TEST(TreeOptionsThreads, OneIsSequentialAndNIsAPoolOfN) {
  TreeOptions options;
  options.threads = 1;
  EXPECT_EQ((LeanIMT<Blake3, 4>(options).threads()), 1u);
  options.threads = 3;
  EXPECT_EQ((LeanIMT<Blake3, 4>(options).threads()), 3u);
  options.threads = 0;
  EXPECT_EQ((LeanIMT<Blake3, 4>(options).threads()), std::max<std::size_t>(1, hardware_threads()));
  EXPECT_GE(hardware_threads(), 1u);
}

TEST(Executor, ForRangesCoversTheRangeExactlyOnce) {
  Executor executor(2);
  EXPECT_EQ(executor.threads(), 2u);
  std::vector<std::atomic<int>> hits(10000);
  executor.for_ranges(3, 9997, 64, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (std::size_t i = 0; i < hits.size(); ++i)
    ASSERT_EQ(hits[i].load(), (i >= 3 && i < 9997) ? 1 : 0) << i;
}

}  // namespace
}  // namespace rotortree::test
