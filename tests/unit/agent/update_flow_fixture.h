// A fixture for tests that run client-agent's update flow (in-process through RunCli, or the
// real binary as a child process) against the python-tuf reference repository over file://:
// manifest.txt is version 1.0.0 for hardware pump-x1, security_version 3. Every test gets its
// own temporary directory holding the agent's metadata (md), state and install root.
#ifndef MDU_TESTS_UNIT_AGENT_UPDATE_FLOW_FIXTURE_H_
#define MDU_TESTS_UNIT_AGENT_UPDATE_FLOW_FIXTURE_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>

#include <filesystem>
#include <string>
#include <vector>

#include "client-agent/update/device_state.h"
#include "tests/unit/agent/update_test_util.h"

extern char** environ;  // NOLINT: POSIX

namespace mdu::agent::testing {

class UpdateFlowTest : public ::testing::Test {
 protected:
  static inline const std::filesystem::path kRepo =
      std::filesystem::path(MDU_TESTDATA_DIR) / "python-tuf-repo";

  // `program` (argv[0]) and the global options of the update flow, in this test's directory.
  std::vector<std::string> UpdateFlowArgs(const std::string& program) const {
    return {program,
            "--metadata-dir",
            (tmp_.path() / "md").string(),
            "--metadata-url",
            metadata_url_,
            "--target-base-url",
            targets_url_,
            "--state-dir",
            (tmp_.path() / "state").string(),
            "--install-root",
            (tmp_.path() / "install").string(),
            "--hardware-id",
            hardware_id_};
  }

  // Starts `args` (argv[0] a path) with stdout and stderr going to Stdout() and Stderr().
  pid_t Spawn(std::vector<std::string> args) const {
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = (tmp_.path() / "stdout").string();
    const std::string err = (tmp_.path() / "stderr").string();
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }
  std::string Stdout() const { return ReadFile(tmp_.path() / "stdout"); }
  std::string Stderr() const { return ReadFile(tmp_.path() / "stderr"); }

  // The device state the agent persisted.
  update::DeviceState State() const {
    Result<update::StateStore> store = update::StateStore::Open(tmp_.path() / "state");
    EXPECT_TRUE(store);
    Result<update::DeviceState> state = store->Load();
    EXPECT_TRUE(state) << state.error().ToString();
    return state ? *state : update::DeviceState{};
  }

  TempDir tmp_;
  std::string metadata_url_ = "file://" + (kRepo / "metadata").string();
  std::string targets_url_ = "file://" + (kRepo / "targets").string();
  std::string hardware_id_ = "pump-x1";
};

}  // namespace mdu::agent::testing

#endif  // MDU_TESTS_UNIT_AGENT_UPDATE_FLOW_FIXTURE_H_
