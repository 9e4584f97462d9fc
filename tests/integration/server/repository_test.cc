// The publish path in-process: Repository + PublishVerifier over the in-memory store, driven by
// the repository simulator. Each rejection test checks the attack is refused AND that nothing
// changed (same view object, same store contents, staged blobs discarded).
#include "repo-server/repository.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/io/file.h"
#include "core/trust/trusted_set.h"
#include "repo-server/memory_store.h"
#include "repo-server/static_mirror.h"
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

class RepositoryTest : public testing::RepositoryFixture {
 protected:
  // Expects `upload` to be rejected with `kind` and nothing to change.
  void ExpectRejected(const Upload& upload, ErrorKind kind) {
    auto before = repository_->view();
    auto targets_before = *store_->TargetCount();
    auto current_before = *store_->CurrentVersions();
    auto metadata_before = store_->AllMetadata()->size();
    EXPECT_ERROR_KIND(Publish(upload), kind);
    EXPECT_EQ(repository_->view(), before);
    EXPECT_EQ(*store_->TargetCount(), targets_before);
    EXPECT_EQ(*store_->CurrentVersions(), current_before);
    EXPECT_EQ(store_->AllMetadata()->size(), metadata_before);
  }

  // The metadata of the store, in a new store (a restart over the same data).
  std::unique_ptr<Store> CopyOfStore() {
    auto copy = NewMemoryStore();
    auto entries = store_->AllMetadata();
    auto current = store_->CurrentVersions();
    EXPECT_TRUE(entries && current);
    PublishBatch batch;
    batch.metadata = *entries;
    batch.current = *current;
    EXPECT_TRUE(copy->Commit(batch));
    return copy;
  }
};

TEST_F(RepositoryTest, FirstPublishIsAnchoredInTheConfiguredRoot) {
  sim_->AddTarget("targets", "pump/fw-1.0.bin", Content(3 * kBlobChunkBytes + 17, 1));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  auto outcome = Publish(LatestUpload(*sim_));
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(outcome->targets_stored, 1u);
  EXPECT_EQ(outcome->roles.at("root").version, 1);
  EXPECT_EQ(outcome->roles.at("targets").version, 2);
  EXPECT_EQ(outcome->roles.at("timestamp").version, sim_->timestamp.common.version);
  EXPECT_EQ(outcome->roles.at("timestamp").expires, kExpires);
  EXPECT_EQ(Current("root"), sim_->MetadataFile("1.root.json"));
  EXPECT_EQ(Current("timestamp"), sim_->MetadataFile("timestamp.json"));
  EXPECT_EQ(Current("targets"), sim_->MetadataFile("2.targets.json"));
  auto location = repository_->view()->FindTarget("pump/fw-1.0.bin");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->length, 3 * kBlobChunkBytes + 17);
  auto info = store_->GetTarget(location->sha256);
  ASSERT_TRUE(info);
  std::string stored;
  for (uint64_t i = 0; i < 4; ++i) stored += *store_->ReadBlobChunk(info->blob_id, i);
  EXPECT_EQ(stored, Content(3 * kBlobChunkBytes + 17, 1));
}

TEST_F(RepositoryTest, RejectsFirstPublishNotSignedByTheConfiguredRoot) {
  auto other = MakeSim(kExpires);  // different keys: the network offers another trust anchor
  ExpectRejected(LatestUpload(*other), ErrorKind::kBadVersion);  // its 1.root.json differs
  Upload without_root = LatestUpload(*other);
  without_root.metadata.erase("1.root.json");
  ExpectRejected(without_root, ErrorKind::kUnsignedMetadata);
  EXPECT_FALSE(repository_->view()->initialized());
}

TEST_F(RepositoryTest, RepublishingTheSameFilesIsANoOp) {
  PublishOk();
  auto before = Current("timestamp");
  PublishOk();
  EXPECT_EQ(Current("timestamp"), before);
}

TEST_F(RepositoryTest, RejectsTimestampRollback) {
  Upload old = LatestUpload(*sim_);
  sim_->UpdateSnapshot();
  PublishOk();
  ExpectRejected(old, ErrorKind::kBadVersion);
}

TEST_F(RepositoryTest, RejectsTimestampRollbackToTheSameSnapshot) {
  sim_->UpdateTimestamp();
  Upload old = LatestUpload(*sim_);  // names the same snapshot as the newer one
  sim_->UpdateTimestamp();
  PublishOk();
  ExpectRejected(old, ErrorKind::kBadVersion);
}

TEST_F(RepositoryTest, RejectsChangedContentUnderTheSameVersion) {
  PublishOk();
  sim_->Role("targets").common.expires = kExpires + 1;  // content changes, version does not
  sim_->UpdateSnapshot();
  ExpectRejected(LatestUpload(*sim_), ErrorKind::kBadVersion);
}

TEST_F(RepositoryTest, RejectsSnapshotRollingBackATargetsRole) {
  sim_->Role("targets").common.version = 3;
  sim_->UpdateSnapshot();
  PublishOk();
  // A snapshot naming targets version 2 (older than published 3); 2.targets.json is new.
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ExpectRejected(LatestUpload(*sim_), ErrorKind::kBadVersion);
}

TEST_F(RepositoryTest, RejectsSnapshotNamingAVersionNobodyUploaded) {
  PublishOk();
  sim_->Role("targets").common.version = 5;
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_);
  upload.metadata.erase("5.targets.json");
  ExpectRejected(upload, ErrorKind::kNotFound);
  // The same file under another version: its version differs from what snapshot lists.
  upload.metadata["6.targets.json"] = sim_->MetadataFile("5.targets.json");
  ExpectRejected(upload, ErrorKind::kNotFound);
}

TEST_F(RepositoryTest, RejectsSnapshotWhoseHashesDoNotMatchTargets) {
  PublishOk();
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_);
  // Another 2.targets.json than the one snapshot hashed (mix-and-match).
  sim_->Role("targets").common.expires = kExpires - 1;
  upload.metadata["2.targets.json"] = sim_->SignRole("targets");
  ExpectRejected(upload, ErrorKind::kHashMismatch);
}

TEST_F(RepositoryTest, RejectsMissingSignature) {
  PublishOk();
  sim_->Role("targets").common.version = 2;
  sim_->signers["targets"].clear();
  sim_->UpdateSnapshot();
  ExpectRejected(LatestUpload(*sim_), ErrorKind::kUnsignedMetadata);
}

TEST_F(RepositoryTest, RejectsSignatureByAnUntrustedKey) {
  PublishOk();
  sim_->signers["timestamp"] = {sim::RepositorySimulator::NewKey()};
  sim_->UpdateSnapshot();
  ExpectRejected(LatestUpload(*sim_), ErrorKind::kUnsignedMetadata);
}

TEST_F(RepositoryTest, AcceptsRootRotationAndRestartsFromTheChain) {
  PublishOk();
  sim_->RotateKeys("root");
  sim_->RotateKeys("timestamp");
  sim_->BumpRoot();
  sim_->UpdateSnapshot();
  PublishOk(/*after_root=*/1);
  EXPECT_EQ(repository_->view()->CurrentVersion("root"), 2);
  // Restart over the same store with the configured v1 root: the chain 1 -> 2 verifies.
  auto reopened = Repository::Open(CopyOfStore(), sim_->MetadataFile("1.root.json"), clock_);
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->view()->CurrentVersion("root"), 2);
}

TEST_F(RepositoryTest, RefusesToOpenAStoreNotDescendingFromTheConfiguredRoot) {
  PublishOk();
  auto other = MakeSim(kExpires);
  EXPECT_ERROR_KIND(Repository::Open(CopyOfStore(), other->MetadataFile("1.root.json"), clock_),
                    ErrorKind::kBadVersion);
}

TEST_F(RepositoryTest, RejectsBrokenRootChain) {
  PublishOk();
  sim_->BumpRoot();
  sim_->BumpRoot();
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_, 1);
  upload.metadata.erase("2.root.json");  // 1 -> 3 skips a link
  ExpectRejected(upload, ErrorKind::kBadVersion);
}

TEST_F(RepositoryTest, RejectsRootNotSignedByThePreviousRootKeys) {
  PublishOk();
  sim_->RotateKeys("root");
  sim_->ForgetOldRootKeys();
  sim_->BumpRoot();
  sim_->UpdateSnapshot();
  ExpectRejected(LatestUpload(*sim_, 1), ErrorKind::kUnsignedMetadata);
}

TEST_F(RepositoryTest, RejectsTargetContentWithMismatchingHash) {
  PublishOk();
  sim_->AddTarget("targets", "fw.bin", Content(5000, 2));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_);
  ASSERT_EQ(upload.targets.size(), 1u);
  std::string evil = Content(5000, 3);
  upload.targets.clear();
  upload.targets[crypto::Sha256Hex(evil)] = evil;
  ExpectRejected(upload, ErrorKind::kHashMismatch);
}

TEST_F(RepositoryTest, RejectsContentNotHashingToItsDeclaredSha256) {
  PublishOk();
  auto session = repository_->NewPublish();
  std::string content = Content(100, 4);
  ASSERT_TRUE(session->AddTargetChunk(std::string(64, 'a'), 0, content));
  EXPECT_ERROR_KIND(repository_->Publish(*session), ErrorKind::kHashMismatch);
}

TEST_F(RepositoryTest, RejectsMissingTargetContent) {
  PublishOk();
  sim_->AddTarget("targets", "fw.bin", Content(5000, 2));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_);
  upload.targets.clear();
  ExpectRejected(upload, ErrorKind::kNotFound);
}

TEST_F(RepositoryTest, RejectsExtraneousMetadata) {
  Upload upload = LatestUpload(*sim_);
  upload.metadata["7.snapshot.json"] = upload.metadata.begin()->second;
  ExpectRejected(upload, ErrorKind::kInvalidArgument);
}

TEST_F(RepositoryTest, RejectsExpiredMetadata) {
  clock_.Set(kExpires + 1);
  ExpectRejected(LatestUpload(*sim_), ErrorKind::kExpired);
}

TEST_F(RepositoryTest, RejectsMalformedNamesAndDuplicates) {
  auto session = repository_->NewPublish();
  EXPECT_ERROR_KIND(session->AddMetadata("../1.root.json", "{}"), ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(session->AddMetadata("root.json", "{}"), ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(session->AddMetadata("0.root.json", "{}"), ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(session->AddMetadata("2.timestamp.json", "{}"), ErrorKind::kInvalidArgument);
  EXPECT_OK(session->AddMetadata("1.a.json", "{}"));
  EXPECT_ERROR_KIND(session->AddMetadata("1.a.json", "{}"), ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(session->AddTargetChunk("ABC", 0, "x"), ErrorKind::kInvalidArgument);
  EXPECT_OK(session->AddTargetChunk(std::string(64, 'b'), 0, "x"));
  EXPECT_ERROR_KIND(session->AddTargetChunk(std::string(64, 'b'), 5, "x"),
                    ErrorKind::kInvalidArgument);
}

TEST_F(RepositoryTest, StoredContentIsReusedWithoutReupload) {
  sim_->AddTarget("targets", "fw.bin", Content(5000, 2));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  PublishOk();
  sim_->AddTarget("targets", "other.bin", Content(10, 5));
  sim_->Role("targets").common.version = 3;
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_);
  upload.targets.erase(crypto::Sha256Hex(Content(5000, 2)));
  auto outcome = Publish(upload);
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(outcome->targets_stored, 1u);
  EXPECT_EQ(*store_->TargetCount(), 2u);
}

TEST_F(RepositoryTest, PublishesDelegatedRoles) {
  sim_->AddDelegation("targets", "pumps", {"pump/*"});
  sim_->Role("pumps").common.expires = kExpires;
  sim_->AddTarget("pumps", "pump/fw.bin", Content(100, 6));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  PublishOk();
  EXPECT_EQ(Current("pumps"), sim_->MetadataFile("1.pumps.json"));
  auto location = repository_->view()->FindTarget("pump/fw.bin");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->role, "pumps");
}

// ---- static mirror ----

TEST_F(RepositoryTest, StaticMirrorHoldsTheStandardTreeAndSwapsAtomically) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / ("mirror_" + std::to_string(getpid()));
  fs::remove_all(dir);
  StaticMirror mirror(dir, *store_);
  repository_->set_commit_listener(
      [&](const RepositoryView& view) { ASSERT_TRUE(mirror.Materialize(view)); });
  const std::string blob = Content(kBlobChunkBytes + 10, 8);
  sim_->AddTarget("targets", "pump/fw.bin", blob);
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  PublishOk();
  auto read = [&](const fs::path& relative) {
    auto bytes = io::ReadFileBounded(dir / "current" / relative, 64u << 20);
    return bytes ? *bytes : std::string("<missing>");
  };
  const std::string target_file = "targets/" + sim_->TargetPath("targets", "pump/fw.bin").substr(8);
  EXPECT_EQ(read("metadata/1.root.json"), sim_->MetadataFile("1.root.json"));
  EXPECT_EQ(read("metadata/timestamp.json"), sim_->MetadataFile("timestamp.json"));
  const std::string snapshot = std::to_string(sim_->snapshot.common.version) + ".snapshot.json";
  EXPECT_EQ(read("metadata/" + snapshot), sim_->MetadataFile(snapshot));
  EXPECT_EQ(read("metadata/2.targets.json"), sim_->MetadataFile("2.targets.json"));
  EXPECT_EQ(read(target_file), blob);
  const fs::path first = fs::read_symlink(dir / "current");

  // Next publish: a new generation; unchanged targets are hard links of the previous ones.
  sim_->UpdateSnapshot();
  PublishOk();
  EXPECT_NE(fs::read_symlink(dir / "current"), first);
  EXPECT_EQ(read("metadata/timestamp.json"), sim_->MetadataFile("timestamp.json"));
  struct stat old_stat {
  }, new_stat{};
  ASSERT_EQ(::stat((dir / first / target_file).c_str(), &old_stat), 0);
  ASSERT_EQ(::stat((dir / "current" / target_file).c_str(), &new_stat), 0);
  EXPECT_EQ(old_stat.st_ino, new_stat.st_ino);

  // A third generation drops the first.
  sim_->UpdateSnapshot();
  PublishOk();
  EXPECT_FALSE(fs::exists(dir / first));
  size_t generations = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir / "generations")) {
    ++generations;
  }
  EXPECT_EQ(generations, 2u);
  fs::remove_all(dir);
}

// ---- timestamp re-signing ----

class ResignerTest : public RepositoryTest {
 protected:
  static constexpr ResignPolicy kPolicy{/*validity_seconds=*/86400, /*margin_seconds=*/3600};
};

TEST_F(ResignerTest, ResignsOnlyWithinTheMarginAndTheResultVerifies) {
  PublishOk();
  auto resigner = TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0], kPolicy);
  ASSERT_TRUE(resigner);
  std::string old_timestamp = Current("timestamp");
  int64_t old_version = repository_->view()->CurrentVersion("timestamp");

  clock_.Set(kExpires - 2 * 3600);  // two hours left: not due
  auto tick = resigner->Tick();
  ASSERT_TRUE(tick) << tick.error().ToString();
  EXPECT_FALSE(*tick);
  EXPECT_EQ(Current("timestamp"), old_timestamp);

  clock_.Set(kExpires - 1800);  // half an hour left: due
  tick = resigner->Tick();
  ASSERT_TRUE(tick) << tick.error().ToString();
  EXPECT_TRUE(*tick);
  std::string fresh = Current("timestamp");
  auto parsed = metadata::ParseMetadata<metadata::Timestamp>(fresh);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->role.common.version, old_version + 1);
  EXPECT_EQ(parsed->role.common.expires, kExpires - 1800 + 86400);

  // A client holding the old timestamp moves forward to the re-signed one and still trusts
  // snapshot and targets through it.
  auto client = trust::TrustedSet::Create(Current("root"), kExpires - 60);
  ASSERT_TRUE(client);
  ASSERT_OK(client->UpdateTimestamp(old_timestamp));
  ASSERT_OK(client->UpdateTimestamp(fresh));
  ASSERT_OK(client->UpdateSnapshot(Current("snapshot")));
  ASSERT_OK(client->UpdateTargets(Current("targets")));
}

TEST_F(ResignerTest, KeepsAClientViewValidAcrossManyPeriods) {
  // Long-lived root/snapshot/targets, so only the timestamp needs the online key.
  sim_ = MakeSim(kNow + 365 * 86400);
  OpenRepository(sim_->MetadataFile("1.root.json"));
  sim_->timestamp.common.expires = kNow + 86400;
  sim_->UpdateTimestamp();
  PublishOk();
  auto resigner = TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0], kPolicy);
  ASSERT_TRUE(resigner);
  for (int hour = 0; hour < 24 * 10; ++hour) {
    clock_.Set(kNow + hour * 3600);
    ASSERT_OK(resigner->Tick());
    auto client = trust::TrustedSet::Create(Current("root"), clock_.Now());
    ASSERT_TRUE(client);
    SCOPED_TRACE("hour " + std::to_string(hour));
    ASSERT_OK(client->UpdateTimestamp(Current("timestamp")));
    ASSERT_OK(client->UpdateSnapshot(Current("snapshot")));
    ASSERT_OK(client->UpdateTargets(Current("targets")));
  }
  // About one re-signing per (validity - margin) = 23 h over 10 days.
  EXPECT_GE(repository_->view()->CurrentVersion("timestamp"), 10);
}

// Attack-free but common: the server re-signed the timestamp since the last release, so the
// release engineer's next timestamp carries a version the server already used.
TEST_F(ResignerTest, NextReleaseAfterAServerResignIsRebasedOntoTheOnlineTimestamp) {
  PublishOk();
  auto resigner = TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0], kPolicy);
  ASSERT_TRUE(resigner);
  clock_.Set(kExpires - 1800);
  ASSERT_OK(resigner->Tick());
  const int64_t resigned = repository_->view()->CurrentVersion("timestamp");
  const std::string resigned_bytes = Current("timestamp");

  sim_->AddTarget("targets", "pump/fw-2.0.bin", Content(5000, 7));
  sim_->Role("targets").common.version += 1;
  sim_->UpdateSnapshot();  // the offline side's next timestamp: its own last version + 1
  Upload release = LatestUpload(*sim_);
  ExpectRejected(release, ErrorKind::kBadVersion);  // without the online key: refused

  repository_->set_publish_rebase([key = sim_->signers["timestamp"][0].get()](
                                      PublishInput& input, const RepositoryView& current) {
    return RebaseUploadedTimestamp(input, current, *key);
  });
  PublishOk();
  EXPECT_EQ(repository_->view()->CurrentVersion("timestamp"), resigned + 1);
  EXPECT_EQ(repository_->view()->CurrentVersion("snapshot"), sim_->snapshot.common.version);
  // A device holding the re-signed timestamp moves on to the release.
  auto client = trust::TrustedSet::Create(Current("root"), clock_.Now());
  ASSERT_TRUE(client);
  ASSERT_OK(client->UpdateTimestamp(resigned_bytes));
  ASSERT_OK(client->UpdateTimestamp(Current("timestamp")));
  ASSERT_OK(client->UpdateSnapshot(Current("snapshot")));
  auto targets = client->UpdateTargets(Current("targets"));
  ASSERT_TRUE(targets) << targets.error().ToString();
  EXPECT_EQ((*targets)->targets.count("pump/fw-2.0.bin"), 1u);

  // Attack: the same upload again names no newer snapshot, so it is not re-issued: refused.
  ExpectRejected(release, ErrorKind::kBadVersion);
}

TEST_F(ResignerTest, AKeyRootDoesNotTrustChangesNothing) {
  PublishOk();
  auto wrong = sim::RepositorySimulator::NewKey();
  auto resigner = TimestampResigner::Create(*repository_, *wrong, kPolicy);
  ASSERT_TRUE(resigner);
  auto before = repository_->view();
  clock_.Set(kExpires - 60);
  EXPECT_ERROR_KIND(resigner->Tick(), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(repository_->view(), before);
}

TEST_F(ResignerTest, RejectsAPolicyWithoutMargin) {
  EXPECT_ERROR_KIND(TimestampResigner::Create(*repository_, *sim_->signers["timestamp"][0],
                                              ResignPolicy{3600, 3600}),
                    ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mdu::server
