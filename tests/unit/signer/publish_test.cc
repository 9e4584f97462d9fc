// Publishing the static TUF tree: refusals that list what is missing and leave everything
// untouched, the tree layout, version bumps, and verification by the core TrustedSet.
#include "signer/repo/publish.h"

#include <gtest/gtest.h>

#include "core/crypto/hash.h"
#include "core/trust/trusted_set.h"
#include "signer/repo/delegation.h"
#include "signer/repo/signing.h"
#include "signer/repo/targets_editor.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using testing::kNow;
using testing::ReadAll;

class PublishTest : public testing::RepoTest {
 protected:
  PublishOptions Options(UnixTime now = kNow) {
    return PublishOptions{out_dir(), &snapshot_key_, &timestamp_key_, now};
  }
  void AddFile(Workspace& ws, const std::string& name, const std::string& content,
               const std::string& role = "targets") {
    AddTargetsSpec spec;
    spec.sources = {*SourceForFile(MakeFile(name, content), name)};
    spec.release.version = "1.0";
    spec.release.hardware_ids = {"hw-1"};
    spec.role = role;
    spec.now = kNow;
    auto added = AddTargets(ws, spec);
    ASSERT_TRUE(added) << added.error().ToString();
  }
};

TEST_F(PublishTest, RefusesBelowThresholdListsWhatIsMissingAndTouchesNothing) {
  Workspace ws = Init();
  AddFile(ws, "fw.bin", "firmware");
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[0]));  // 1 of 2
  ASSERT_TRUE(ws.Save());
  testing::WriteAll(out_dir() / "metadata" / "timestamp.json", "previous tree");
  const auto out_before = testing::Snapshot(out_dir());
  const auto ws_before = testing::Snapshot(ws_dir());

  Workspace reopened = Open();
  auto published = Publish(reopened, Options());
  ASSERT_FALSE(published);
  EXPECT_EQ(published.error().kind(), ErrorKind::kUnsignedMetadata);
  const std::string& message = published.error().message();
  EXPECT_NE(message.find("root v1: 1 of 2 signatures"), std::string::npos) << message;
  EXPECT_NE(message.find("targets v1: 0 of 1 signatures"), std::string::npos) << message;
  EXPECT_EQ(testing::Snapshot(out_dir()), out_before);
  EXPECT_EQ(testing::Snapshot(ws_dir()), ws_before);
  // No temporary directory left beside the output.
  for (const auto& entry : fs::directory_iterator(tmp_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".out.publish"), std::string::npos);
  }
}

TEST_F(PublishTest, RefusesSnapshotKeyNotInRoot) {
  Workspace ws = Init();
  SignAll(ws);
  auto stranger = testing::NewKey();
  PublishOptions options = Options();
  options.snapshot_signer = &stranger;
  auto published = Publish(ws, options);
  ASSERT_FALSE(published);
  EXPECT_EQ(published.error().kind(), ErrorKind::kPolicy);
  EXPECT_FALSE(fs::exists(out_dir()));
}

TEST_F(PublishTest, WritesTheStaticTreeThatTrustedSetVerifies) {
  Workspace ws = Init();
  AddFile(ws, "pump-x/fw.bin", "firmware bytes");
  SignAll(ws);
  auto published = Publish(ws, Options());
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(published->versions.root, 1);
  EXPECT_EQ(published->versions.targets, 1);
  EXPECT_EQ(published->versions.snapshot, 1);
  EXPECT_EQ(published->versions.timestamp, 1);

  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "1.root.json"));
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "1.targets.json"));
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "1.snapshot.json"));
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "timestamp.json"));
  EXPECT_FALSE(fs::exists(out_dir() / "metadata" / "1.timestamp.json"));
  const std::string sha = crypto::Sha256Hex("firmware bytes");
  EXPECT_EQ(ReadAll(out_dir() / "targets" / "pump-x" / (sha + ".fw.bin")), "firmware bytes");

  // A device trusting 1.root.json, step by step with the core client's trusted set.
  auto set = trust::TrustedSet::Create(ReadAll(out_dir() / "metadata" / "1.root.json"), kNow);
  ASSERT_TRUE(set) << set.error().ToString();
  ASSERT_TRUE(set->UpdateTimestamp(ReadAll(out_dir() / "metadata" / "timestamp.json")));
  ASSERT_TRUE(set->UpdateSnapshot(ReadAll(out_dir() / "metadata" / "1.snapshot.json")));
  auto targets = set->UpdateTargets(ReadAll(out_dir() / "metadata" / "1.targets.json"));
  ASSERT_TRUE(targets) << targets.error().ToString();
  const auto& target = (*targets)->targets.at("pump-x/fw.bin");
  EXPECT_TRUE(target.VerifyLengthAndHashes("fw", "firmware bytes"));

  // The workspace recorded the publish and kept the history.
  Workspace reopened = Open();
  EXPECT_EQ(reopened.published().snapshot, 1);
  EXPECT_TRUE(fs::exists(ws_dir() / "history" / "1.root.json"));
  EXPECT_TRUE(fs::exists(ws_dir() / "history" / "timestamp.json"));
}

TEST_F(PublishTest, SecondPublishBumpsOnlyChangedRolesAndDropsWithdrawnTargets) {
  Workspace ws = Init();
  AddFile(ws, "a.bin", "release a");
  AddFile(ws, "b.bin", "release b");
  SignAll(ws);
  ASSERT_TRUE(Publish(ws, Options()));
  const std::string old_b = "targets/" + crypto::Sha256Hex("release b") + ".b.bin";
  ASSERT_TRUE(fs::exists(out_dir() / old_b));

  Workspace next = Open();
  ASSERT_TRUE(WithdrawTarget(next, "b.bin", "bad batch", "qa", kNow + 10));
  EXPECT_EQ(next.TargetsRole("targets")->role.common.version, 2);
  // Publishing the unsigned change is refused and the published tree stays as it was.
  const auto before = testing::Snapshot(out_dir());
  EXPECT_FALSE(Publish(next, Options(kNow + 20)));
  EXPECT_EQ(testing::Snapshot(out_dir()), before);

  ASSERT_TRUE(SignRole(next, "targets", targets_key_));
  auto published = Publish(next, Options(kNow + 20));
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(published->versions.root, 1);     // unchanged
  EXPECT_EQ(published->versions.targets, 2);  // changed
  EXPECT_EQ(published->versions.snapshot, 2);
  EXPECT_EQ(published->versions.timestamp, 2);
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "1.targets.json"));  // history kept
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "2.targets.json"));
  EXPECT_FALSE(fs::exists(out_dir() / "metadata" / "2.root.json"));
  EXPECT_FALSE(fs::exists(out_dir() / old_b));
  auto count =
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow + 20);
  ASSERT_TRUE(count) << count.error().ToString();
  EXPECT_EQ(*count, 1u);
}

TEST_F(PublishTest, DelegationsAndBinsArePublishedAndVerified) {
  Workspace ws = Init();
  auto team = testing::NewKey();
  ASSERT_TRUE(Delegate(
      ws, DelegationSpec{"pump-x", "targets", {team.public_key()}, 1, {"pump-x/*"}, true}, kNow));
  auto bins_key = testing::NewKey();
  BinsSpec bins;
  bins.from = "pump-x";
  bins.name_prefix = "px-bins";
  bins.bit_length = 2;
  bins.keys = {bins_key.public_key()};
  ASSERT_TRUE(DelegateBins(ws, bins, kNow));
  AddFile(ws, "pump-x/direct.bin", "direct", "pump-x");
  AddFile(ws, "pump-x/binned.bin", "binned", "px-bins");
  SignAll(ws);
  // The delegated role and the bins are not signed yet.
  auto refused = Publish(ws, Options());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("pump-x v1: 0 of 1"), std::string::npos);
  ASSERT_TRUE(SignRole(ws, "pump-x", team));
  ASSERT_FALSE(SignRole(ws, "px-bins", team));  // not the bins key
  auto bins_signed = SignRole(ws, "px-bins", bins_key);
  ASSERT_TRUE(bins_signed);
  EXPECT_EQ(bins_signed->size(), 4u);
  auto published = Publish(ws, Options());
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(published->target_count, 2u);
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "1.pump-x.json"));
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / "1.px-bins-0.json"));
  auto count =
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow);
  ASSERT_TRUE(count) << count.error().ToString();
  EXPECT_EQ(*count, 2u);
}

}  // namespace
}  // namespace mdu::signer::repo
