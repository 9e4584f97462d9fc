// The update transaction over a real state directory and the ab-dir installer in a temporary
// directory: healthy commit, failing / hanging / missing health check, installer failures, the
// security floor on a manual install, manual rollback, and a simulated crash (the stop hook) at
// every point, followed by Recover() on a new transaction object.
#include "client-agent/update/transaction.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "client-agent/install/ab_dir_installer.h"
#include "client-agent/update/health_check.h"
#include "core/crypto/hash.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::update {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::TempDir;
using agent::testing::WriteFile;

constexpr std::array<StopPoint, 10> kAllStopPoints = {
    StopPoint::kStagedPersisted,      StopPoint::kInstallingPersisted,
    StopPoint::kSlotWritten,          StopPoint::kSwitched,
    StopPoint::kActivatedPersisted,   StopPoint::kHealthChecked,
    StopPoint::kRollingBackPersisted, StopPoint::kSwitchedBack,
    StopPoint::kCommittedPersisted,   StopPoint::kInstallerCommitted};

// A health checker whose answer the test sets; counts its runs.
class FakeHealthChecker final : public HealthChecker {
 public:
  HealthResult Run(const std::string& slot) override {
    ++runs;
    last_slot = slot;
    return HealthResult{status, status == HealthStatus::kPassed ? 0 : 1, 0, "fake check"};
  }
  HealthStatus status = HealthStatus::kPassed;
  int runs = 0;
  std::string last_slot;
};

// The real installer with switchable failures.
class FlakyInstaller final : public install::Installer {
 public:
  explicit FlakyInstaller(install::AbDirInstaller& real) : real_(real) {}
  Result<std::string> CurrentSlot() override { return real_.CurrentSlot(); }
  Status Install(const fs::path& staged, std::string_view slot) override {
    if (fail_install) return MakeError(ErrorKind::kIo, "disk full (simulated)");
    return real_.Install(staged, slot);
  }
  Status Activate(std::string_view slot) override {
    if (fail_activate) return MakeError(ErrorKind::kIo, "rename failed (simulated)");
    return real_.Activate(slot);
  }
  Status Commit(std::string_view slot) override { return real_.Commit(slot); }
  Status Rollback(std::string_view slot) override { return real_.Rollback(slot); }
  bool fail_install = false;
  bool fail_activate = false;

 private:
  install::AbDirInstaller& real_;
};

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<StateStore> store = StateStore::Open(tmp_.path() / "state");
    ASSERT_TRUE(store) << store.error().ToString();
    store_.emplace(std::move(*store));
    Result<install::AbDirInstaller> installer =
        install::AbDirInstaller::Open(tmp_.path() / "install");
    ASSERT_TRUE(installer) << installer.error().ToString();
    real_installer_.emplace(std::move(*installer));
    installer_.emplace(*real_installer_);
    fs::create_directories(tmp_.path() / "staging");
  }

  // A staged payload "payload <version>" (staging/<version>/firmware.bin) and its record.
  UpdateRequest Stage(const std::string& version, int64_t security_version) {
    const std::string content = "payload " + version + "\n";
    const fs::path dir = tmp_.path() / "staging" / version;
    fs::create_directories(dir);
    const fs::path file = dir / "firmware.bin";
    WriteFile(file, content);
    return UpdateRequest{TargetRecord{.name = "pump/firmware-" + version + ".bin",
                                      .version = version,
                                      .sha256 = crypto::Sha256Hex(content),
                                      .security_version = security_version},
                         file};
  }

  TransactionResult RunOk(const UpdateRequest& request, HealthChecker& health) {
    UpdateTransaction transaction(*store_, *installer_, health);
    Result<TransactionResult> result = transaction.Run(request);
    EXPECT_TRUE(result) << result.error().ToString();
    return result ? *result : TransactionResult{};
  }

  DeviceState State() {
    Result<DeviceState> state = store_->Load();
    EXPECT_TRUE(state) << state.error().ToString();
    return state ? *state : DeviceState{};
  }

  std::string ActivePayload() {
    const fs::path file = tmp_.path() / "install" / "current" / "firmware.bin";
    return fs::exists(file) ? ReadFile(file) : std::string("<none>");
  }

  // Exactly `version` committed: installed, active slot, payload, no pending transaction.
  void ExpectCommitted(const std::optional<UpdateRequest>& expected, int64_t floor) {
    DeviceState state = State();
    EXPECT_FALSE(state.pending) << "phase " << PhaseName(state.pending->phase);
    EXPECT_EQ(state.security_floor, floor);
    Result<std::string> slot = real_installer_->CurrentSlot();
    ASSERT_TRUE(slot);
    if (!expected) {
      EXPECT_FALSE(state.installed);
      EXPECT_EQ(*slot, "");
      return;
    }
    ASSERT_TRUE(state.installed);
    EXPECT_EQ(state.installed->target, expected->target);
    EXPECT_EQ(state.installed->slot, *slot);
    EXPECT_EQ(ActivePayload(), "payload " + expected->target.version + "\n");
  }

  TempDir tmp_;
  std::optional<StateStore> store_;
  std::optional<install::AbDirInstaller> real_installer_;
  std::optional<FlakyInstaller> installer_;
  FakeHealthChecker healthy_;
};

TEST_F(TransactionTest, HealthyUpdateCommits) {
  const UpdateRequest v1 = Stage("1.0", 1);
  TransactionResult first = RunOk(v1, healthy_);
  EXPECT_EQ(first.outcome, Outcome::kCommitted);
  EXPECT_EQ(first.reason, Reason::kNone);
  ExpectCommitted(v1, 1);
  EXPECT_EQ(State().installed->slot, "a");

  const UpdateRequest v2 = Stage("2.0", 3);
  TransactionResult second = RunOk(v2, healthy_);
  EXPECT_EQ(second.outcome, Outcome::kCommitted);
  ExpectCommitted(v2, 3);
  DeviceState state = State();
  EXPECT_EQ(state.installed->slot, "b");
  ASSERT_TRUE(state.previous);
  EXPECT_EQ(state.previous->target, v1.target);
  EXPECT_EQ(state.previous->slot, "a");
  ASSERT_TRUE(state.last_result);
  EXPECT_EQ(state.last_result->outcome, Outcome::kCommitted);
  EXPECT_EQ(state.last_result->target, v2.target);
  EXPECT_EQ(healthy_.runs, 2);
  EXPECT_EQ(healthy_.last_slot, "b");
  EXPECT_EQ(ReadFile(tmp_.path() / "install" / "slot-a" / "firmware.bin"), "payload 1.0\n");
}

TEST_F(TransactionTest, FailingHealthCheckRollsBackAndReportsTheReason) {
  const UpdateRequest v1 = Stage("1.0", 1);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  CommandHealthChecker failing({{"false"}, std::chrono::seconds(30)});
  TransactionResult result = RunOk(Stage("2.0", 2), failing);
  EXPECT_EQ(result.outcome, Outcome::kRolledBack);
  EXPECT_EQ(result.reason, Reason::kHealthCheckFailed);
  EXPECT_NE(result.message.find("exited with status 1"), std::string::npos) << result.message;
  ExpectCommitted(v1, 1);  // floor not raised
  DeviceState state = State();
  ASSERT_TRUE(state.last_result);
  EXPECT_EQ(state.last_result->outcome, Outcome::kRolledBack);
  EXPECT_EQ(state.last_result->reason, Reason::kHealthCheckFailed);
  EXPECT_EQ(state.last_result->target.version, "2.0");
  EXPECT_FALSE(state.previous);  // its slot now holds the rejected payload
}

TEST_F(TransactionTest, HealthCheckRunsAgainstTheActivatedSlot) {
  ASSERT_EQ(RunOk(Stage("1.0", 1), healthy_).outcome, Outcome::kCommitted);
  const std::string payload = (tmp_.path() / "install" / "current" / "firmware.bin").string();
  CommandHealthChecker check({{"sh", "-c", "test \"$MDU_SLOT\" = b && grep -q 2.0 \"$0\"", payload},
                              std::chrono::seconds(30)});
  const UpdateRequest v2 = Stage("2.0", 1);
  EXPECT_EQ(RunOk(v2, check).outcome, Outcome::kCommitted);
  ExpectCommitted(v2, 1);
}

TEST_F(TransactionTest, HealthCheckTimeoutRollsBack) {
  const UpdateRequest v1 = Stage("1.0", 1);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  // The child of the shell keeps running too unless the whole process group is killed; the
  // test would then leave a sleeping process behind (harmless but visible in ps).
  CommandHealthChecker hanging({{"sh", "-c", "sleep 600 & wait"}, std::chrono::milliseconds(200)});
  TransactionResult result = RunOk(Stage("2.0", 2), hanging);
  EXPECT_EQ(result.outcome, Outcome::kRolledBack);
  EXPECT_EQ(result.reason, Reason::kHealthCheckTimeout);
  ExpectCommitted(v1, 1);
  EXPECT_EQ(State().last_result->reason, Reason::kHealthCheckTimeout);
}

TEST_F(TransactionTest, HealthCheckThatCannotStartRollsBack) {
  const UpdateRequest v1 = Stage("1.0", 1);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  CommandHealthChecker missing({{"/nonexistent/health-check"}, std::chrono::seconds(5)});
  TransactionResult result = RunOk(Stage("2.0", 2), missing);
  EXPECT_EQ(result.outcome, Outcome::kRolledBack);
  EXPECT_EQ(result.reason, Reason::kHealthCheckError);
  ExpectCommitted(v1, 1);
}

TEST_F(TransactionTest, InstallAndActivateFailuresRollBack) {
  const UpdateRequest v1 = Stage("1.0", 1);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  installer_->fail_install = true;
  TransactionResult install = RunOk(Stage("2.0", 2), healthy_);
  EXPECT_EQ(install.outcome, Outcome::kRolledBack);
  EXPECT_EQ(install.reason, Reason::kInstallFailed);
  EXPECT_NE(install.message.find("disk full"), std::string::npos);
  ExpectCommitted(v1, 1);

  installer_->fail_install = false;
  installer_->fail_activate = true;
  TransactionResult activate = RunOk(Stage("2.0", 2), healthy_);
  EXPECT_EQ(activate.outcome, Outcome::kRolledBack);
  EXPECT_EQ(activate.reason, Reason::kActivateFailed);
  ExpectCommitted(v1, 1);
  EXPECT_EQ(healthy_.runs, 1);  // only v1 was ever checked
}

TEST_F(TransactionTest, SecurityFloorIsEnforcedForAManualInstall) {
  const UpdateRequest v2 = Stage("2.0", 5);
  ASSERT_EQ(RunOk(v2, healthy_).outcome, Outcome::kCommitted);
  // An older file with a lower security_version, installed by hand: refused, nothing touched.
  TransactionResult result = RunOk(Stage("1.0", 4), healthy_);
  EXPECT_EQ(result.outcome, Outcome::kRefused);
  EXPECT_EQ(result.reason, Reason::kSecurityFloor);
  ExpectCommitted(v2, 5);
  EXPECT_FALSE(fs::exists(tmp_.path() / "install" / "slot-b"));
  EXPECT_EQ(State().last_result->reason, Reason::kSecurityFloor);
  EXPECT_EQ(healthy_.runs, 1);
  // Equal to the floor is allowed.
  const UpdateRequest v3 = Stage("3.0", 5);
  EXPECT_EQ(RunOk(v3, healthy_).outcome, Outcome::kCommitted);
  ExpectCommitted(v3, 5);
}

TEST_F(TransactionTest, StagedFileThatIsNotTheTargetIsRefused) {
  UpdateRequest v1 = Stage("1.0", 1);
  WriteFile(v1.staged_file, "payload 1.0 with a backdoor\n");
  TransactionResult result = RunOk(v1, healthy_);
  EXPECT_EQ(result.outcome, Outcome::kRefused);
  EXPECT_EQ(result.reason, Reason::kHashMismatch);
  ExpectCommitted(std::nullopt, 0);
  EXPECT_FALSE(fs::exists(tmp_.path() / "install" / "slot-a"));

  v1.target.sha256.clear();
  EXPECT_EQ(RunOk(v1, healthy_).reason, Reason::kHashMismatch);
}

TEST_F(TransactionTest, PendingTransactionMustBeRecoveredFirst) {
  const UpdateRequest v1 = Stage("1.0", 1);
  UpdateTransaction crashing(*store_, *installer_, healthy_);
  crashing.set_stop_hook([](StopPoint p) { return p == StopPoint::kActivatedPersisted; });
  Result<TransactionResult> stopped = crashing.Run(v1);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->stopped_at, StopPoint::kActivatedPersisted);

  TransactionResult refused = RunOk(Stage("2.0", 1), healthy_);
  EXPECT_EQ(refused.outcome, Outcome::kRefused);
  EXPECT_EQ(refused.reason, Reason::kTransactionPending);
  ASSERT_TRUE(State().pending);
  EXPECT_EQ(State().pending->phase, Phase::kActivated);
}

TEST_F(TransactionTest, RecoverWithNothingPendingDoesNothing) {
  UpdateTransaction transaction(*store_, *installer_, healthy_);
  Result<std::optional<TransactionResult>> recovered = transaction.Recover();
  ASSERT_TRUE(recovered);
  EXPECT_FALSE(recovered->has_value());
}

TEST_F(TransactionTest, ManualRollbackReturnsToThePreviousSlot) {
  const UpdateRequest v1 = Stage("1.0", 2);
  const UpdateRequest v2 = Stage("2.0", 2);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  ASSERT_EQ(RunOk(v2, healthy_).outcome, Outcome::kCommitted);
  UpdateTransaction transaction(*store_, *installer_, healthy_);
  Result<TransactionResult> result = transaction.RollbackToPrevious();
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->outcome, Outcome::kCommitted);
  ExpectCommitted(v1, 2);
  ASSERT_TRUE(State().previous);
  EXPECT_EQ(State().previous->target, v2.target);
  // And back again.
  Result<TransactionResult> again = transaction.RollbackToPrevious();
  ASSERT_TRUE(again);
  ExpectCommitted(v2, 2);
}

TEST_F(TransactionTest, ManualRollbackBelowTheFloorIsRefused) {
  const UpdateRequest v1 = Stage("1.0", 1);
  const UpdateRequest v2 = Stage("2.0", 2);
  UpdateTransaction transaction(*store_, *installer_, healthy_);
  Result<TransactionResult> nothing = transaction.RollbackToPrevious();
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->reason, Reason::kNothingToRollBack);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  ASSERT_EQ(RunOk(v2, healthy_).outcome, Outcome::kCommitted);
  Result<TransactionResult> result = transaction.RollbackToPrevious();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->outcome, Outcome::kRefused);
  EXPECT_EQ(result->reason, Reason::kSecurityFloor);
  ExpectCommitted(v2, 2);
}

// A simulated crash at every point of an update from v1 to v2, with a passing and with a
// failing health check; a new transaction object on the same directories then recovers.
struct CrashCase {
  StopPoint point;
  bool healthy;
};

class TransactionCrashTest : public TransactionTest,
                             public ::testing::WithParamInterface<CrashCase> {};

TEST_P(TransactionCrashTest, EndsInExactlyOldOrNewCommitted) {
  const CrashCase param = GetParam();
  const UpdateRequest v1 = Stage("1.0", 1);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  const UpdateRequest v2 = Stage("2.0", 2);

  FakeHealthChecker check;
  check.status = param.healthy ? HealthStatus::kPassed : HealthStatus::kFailed;
  std::optional<StopPoint> stopped;
  {
    UpdateTransaction crashing(*store_, *installer_, check);
    crashing.set_stop_hook([&](StopPoint p) { return p == param.point; });
    Result<TransactionResult> result = crashing.Run(v2);
    ASSERT_TRUE(result) << result.error().ToString();
    stopped = result->stopped_at;
  }
  // Points a run does not pass (rollback points in a healthy run, commit points in a failing
  // one) never stop it.
  const bool rollback_point =
      param.point == StopPoint::kRollingBackPersisted || param.point == StopPoint::kSwitchedBack;
  const bool commit_point = param.point == StopPoint::kCommittedPersisted ||
                            param.point == StopPoint::kInstallerCommitted;
  EXPECT_EQ(stopped.has_value(), param.healthy ? !rollback_point : !commit_point);

  UpdateTransaction restarted(*store_, *installer_, healthy_);
  Result<std::optional<TransactionResult>> recovered = restarted.Recover();
  ASSERT_TRUE(recovered) << recovered.error().ToString();
  EXPECT_EQ(recovered->has_value(), stopped.has_value());

  const bool new_committed = param.healthy && (commit_point || !stopped);
  if (new_committed) {
    ExpectCommitted(v2, 2);
  } else {
    ExpectCommitted(v1, 1);
    ASSERT_TRUE(State().last_result);
    EXPECT_EQ(State().last_result->outcome, Outcome::kRolledBack);
    const bool interrupted = stopped && param.point != StopPoint::kRollingBackPersisted &&
                             param.point != StopPoint::kSwitchedBack;
    EXPECT_EQ(State().last_result->reason,
              interrupted ? Reason::kInterrupted : Reason::kHealthCheckFailed);
  }
  // Recovery is complete: a second Recover has nothing to do, the next update works.
  Result<std::optional<TransactionResult>> again = restarted.Recover();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
  const UpdateRequest v3 = Stage("3.0", 3);
  EXPECT_EQ(RunOk(v3, healthy_).outcome, Outcome::kCommitted);
  ExpectCommitted(v3, 3);
}

std::vector<CrashCase> AllCrashCases() {
  std::vector<CrashCase> cases;
  for (StopPoint point : kAllStopPoints) {
    cases.push_back({point, true});
    cases.push_back({point, false});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryStopPoint, TransactionCrashTest, ::testing::ValuesIn(AllCrashCases()),
                         [](const ::testing::TestParamInfo<CrashCase>& param_info) {
                           return std::string(StopPointName(param_info.param.point)) +
                                  (param_info.param.healthy ? "_healthy" : "_failing");
                         });

TEST_F(TransactionTest, CrashOnFirstInstallRecoversToNothingInstalled) {
  const UpdateRequest v1 = Stage("1.0", 1);
  {
    UpdateTransaction crashing(*store_, *installer_, healthy_);
    crashing.set_stop_hook([](StopPoint p) { return p == StopPoint::kSwitched; });
    ASSERT_TRUE(crashing.Run(v1));
  }
  EXPECT_EQ(*real_installer_->CurrentSlot(), "a");  // switched, not yet recorded
  UpdateTransaction restarted(*store_, *installer_, healthy_);
  ASSERT_TRUE(restarted.Recover());
  ExpectCommitted(std::nullopt, 0);
}

TEST_F(TransactionTest, CrashDuringRecoveryIsRecoveredAgain) {
  const UpdateRequest v1 = Stage("1.0", 1);
  ASSERT_EQ(RunOk(v1, healthy_).outcome, Outcome::kCommitted);
  {
    UpdateTransaction crashing(*store_, *installer_, healthy_);
    crashing.set_stop_hook([](StopPoint p) { return p == StopPoint::kActivatedPersisted; });
    ASSERT_TRUE(crashing.Run(Stage("2.0", 2)));
  }
  {
    UpdateTransaction recovering(*store_, *installer_, healthy_);
    recovering.set_stop_hook([](StopPoint p) { return p == StopPoint::kSwitchedBack; });
    Result<std::optional<TransactionResult>> partial = recovering.Recover();
    ASSERT_TRUE(partial);
    ASSERT_TRUE(partial->has_value());
    EXPECT_EQ((*partial)->stopped_at, StopPoint::kSwitchedBack);
  }
  EXPECT_EQ(State().pending->phase, Phase::kRollingBack);
  UpdateTransaction restarted(*store_, *installer_, healthy_);
  Result<std::optional<TransactionResult>> recovered = restarted.Recover();
  ASSERT_TRUE(recovered);
  ASSERT_TRUE(recovered->has_value());
  EXPECT_EQ((*recovered)->outcome, Outcome::kRolledBack);
  EXPECT_EQ((*recovered)->reason, Reason::kInterrupted);
  ExpectCommitted(v1, 1);
}

}  // namespace
}  // namespace mdu::agent::update
