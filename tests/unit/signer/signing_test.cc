// Signing staged roles and threshold signing across machines (signing requests).
#include "signer/repo/signing.h"

#include <gtest/gtest.h>

#include "core/json/parser.h"
#include "core/json/writer.h"
#include "signer/repo/status.h"
#include "signer/repo/targets_editor.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

using testing::kNow;

class SigningTest : public testing::RepoTest {};

TEST_F(SigningTest, SignsWithAuthorizedKeyAndCountsTowardsThreshold) {
  Workspace ws = Init();
  auto status = ComputeStatus(ws, kNow);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->ready());
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[0]));
  auto root = ComputeStatus(ws, kNow)->roles[0];
  EXPECT_EQ(root.signatures.signed_by.size(), 1u);
  EXPECT_FALSE(root.signatures.met());
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[2]));
  EXPECT_TRUE(ComputeStatus(ws, kNow)->roles[0].signatures.met());
}

TEST_F(SigningTest, RefusesKeyNotAuthorizedForTheRole) {
  Workspace ws = Init();
  auto wrong = SignRole(ws, "targets", root_keys_[0]);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind(), ErrorKind::kPolicy);
  EXPECT_NE(wrong.error().message().find("not authorized"), std::string::npos);
  EXPECT_NE(wrong.error().message().find(targets_key_.public_key().KeyId()), std::string::npos);
  EXPECT_TRUE(ws.TargetsRole("targets")->envelope.signatures.empty());
  auto stranger = testing::NewKey();
  EXPECT_FALSE(SignRole(ws, "root", stranger));
  EXPECT_FALSE(SignRole(ws, "timestamp", timestamp_key_));  // signed at publish
}

TEST_F(SigningTest, TwoEngineersSignRootAcrossSeparateWorkspaces) {
  // Engineer A prepares the repository and signs root with the first root key.
  Workspace ws = Init();
  ASSERT_TRUE(SignRole(ws, "root", root_keys_[0]));
  ASSERT_TRUE(ws.Save());
  auto request = ExportSigningRequest(ws, "root");
  ASSERT_TRUE(request) << request.error().ToString();
  const auto request_file = tmp_.path() / "usb" / "root-request.json";
  testing::WriteAll(request_file, *request);

  // Engineer B, on another machine, has only the request file and the second root key.
  auto signed_by_b = SignRequest(testing::ReadAll(request_file), root_keys_[1]);
  ASSERT_TRUE(signed_by_b) << signed_by_b.error().ToString();
  testing::WriteAll(request_file, *signed_by_b);

  // Back on A: merge, and root now meets 2 of 3.
  Workspace reopened = Open();
  auto merged = MergeSignatures(reopened, testing::ReadAll(request_file));
  ASSERT_TRUE(merged) << merged.error().ToString();
  EXPECT_EQ(merged->role, "root");
  ASSERT_TRUE(reopened.Save());
  auto status = ComputeStatus(Open(), kNow);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->roles[0].signatures.met());
  EXPECT_EQ(status->roles[0].signatures.signed_by.size(), 2u);

  // A second workspace with the same keys (engineer B's own copy made at another time) has
  // different bytes: its request cannot be merged into A's workspace.
  Workspace other = Init(tmp_.path() / "ws-b");
  ASSERT_TRUE(other.EditTargets("targets", kNow + 5, [](metadata::Targets& t) -> Status {
    t.common.spec_version = "1.0.0";
    return {};
  }));
  auto foreign = ExportSigningRequest(other, "targets");
  ASSERT_TRUE(foreign);
  auto foreign_signed = SignRequest(*foreign, targets_key_);
  ASSERT_TRUE(foreign_signed);
  auto rejected = MergeSignatures(reopened, *foreign_signed);
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message().find("different bytes"), std::string::npos);
}

TEST_F(SigningTest, SignRequestRefusesUnauthorizedKeyAndTamperedBytes) {
  Workspace ws = Init();
  auto request = ExportSigningRequest(ws, "targets");
  ASSERT_TRUE(request);
  auto wrong_key = SignRequest(*request, root_keys_[0]);
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error().kind(), ErrorKind::kPolicy);

  auto doc = json::Parse(*request);
  ASSERT_TRUE(doc);
  json::Value signed_value = *doc->Find("signed");
  signed_value.Set("version", json::Value(99));
  doc->Set("signed", signed_value);
  auto tampered = SignRequest(json::Serialize(*doc, 1), targets_key_);
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().kind(), ErrorKind::kHashMismatch);
}

TEST_F(SigningTest, MergeRejectsUnknownKeysAndChangedRoles) {
  Workspace ws = Init();
  auto request = ExportSigningRequest(ws, "targets");
  ASSERT_TRUE(request);
  auto doc = json::Parse(*request);
  ASSERT_TRUE(doc);
  // Let an unknown key into the request's list and sign with it.
  auto stranger = testing::NewKey();
  json::Array ids = doc->Find("authorized_keyids")->as_array();
  ids.emplace_back(stranger.public_key().KeyId());
  doc->Set("authorized_keyids", json::Value(ids));
  auto by_stranger = SignRequest(json::Serialize(*doc, 1), stranger);
  ASSERT_TRUE(by_stranger);
  auto rejected = MergeSignatures(ws, *by_stranger);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().kind(), ErrorKind::kUnsignedMetadata);
  EXPECT_NE(rejected.error().message().find(stranger.public_key().KeyId()), std::string::npos);
  EXPECT_TRUE(ws.TargetsRole("targets")->envelope.signatures.empty());

  // A valid signature over bytes that changed since the export is rejected too.
  auto good = SignRequest(*request, targets_key_);
  ASSERT_TRUE(good);
  AddTargetsSpec spec;
  spec.sources = {*SourceForFile(MakeFile("a.bin", "a"), "")};
  spec.release.version = "1";
  spec.release.hardware_ids = {"hw"};
  spec.now = kNow;
  ASSERT_TRUE(AddTargets(ws, spec));
  auto stale = MergeSignatures(ws, *good);
  ASSERT_FALSE(stale);
  EXPECT_NE(stale.error().message().find("export a new request"), std::string::npos);
}

}  // namespace
}  // namespace mdu::signer::repo
