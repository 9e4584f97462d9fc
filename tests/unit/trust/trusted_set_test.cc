// Negative tests for every check of TrustedSet (TUF 1.0.x client workflow 5.3 to 5.6), fed with
// bytes signed by the in-memory repository simulator.
#include "core/trust/trusted_set.h"

#include <gtest/gtest.h>

#include <string>

#include "core/json/writer.h"
#include "tests/sim/repository_simulator.h"
#include "tests/sim/test_util.h"

namespace mdu::trust {
namespace {

using sim::kNow;
using sim::Must;

class TrustedSetTest : public ::testing::Test {
 protected:
  const std::string& File(std::string_view name) { return sim_.MetadataFile(name); }
  std::string Timestamp() { return File("timestamp.json"); }
  std::string SnapshotV(int64_t v) { return File(std::to_string(v) + ".snapshot.json"); }
  std::string TargetsV(int64_t v) { return File(std::to_string(v) + ".targets.json"); }

  TrustedSet NewSet(std::string_view root_name = "1.root.json") {
    return Must(TrustedSet::Create(File(root_name), kNow), "create trusted set");
  }
  // A set with root, timestamp and snapshot as currently published.
  TrustedSet LoadedUpToSnapshot() {
    TrustedSet set = NewSet();
    Must(set.UpdateTimestamp(Timestamp()), "timestamp");
    Must(set.UpdateSnapshot(SnapshotV(sim_.snapshot.common.version)), "snapshot");
    return set;
  }

  sim::RepositorySimulator sim_;
};

// ---- 5.2 / 5.3 root ----

TEST_F(TrustedSetTest, FullUpdateSucceeds) {
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  ASSERT_OK(set.UpdateSnapshot(SnapshotV(1)));
  ASSERT_OK(set.UpdateTargets(TargetsV(1)));
  EXPECT_EQ(set.root().common.version, 1);
  EXPECT_EQ(set.timestamp()->common.version, 1);
  EXPECT_EQ(set.snapshot()->common.version, 1);
  EXPECT_EQ(set.targets()->common.version, 1);
  EXPECT_EQ(set.reference_time(), kNow);
}

TEST_F(TrustedSetTest, CreateRejectsMalformedRoot) {
  EXPECT_ERROR_KIND(TrustedSet::Create("{not json", kNow), ErrorKind::kBadMetadata);
  EXPECT_ERROR_KIND(TrustedSet::Create(Timestamp(), kNow), ErrorKind::kBadMetadata);
}

TEST_F(TrustedSetTest, CreateRejectsRootBelowItsOwnThreshold) {
  sim_.AddKey("root");
  sim_.root.roles["root"].threshold = 2;
  sim_.signers["root"].pop_back();
  sim_.BumpRoot();
  EXPECT_ERROR_KIND(TrustedSet::Create(File("2.root.json"), kNow), ErrorKind::kUnsignedMetadata);
}

TEST_F(TrustedSetTest, UpdateRootAcceptsRotatedRoot) {
  sim_.RotateKeys("root");
  sim_.BumpRoot();
  TrustedSet set = NewSet();
  Result<const metadata::Root*> root = set.UpdateRoot(File("2.root.json"));
  ASSERT_OK(root);
  EXPECT_EQ((*root)->common.version, 2);
  EXPECT_EQ(set.root().common.version, 2);
}

TEST_F(TrustedSetTest, UpdateRootRejectsSameVersion) {
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateRoot(File("1.root.json")), ErrorKind::kBadVersion);
}

TEST_F(TrustedSetTest, UpdateRootRejectsRollback) {
  sim_.BumpRoot();
  TrustedSet set = NewSet("2.root.json");
  EXPECT_ERROR_KIND(set.UpdateRoot(File("1.root.json")), ErrorKind::kBadVersion);
  EXPECT_EQ(set.root().common.version, 2);
}

TEST_F(TrustedSetTest, UpdateRootRejectsGapInChain) {
  sim_.root.common.version = 3;
  sim_.PublishRoot();
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateRoot(File("3.root.json")), ErrorKind::kBadVersion);
  EXPECT_EQ(set.root().common.version, 1);
}

TEST_F(TrustedSetTest, UpdateRootRejectsRootNotSignedByOldThreshold) {
  sim_.RotateKeys("root");
  sim_.ForgetOldRootKeys();
  sim_.BumpRoot();
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateRoot(File("2.root.json")), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(set.root().common.version, 1);
}

TEST_F(TrustedSetTest, UpdateRootRejectsRootNotSignedByNewThreshold) {
  sim_.AddKey("root");
  sim_.signers["root"].pop_back();  // the new key does not sign
  sim_.root.roles["root"].threshold = 2;
  sim_.BumpRoot();
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateRoot(File("2.root.json")), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(set.root().common.version, 1);
}

TEST_F(TrustedSetTest, UpdateRootRejectsWrongType) {
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateRoot(Timestamp()), ErrorKind::kBadMetadata);
}

TEST_F(TrustedSetTest, UpdateRootAfterTimestampIsRefused) {
  sim_.BumpRoot();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateRoot(File("2.root.json")), ErrorKind::kInternal);
}

TEST_F(TrustedSetTest, IntermediateRootMayBeExpiredButFinalRootMayNot) {
  sim_.root.common.expires = kNow - 10;
  sim_.BumpRoot();  // v2 expired
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateRoot(File("2.root.json")));  // 5.3.5: intermediate expiry ignored
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kExpired);  // 5.3.10
  EXPECT_EQ(set.timestamp(), nullptr);

  sim_.root.common.expires = sim::kDefaultExpires;
  sim_.BumpRoot();  // v3 valid again
  TrustedSet recovered = NewSet();
  ASSERT_OK(recovered.UpdateRoot(File("2.root.json")));
  ASSERT_OK(recovered.UpdateRoot(File("3.root.json")));
  EXPECT_OK(recovered.UpdateTimestamp(Timestamp()));
}

TEST_F(TrustedSetTest, ReferenceTimeIsSettable) {
  TrustedSet set = NewSet();
  set.set_reference_time(sim::kDefaultExpires);
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kExpired);  // root expired
}

// ---- 5.4 timestamp ----

TEST_F(TrustedSetTest, TimestampRejectsWrongKey) {
  sim_.signers["timestamp"] = {sim::RepositorySimulator::NewKey()};
  sim_.UpdateTimestamp();
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(set.timestamp(), nullptr);
}

TEST_F(TrustedSetTest, TimestampRejectsBelowThreshold) {
  sim_.AddKey("timestamp");
  sim_.root.roles["timestamp"].threshold = 2;
  sim_.BumpRoot();
  sim_.signers["timestamp"].pop_back();
  sim_.UpdateTimestamp();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateRoot(File("2.root.json")));
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kUnsignedMetadata);
}

TEST_F(TrustedSetTest, TimestampRejectsWrongType) {
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateTimestamp(SnapshotV(1)), ErrorKind::kBadMetadata);
}

TEST_F(TrustedSetTest, TimestampRejectsRollback) {
  const std::string v1 = Timestamp();
  sim_.UpdateTimestamp();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateTimestamp(v1), ErrorKind::kBadVersion);
  EXPECT_EQ(set.timestamp()->common.version, 2);
}

TEST_F(TrustedSetTest, TimestampEqualVersionIsReportedAndOldKept) {
  TrustedSet set = NewSet();
  const metadata::Timestamp* first = *set.UpdateTimestamp(Timestamp());
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kEqualVersion);
  EXPECT_EQ(set.timestamp(), first);
  EXPECT_EQ(set.timestamp()->common.version, 1);
}

TEST_F(TrustedSetTest, TimestampRejectsSnapshotVersionRollback) {
  sim_.UpdateSnapshot();  // timestamp v2 lists snapshot v2
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  sim_.timestamp.common.version = 3;
  sim_.timestamp.snapshot_meta.version = 1;
  EXPECT_ERROR_KIND(set.UpdateTimestamp(sim_.SignRole("timestamp")), ErrorKind::kBadVersion);
  EXPECT_EQ(set.timestamp()->common.version, 2);
}

TEST_F(TrustedSetTest, ExpiredTimestampIsKeptForRollbackProtectionButBlocksSnapshot) {
  const std::string valid_v1 = Timestamp();
  sim_.timestamp.common.expires = kNow;  // expired at the reference time (>=)
  sim_.UpdateTimestamp();
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kExpired);
  ASSERT_NE(set.timestamp(), nullptr);
  EXPECT_EQ(set.timestamp()->common.version, 2);
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(1)), ErrorKind::kExpired);
  EXPECT_ERROR_KIND(set.UpdateTimestamp(valid_v1), ErrorKind::kBadVersion);
}

// ---- 5.5 snapshot ----

TEST_F(TrustedSetTest, SnapshotBeforeTimestampIsRefused) {
  TrustedSet set = NewSet();
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(1)), ErrorKind::kInternal);
}

TEST_F(TrustedSetTest, SnapshotRejectsLengthMismatch) {
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(1) + " "), ErrorKind::kLengthMismatch);
  EXPECT_EQ(set.snapshot(), nullptr);
}

TEST_F(TrustedSetTest, SnapshotRejectsHashMismatch) {
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  std::string tampered = SnapshotV(1);
  tampered[tampered.find("\"version\"")] = ' ';  // same length, other bytes
  EXPECT_ERROR_KIND(set.UpdateSnapshot(tampered), ErrorKind::kHashMismatch);
  EXPECT_EQ(set.snapshot(), nullptr);
}

TEST_F(TrustedSetTest, SnapshotFromTrustedLocalStoreSkipsHashes) {
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  // Re-serialized with other whitespace: hashes differ, signature still covers canonical bytes.
  metadata::Envelope envelope = Must(metadata::Envelope::Parse(SnapshotV(1)), "parse");
  const std::string reformatted = json::Serialize(envelope.ToValue(), 0);
  EXPECT_ERROR_KIND(set.UpdateSnapshot(reformatted), ErrorKind::kLengthMismatch);
  EXPECT_OK(set.UpdateSnapshot(reformatted, /*trusted_local=*/true));
}

TEST_F(TrustedSetTest, SnapshotRejectsWrongKey) {
  sim_.signers["snapshot"] = {sim::RepositorySimulator::NewKey()};
  sim_.UpdateSnapshot();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(2)), ErrorKind::kUnsignedMetadata);
}

TEST_F(TrustedSetTest, SnapshotRejectsBelowThreshold) {
  sim_.AddKey("snapshot");
  sim_.root.roles["snapshot"].threshold = 2;
  sim_.BumpRoot();
  sim_.signers["snapshot"].pop_back();
  sim_.UpdateSnapshot();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateRoot(File("2.root.json")));
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(2)), ErrorKind::kUnsignedMetadata);
}

TEST_F(TrustedSetTest, SnapshotRejectsTargetsVersionRollback) {
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();  // snapshot v2 lists targets v2
  const std::string snapshot_v2 = SnapshotV(2);
  sim_.Role("targets").common.version = 1;
  sim_.UpdateSnapshot();  // snapshot v3 lists targets v1
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  // The locally stored v2 is loaded first (it is not final: timestamp lists v3).
  EXPECT_ERROR_KIND(set.UpdateSnapshot(snapshot_v2, true), ErrorKind::kBadVersion);
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(3)), ErrorKind::kBadVersion);
  EXPECT_EQ(set.snapshot()->common.version, 2);
}

TEST_F(TrustedSetTest, SnapshotRejectsRemovedRole) {
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.UpdateSnapshot();  // v2 lists team.json
  const std::string snapshot_v2 = SnapshotV(2);
  sim_.snapshot.meta.erase("team.json");
  sim_.roles.erase("team");
  sim_.UpdateSnapshot();  // v3 without team.json
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(snapshot_v2, true), ErrorKind::kBadVersion);
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(3)), ErrorKind::kBadVersion);
}

TEST_F(TrustedSetTest, SnapshotVersionMustMatchTimestamp) {
  sim_.meta_with_hashes = false;
  sim_.UpdateSnapshot();  // v2, timestamp lists 2
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(1)), ErrorKind::kBadVersion);
  ASSERT_NE(set.snapshot(), nullptr);  // kept for rollback protection, but not final:
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kBadVersion);
  EXPECT_OK(set.UpdateSnapshot(SnapshotV(2)));
  EXPECT_OK(set.UpdateTargets(TargetsV(1)));
}

TEST_F(TrustedSetTest, ExpiredSnapshotBlocksTargets) {
  sim_.snapshot.common.expires = kNow - 1;
  sim_.UpdateSnapshot();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(2)), ErrorKind::kExpired);
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kExpired);
}

TEST_F(TrustedSetTest, SnapshotAfterTargetsIsRefused) {
  TrustedSet set = LoadedUpToSnapshot();
  ASSERT_OK(set.UpdateTargets(TargetsV(1)));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(SnapshotV(1)), ErrorKind::kInternal);
  EXPECT_ERROR_KIND(set.UpdateTimestamp(Timestamp()), ErrorKind::kInternal);
}

// ---- 5.6 targets ----

TEST_F(TrustedSetTest, TargetsBeforeSnapshotIsRefused) {
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kInternal);
}

TEST_F(TrustedSetTest, TargetsRejectsLengthAndHashMismatch) {
  TrustedSet set = LoadedUpToSnapshot();
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1) + "\n"), ErrorKind::kLengthMismatch);
  std::string tampered = TargetsV(1);
  tampered[tampered.find("\"expires\"")] = ' ';
  EXPECT_ERROR_KIND(set.UpdateTargets(tampered), ErrorKind::kHashMismatch);
  EXPECT_EQ(set.targets(), nullptr);
}

TEST_F(TrustedSetTest, TargetsRejectsWrongKey) {
  sim_.signers["targets"] = {sim::RepositorySimulator::NewKey()};
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kUnsignedMetadata);
}

TEST_F(TrustedSetTest, TargetsRejectsBelowThreshold) {
  sim_.AddKey("targets");
  sim_.root.roles["targets"].threshold = 2;
  sim_.BumpRoot();
  sim_.signers["targets"].pop_back();
  sim_.UpdateSnapshot();
  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateRoot(File("2.root.json")));
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  ASSERT_OK(set.UpdateSnapshot(SnapshotV(2)));
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kUnsignedMetadata);
}

// Past 256 KiB the signatures are checked on a second thread while the model is built: the
// outcome must be the same as in spec order.
TEST_F(TrustedSetTest, LargeTargetsVerifiesBesideTheModelWithTheSameOutcome) {
  for (int i = 0; i < 2500; ++i) {
    sim_.AddTarget("targets", "bulk/file-" + std::to_string(i) + ".bin", std::to_string(i));
  }
  sim_.UpdateSnapshot();
  ASSERT_GE(TargetsV(1).size(), 256u * 1024);
  {
    TrustedSet set = LoadedUpToSnapshot();
    auto accepted = set.UpdateTargets(TargetsV(1));
    ASSERT_OK(accepted);
    EXPECT_EQ((*accepted)->targets.size(), 2500u);
  }
  sim_.signers["targets"] = {sim::RepositorySimulator::NewKey()};
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(set.targets(), nullptr);
}

TEST_F(TrustedSetTest, TargetsVersionMustMatchSnapshot) {
  sim_.meta_with_hashes = false;
  const std::string targets_v1 = [&] {
    sim_.UpdateSnapshot();
    return TargetsV(1);
  }();
  sim_.Role("targets").common.version = 2;
  sim_.UpdateSnapshot();  // snapshot v3 lists targets v2
  TrustedSet set = LoadedUpToSnapshot();
  EXPECT_ERROR_KIND(set.UpdateTargets(targets_v1), ErrorKind::kBadVersion);
  EXPECT_EQ(set.targets(), nullptr);
  EXPECT_OK(set.UpdateTargets(TargetsV(2)));
}

TEST_F(TrustedSetTest, ExpiredTargetsIsRejectedAndNotKept) {
  sim_.Role("targets").common.expires = kNow - 1;
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  EXPECT_ERROR_KIND(set.UpdateTargets(TargetsV(1)), ErrorKind::kExpired);
  EXPECT_EQ(set.targets(), nullptr);
}

TEST_F(TrustedSetTest, DelegatedRoleMustBeListedInSnapshot) {
  sim_.AddDelegation("targets", "team", {"team/*"});
  const std::string team = sim_.SignRole("team");  // signed but never published in snapshot
  sim_.snapshot.meta.clear();
  sim_.roles.erase("team");
  TrustedSet set = LoadedUpToSnapshot();
  ASSERT_OK(set.UpdateTargets(TargetsV(1)));
  EXPECT_ERROR_KIND(set.UpdateDelegatedTargets(team, "team", "targets"), ErrorKind::kBadMetadata);
}

TEST_F(TrustedSetTest, DelegatedRoleMustBeDelegatedByItsDelegator) {
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.AddDelegation("targets", "other", {"other/*"});
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  ASSERT_OK(set.UpdateTargets(TargetsV(1)));
  ASSERT_OK(set.UpdateDelegatedTargets(File("1.team.json"), "team", "targets"));
  // "other" is listed in snapshot but "team" does not delegate it.
  Result<const metadata::Targets*> result =
      set.UpdateDelegatedTargets(File("1.other.json"), "other", "team");
  ASSERT_FALSE(result.has_value());
  EXPECT_TRUE(result.error().kind() == ErrorKind::kBadMetadata ||
              result.error().kind() == ErrorKind::kNotFound ||
              result.error().kind() == ErrorKind::kUnsignedMetadata)
      << result.error().ToString();
  EXPECT_EQ(set.TargetsRole("other"), nullptr);
}

TEST_F(TrustedSetTest, DelegatedRoleRejectsWrongKeyAndBelowThreshold) {
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.signers["team"] = {sim::RepositorySimulator::NewKey()};
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  ASSERT_OK(set.UpdateTargets(TargetsV(1)));
  EXPECT_ERROR_KIND(set.UpdateDelegatedTargets(File("1.team.json"), "team", "targets"),
                    ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(set.TargetsRole("team"), nullptr);
}

TEST_F(TrustedSetTest, DelegatedRoleBeforeDelegatorIsRefused) {
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  EXPECT_ERROR_KIND(set.UpdateDelegatedTargets(File("1.team.json"), "team", "targets"),
                    ErrorKind::kInternal);
  EXPECT_ERROR_KIND(set.UpdateDelegatedTargets(File("1.team.json"), "team", "root"),
                    ErrorKind::kInvalidArgument);
}

TEST_F(TrustedSetTest, DelegatedRoleExpiredOrWrongVersion) {
  sim_.meta_with_hashes = false;
  sim_.AddDelegation("targets", "team", {"team/*"});
  sim_.Role("team").common.expires = kNow - 1;
  sim_.UpdateSnapshot();
  const std::string expired_team = File("1.team.json");
  sim_.Role("team").common.expires = sim::kDefaultExpires;
  sim_.Role("team").common.version = 2;
  sim_.UpdateSnapshot();
  TrustedSet set = LoadedUpToSnapshot();
  ASSERT_OK(set.UpdateTargets(TargetsV(1)));
  EXPECT_ERROR_KIND(set.UpdateDelegatedTargets(expired_team, "team", "targets"),
                    ErrorKind::kBadVersion);
  sim_.Role("team").common.expires = kNow - 1;
  sim_.UpdateSnapshot();
  TrustedSet set2 = LoadedUpToSnapshot();
  ASSERT_OK(set2.UpdateTargets(TargetsV(1)));
  EXPECT_ERROR_KIND(set2.UpdateDelegatedTargets(File("2.team.json"), "team", "targets"),
                    ErrorKind::kExpired);
}

// ---- 5.3.11 fast-forward recovery ----

TEST_F(TrustedSetTest, RecoversFromFastForwardAfterTimestampKeyRotation) {
  // An attacker holding the timestamp key fast-forwards the timestamp; the client stores it.
  sim_.timestamp.common.version = 99;
  sim_.UpdateTimestamp();
  const std::string fast_forwarded = Timestamp();
  // The repository recovers: new timestamp key in root v2, timestamp restarts at version 1.
  sim_.RotateKeys("timestamp");
  sim_.BumpRoot();
  sim_.timestamp.common.version = 0;
  sim_.UpdateTimestamp();

  TrustedSet before_rotation = NewSet();
  ASSERT_OK(before_rotation.UpdateTimestamp(fast_forwarded));
  EXPECT_ERROR_KIND(before_rotation.UpdateTimestamp(Timestamp()), ErrorKind::kUnsignedMetadata);

  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateRoot(File("2.root.json")));
  EXPECT_ERROR_KIND(set.UpdateTimestamp(fast_forwarded), ErrorKind::kUnsignedMetadata);
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_EQ(set.timestamp()->common.version, 1);
  EXPECT_OK(set.UpdateSnapshot(SnapshotV(1)));
}

TEST_F(TrustedSetTest, RecoversFromFastForwardAfterSnapshotKeyRotation) {
  // The attacker fast-forwards snapshot (and the timestamp that lists it).
  sim_.snapshot.common.version = 98;
  sim_.UpdateSnapshot();  // snapshot v99, timestamp v2
  const std::string ff_timestamp = Timestamp();
  const std::string ff_snapshot = SnapshotV(99);
  // Recovery: snapshot and timestamp keys rotated (5.3.11), versions restart.
  sim_.RotateKeys("snapshot");
  sim_.RotateKeys("timestamp");
  sim_.BumpRoot();
  sim_.snapshot.common.version = 0;
  sim_.timestamp.common.version = 0;
  sim_.UpdateSnapshot();  // snapshot v1, timestamp v1

  TrustedSet set = NewSet();
  ASSERT_OK(set.UpdateRoot(File("2.root.json")));
  EXPECT_ERROR_KIND(set.UpdateTimestamp(ff_timestamp), ErrorKind::kUnsignedMetadata);
  ASSERT_OK(set.UpdateTimestamp(Timestamp()));
  EXPECT_ERROR_KIND(set.UpdateSnapshot(ff_snapshot, true), ErrorKind::kUnsignedMetadata);
  ASSERT_OK(set.UpdateSnapshot(SnapshotV(1)));
  EXPECT_OK(set.UpdateTargets(TargetsV(1)));
}

}  // namespace
}  // namespace mdu::trust
