// Root and top-level key rotation, revocation and the rehearsal that finds device generations
// a new root would strand.
#include "signer/repo/rotation.h"

#include <gtest/gtest.h>

#include "signer/repo/publish.h"
#include "signer/repo/signing.h"
#include "signer/repo/status.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using testing::kNow;
using testing::ReadAll;

class RotationTest : public testing::RepoTest {
 protected:
  PublishOptions Options() {
    return PublishOptions{out_dir(), {&snapshot_key_}, {&timestamp_key_}, kNow, nullptr};
  }
  Workspace PublishedV1() {
    Workspace ws = Init();
    SignAll(ws);
    auto published = Publish(ws, Options());
    EXPECT_TRUE(published) << published.error().ToString();
    return Open();
  }
};

TEST_F(RotationTest, NewRootNeedsOldAndNewThresholds) {
  Workspace ws = PublishedV1();
  auto new_key = testing::NewKey();
  RotationSpec spec;
  spec.add = {new_key.public_key()};
  spec.remove = {root_keys_[0].public_key().KeyId(), root_keys_[1].public_key().KeyId()};
  spec.threshold = 2;
  ASSERT_TRUE(RotateKeys(ws, spec, kNow));  // new root keys: root_keys_[2], new_key
  EXPECT_EQ(ws.root().role.common.version, 2);
  ASSERT_NE(ws.PreviousRoot(), nullptr);

  // The new threshold alone is not enough: old root keys 0 and 1 are gone from v2, so the
  // previous root's threshold (2 of keys 0,1,2) needs one of them besides key 2.
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[2]));
  ASSERT_TRUE(SignRole(ws, "root", new_key));
  auto status = ComputeStatus(ws, kNow);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->roles[0].signatures.met());
  ASSERT_TRUE(status->roles[0].previous_root_signatures);
  EXPECT_FALSE(status->roles[0].previous_root_signatures->met());
  ASSERT_TRUE(status->rehearsal);
  EXPECT_EQ(status->rehearsal->stranded(), std::vector<int64_t>{1});
  auto refused = Publish(ws, Options());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("previous root v1"), std::string::npos);
  EXPECT_NE(refused.error().message().find("stranded"), std::string::npos);

  // An old key may still sign the new root (it is authorized through the previous root).
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[0]));
  status = ComputeStatus(ws, kNow);
  EXPECT_TRUE(status->ready()) << FormatStatus(*status, kNow);
  auto published = Publish(ws, Options());
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(published->versions.root, 2);
  auto count =
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow);
  ASSERT_TRUE(count) << count.error().ToString();
}

TEST_F(RotationTest, RehearsalFindsTheGenerationARootV3WouldStrand) {
  // v1 -> v2 (properly signed) -> v3 signed only by v3's own keys, not by v2's threshold.
  Workspace ws = PublishedV1();
  auto k4 = testing::NewKey();
  auto k5 = testing::NewKey();
  RotationSpec to_v2;
  to_v2.add = {k4.public_key()};
  ASSERT_TRUE(RotateKeys(ws, to_v2, kNow));
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[0]));
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[1]));
  ASSERT_TRUE(Publish(ws, Options()));

  Workspace v3 = Open();
  RotationSpec to_v3;
  to_v3.add = {k5.public_key()};
  to_v3.remove = {root_keys_[0].public_key().KeyId(), root_keys_[1].public_key().KeyId(),
                  root_keys_[2].public_key().KeyId()};
  to_v3.threshold = 2;
  ASSERT_TRUE(RotateKeys(v3, to_v3, kNow));  // v3 root keys: k4, k5
  ASSERT_TRUE(SignRole(v3, "root", k4));
  ASSERT_TRUE(SignRole(v3, "root", k5));
  auto rehearsal = RehearseWorkspace(v3, kNow);
  ASSERT_TRUE(rehearsal) << rehearsal.error().ToString();
  EXPECT_EQ(rehearsal->final_version, 3);
  ASSERT_EQ(rehearsal->generations.size(), 3u);
  EXPECT_FALSE(rehearsal->generations[0].reaches_final);
  EXPECT_EQ(rehearsal->generations[0].stuck_at, 3);
  EXPECT_FALSE(rehearsal->generations[1].reaches_final);
  EXPECT_EQ(rehearsal->generations[1].stuck_at, 3);
  EXPECT_NE(rehearsal->generations[1].reason.find("unsigned"), std::string::npos)
      << rehearsal->generations[1].reason;
  EXPECT_TRUE(rehearsal->generations[2].reaches_final);
  EXPECT_NE(FormatRehearsal(*rehearsal).find("devices trusting root v2: STRANDED at root v3"),
            std::string::npos);
  const auto before = testing::Snapshot(out_dir());
  EXPECT_FALSE(Publish(v3, Options()));
  EXPECT_EQ(testing::Snapshot(out_dir()), before);

  // Two of v2's root keys (k4 already signed; add root key 0... removed from v3 but still in
  // v2) rescue both generations.
  ASSERT_TRUE(SignRole(v3, "root", root_keys_[0]));
  rehearsal = RehearseWorkspace(v3, kNow);
  ASSERT_TRUE(rehearsal);
  EXPECT_TRUE(rehearsal->ok()) << FormatRehearsal(*rehearsal);
  ASSERT_TRUE(Publish(v3, Options()));
  EXPECT_TRUE(
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow));
  EXPECT_TRUE(
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "2.root.json"), kNow));
}

TEST_F(RotationTest, RehearseRootChainReportsABrokenFirstRoot) {
  auto report = RehearseRootChain({"not json"}, kNow);
  ASSERT_EQ(report.generations.size(), 1u);
  EXPECT_FALSE(report.ok());
}

TEST_F(RotationTest, RotatingTargetsKeyRequiresResigningTargets) {
  Workspace ws = PublishedV1();
  auto new_targets = testing::NewKey();
  RotationSpec spec;
  spec.role = "targets";
  spec.add = {new_targets.public_key()};
  spec.remove = {targets_key_.public_key().KeyId()};
  ASSERT_TRUE(RotateKeys(ws, spec, kNow));
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[0]));
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[1]));
  auto status = ComputeStatus(ws, kNow);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->ready());  // targets v1 is signed by the revoked key only
  EXPECT_FALSE(SignRole(ws, "targets", targets_key_));
  ASSERT_TRUE(SignRole(ws, "targets", new_targets));
  ASSERT_TRUE(Publish(ws, Options()));
  EXPECT_TRUE(
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow));
}

TEST_F(RotationTest, RevokeRemovesKeyEverywhereButKeepsThresholdsReachable) {
  Workspace ws = PublishedV1();
  auto roles = RevokeKey(ws, root_keys_[1].public_key().KeyId(), kNow);
  ASSERT_TRUE(roles) << roles.error().ToString();
  EXPECT_EQ(*roles, std::vector<std::string>{"root"});
  EXPECT_EQ(ws.root().role.keys.count(root_keys_[1].public_key().KeyId()), 0u);
  // Revoking the only targets key would leave targets unusable.
  EXPECT_FALSE(RevokeKey(ws, targets_key_.public_key().KeyId(), kNow));
  EXPECT_FALSE(RevokeKey(ws, "0000", kNow));
  RotationSpec bad;
  bad.threshold = 5;
  EXPECT_FALSE(RotateKeys(ws, bad, kNow));
}

}  // namespace
}  // namespace mdu::signer::repo
