#include "core/common/hex.h"

#include <gtest/gtest.h>

namespace mdu {
namespace {

TEST(HexTest, RoundTrips) {
  std::vector<uint8_t> bytes = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes), "0001abff");
  auto decoded = HexDecode("0001ABff");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, bytes);
}

TEST(HexTest, RejectsOddLengthAndNonHex) {
  EXPECT_EQ(HexDecode("abc").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(HexDecode(""));
}

}  // namespace
}  // namespace mdu
