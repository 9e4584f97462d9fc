// The limits that come from the agent config file and from the command line (download retries,
// the event log cap): every one of them, from both sources, at and beyond both ends of its bound,
// refused by name; the command line winning over the file; the real client-agent refusing each
// option; and the commands' services using the config they are given (read once by the CLI).
#include "client-agent/policy/agent_config.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client-agent/commands/agent_services.h"
#include "core/client/clock.h"
#include "core/crypto/keys.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::policy {
namespace {

using agent::testing::TempDir;
using agent::testing::WriteFile;

// Written out here, not taken from the table: the test pins the behaviour, not the code.
struct ExpectedLimit {
  std::string section;
  std::string key;
  std::string flag;
  int64_t min;
  int64_t max;
  std::optional<int64_t> CommandLineLimits::*given;
  std::function<int64_t(const AgentConfig&)> read;
};

std::vector<ExpectedLimit> Expected() {
  return {
      {"download", "attempts", "--download-attempts", 1, 1000,
       &CommandLineLimits::download_attempts,
       [](const AgentConfig& c) { return int64_t{c.download.max_attempts}; }},
      {"download", "max_attempts", "--download-max-attempts", 1, 10000,
       &CommandLineLimits::download_max_attempts,
       [](const AgentConfig& c) { return int64_t{c.download.max_total_attempts}; }},
      {"download", "backoff_s", "--retry-backoff", 0, 3600, &CommandLineLimits::retry_backoff_s,
       [](const AgentConfig& c) {
         return std::chrono::duration_cast<std::chrono::seconds>(c.download.initial_backoff)
             .count();
       }},
      {"download", "max_backoff_s", "--retry-max-backoff", 0, 86400,
       &CommandLineLimits::retry_max_backoff_s,
       [](const AgentConfig& c) {
         return std::chrono::duration_cast<std::chrono::seconds>(c.download.max_backoff).count();
       }},
      {"event_log", "max_bytes", "--event-log-max-bytes", 8192, int64_t{1} << 30,
       &CommandLineLimits::event_log_max_bytes,
       [](const AgentConfig& c) { return static_cast<int64_t>(c.event_log.max_bytes); }},
      {"event_log", "segments", "--event-log-segments", 2, 1000,
       &CommandLineLimits::event_log_segments,
       [](const AgentConfig& c) { return static_cast<int64_t>(c.event_log.max_segments); }},
  };
}

std::string FileWith(const ExpectedLimit& limit, int64_t value) {
  return "{\"" + limit.section + "\": {\"" + limit.key + "\": " + std::to_string(value) + "}}";
}

TEST(AgentConfigLimitsTest, EveryLimitFromTheFileWithinItsBound) {
  for (const ExpectedLimit& limit : Expected()) {
    SCOPED_TRACE(limit.flag);
    for (int64_t value : {limit.min, limit.max}) {
      Result<AgentConfig> config = ParseAgentConfig(FileWith(limit, value));
      ASSERT_TRUE(config) << config.error().ToString();
      EXPECT_EQ(limit.read(*config), value);
    }
    for (int64_t value : {limit.min - 1, limit.max + 1}) {
      Result<AgentConfig> config = ParseAgentConfig(FileWith(limit, value));
      ASSERT_FALSE(config) << value;
      EXPECT_EQ(config.error().kind(), ErrorKind::kBadMetadata);
      EXPECT_EQ(config.error().message(), "agent config: \"" + limit.section + "." + limit.key +
                                              "\" must be an integer from " +
                                              std::to_string(limit.min) + " to " +
                                              std::to_string(limit.max))
          << config.error().ToString();
    }
  }
}

TEST(AgentConfigLimitsTest, EveryLimitFromTheCommandLineWithinItsBoundAndOverTheFile) {
  for (const ExpectedLimit& limit : Expected()) {
    SCOPED_TRACE(limit.flag);
    for (int64_t value : {limit.min, limit.max}) {
      // The file says the other end: the command line wins.
      Result<AgentConfig> config =
          ParseAgentConfig(FileWith(limit, value == limit.min ? limit.max : limit.min));
      ASSERT_TRUE(config) << config.error().ToString();
      CommandLineLimits given;
      given.*limit.given = value;
      ASSERT_TRUE(ApplyCommandLine(given, &*config));
      EXPECT_EQ(limit.read(*config), value);
    }
    for (int64_t value : {limit.min - 1, limit.max + 1}) {
      AgentConfig config;
      const int64_t before = limit.read(config);
      CommandLineLimits given;
      given.*limit.given = value;
      Status applied = ApplyCommandLine(given, &config);
      ASSERT_FALSE(applied) << value;
      EXPECT_EQ(applied.error().kind(), ErrorKind::kInvalidArgument);
      EXPECT_EQ(applied.error().message(),
                limit.flag + " must be from " + std::to_string(limit.min) + " to " +
                    std::to_string(limit.max) + ", not " + std::to_string(value));
      EXPECT_EQ(limit.read(config), before);  // never clamped
    }
  }
}

TEST(AgentConfigLimitsTest, TheTableNamesEveryLimitOnce) {
  const std::vector<ExpectedLimit> expected = Expected();
  ASSERT_EQ(LimitOptions().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(LimitOptions()[i].flag, expected[i].flag);
    EXPECT_EQ(LimitOptions()[i].section, expected[i].section);
    EXPECT_EQ(LimitOptions()[i].key, expected[i].key);
    EXPECT_FALSE(LimitOptions()[i].help.empty());
  }
}

struct AgentRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

AgentRun Agent(const std::string& args) {
  AgentRun run;
  FILE* pipe = popen((std::string(MDU_CLIENT_AGENT) + " " + args + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Through the real binary: each option is registered, and a value beyond its bound is refused by
// name on the command line and in the file.
TEST(AgentConfigLimitsTest, TheAgentRefusesEachLimitBeyondItsBound) {
  TempDir tmp;
  const std::string state = (tmp.path() / "state").string();
  const std::filesystem::path file = tmp.path() / "agent.json";
  for (const ExpectedLimit& limit : Expected()) {
    SCOPED_TRACE(limit.flag);
    AgentRun run = Agent("--state-dir " + state + " " + limit.flag + " " +
                         std::to_string(limit.max + 1) + " events");
    EXPECT_EQ(run.code, 1);
    EXPECT_NE(run.output.find(limit.flag + " must be from " + std::to_string(limit.min) + " to " +
                              std::to_string(limit.max)),
              std::string::npos)
        << run.output;
    WriteFile(file, FileWith(limit, limit.min - 1));
    run = Agent("--state-dir " + state + " --config " + file.string() + " events");
    EXPECT_EQ(run.code, 1);
    EXPECT_NE(run.output.find("\"" + limit.section + "." + limit.key + "\" must be an integer"),
              std::string::npos)
        << run.output;
  }
}

// The services use the config they are handed (the CLI reads the file once and passes it on):
// operator keys in it make manual commands require an authorization.
TEST(AgentServicesConfigTest, UsesTheConfigItIsGiven) {
  TempDir tmp;
  Result<crypto::PrivateKey> key = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
  ASSERT_TRUE(key);
  const client::FakeClock clock(1700000000);
  commands::ServicesOptions options;
  options.state_dir = tmp.path() / "state";
  options.config.device_id = "pump-0001";
  options.config.operator_keys.push_back(key->public_key());
  Result<std::unique_ptr<commands::AgentServices>> services =
      commands::AgentServices::Open(options, clock);
  ASSERT_TRUE(services) << services.error().ToString();
  EXPECT_EQ((*services)->config().device_id, "pump-0001");
  Status refused = (*services)->AuthorizeOperator("rollback", "", "");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPolicy);

  options.config = AgentConfig{};  // no operator keys: manual commands stay open
  options.state_dir = tmp.path() / "state2";
  services = commands::AgentServices::Open(options, clock);
  ASSERT_TRUE(services) << services.error().ToString();
  EXPECT_TRUE((*services)->AuthorizeOperator("rollback", "", ""));
}

}  // namespace
}  // namespace mdu::agent::policy
