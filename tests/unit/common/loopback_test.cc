// The one loopback rule behind every "plaintext only on loopback" check.
#include "core/common/loopback.h"

#include <gtest/gtest.h>

namespace mdu {
namespace {

TEST(LoopbackTest, OnlyLiteralLoopbackAddressesCount) {
  for (const char* host : {"localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]",
                           "0:0:0:0:0:0:0:1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  // Attack: a DNS name that merely starts with "127." resolves wherever its owner wants.
  for (const char* host : {"127.evil.example", "127.0.0.1.evil.example", "10.0.0.1",
                           "example.com", "::", "128.0.0.1", "0.0.0.0", "localhost.example.com",
                           "[::2]", "[", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

}  // namespace
}  // namespace mdu
