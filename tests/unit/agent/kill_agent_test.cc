// kill -9 of the real client-agent process in the middle of an update (during the health
// check, after activation was persisted), then a restart: the next `update` first recovers
// (rolls back, reason "interrupted") and then installs again, so the device ends committed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "client-agent/update/device_state.h"
#include "tests/unit/agent/update_flow_fixture.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;

class KillAgentTest : public agent::testing::UpdateFlowTest {
 protected:
  // Runs the real binary with the update flow's global options; returns the wait status.
  int Agent(const std::vector<std::string>& args) {
    std::vector<std::string> all = UpdateFlowArgs(MDU_CLIENT_AGENT);
    all.insert(all.end(), args.begin(), args.end());
    const pid_t pid = Spawn(all);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return status;
  }
};

TEST_F(KillAgentTest, KilledDuringHealthCheckRecoversAtNextStart) {
  int status = Agent({"init", (kRepo / "metadata/1.root.json").string()});
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // The health check's parent is the agent: kill -9 it mid-transaction.
  status = Agent({"--health-check", "kill -9 $PPID; sleep 5", "update"});
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  update::DeviceState killed = State();
  ASSERT_TRUE(killed.pending);
  EXPECT_EQ(killed.pending->phase, update::Phase::kActivated);
  EXPECT_FALSE(killed.installed);
  EXPECT_EQ(killed.security_floor, 0);                           // not raised before commit
  EXPECT_TRUE(fs::exists(tmp_.path() / "install" / "current"));  // switched, not committed

  status = Agent({"--json", "update"});
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Stdout();
  const std::string out = Stdout();
  EXPECT_NE(out.find("\"reason\": \"interrupted\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"outcome\": \"committed\""), std::string::npos) << out;
  update::DeviceState after = State();
  EXPECT_FALSE(after.pending);
  ASSERT_TRUE(after.installed);
  EXPECT_EQ(after.installed->target.version, "1.0.0");
  EXPECT_EQ(after.security_floor, 3);
}

}  // namespace
}  // namespace mdu::agent
