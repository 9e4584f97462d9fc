// The workspace model and the commands that edit it: init, add/remove/withdraw targets,
// delegations. Every bad input must leave the workspace directory exactly as it was.
#include "signer/repo/workspace.h"

#include <gtest/gtest.h>

#include "core/crypto/hash.h"
#include "core/json/parser.h"
#include "signer/repo/delegation.h"
#include "signer/repo/ingest.h"
#include "signer/repo/targets_editor.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using testing::kNow;
using testing::ReadAll;

class WorkspaceTest : public testing::RepoTest {
 protected:
  AddTargetsSpec Spec(std::vector<TargetSource> sources) {
    AddTargetsSpec spec;
    spec.sources = std::move(sources);
    spec.release.version = "2.1.0";
    spec.release.hardware_ids = {"pump-x-rev-b"};
    spec.now = kNow;
    return spec;
  }
  Result<std::vector<AddedTarget>> Add(Workspace& ws, const fs::path& file,
                                       const std::string& name = "") {
    auto source = SourceForFile(file, name);
    if (!source) return MakeError(source.error());
    return AddTargets(ws, Spec({*source}));
  }
};

TEST_F(WorkspaceTest, InitCreatesRootV1AndEmptyTargets) {
  Init();
  Workspace ws = Open();
  EXPECT_EQ(ws.root().role.common.version, 1);
  EXPECT_TRUE(ws.root().role.consistent_snapshot);
  EXPECT_EQ(ws.root().role.roles.at("root").threshold, 2);
  EXPECT_EQ(ws.root().role.roles.at("root").keyids.size(), 3u);
  EXPECT_EQ(ws.root().role.common.expires, kNow + 365 * kSecondsPerDay);
  ASSERT_NE(ws.TargetsRole("targets"), nullptr);
  EXPECT_TRUE(ws.TargetsRole("targets")->role.targets.empty());
  EXPECT_EQ(ws.TargetsRole("targets")->role.common.expires, kNow + 90 * kSecondsPerDay);
  EXPECT_EQ(ws.published().root, 0);
  EXPECT_TRUE(fs::exists(ws_dir() / "workspace.json"));
  EXPECT_TRUE(fs::exists(ws_dir() / "withdrawn.json"));
}

TEST_F(WorkspaceTest, InitRefusesAnExistingWorkspace) {
  Init();
  auto again = Workspace::Init(ws_dir(), DefaultSpec(), kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(WorkspaceTest, InitRefusesThresholdAboveKeyCount) {
  InitSpec spec = DefaultSpec();
  spec.root.threshold = 4;
  auto ws = Workspace::Init(ws_dir(), spec, kNow);
  ASSERT_FALSE(ws);
  EXPECT_NE(ws.error().message().find("threshold"), std::string::npos);
}

TEST_F(WorkspaceTest, OpenWithoutWorkspaceSaysToInit) {
  auto ws = Workspace::Open(tmp_.path() / "nothing");
  ASSERT_FALSE(ws);
  EXPECT_EQ(ws.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(ws.error().message().find("signer init"), std::string::npos);
}

TEST_F(WorkspaceTest, AddTargetHashesStoresBlobAndCustomMetadata) {
  Workspace ws = Init();
  const std::string content = "firmware image 2.1.0";
  const fs::path file = MakeFile("fw.bin", content);
  AddTargetsSpec spec = Spec({*SourceForFile(file, "pump-x/fw-2.1.0.bin")});
  spec.release.min_installed_version = "1.5.0";
  spec.release.security_version = 7;
  spec.release.installer = "swupdate";
  spec.release.end_of_support = "2031-12-31";
  auto added = AddTargets(ws, spec);
  ASSERT_TRUE(added) << added.error().ToString();
  ASSERT_TRUE(ws.Save());

  Workspace reopened = Open();
  const auto& targets = reopened.TargetsRole("targets")->role;
  EXPECT_EQ(targets.common.version, 1);
  const auto& target = targets.targets.at("pump-x/fw-2.1.0.bin");
  EXPECT_EQ(target.length, static_cast<int64_t>(content.size()));
  const std::string sha256 = crypto::Sha256Hex(content);
  EXPECT_EQ(std::string(*target.Sha256()), sha256);
  EXPECT_EQ(target.hashes.size(), 2u);
  EXPECT_EQ(target.hashes[1].second, crypto::DigestHex(crypto::HashAlgorithm::kSha512, content));
  EXPECT_EQ(target.custom.Find("version")->as_string(), "2.1.0");
  EXPECT_EQ(target.custom.Find("hardware_ids")->as_array()[0].as_string(), "pump-x-rev-b");
  EXPECT_EQ(target.custom.Find("min_installed_version")->as_string(), "1.5.0");
  EXPECT_EQ(target.custom.Find("security_version")->as_int(), 7);
  EXPECT_EQ(target.custom.Find("installer")->as_string(), "swupdate");
  EXPECT_EQ(target.custom.Find("end_of_support")->as_string(), "2031-12-31");
  EXPECT_EQ(ReadAll(ws_dir() / "targets" / sha256), content);
  // No temporary blob left behind.
  for (const auto& entry : fs::directory_iterator(ws_dir() / "targets")) {
    EXPECT_EQ(entry.path().filename().string().find(".incoming"), std::string::npos);
  }
}

TEST_F(WorkspaceTest, AnAddThatIsNeverSavedLeavesNothingBehind) {
  Init();
  const auto before = testing::Snapshot(ws_dir());
  {
    Workspace ws = Open();
    ASSERT_TRUE(Add(ws, MakeFile("a.bin", "abandoned"), "a.bin"));
    // e.g. the command failed later on: the workspace is dropped without Save.
  }
  EXPECT_EQ(testing::Snapshot(ws_dir()), before);
}

TEST_F(WorkspaceTest, RejectsHostileTargetNames) {
  Init();
  const fs::path file = MakeFile("fw.bin", "x");
  const auto before = testing::Snapshot(ws_dir());
  for (const std::string name : {"../x", "/abs", "a\\b", "a//b", "a/./b", "a/"}) {
    Workspace ws = Open();
    auto added = Add(ws, file, name);
    ASSERT_FALSE(added) << name;
    EXPECT_EQ(added.error().kind(), ErrorKind::kInvalidArgument) << name;
    EXPECT_NE(added.error().message().find(name), std::string::npos) << added.error().message();
  }
  EXPECT_EQ(testing::Snapshot(ws_dir()), before);
}

TEST_F(WorkspaceTest, MissingFileIsRefused) {
  Workspace ws = Init();
  auto added = Add(ws, tmp_.path() / "no-such-file.bin");
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().kind(), ErrorKind::kNotFound);
}

TEST_F(WorkspaceTest, RequiresVersionAndHardwareId) {
  Workspace ws = Init();
  AddTargetsSpec spec = Spec({*SourceForFile(MakeFile("a.bin", "a"), "")});
  spec.release.hardware_ids.clear();
  EXPECT_FALSE(AddTargets(ws, spec));
  spec.release.hardware_ids = {"hw"};
  spec.release.version.clear();
  EXPECT_FALSE(AddTargets(ws, spec));
  spec.release.version = "1";
  spec.release.end_of_support = "2031-13-01";
  EXPECT_FALSE(AddTargets(ws, spec));
}

TEST_F(WorkspaceTest, NameCollisionNeedsReplaceAndLeavesWorkspaceUntouched) {
  Workspace ws = Init();
  ASSERT_TRUE(Add(ws, MakeFile("v1.bin", "one"), "fw.bin"));
  ASSERT_TRUE(ws.Save());
  const auto before = testing::Snapshot(ws_dir());

  Workspace again = Open();
  auto collision = Add(again, MakeFile("v2.bin", "two"), "fw.bin");
  ASSERT_FALSE(collision);
  EXPECT_NE(collision.error().message().find("--replace"), std::string::npos);
  EXPECT_EQ(testing::Snapshot(ws_dir()), before);  // no blob, no metadata change

  // Same content again: accepted as unchanged.
  auto same = Add(again, MakeFile("v1-copy.bin", "one"), "fw.bin");
  ASSERT_TRUE(same);
  EXPECT_TRUE((*same)[0].unchanged);

  AddTargetsSpec spec = Spec({*SourceForFile(MakeFile("v2.bin", "two"), "fw.bin")});
  spec.replace = true;
  ASSERT_TRUE(AddTargets(again, spec));
  ASSERT_TRUE(again.Save());
  EXPECT_EQ(Open().TargetsRole("targets")->role.targets.at("fw.bin").length, 3);
}

TEST_F(WorkspaceTest, AddsADirectoryUnderAPrefixInBothThreads) {
  Workspace ws = Init();
  for (int i = 0; i < 20; ++i) {
    testing::WriteAll(tmp_.path() / "release" / ("sub/part-" + std::to_string(i)),
                      "part " + std::to_string(i));
  }
  auto sources = SourcesForDirectory(tmp_.path() / "release", "pump-x/2.0");
  ASSERT_TRUE(sources) << sources.error().ToString();
  AddTargetsSpec spec = Spec(*sources);
  spec.threads = 2;
  size_t progress_calls = 0;
  spec.progress = [&](const IngestProgress& p) {
    ++progress_calls;
    EXPECT_LE(p.files_done, p.files_total);
  };
  auto added = AddTargets(ws, spec);
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_EQ(added->size(), 20u);
  EXPECT_GT(progress_calls, 0u);
  const auto& targets = ws.TargetsRole("targets")->role.targets;
  EXPECT_EQ(targets.count("pump-x/2.0/sub/part-7"), 1u);
  EXPECT_EQ(targets.at("pump-x/2.0/sub/part-7").length, 6);
}

TEST_F(WorkspaceTest, LargeFileHashesOnTwoThreadsMatchOneShotDigests) {
  // Above the split threshold sha512 runs on a helper thread; the digests and the copied blob
  // must be exactly those of the content, including a final partial block.
  std::string content((9u << 20) + 12345, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>((i * 131) >> 7);
  const fs::path file = MakeFile("big.img", content);
  const fs::path blobs = tmp_.path() / "blobs";
  fs::create_directories(blobs);
  auto ingested = IngestFiles({file}, IngestOptions{1, blobs, nullptr});
  ASSERT_TRUE(ingested) << ingested.error().ToString();
  ASSERT_EQ(ingested->size(), 1u);
  const IngestedFile& result = (*ingested)[0];
  EXPECT_EQ(result.length, content.size());
  EXPECT_EQ(result.sha256, crypto::Sha256Hex(content));
  EXPECT_EQ(result.sha512, crypto::DigestHex(crypto::HashAlgorithm::kSha512, content));
  EXPECT_EQ(ReadAll(result.temp_blob), content);
  DiscardIngested(*ingested);
  EXPECT_FALSE(fs::exists(result.temp_blob));
}

TEST_F(WorkspaceTest, SbomIsItsOwnTargetAndReferenced) {
  Workspace ws = Init();
  AddTargetsSpec spec = Spec({*SourceForFile(MakeFile("fw.bin", "fw"), "fw.bin")});
  spec.sbom = MakeFile("bom.json", R"({"bomFormat": "CycloneDX", "specVersion": "1.5"})");
  ASSERT_TRUE(AddTargets(ws, spec));
  const auto& targets = ws.TargetsRole("targets")->role.targets;
  ASSERT_EQ(targets.count("fw.bin.sbom.json"), 1u);
  const auto& sbom = targets.at("fw.bin.sbom.json");
  const json::Value* ref = targets.at("fw.bin").custom.Find("sbom");
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(ref->Find("name")->as_string(), "fw.bin.sbom.json");
  EXPECT_EQ(ref->Find("sha256")->as_string(), std::string(*sbom.Sha256()));
  EXPECT_EQ(sbom.custom.Find("sbom_format")->as_string(), "CycloneDX");

  AddTargetsSpec bad = Spec({*SourceForFile(MakeFile("g.bin", "g"), "g.bin")});
  bad.sbom = MakeFile("notbom.json", R"({"hello": 1})");
  EXPECT_FALSE(AddTargets(ws, bad));
}

TEST_F(WorkspaceTest, RemoveAndWithdraw) {
  Workspace ws = Init();
  ASSERT_TRUE(Add(ws, MakeFile("a.bin", "a"), "a.bin"));
  ASSERT_TRUE(Add(ws, MakeFile("b.bin", "b"), "b.bin"));
  ASSERT_TRUE(ws.Save());

  Workspace edit = Open();
  EXPECT_FALSE(RemoveTarget(edit, "zzz", kNow));
  ASSERT_TRUE(RemoveTarget(edit, "a.bin", kNow));
  EXPECT_FALSE(WithdrawTarget(edit, "b.bin", "", "alice", kNow));  // reason required
  auto withdrawn = WithdrawTarget(edit, "b.bin", "CVE-2027-0001: dose rounding", "alice", kNow);
  ASSERT_TRUE(withdrawn) << withdrawn.error().ToString();
  ASSERT_TRUE(edit.Save());

  Workspace reopened = Open();
  EXPECT_TRUE(reopened.TargetsRole("targets")->role.targets.empty());
  ASSERT_EQ(reopened.withdrawn_records().size(), 1u);
  const json::Value& record = reopened.withdrawn_records()[0];
  EXPECT_EQ(record.Find("name")->as_string(), "b.bin");
  EXPECT_EQ(record.Find("reason")->as_string(), "CVE-2027-0001: dose rounding");
  EXPECT_EQ(record.Find("by")->as_string(), "alice");
  EXPECT_EQ(record.Find("version")->as_string(), "2.1.0");
  EXPECT_EQ(record.Find("sha256")->as_string(), crypto::Sha256Hex("b"));
}

TEST_F(WorkspaceTest, ChangesDropSignaturesButKeepTheNextVersion) {
  Workspace ws = Init();
  SignAll(ws);
  EXPECT_EQ(ws.TargetsRole("targets")->envelope.signatures.size(), 1u);
  ASSERT_TRUE(Add(ws, MakeFile("a.bin", "a"), "a.bin"));
  EXPECT_TRUE(ws.TargetsRole("targets")->envelope.signatures.empty());
  EXPECT_EQ(ws.TargetsRole("targets")->role.common.version, 1);  // never published: stays 1
  EXPECT_EQ(ws.root().envelope.signatures.size(), 2u);           // root untouched
}

TEST_F(WorkspaceTest, DelegatedRoleOnlyTakesItsPaths) {
  Workspace ws = Init();
  auto team = testing::NewKey();
  DelegationSpec spec{"pump-x", "targets", {team.public_key()}, 1, {"pump-x/*"}, true};
  ASSERT_TRUE(Delegate(ws, spec, kNow));
  ASSERT_TRUE(ws.Save());

  Workspace reopened = Open();
  ASSERT_NE(reopened.TargetsRole("pump-x"), nullptr);
  EXPECT_EQ(reopened.DelegatorOf("pump-x"), "targets");
  const auto& delegations = *reopened.TargetsRole("targets")->role.delegations;
  EXPECT_TRUE((*delegations.roles)[0].terminating);

  AddTargetsSpec inside = Spec({*SourceForFile(MakeFile("a.bin", "a"), "pump-x/a.bin")});
  inside.role = "pump-x";
  ASSERT_TRUE(AddTargets(reopened, inside));
  AddTargetsSpec outside = Spec({*SourceForFile(MakeFile("b.bin", "b"), "other/b.bin")});
  outside.role = "pump-x";
  auto refused = AddTargets(reopened, outside);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("outside the paths"), std::string::npos);

  EXPECT_FALSE(
      Delegate(reopened,
               DelegationSpec{"../evil", "targets", {team.public_key()}, 1, {"x/*"}, false}, kNow));
  EXPECT_FALSE(Delegate(
      reopened, DelegationSpec{"other", "targets", {team.public_key()}, 2, {"x/*"}, false}, kNow));
}

TEST_F(WorkspaceTest, HashBinsRouteEachTargetToItsBin) {
  Workspace ws = Init();
  auto bins_key = testing::NewKey();
  BinsSpec spec;
  spec.name_prefix = "bins";
  spec.bit_length = 3;
  spec.keys = {bins_key.public_key()};
  ASSERT_TRUE(DelegateBins(ws, spec, kNow));
  ASSERT_TRUE(ws.Save());

  Workspace reopened = Open();
  EXPECT_EQ(reopened.TargetsRoleNames().size(), 9u);  // targets + 8 bins
  AddTargetsSpec add = Spec({*SourceForFile(MakeFile("a.bin", "a"), "fleet/a.bin")});
  add.role = "bins";
  auto added = AddTargets(reopened, add);
  ASSERT_TRUE(added) << added.error().ToString();
  const std::string bin =
      reopened.TargetsRole("targets")->role.delegations->succinct_roles->RoleForTarget(
          "fleet/a.bin");
  EXPECT_EQ((*added)[0].role, bin);
  EXPECT_EQ(reopened.TargetsRole(bin)->role.targets.count("fleet/a.bin"), 1u);
  // Named delegations cannot be mixed with bins.
  EXPECT_FALSE(Delegate(
      reopened, DelegationSpec{"x", "targets", {bins_key.public_key()}, 1, {"x/*"}, false}, kNow));
}

TEST_F(WorkspaceTest, WithdrawRemovesTheSbomUnlessAnotherTargetReferencesIt) {
  Workspace ws = Init();
  AddTargetsSpec spec = Spec({*SourceForFile(MakeFile("fw.bin", "fw"), "fw.bin")});
  spec.sbom = MakeFile("bom.json", R"({"spdxVersion": "SPDX-2.3"})");
  ASSERT_TRUE(AddTargets(ws, spec));
  AddTargetsSpec other = Spec({*SourceForFile(MakeFile("fw2.bin", "fw2"), "fw2.bin")});
  ASSERT_TRUE(AddTargets(ws, other));
  ASSERT_TRUE(ws.Save());

  // A second target that points at the same SBOM keeps it alive.
  Workspace edit = Open();
  ASSERT_TRUE(edit.EditTargets("targets", kNow, [](metadata::Targets& t) -> Status {
    t.targets.at("fw2.bin").custom.Set("sbom", *t.targets.at("fw.bin").custom.Find("sbom"));
    return {};
  }));
  auto kept = WithdrawTarget(edit, "fw.bin", "recall", "alice", kNow);
  ASSERT_TRUE(kept) << kept.error().ToString();
  EXPECT_TRUE(kept->sbom_removed.empty());
  EXPECT_EQ(edit.TargetsRole("targets")->role.targets.count("fw.bin.sbom.json"), 1u);

  // Otherwise the SBOM goes with the release and the record says so.
  Workspace fresh = Open();
  auto withdrawn = WithdrawTarget(fresh, "fw.bin", "recall", "alice", kNow);
  ASSERT_TRUE(withdrawn) << withdrawn.error().ToString();
  EXPECT_EQ(withdrawn->sbom_removed, "fw.bin.sbom.json");
  ASSERT_TRUE(fresh.Save());
  Workspace reopened = Open();
  const auto& targets = reopened.TargetsRole("targets")->role.targets;
  EXPECT_EQ(targets.count("fw.bin"), 0u);
  EXPECT_EQ(targets.count("fw.bin.sbom.json"), 0u);
  EXPECT_EQ(targets.count("fw2.bin"), 1u);
  ASSERT_EQ(reopened.withdrawn_records().size(), 1u);
  EXPECT_EQ(reopened.withdrawn_records()[0].Find("sbom_removed")->as_string(), "fw.bin.sbom.json");
}

}  // namespace
}  // namespace mdu::signer::repo
