#include "core/common/error.h"

#include <gtest/gtest.h>

#include <set>

namespace mdu {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return MakeError(ErrorKind::kInvalidArgument, std::to_string(n) + " is odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  MDU_ASSIGN_OR_RETURN(int half, Half(n));
  MDU_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int n) {
  MDU_RETURN_IF_ERROR(Half(n));
  return {};
}

TEST(ExpectedTest, HoldsValueOrError) {
  Result<int> ok = Half(4);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
  Result<int> bad = Half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "3 is odd");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(ExpectedTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> bad = Quarter(6);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(2));
  EXPECT_FALSE(CheckEven(1));
}

TEST(ErrorTest, ContextIsPrependedAndKindKept) {
  Error e(ErrorKind::kBadVersion, "snapshot version 4 is lower than trusted version 5 (rollback)");
  Error outer = e.WithContext("refresh");
  EXPECT_EQ(outer.kind(), ErrorKind::kBadVersion);
  EXPECT_EQ(outer.message(),
            "refresh: snapshot version 4 is lower than trusted version 5 (rollback)");
  EXPECT_EQ(outer.ToString().rfind("bad_version: refresh: ", 0), 0u);
}

TEST(ErrorTest, EveryKindHasADistinctName) {
  std::set<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(ErrorKind::kInternal); ++k) {
    names.insert(ErrorKindName(static_cast<ErrorKind>(k)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(ErrorKind::kInternal) + 1);
}

}  // namespace
}  // namespace mdu
