// Assertions on mdu::Result / mdu::Status for gtest: tests branch on error kinds, never on text.
#ifndef MDU_TESTS_SIM_TEST_UTIL_H_
#define MDU_TESTS_SIM_TEST_UTIL_H_

#include <gtest/gtest.h>

#include "core/common/error.h"

// Fails unless `expr` (a Result or Status) is an error of kind `expected_kind`.
#define EXPECT_ERROR_KIND(expr, expected_kind)                                                    \
  do {                                                                                            \
    const auto& mdu_r_ = (expr);                                                                  \
    if (mdu_r_.has_value()) {                                                                     \
      ADD_FAILURE() << #expr << " succeeded, expected " << ::mdu::ErrorKindName(expected_kind);   \
    } else {                                                                                      \
      EXPECT_EQ(::mdu::ErrorKindName(mdu_r_.error().kind()), ::mdu::ErrorKindName(expected_kind)) \
          << mdu_r_.error().ToString();                                                           \
    }                                                                                             \
  } while (0)

#define EXPECT_OK(expr)                                                            \
  do {                                                                             \
    const auto& mdu_r_ = (expr);                                                   \
    EXPECT_TRUE(mdu_r_.has_value()) << #expr << ": " << mdu_r_.error().ToString(); \
  } while (0)

#define ASSERT_OK(expr)                                                            \
  do {                                                                             \
    const auto& mdu_r_ = (expr);                                                   \
    ASSERT_TRUE(mdu_r_.has_value()) << #expr << ": " << mdu_r_.error().ToString(); \
  } while (0)

#endif  // MDU_TESTS_SIM_TEST_UTIL_H_
