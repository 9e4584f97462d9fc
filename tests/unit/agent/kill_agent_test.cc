// kill -9 of the real client-agent process in the middle of an update (during the health
// check, after activation was persisted), then a restart: the next `update` first recovers
// (rolls back, reason "interrupted") and then installs again, so the device ends committed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "client-agent/update/device_state.h"
#include "tests/unit/agent/update_test_util.h"

extern char** environ;  // NOLINT: POSIX

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::TempDir;

const fs::path kRepo = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";

class KillAgentTest : public ::testing::Test {
 protected:
  // Runs the real binary with the update flow's global options; returns the wait status.
  int Agent(std::vector<std::string> args) {
    std::vector<std::string> all = {MDU_CLIENT_AGENT,
                                    "--metadata-dir",
                                    (tmp_.path() / "md").string(),
                                    "--metadata-url",
                                    "file://" + (kRepo / "metadata").string(),
                                    "--target-base-url",
                                    "file://" + (kRepo / "targets").string(),
                                    "--state-dir",
                                    (tmp_.path() / "state").string(),
                                    "--install-root",
                                    (tmp_.path() / "install").string(),
                                    "--hardware-id",
                                    "pump-x1"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : all) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = (tmp_.path() / "stdout").string();
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return status;
  }
  std::string Stdout() { return ReadFile(tmp_.path() / "stdout"); }
  update::DeviceState State() {
    Result<update::StateStore> store = update::StateStore::Open(tmp_.path() / "state");
    EXPECT_TRUE(store);
    Result<update::DeviceState> state = store->Load();
    EXPECT_TRUE(state) << state.error().ToString();
    return state ? *state : update::DeviceState{};
  }

  TempDir tmp_;
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
