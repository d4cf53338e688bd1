// Running RapidCheck properties inside Google Test with a per-property case count.
#pragma once

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "rotortree/types.hpp"

namespace rotortree::test {

/// Check `property` with the suite's RapidCheck parameters (RC_PARAMS), the
/// number of cases scaled by `scale` (at least 1 case): SHA-256 trees and
/// expensive properties run fewer cases than the rest, cheap fuzzing more.
/// Fails the current test with RapidCheck's report (including the seed to
/// reproduce) on a failure.
template <class Property>
void check_property(const std::string& name, double scale, Property&& property) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = std::max(1, static_cast<int>(params.maxSuccess * scale + 0.5));
  rc::detail::TestMetadata metadata;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = name;
  const auto result =
      rc::detail::checkTestable(std::forward<Property>(property), metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream report;
    rc::detail::printResultMessage(result, report);
    ADD_FAILURE() << name << ":\n" << report.str();
  }
}

/// RC_ASSERT for a Google Test AssertionResult, reporting its message.
#define RC_ASSERT_SUCCESS(expression)                                   \
  do {                                                                  \
    const ::testing::AssertionResult rc_assert_result_ = (expression);  \
    if (!rc_assert_result_) RC_FAIL(rc_assert_result_.message());       \
  } while (false)

/// Case-count scale for a hash: SHA-256 is several times slower than BLAKE3.
template <class H>
constexpr double hash_case_scale() {
  return H::id == HashId::sha256 ? 0.25 : 1.0;
}

}  // namespace rotortree::test
