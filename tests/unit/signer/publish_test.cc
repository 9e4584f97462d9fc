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
    return PublishOptions{out_dir(), {&snapshot_key_}, {&timestamp_key_}, now, nullptr};
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

// Two workspaces publishing into one --out: the second waits for nothing and says why.
TEST_F(PublishTest, RefusesWhileAnotherPublishHoldsTheOutput) {
  Workspace ws = Init();
  AddFile(ws, "fw.bin", "firmware");
  SignAll(ws);
  fs::create_directories(out_dir().parent_path());
  auto held = WorkspaceLock::AcquireFile(
      out_dir().parent_path() / ("." + out_dir().filename().string() + ".lock"),
      LockMode::kExclusive, "test");
  ASSERT_TRUE(held) << held.error().ToString();
  auto refused = Publish(ws, Options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPolicy);
  EXPECT_NE(refused.error().message().find("the published repository"), std::string::npos)
      << refused.error().message();
  EXPECT_FALSE(fs::exists(out_dir()));
  *held = WorkspaceLock();  // released: the publish goes through
  auto published = Publish(ws, Options());
  ASSERT_TRUE(published) << published.error().ToString();
}

TEST_F(PublishTest, RefusesSnapshotKeyNotInRoot) {
  Workspace ws = Init();
  SignAll(ws);
  auto stranger = testing::NewKey();
  PublishOptions options = Options();
  options.snapshot_signers = {&stranger};
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

TEST_F(PublishTest, SnapshotAndTimestampThresholdsAboveOne) {
  const auto snapshot_2 = testing::NewKey();
  const auto timestamp_2 = testing::NewKey();
  const auto timestamp_3 = testing::NewKey();
  InitSpec spec = DefaultSpec();
  spec.snapshot = {{snapshot_key_.public_key(), snapshot_2.public_key()}, 2};
  spec.timestamp = {
      {timestamp_key_.public_key(), timestamp_2.public_key(), timestamp_3.public_key()}, 2};
  auto init = Workspace::Init(ws_dir(), spec, kNow);
  ASSERT_TRUE(init) << init.error().ToString();
  Workspace ws = std::move(*init);
  AddFile(ws, "fw.bin", "firmware");
  SignAll(ws);

  // One key each: below both thresholds, nothing written.
  auto below = Publish(ws, Options());
  ASSERT_FALSE(below);
  EXPECT_EQ(below.error().kind(), ErrorKind::kUnsignedMetadata);
  EXPECT_NE(below.error().message().find("snapshot needs 2 signatures but only 1"),
            std::string::npos)
      << below.error().message();
  EXPECT_FALSE(fs::exists(out_dir()));
  // The same key twice does not count twice.
  PublishOptions twice = Options();
  twice.snapshot_signers = {&snapshot_key_, &snapshot_key_};
  auto duplicate = Publish(ws, twice);
  ASSERT_FALSE(duplicate);
  EXPECT_NE(duplicate.error().message().find("given twice"), std::string::npos);

  PublishOptions options = Options();
  options.snapshot_signers = {&snapshot_key_, &snapshot_2};
  options.timestamp_signers = {&timestamp_3, &timestamp_key_};
  std::vector<std::string> stages;
  options.progress = [&](std::string_view stage, size_t, size_t) {
    if (stages.empty() || stages.back() != stage) stages.emplace_back(stage);
  };
  auto published = Publish(ws, options);
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(stages, (std::vector<std::string>{"linking targets", "verifying targets"}));
  // Devices (TrustedSet, via VerifyPublishedTree) accept it; each file carries both signatures.
  auto count =
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow);
  ASSERT_TRUE(count) << count.error().ToString();
  for (const char* file : {"1.snapshot.json", "timestamp.json"}) {
    auto envelope = metadata::Envelope::Parse(ReadAll(out_dir() / "metadata" / file));
    ASSERT_TRUE(envelope) << file;
    EXPECT_EQ(envelope->signatures.size(), 2u) << file;
  }
}

TEST_F(PublishTest, HashBinsBeyondSixteenBitsAreCreatedOnDemand) {
  Workspace ws = Init();
  auto bins_key = testing::NewKey();
  BinsSpec bins;
  bins.name_prefix = "big";
  bins.bit_length = 33;
  bins.keys = {bins_key.public_key()};
  EXPECT_FALSE(DelegateBins(ws, bins, kNow));  // TUF: 1..32
  bins.bit_length = 32;                        // 4 billion bins: none created up front
  ASSERT_TRUE(DelegateBins(ws, bins, kNow));
  EXPECT_EQ(ws.TargetsRoleNames().size(), 1u);
  EXPECT_FALSE(SignRole(ws, "big", bins_key));  // no bin exists yet
  AddFile(ws, "a.bin", "a", "big");
  AddFile(ws, "b.bin", "b", "big");
  const auto& big = *ws.FindBins("big");
  const std::string bin_a = big.RoleForTarget("a.bin"), bin_b = big.RoleForTarget("b.bin");
  ASSERT_NE(bin_a, bin_b);
  EXPECT_EQ(bin_a.size(), std::string("big-").size() + 8);
  EXPECT_EQ(ws.TargetsRoleNames(), (std::vector<std::string>{"targets", bin_a, bin_b}));
  SignAll(ws);
  auto signed_bins = SignRole(ws, "big", bins_key);
  ASSERT_TRUE(signed_bins) << signed_bins.error().ToString();
  EXPECT_EQ(signed_bins->size(), 2u);
  ASSERT_TRUE(ws.Save());

  // Reopened, the workspace finds exactly the bins that exist.
  Workspace reopened = Open();
  EXPECT_EQ(reopened.TargetsRoleNames(), ws.TargetsRoleNames());
  auto published = Publish(reopened, Options());
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(published->target_count, 2u);
  EXPECT_TRUE(fs::exists(out_dir() / "metadata" / ("1." + bin_a + ".json")));
  const std::string snapshot = ReadAll(out_dir() / "metadata" / "1.snapshot.json");
  EXPECT_NE(snapshot.find(bin_b + ".json"), std::string::npos);
  // A device resolves a target through its bin (TrustedSet verifies the bin's signature).
  auto count =
      VerifyPublishedTree(out_dir(), ReadAll(out_dir() / "metadata" / "1.root.json"), kNow);
  ASSERT_TRUE(count) << count.error().ToString();
  EXPECT_EQ(*count, 2u);

  // 17 bits, just past the eager limit (2^16 bins, all created), is on demand too.
  Workspace other = Init(tmp_.path() / "ws17");
  bins.bit_length = 17;
  ASSERT_TRUE(DelegateBins(other, bins, kNow));
  EXPECT_EQ(other.TargetsRoleNames().size(), 1u);
}

}  // namespace
}  // namespace mdu::signer::repo
