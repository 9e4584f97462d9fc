// A published repository consumed by the real device client (core/client Updater with the file
// fetcher): a device shipped with 1.root.json refreshes through a root rotation, finds a
// target through a delegation and hash bins, and downloads it.
#include <gtest/gtest.h>

#include "core/client/clock.h"
#include "core/client/fetcher.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "signer/repo/delegation.h"
#include "signer/repo/publish.h"
#include "signer/repo/rotation.h"
#include "signer/repo/signing.h"
#include "signer/repo/targets_editor.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using testing::kNow;
using testing::ReadAll;

class ClientTest : public testing::RepoTest {
 protected:
  PublishOptions Options() {
    return PublishOptions{out_dir(), {&snapshot_key_}, {&timestamp_key_}, kNow, nullptr};
  }
  void Add(Workspace& ws, const std::string& name, const std::string& content,
           const std::string& role) {
    AddTargetsSpec spec;
    spec.sources = {*SourceForFile(MakeFile(name, content), name)};
    spec.release.version = "5.0";
    spec.release.hardware_ids = {"hw"};
    spec.role = role;
    spec.now = kNow;
    auto added = AddTargets(ws, spec);
    ASSERT_TRUE(added) << added.error().ToString();
  }
};

TEST_F(ClientTest, DeviceOnRootV1RefreshesThroughRotationAndDownloadsDelegatedTarget) {
  Workspace ws = Init();
  SignAll(ws);
  ASSERT_TRUE(Publish(ws, Options()));
  const std::string shipped_root = ReadAll(out_dir() / "metadata" / "1.root.json");

  // Rotate a root key, delegate pump-x to hash bins, add a release there, publish v2.
  Workspace next = Open();
  auto new_root_key = testing::NewKey();
  RotationSpec rotation;
  rotation.add = {new_root_key.public_key()};
  rotation.remove = {root_keys_[2].public_key().KeyId()};
  ASSERT_TRUE(RotateKeys(next, rotation, kNow));
  auto team = testing::NewKey();
  ASSERT_TRUE(Delegate(
      next, DelegationSpec{"pump-x", "targets", {team.public_key()}, 1, {"pump-x/*"}, true}, kNow));
  BinsSpec bins;
  bins.from = "pump-x";
  bins.name_prefix = "px";
  bins.bit_length = 4;
  bins.keys = {team.public_key()};
  ASSERT_TRUE(DelegateBins(next, bins, kNow));
  Add(next, "pump-x/fw-5.0.bin", "firmware five", "px");
  ASSERT_TRUE(SignRole(next, "root", root_keys_[0]));
  ASSERT_TRUE(SignRole(next, "root", root_keys_[1]));  // v1 threshold: 2 old keys
  ASSERT_TRUE(SignRole(next, "root", new_root_key));   // v2 threshold: 2 of keys 0, 1, new
  ASSERT_TRUE(SignRole(next, "targets", targets_key_));
  ASSERT_TRUE(SignRole(next, "pump-x", team));
  ASSERT_TRUE(SignRole(next, "px", team));
  auto published = Publish(next, Options());
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(published->versions.root, 2);

  // The device.
  auto store = client::FileMetadataStore::Open(tmp_.path() / "device");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Store("root", shipped_root));
  client::FileFetcher fetcher;
  client::FakeClock clock(kNow + 60);
  client::UpdaterConfig config;
  config.metadata_base_url = "file://" + (out_dir() / "metadata").string();
  config.targets_base_url = "file://" + (out_dir() / "targets").string();
  client::Updater updater(config, fetcher, *store, clock);
  auto refreshed = updater.Refresh();
  ASSERT_TRUE(refreshed) << refreshed.error().ToString();
  const trust::TrustedSet* trusted = updater.trusted_set();
  ASSERT_NE(trusted, nullptr);
  const metadata::Root& root = trusted->root();
  EXPECT_EQ(root.common.version, 2);
  auto match = updater.GetTargetInfo("pump-x/fw-5.0.bin");
  ASSERT_TRUE(match) << match.error().ToString();
  ASSERT_TRUE(match->has_value());
  const fs::path downloaded = tmp_.path() / "download.bin";
  auto download = updater.DownloadTarget(**match, downloaded);
  ASSERT_TRUE(download) << download.error().ToString();
  EXPECT_EQ(ReadAll(downloaded), "firmware five");
  EXPECT_EQ((*match)->file.custom.Find("version")->as_string(), "5.0");
}

}  // namespace
}  // namespace mdu::signer::repo
