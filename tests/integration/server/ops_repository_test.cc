// Operational parts of the publish path, in-process over the in-memory store: the snapshot key
// re-signing snapshot and timestamp together, the client's pre-order delegation search in
// RepositoryView::FindTarget, and the test-only fault points of the commit window.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/trust/trusted_set.h"
#include "repo-server/memory_store.h"
#include "repo-server/repository.h"
#include "repo-server/timestamp_resigner.h"
#include "tests/integration/server/repository_fixture.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/sim/test_util.h"

namespace mdu::server {
namespace {

using testing::Content;
using testing::LatestUpload;
using testing::MakeSim;
using testing::Upload;

using OpsRepositoryTest = testing::RepositoryFixture;

TEST_F(OpsRepositoryTest, SnapshotKeyResignsSnapshotAndTimestampTogether) {
  PublishOk();
  ResignPolicy policy{/*validity_seconds=*/86400, /*margin_seconds=*/3600,
                      /*snapshot_validity_seconds=*/7 * 86400};
  auto resigner = TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0], policy,
                                            sim_->signers["snapshot"][0].get());
  ASSERT_TRUE(resigner) << resigner.error().ToString();
  std::string old_timestamp = Current("timestamp");
  int64_t old_snapshot = repository_->view()->CurrentVersion("snapshot");

  clock_.Set(kExpires - 1800);  // everything expires in half an hour
  auto tick = resigner->Tick();
  ASSERT_TRUE(tick) << tick.error().ToString();
  EXPECT_TRUE(*tick);
  EXPECT_EQ(repository_->view()->CurrentVersion("snapshot"), old_snapshot + 1);
  auto snapshot = metadata::ParseMetadata<metadata::Snapshot>(Current("snapshot"));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->role.common.expires, kExpires - 1800 + 7 * 86400);

  // A client moves from the old timestamp to the new pair and still reaches targets.
  auto client = trust::TrustedSet::Create(Current("root"), kExpires - 60);
  ASSERT_TRUE(client);
  ASSERT_OK(client->UpdateTimestamp(old_timestamp));
  ASSERT_OK(client->UpdateTimestamp(Current("timestamp")));
  ASSERT_OK(client->UpdateSnapshot(Current("snapshot")));
  ASSERT_OK(client->UpdateTargets(Current("targets")));
}

TEST_F(OpsRepositoryTest, SnapshotNotDueResignsTimestampOnly) {
  PublishOk();
  auto resigner = TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0],
                                            ResignPolicy{86400, 3600, 7 * 86400},
                                            sim_->signers["snapshot"][0].get());
  ASSERT_TRUE(resigner);
  // Give the timestamp a short life only.
  sim_->timestamp.common.expires = kNow + 1000;
  sim_->UpdateTimestamp();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)));
  int64_t snapshot_version = repository_->view()->CurrentVersion("snapshot");
  auto tick = resigner->Tick();
  ASSERT_TRUE(tick) << tick.error().ToString();
  EXPECT_TRUE(*tick);
  EXPECT_EQ(repository_->view()->CurrentVersion("snapshot"), snapshot_version);
}

TEST_F(OpsRepositoryTest, AWrongSnapshotKeyChangesNothing) {
  PublishOk();
  auto wrong = sim::RepositorySimulator::NewKey();
  auto resigner = TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0],
                                            ResignPolicy{86400, 3600, 7 * 86400}, wrong.get());
  ASSERT_TRUE(resigner);
  auto before = repository_->view();
  clock_.Set(kExpires - 60);
  EXPECT_ERROR_KIND(resigner->Tick(), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(repository_->view(), before);
}

// targets -> A (fw/*), B (fw/*) in that order; A -> C (fw/*). C and B both list fw/x.bin:
// a breadth-first walk finds B's, the client's pre-order search (5.6.7) finds C's.
TEST_F(OpsRepositoryTest, FindTargetIsTheClientsPreOrderSearch) {
  sim_->AddDelegation("targets", "A", {"fw/*"});
  sim_->AddDelegation("targets", "B", {"fw/*"});
  sim_->AddDelegation("A", "C", {"fw/*"});
  for (const char* role : {"A", "B", "C"}) sim_->Role(role).common.expires = kExpires;
  sim_->AddTarget("C", "fw/x.bin", Content(64, 1));
  sim_->AddTarget("B", "fw/x.bin", Content(64, 2));
  // Listed by a role whose delegation does not cover the path: a client never finds it.
  sim_->AddTarget("B", "other/y.bin", Content(64, 3));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  PublishOk();
  auto location = repository_->view()->FindTarget("fw/x.bin");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->role, "C");
  EXPECT_EQ(location->sha256, crypto::Sha256Hex(Content(64, 1)));
  EXPECT_FALSE(repository_->view()->FindTarget("other/y.bin"));
}

TEST_F(OpsRepositoryTest, TerminatingDelegationStopsTheSearch) {
  sim_->AddDelegation("targets", "A", {"fw/*"}, /*terminating=*/true);
  sim_->AddDelegation("targets", "B", {"fw/*"});
  for (const char* role : {"A", "B"}) sim_->Role(role).common.expires = kExpires;
  sim_->AddTarget("B", "fw/x.bin", Content(64, 2));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  PublishOk();
  EXPECT_FALSE(repository_->view()->FindTarget("fw/x.bin"));
}

TEST_F(OpsRepositoryTest, FaultHookSeesTheCommitWindowInOrder) {
  std::vector<std::string> points;
  std::vector<int64_t> versions_seen;
  repository_->set_fault_hook([&](std::string_view point) {
    points.emplace_back(point);
    versions_seen.push_back(repository_->view()->CurrentVersion("timestamp"));
  });
  PublishOk();
  EXPECT_EQ(points, (std::vector<std::string>{"verified", "committed"}));
  // Both points come before the view swap.
  EXPECT_EQ(versions_seen, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(repository_->view()->CurrentVersion("timestamp"), sim_->timestamp.common.version);
}

}  // namespace
}  // namespace mdu::server
