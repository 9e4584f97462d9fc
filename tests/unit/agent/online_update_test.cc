// UpdateOnce against the python-tuf reference repository over file:// with a pinned clock:
// refresh, select (manifest.txt: version 1.0.0, hardware pump-x1, security_version 3), download
// verified into the staging area, install with the ab-dir installer, commit.
#include "client-agent/update/online_update.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "client-agent/update/device_state.h"
#include "core/io/file.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::update {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::TempDir;

const fs::path kRepo = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";
constexpr client::UnixTime k2030 = 1893456000;

class AlwaysHealthy final : public HealthChecker {
 public:
  HealthResult Run(const std::string&) override {
    ++runs;
    return HealthResult{HealthStatus::kPassed, 0, 0, "ok"};
  }
  int runs = 0;
};

class OnlineUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.metadata_dir = tmp_.path() / "md";
    options_.metadata_url = "file://" + (kRepo / "metadata").string();
    options_.target_base_url = "file://" + (kRepo / "targets").string();
    options_.state_dir = tmp_.path() / "state";
    options_.install_root = tmp_.path() / "install";
    options_.hardware_id = "pump-x1";
    fs::create_directories(options_.metadata_dir);
    fs::copy_file(kRepo / "metadata/1.root.json", options_.metadata_dir / "root.json");
  }
  Result<OnlineUpdateResult> Update() { return UpdateOnce(options_, fetcher_, clock_, health_); }

  TempDir tmp_;
  OnlineUpdateOptions options_;
  client::FileFetcher fetcher_;
  client::FakeClock clock_{k2030};
  AlwaysHealthy health_;
};

TEST_F(OnlineUpdateTest, InstallsTheSignedTargetAndCommits) {
  Result<OnlineUpdateResult> result = Update();
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_FALSE(result->recovered);
  ASSERT_TRUE(result->selection.selected);
  EXPECT_EQ(result->selection.selected->name, "manifest.txt");
  ASSERT_TRUE(result->transaction);
  EXPECT_EQ(result->transaction->outcome, Outcome::kCommitted);

  Result<StateStore> store = StateStore::Open(options_.state_dir);
  ASSERT_TRUE(store);
  Result<DeviceState> state = store->Load();
  ASSERT_TRUE(state);
  ASSERT_TRUE(state->installed);
  EXPECT_EQ(state->installed->target.version, "1.0.0");
  EXPECT_EQ(state->installed->target.sha256,
            "d60c270baa755e81f66806d66205c0aec98e870078f9e289ee92d88000e86fd5");
  EXPECT_EQ(state->security_floor, 3);
  EXPECT_EQ(ReadFile(options_.install_root / "current" / "manifest.txt"),
            ReadFile(kRepo / "targets" /
                     "d60c270baa755e81f66806d66205c0aec98e870078f9e289ee92d88000e86fd5."
                     "manifest.txt"));
  EXPECT_TRUE(fs::is_empty(options_.state_dir / "staging"));  // staged copy removed

  // Nothing newer: the second run selects nothing and says why.
  Result<OnlineUpdateResult> again = Update();
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_FALSE(again->selection.selected);
  EXPECT_FALSE(again->transaction);
  ASSERT_FALSE(again->selection.rejected.empty());
  EXPECT_EQ(again->selection.rejected.front().reason, Reason::kNotNewer);
  EXPECT_EQ(health_.runs, 1);
}

TEST_F(OnlineUpdateTest, OtherHardwareInstallsNothing) {
  options_.hardware_id = "monitor-b";
  Result<OnlineUpdateResult> result = Update();
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_FALSE(result->transaction);
  ASSERT_EQ(result->selection.rejected.size(), 1u);
  EXPECT_EQ(result->selection.rejected[0].reason, Reason::kHardwareMismatch);
  EXPECT_FALSE(fs::exists(options_.install_root / "current"));
}

TEST_F(OnlineUpdateTest, RefusedRefreshInstallsNothing) {
  clock_.Set(2114380800);  // 2037: every role expired (freeze attack)
  Result<OnlineUpdateResult> result = Update();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kExpired);
  EXPECT_FALSE(fs::exists(options_.install_root / "current"));
}

TEST_F(OnlineUpdateTest, UnknownNamedTargetIsNotFound) {
  options_.target_names = {"no/such/target.bin"};
  Result<OnlineUpdateResult> result = Update();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kNotFound);
}

}  // namespace
}  // namespace mdu::agent::update
