// The agent's -v log (client-agent/agent_log.h): the line format spdlog printed before, the level
// filter, and nothing at all when off (the default).
#include "client-agent/agent_log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <regex>
#include <string>
#include <string_view>

namespace mdu::agent::logging {
namespace {

// Restores the default (off) after each test.
class AgentLogTest : public ::testing::Test {
 protected:
  void TearDown() override { SetLevel(Level::kOff); }

  // What Write sends to a stream.
  static std::string Written(Level level, std::string_view message) {
    std::FILE* file = std::tmpfile();
    EXPECT_NE(file, nullptr);
    if (file == nullptr) return {};
    Write(level, message, file);
    std::string text(static_cast<size_t>(std::ftell(file)), '\0');
    std::rewind(file);
    EXPECT_EQ(std::fread(text.data(), 1, text.size(), file), text.size());
    std::fclose(file);
    return text;
  }
};

TEST_F(AgentLogTest, LineFormatIsTimestampLevelMessage) {
  const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1234567890123));
  const std::string line = FormatLine(Level::kWarning, "disk full", when);
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.123\] \[warning\] disk full\n)")))
      << line;
  EXPECT_NE(FormatLine(Level::kDebug, "x", when).find("] [debug] x"), std::string::npos);
  EXPECT_NE(FormatLine(Level::kInfo, "x", when).find("] [info] x"), std::string::npos);
  EXPECT_NE(FormatLine(Level::kError, "x", when).find("] [error] x"), std::string::npos);
  // Milliseconds keep their leading zeros.
  const auto early = std::chrono::system_clock::time_point(std::chrono::milliseconds(1000007));
  EXPECT_NE(FormatLine(Level::kInfo, "x", early).find(".007] [info] x"), std::string::npos);
}

TEST_F(AgentLogTest, OffByDefaultAndLevelsFilter) {
  EXPECT_FALSE(Enabled(Level::kError));
  EXPECT_EQ(Written(Level::kError, "dropped"), "");
  SetLevel(Level::kInfo);  // -v
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_TRUE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  EXPECT_EQ(Written(Level::kDebug, "dropped"), "");
  const std::string info = Written(Level::kInfo, "fetched x (3 bytes)");
  EXPECT_NE(info.find("] [info] fetched x (3 bytes)\n"), std::string::npos) << info;
  SetLevel(Level::kDebug);  // -vv
  EXPECT_NE(Written(Level::kDebug, "GET x").find("] [debug] GET x\n"), std::string::npos);
  SetLevel(Level::kOff);
  EXPECT_FALSE(Enabled(Level::kOff));
  EXPECT_EQ(Written(Level::kError, "dropped"), "");
}

TEST_F(AgentLogTest, FormattingCallsWriteEnabledLinesToStderr) {
  SetLevel(Level::kInfo);
  ::testing::internal::CaptureStderr();
  Info("fetched {} ({} bytes)", "x", 3);
  Warn("{}: {}", std::string("a"), std::string_view("b"));
  Error("{} report(s) refused", uint64_t{2});
  Debug("hidden {}", 1);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("] [info] fetched x (3 bytes)\n"), std::string::npos) << err;
  EXPECT_NE(err.find("] [warning] a: b\n"), std::string::npos) << err;
  EXPECT_NE(err.find("] [error] 2 report(s) refused\n"), std::string::npos) << err;
  EXPECT_EQ(err.find("hidden"), std::string::npos) << err;
}

}  // namespace
}  // namespace mdu::agent::logging
