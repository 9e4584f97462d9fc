// The script installer (a vendor executable per stage) and the configuration backup/restore
// around the update transaction, including a simulated crash at every stop point followed by
// Recover().
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>

#include "client-agent/install/ab_dir_installer.h"
#include "client-agent/install/script_installer.h"
#include "client-agent/update/config_backup.h"
#include "client-agent/update/transaction.h"
#include "core/crypto/hash.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::TempDir;
using agent::testing::WriteFile;

// A vendor script that appends "<stage> <slot> <payload basename>" to $MDU_WORK_DIR/stages.log,
// copies the payload on install, and fails the stage named in $MDU_WORK_DIR/fail (if any).
constexpr const char* kScript = R"SH(#!/bin/sh
echo "$1 $MDU_STAGE $MDU_SLOT $(basename "$MDU_PAYLOAD")" >> "$MDU_WORK_DIR/stages.log"
if [ -f "$MDU_WORK_DIR/fail" ] && [ "$(cat "$MDU_WORK_DIR/fail")" = "$1" ]; then exit 7; fi
if [ "$1" = install ]; then cp "$MDU_PAYLOAD" "$MDU_WORK_DIR/slot-$MDU_SLOT"; fi
if [ -f "$MDU_WORK_DIR/hang" ] && [ "$(cat "$MDU_WORK_DIR/hang")" = "$1" ]; then sleep 30; fi
exit 0
)SH";

class ScriptInstallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = tmp_.path() / "vendor-install";
    WriteFile(script_, kScript);
    ASSERT_EQ(::chmod(script_.c_str(), 0755), 0);
    payload_ = tmp_.path() / "fw.bin";
    WriteFile(payload_, "firmware 2.0\n");
    Result<install::ScriptInstaller> installer = install::ScriptInstaller::Open(
        {script_, tmp_.path() / "work", std::chrono::milliseconds(2000)});
    ASSERT_TRUE(installer) << installer.error().ToString();
    installer_.emplace(std::move(*installer));
  }
  std::string Log() { return ReadFile(tmp_.path() / "work" / "stages.log"); }

  TempDir tmp_;
  fs::path script_;
  fs::path payload_;
  std::optional<install::ScriptInstaller> installer_;
};

TEST_F(ScriptInstallerTest, RunsEachStageWithItsEnvironment) {
  EXPECT_EQ(*installer_->CurrentSlot(), "");
  ASSERT_TRUE(installer_->Install(payload_, "a"));
  EXPECT_EQ(ReadFile(tmp_.path() / "work" / "slot-a"), "firmware 2.0\n");
  ASSERT_TRUE(installer_->Activate("a"));
  EXPECT_EQ(*installer_->CurrentSlot(), "a");
  ASSERT_TRUE(installer_->Commit("a"));
  ASSERT_TRUE(installer_->Rollback(""));
  EXPECT_EQ(*installer_->CurrentSlot(), "");
  EXPECT_EQ(Log(),
            "download download a fw.bin\ninstall install a fw.bin\nactivate activate a \n"
            "commit commit a \nrollback rollback  \nfailure failure  \n");
}

TEST_F(ScriptInstallerTest, FailingStageIsAnErrorAndActivationIsNotRecorded) {
  WriteFile(tmp_.path() / "work" / "fail", "activate");
  ASSERT_TRUE(installer_->Install(payload_, "a"));
  Status activated = installer_->Activate("a");
  ASSERT_FALSE(activated);
  EXPECT_NE(activated.error().message().find("activate"), std::string::npos);
  EXPECT_NE(activated.error().message().find("status 7"), std::string::npos)
      << activated.error().message();
  EXPECT_EQ(*installer_->CurrentSlot(), "");
}

TEST_F(ScriptInstallerTest, HangingStageIsKilledAtTheTimeout) {
  WriteFile(tmp_.path() / "work" / "hang", "commit");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(installer_->Commit("a"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ScriptInstallerTest, RefusesTheActiveSlotAndUnknownSlots) {
  ASSERT_TRUE(installer_->Activate("a"));
  EXPECT_FALSE(installer_->Install(payload_, "a"));
  EXPECT_FALSE(installer_->Install(payload_, "c"));
  EXPECT_FALSE(install::ScriptInstaller::Open({"relative/script", tmp_.path() / "w", {}}));
}

TEST_F(ScriptInstallerTest, TransactionRollsBackWhenTheScriptsHealthCheckFails) {
  Result<update::StateStore> store = update::StateStore::Open(tmp_.path() / "state");
  ASSERT_TRUE(store);
  install::ScriptHealthChecker health(*installer_);
  update::UpdateTransaction transaction(*store, *installer_, health);
  const update::TargetRecord target{"fw.bin", "2.0", crypto::Sha256Hex("firmware 2.0\n"), 1};
  WriteFile(tmp_.path() / "work" / "fail", "health-check");
  Result<update::TransactionResult> failed = transaction.Run({target, payload_});
  ASSERT_TRUE(failed) << failed.error().ToString();
  EXPECT_EQ(failed->outcome, update::Outcome::kRolledBack);
  EXPECT_EQ(failed->reason, update::Reason::kHealthCheckFailed);
  EXPECT_NE(Log().find("failure failure"), std::string::npos) << Log();

  fs::remove(tmp_.path() / "work" / "fail");
  Result<update::TransactionResult> ok = transaction.Run({target, payload_});
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->outcome, update::Outcome::kCommitted);
  EXPECT_EQ(*installer_->CurrentSlot(), "a");
}

// ---- configuration backup ----

class FixedHealth final : public update::HealthChecker {
 public:
  update::HealthResult Run(const std::string&) override {
    return {pass ? update::HealthStatus::kPassed : update::HealthStatus::kFailed, pass ? 0 : 1, 0,
            "fixed"};
  }
  bool pass = true;
};

class ConfigBackupTest : public ::testing::Test {
 public:
  // What a new version's first start does to the configuration.
  void Migrate() {
    WriteFile(conf_, "rate=2 migrated\n");
    WriteFile(absent_, "created by 2.0\n");
  }

 protected:
  void SetUp() override {
    conf_ = tmp_.path() / "etc" / "pump.conf";
    absent_ = tmp_.path() / "etc" / "new.conf";
    fs::create_directories(conf_.parent_path());
    WriteFile(conf_, "rate=1\n");
    ASSERT_EQ(::chmod(conf_.c_str(), 0640), 0);
    payload_ = tmp_.path() / "fw.bin";
    WriteFile(payload_, "firmware 2.0\n");
  }
  void ExpectOriginal() {
    EXPECT_EQ(ReadFile(conf_), "rate=1\n");
    EXPECT_FALSE(fs::exists(absent_));
    EXPECT_EQ(fs::status(conf_).permissions() & fs::perms::all, static_cast<fs::perms>(0640));
  }
  update::ConfigBackup Backup() { return update::ConfigBackup(tmp_.path() / "state", {conf_, absent_}); }

  TempDir tmp_;
  fs::path conf_, absent_, payload_;
  const update::TargetRecord target_{"fw.bin", "2.0", crypto::Sha256Hex("firmware 2.0\n"), 1};
};

TEST_F(ConfigBackupTest, RestoresOnlyForTheSameTransaction) {
  fs::create_directories(tmp_.path() / "state");
  update::ConfigBackup backup = Backup();
  ASSERT_TRUE(backup.Backup({"", "a", "fw.bin"}));
  Migrate();
  EXPECT_FALSE(*backup.RestoreFor({"a", "b", "fw.bin"}));  // another transaction: untouched
  EXPECT_EQ(ReadFile(conf_), "rate=2 migrated\n");
  Result<bool> restored = backup.RestoreFor({"", "a", "fw.bin"});
  ASSERT_TRUE(restored) << restored.error().ToString();
  EXPECT_TRUE(*restored);
  ExpectOriginal();
}

TEST_F(ConfigBackupTest, RefusesADamagedBackup) {
  fs::create_directories(tmp_.path() / "state");
  update::ConfigBackup backup = Backup();
  ASSERT_TRUE(backup.Backup({"", "a", "fw.bin"}));
  Migrate();
  WriteFile(tmp_.path() / "state" / "config-backup" / "0", "rate=999 planted\n");
  Result<bool> restored = backup.RestoreFor({"", "a", "fw.bin"});
  ASSERT_FALSE(restored);
  EXPECT_EQ(restored.error().kind(), ErrorKind::kHashMismatch);
  EXPECT_EQ(ReadFile(conf_), "rate=2 migrated\n");  // all or nothing
}

TEST_F(ConfigBackupTest, FailedHealthCheckRestoresTheConfiguration) {
  Result<update::StateStore> store = update::StateStore::Open(tmp_.path() / "state");
  ASSERT_TRUE(store);
  Result<install::AbDirInstaller> installer = install::AbDirInstaller::Open(tmp_.path() / "install");
  ASSERT_TRUE(installer);
  update::ConfigBackup backup = Backup();
  // The "new version" migrates the configuration during its health check, then fails it.
  class MigratingHealth final : public update::HealthChecker {
   public:
    explicit MigratingHealth(ConfigBackupTest& test) : test_(test) {}
    update::HealthResult Run(const std::string&) override {
      test_.Migrate();
      return {update::HealthStatus::kFailed, 1, 0, "new version broke"};
    }
    ConfigBackupTest& test_;
  } health(*this);
  update::UpdateTransaction transaction(*store, *installer, health);
  transaction.set_config_backup(&backup);
  Result<update::TransactionResult> result = transaction.Run({target_, payload_});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->outcome, update::Outcome::kRolledBack);
  ExpectOriginal();
}

constexpr std::array<update::StopPoint, 7> kBeforeCommit = {
    update::StopPoint::kStagedPersisted,      update::StopPoint::kInstallingPersisted,
    update::StopPoint::kSlotWritten,          update::StopPoint::kSwitched,
    update::StopPoint::kActivatedPersisted,   update::StopPoint::kHealthChecked,
    update::StopPoint::kRollingBackPersisted};

class ConfigBackupCrashTest : public ConfigBackupTest,
                              public ::testing::WithParamInterface<update::StopPoint> {};

// A crash at any point before commit, after the new version changed the configuration, then
// Recover() at the next start: the configuration is the one from before the update.
TEST_P(ConfigBackupCrashTest, RecoverRestoresTheConfiguration) {
  Result<update::StateStore> store = update::StateStore::Open(tmp_.path() / "state");
  ASSERT_TRUE(store);
  Result<install::AbDirInstaller> installer = install::AbDirInstaller::Open(tmp_.path() / "install");
  ASSERT_TRUE(installer);
  update::ConfigBackup backup = Backup();
  FixedHealth health;
  health.pass = GetParam() != update::StopPoint::kRollingBackPersisted;
  {
    update::UpdateTransaction transaction(*store, *installer, health);
    transaction.set_config_backup(&backup);
    transaction.set_stop_hook([&](update::StopPoint point) {
      if (point == update::StopPoint::kSlotWritten) Migrate();  // the new version changed it
      return point == GetParam();
    });
    Result<update::TransactionResult> result = transaction.Run({target_, payload_});
    ASSERT_TRUE(result) << result.error().ToString();
    ASSERT_TRUE(result->stopped_at);
  }
  if (GetParam() != update::StopPoint::kStagedPersisted &&
      GetParam() != update::StopPoint::kInstallingPersisted) {
    EXPECT_EQ(ReadFile(conf_), "rate=2 migrated\n");
  }
  update::UpdateTransaction restarted(*store, *installer, health);
  restarted.set_config_backup(&backup);
  Result<std::optional<update::TransactionResult>> recovered = restarted.Recover();
  ASSERT_TRUE(recovered) << recovered.error().ToString();
  ASSERT_TRUE(recovered->has_value());
  EXPECT_EQ((*recovered)->outcome, update::Outcome::kRolledBack);
  ExpectOriginal();
}

INSTANTIATE_TEST_SUITE_P(EveryStopPointBeforeCommit, ConfigBackupCrashTest,
                         ::testing::ValuesIn(kBeforeCommit),
                         [](const ::testing::TestParamInfo<update::StopPoint>& param) {
                           return std::string(update::StopPointName(param.param));
                         });

}  // namespace
}  // namespace mdu::agent
