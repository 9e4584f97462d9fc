// The attacks of DESIGN.md section 2 against the Updater and the in-memory repository. Each
// test asserts the error kind, that nothing was written to the target directory, and that the
// trusted metadata store holds exactly the bytes it held before the attack.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>

#include "core/client/clock.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "tests/sim/repository_simulator.h"
#include "tests/sim/test_util.h"

namespace mdu::client {
namespace {

using sim::RepositorySimulator;

constexpr char kFirmware[] = "firmware/pump-1.0.bin";
constexpr char kFirmwareBytes[] = "firmware v1";

class AttackTest : public ::testing::Test {
 protected:
  AttackTest() : clock_(sim::kNow) {
    std::string dir_template = (std::filesystem::temp_directory_path() / "mdu-attack-XXXXXX");
    target_dir_ = ::mkdtemp(dir_template.data());
    sim::Must(store_.Store("root", sim_.MetadataFile("1.root.json")), "bootstrap root");
    sim_.AddTarget("targets", kFirmware, kFirmwareBytes);
    sim_.UpdateSnapshot();
    // The device is up to date with the legitimate repository before each attack.
    Updater updater = NewUpdater();
    sim::Must(updater.Refresh(), "initial refresh");
    before_ = store_.contents();
  }
  ~AttackTest() override { std::filesystem::remove_all(target_dir_); }

  Updater NewUpdater() {
    UpdaterConfig config;
    config.metadata_base_url = std::string(RepositorySimulator::kMetadataUrl);
    config.targets_base_url = std::string(RepositorySimulator::kTargetsUrl);
    return Updater(config, sim_, store_, clock_);
  }

  // What a device does: refresh, look the target up, download it.
  Status Update(std::string_view path = kFirmware) {
    Updater updater = NewUpdater();
    MDU_RETURN_IF_ERROR(updater.Refresh());
    MDU_ASSIGN_OR_RETURN(std::optional<TargetMatch> match, updater.GetTargetInfo(path));
    if (!match) return MakeError(ErrorKind::kNotFound, "no such target " + std::string(path));
    return updater.DownloadTarget(*match, target_dir_ / "download.bin");
  }

  void ExpectRejected(ErrorKind kind, std::string_view path = kFirmware) {
    EXPECT_ERROR_KIND(Update(path), kind);
    EXPECT_TRUE(std::filesystem::is_empty(target_dir_)) << "something was written";
    EXPECT_EQ(store_.contents(), before_) << "the trusted store changed";
  }

  RepositorySimulator sim_;
  MemoryMetadataStore store_;
  FakeClock clock_;
  std::filesystem::path target_dir_;
  std::map<std::string, std::string, std::less<>> before_;
};

TEST_F(AttackTest, LegitimateUpdateSucceeds) {
  ASSERT_OK(Update());
  EXPECT_TRUE(std::filesystem::exists(target_dir_ / "download.bin"));
}

TEST_F(AttackTest, RejectsArbitraryInstallationOfTamperedTarget) {
  sim_.files[sim_.TargetPath("targets", kFirmware)] = "malware v1!";  // same length
  ExpectRejected(ErrorKind::kHashMismatch);
}

TEST_F(AttackTest, RejectsArbitraryInstallationWithForgedTargetsMetadata) {
  // A man in the middle serves targets metadata listing malware, signed by its own key.
  sim_.meta_with_hashes = false;
  sim_.signers["targets"] = {RepositorySimulator::NewKey()};
  sim_.AddTarget("targets", "firmware/evil.bin", "evil");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  ExpectRejected(ErrorKind::kUnsignedMetadata, "firmware/evil.bin");
}

TEST_F(AttackTest, RejectsEndlessDataForTarget) {
  sim_.SetEndless(sim_.TargetPath("targets", kFirmware));
  ExpectRejected(ErrorKind::kLimitExceeded);
}

TEST_F(AttackTest, RejectsEndlessDataForTimestamp) {
  sim_.SetEndless("metadata/timestamp.json");
  ExpectRejected(ErrorKind::kLimitExceeded);
}

TEST_F(AttackTest, RejectsEndlessDataForSnapshot) {
  sim_.UpdateSnapshot();
  sim_.SetEndless("metadata/3.snapshot.json");
  ExpectRejected(ErrorKind::kLimitExceeded);
}

TEST_F(AttackTest, RejectsExtraneousDependencyNotInSnapshot) {
  // targets delegates to "rogue", but snapshot does not list it.
  sim_.AddDelegation("targets", "rogue", {"firmware/*"});
  sim_.AddTarget("rogue", "firmware/rogue.bin", "rogue");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  sim_.snapshot.meta.erase("rogue.json");
  ++sim_.snapshot.common.version;
  sim_.files["metadata/" + std::to_string(sim_.snapshot.common.version) + ".snapshot.json"] =
      sim_.SignRole("snapshot");
  sim_.meta_with_hashes = false;
  sim_.UpdateTimestamp();
  // Refresh succeeds (the new state is legitimate); the lookup must refuse the unlisted role.
  Updater updater = NewUpdater();
  ASSERT_OK(updater.Refresh());
  const auto after_refresh = store_.contents();
  EXPECT_ERROR_KIND(updater.GetTargetInfo("firmware/rogue.bin"), ErrorKind::kBadMetadata);
  EXPECT_EQ(sim_.FetchCount("metadata/1.rogue.json"), 0);
  EXPECT_TRUE(std::filesystem::is_empty(target_dir_));
  EXPECT_EQ(store_.contents(), after_refresh);
}

TEST_F(AttackTest, RejectsExtraneousDependencyOutsideDelegatedPaths) {
  // "rogue" is delegated only rogue/* and listed in snapshot, but lists firmware/rogue.bin:
  // the search never consults it for that path.
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.AddDelegation("targets", "rogue", {"rogue/*"});
  sim_.AddTarget("rogue", "firmware/rogue.bin", "rogue");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  Updater updater = NewUpdater();
  ASSERT_OK(updater.Refresh());
  auto found = updater.GetTargetInfo("firmware/rogue.bin");
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(sim_.FetchCount("metadata/1.rogue.json"), 0);
}

TEST_F(AttackTest, RejectsFastForwardedTimestampUntilKeysRotate) {
  // The attacker, holding the online timestamp key, served version 1000; the device took it.
  sim_.timestamp.common.version = 999;
  sim_.UpdateTimestamp();
  ASSERT_OK(Update());
  before_ = store_.contents();
  std::filesystem::remove(target_dir_ / "download.bin");
  // The repository is restored with honest version numbers: the device must refuse the
  // rollback from its point of view until the keys rotate.
  sim_.timestamp.common.version = 2;
  sim_.UpdateTimestamp();
  ExpectRejected(ErrorKind::kBadVersion);
}

TEST_F(AttackTest, RecoversFromFastForwardByTimestampKeyRotation) {
  sim_.timestamp.common.version = 999;
  sim_.UpdateTimestamp();
  ASSERT_OK(NewUpdater().Refresh());
  // Recovery (5.3.11): new timestamp key in root v2, versions restart.
  sim_.RotateKeys("timestamp");
  sim_.BumpRoot();
  sim_.timestamp.common.version = 2;
  sim_.UpdateTimestamp();
  ASSERT_OK(Update());
  EXPECT_NE(store_.contents().at("timestamp").find("\"version\": 3"), std::string::npos);
}

TEST_F(AttackTest, RecoversFromFastForwardBySnapshotKeyRotation) {
  // The attacker, holding the snapshot and timestamp keys, fast-forwarded snapshot.
  sim_.snapshot.common.version = 999;
  sim_.UpdateSnapshot();
  ASSERT_OK(NewUpdater().Refresh());
  // Only the snapshot key rotates; the stored timestamp (listing snapshot 1000) is forgotten.
  sim_.RotateKeys("snapshot");
  sim_.BumpRoot();
  sim_.snapshot.common.version = 2;
  sim_.UpdateSnapshot();
  ASSERT_OK(Update());
  EXPECT_TRUE(std::filesystem::exists(target_dir_ / "download.bin"));
}

TEST_F(AttackTest, RejectsIndefiniteFreezeOfTimestamp) {
  sim_.timestamp.common.expires = sim::kNow + 10;
  sim_.UpdateTimestamp();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  clock_.Set(sim::kNow + 20);  // the attacker keeps serving the same, now expired, timestamp
  ExpectRejected(ErrorKind::kExpired);
}

TEST_F(AttackTest, RejectsIndefiniteFreezeOfRoot) {
  clock_.Set(sim::kDefaultExpires + 1);  // everything, root included, has expired
  ExpectRejected(ErrorKind::kExpired);
}

TEST_F(AttackTest, RejectsIndefiniteFreezeOfSnapshot) {
  sim_.snapshot.common.expires = sim::kNow + 10;
  sim_.UpdateSnapshot();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  clock_.Set(sim::kNow + 20);
  ExpectRejected(ErrorKind::kExpired);
}

TEST_F(AttackTest, RejectsIndefiniteFreezeOfTargets) {
  sim_.Role("targets").common.expires = sim::kNow + 10;
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  clock_.Set(sim::kNow + 20);
  sim_.UpdateTimestamp();  // still-valid timestamp and snapshot, stale targets
  ExpectRejected(ErrorKind::kExpired);
}

TEST_F(AttackTest, RejectsMaliciousMirrorServingOtherRepository) {
  // A mirror serves a whole repository signed with its own keys.
  RepositorySimulator other;
  other.AddTarget("targets", kFirmware, "malware v1!");
  other.timestamp.common.version = 10;
  other.UpdateSnapshot();
  sim_.files = other.files;
  ExpectRejected(ErrorKind::kUnsignedMetadata);
}

TEST_F(AttackTest, RejectsMixAndMatchOfSnapshot) {
  // The mirror combines the current timestamp with an older snapshot of the same version name.
  const std::string old_snapshot = sim_.MetadataFile("2.snapshot.json");
  sim_.AddTarget("targets", "firmware/pump-1.1.bin", "firmware v1.1");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  sim_.files["metadata/3.snapshot.json"] = old_snapshot;
  ExpectRejected(ErrorKind::kLengthMismatch);
}

TEST_F(AttackTest, RejectsMixAndMatchOfTargets) {
  const std::string old_targets = sim_.MetadataFile("1.targets.json");
  sim_.AddTarget("targets", "firmware/pump-1.1.bin", "firmware v1.1");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  // The old targets, padded with whitespace to the new length: only the hash can tell.
  std::string mixed = old_targets;
  mixed.resize(sim_.MetadataFile("2.targets.json").size(), ' ');
  sim_.files["metadata/2.targets.json"] = mixed;
  ExpectRejected(ErrorKind::kHashMismatch, "firmware/pump-1.1.bin");
}

TEST_F(AttackTest, RejectsRollbackOfTimestamp) {
  const std::string old_timestamp = sim_.MetadataFile("timestamp.json");
  sim_.UpdateTimestamp();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  sim_.files["metadata/timestamp.json"] = old_timestamp;
  ExpectRejected(ErrorKind::kBadVersion);
}

TEST_F(AttackTest, RejectsRollbackOfSnapshot) {
  // A new timestamp (attacker holds the timestamp key) points at an older snapshot version.
  sim_.meta_with_hashes = false;
  sim_.timestamp.snapshot_meta.version = 1;
  ++sim_.timestamp.common.version;
  sim_.files["metadata/timestamp.json"] = sim_.SignRole("timestamp");
  ExpectRejected(ErrorKind::kBadVersion);
}

TEST_F(AttackTest, RejectsRollbackOfTargets) {
  // Snapshot and timestamp keys compromised: new snapshot lists an older targets version.
  const std::string trusted_snapshot_version = std::to_string(sim_.snapshot.common.version);
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  sim_.Role("targets").common.version = 1;
  sim_.UpdateSnapshot();
  ExpectRejected(ErrorKind::kBadVersion);
}

TEST_F(AttackTest, RejectsRollbackOfDelegatedRole) {
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.AddTarget("team", "team/app.bin", "app");
  sim_.Role("team").common.version = 3;
  sim_.UpdateSnapshot();
  ASSERT_OK(Update("team/app.bin"));
  std::filesystem::remove(target_dir_ / "download.bin");
  before_ = store_.contents();
  sim_.Role("team").common.version = 2;
  sim_.UpdateSnapshot();
  ExpectRejected(ErrorKind::kBadVersion, "team/app.bin");
}

TEST_F(AttackTest, RejectsRollbackOfRoot) {
  // Serving an old root as the "next" version is a rollback (5.3.4).
  sim_.BumpRoot();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  sim_.files["metadata/3.root.json"] = sim_.MetadataFile("1.root.json");
  ExpectRejected(ErrorKind::kBadVersion);
}

TEST_F(AttackTest, RejectsSlowRetrieval) {
  sim_.UpdateSnapshot();
  sim_.SetFetchError("metadata/3.snapshot.json", ErrorKind::kSlowRetrieval);
  ExpectRejected(ErrorKind::kSlowRetrieval);
}

TEST_F(AttackTest, RejectsSlowRetrievalOfTarget) {
  sim_.SetFetchError(sim_.TargetPath("targets", kFirmware), ErrorKind::kSlowRetrieval);
  ExpectRejected(ErrorKind::kSlowRetrieval);
}

TEST_F(AttackTest, KeyCompromiseBelowThreshold) {
  // targets needs 2 of 2 keys; the attacker holds one and signs a malicious targets.
  sim_.AddKey("targets");
  sim_.root.roles["targets"].threshold = 2;
  sim_.BumpRoot();
  sim_.UpdateSnapshot();
  ASSERT_OK(NewUpdater().Refresh());
  before_ = store_.contents();
  sim_.signers["targets"].pop_back();
  sim_.AddTarget("targets", "firmware/evil.bin", "evil");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  ExpectRejected(ErrorKind::kUnsignedMetadata, "firmware/evil.bin");
}

TEST_F(AttackTest, RecoversByRootRotation) {
  // The targets key leaks and is used to sign malware; release engineers rotate it in root v2.
  auto leaked = sim_.signers["targets"];
  sim_.RotateKeys("targets");
  sim_.RotateKeys("root");
  sim_.BumpRoot();
  sim_.UpdateSnapshot();
  ASSERT_OK(Update());
  std::filesystem::remove(target_dir_ / "download.bin");
  before_ = store_.contents();
  EXPECT_EQ(store_.contents().at("root"), sim_.MetadataFile("2.root.json"));
  // The attacker now signs with the leaked (rotated-out) key: rejected.
  sim_.signers["targets"] = leaked;
  sim_.AddTarget("targets", "firmware/evil.bin", "evil");
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();
  ExpectRejected(ErrorKind::kUnsignedMetadata, "firmware/evil.bin");
}

TEST_F(AttackTest, RejectsRootNotSignedByPreviousRoot) {
  sim_.RotateKeys("root");
  sim_.ForgetOldRootKeys();
  sim_.BumpRoot();
  ExpectRejected(ErrorKind::kUnsignedMetadata);
}

}  // namespace
}  // namespace mdu::client
