// The update/status/rollback commands through RunCli (the whole command line in-process),
// against the python-tuf reference repository over file:// and the system clock (its metadata
// expires in 2036). manifest.txt is version 1.0.0 for hardware pump-x1, security_version 3.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "client-agent/cli.h"
#include "client-agent/update/device_state.h"
#include "tests/unit/agent/update_flow_fixture.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;

// In-process: the whole command line through RunCli, stdout captured.
class CliUpdateTest : public agent::testing::UpdateFlowTest {
 protected:
  // Runs client-agent with the global options of the update flow, then `args`.
  int Run(std::vector<std::string> args, std::string* out = nullptr) {
    std::vector<std::string> all = UpdateFlowArgs("client-agent");
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : all) argv.push_back(arg.data());
    ::testing::internal::CaptureStdout();
    const int code = RunCli(static_cast<int>(argv.size()), argv.data());
    const std::string stdout_text = ::testing::internal::GetCapturedStdout();
    if (out != nullptr) *out = stdout_text;
    return code;
  }
};

TEST_F(CliUpdateTest, UpdateRollsBackOnFailingCheckThenCommits) {
  ASSERT_EQ(Run({"init", (kRepo / "metadata/1.root.json").string()}), 0);

  std::string out;
  EXPECT_EQ(Run({"--health-check", "exit 3", "--json", "update"}, &out), 1);
  EXPECT_NE(out.find("\"reason\": \"health_check_failed\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"ok\": false"), std::string::npos) << out;
  EXPECT_FALSE(State().installed);
  ASSERT_TRUE(State().last_result);
  EXPECT_EQ(State().last_result->outcome, update::Outcome::kRolledBack);
  EXPECT_EQ(State().security_floor, 0);

  EXPECT_EQ(Run({"--health-check", "test \"$MDU_SLOT\" = a", "update"}, &out), 0);
  EXPECT_NE(out.find("committed 1.0.0 (manifest.txt)"), std::string::npos) << out;
  ASSERT_TRUE(State().installed);
  EXPECT_EQ(State().installed->target.version, "1.0.0");
  EXPECT_EQ(State().security_floor, 3);
  EXPECT_TRUE(fs::exists(tmp_.path() / "install" / "current" / "manifest.txt"));

  EXPECT_EQ(Run({"update"}, &out), 0);
  EXPECT_NE(out.find("no update for this device"), std::string::npos) << out;

  EXPECT_EQ(Run({"--json", "status"}, &out), 0);
  EXPECT_NE(out.find("\"security_floor\": 3"), std::string::npos) << out;
  EXPECT_NE(out.find("\"version\": \"1.0.0\""), std::string::npos) << out;
  EXPECT_EQ(Run({"status"}, &out), 0);
  EXPECT_NE(out.find("installed: manifest.txt 1.0.0 (security_version 3, slot a)"),
            std::string::npos)
      << out;

  // Only one version was ever installed: nothing to roll back to.
  EXPECT_EQ(Run({"--json", "rollback"}, &out), 1);
  EXPECT_NE(out.find("nothing_to_roll_back"), std::string::npos) << out;
}

TEST_F(CliUpdateTest, HealthCheckTimeoutRollsBack) {
  ASSERT_EQ(Run({"init", (kRepo / "metadata/1.root.json").string()}), 0);
  std::string out;
  EXPECT_EQ(Run({"--health-check", "sleep 600", "--health-timeout", "1", "--json", "update"}, &out),
            1);
  EXPECT_NE(out.find("health_check_timeout"), std::string::npos) << out;
  EXPECT_FALSE(State().installed);
}

TEST_F(CliUpdateTest, UpdateNeedsItsOptions) {
  std::vector<char*> argv;
  std::vector<std::string> args = {"client-agent", "--state-dir", (tmp_.path() / "state").string(),
                                   "update"};
  for (std::string& arg : args) argv.push_back(arg.data());
  EXPECT_EQ(RunCli(static_cast<int>(argv.size()), argv.data()), 1);
  EXPECT_FALSE(fs::exists(tmp_.path() / "state"));
}

}  // namespace
}  // namespace mdu::agent
