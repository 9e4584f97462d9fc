// The real `signer` program with root and targets keys only in SoftHSM2: keygen on the token,
// init, add-target, sign, publish; the published tree is then refreshed by core's Updater (the
// device client), and no private key file for root or targets exists anywhere.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "core/client/clock.h"
#include "core/client/fetcher.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"
#include "signer/keystore/keystore.h"
#include "signer/pkcs11/module.h"
#include "signer/repo/publish.h"
#include "tests/integration/signer_pkcs11/softhsm_fixture.h"

namespace mdu::signer::pkcs11 {
namespace {

namespace fs = std::filesystem;
using testing::Quote;
using testing::SoftHsmTest;

constexpr char kFilePassEnv[] = "MDU_PKCS11_TEST_FILE_PASS";

struct CliRun {
  int status = -1;
  std::string out;  // stdout and stderr together
};

std::string ReadFile(const fs::path& path) {
  auto text = io::ReadFileBounded(path, 64u << 20);
  EXPECT_TRUE(text) << path;
  return text ? *text : std::string();
}

class TokenCliTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    ::setenv(kFilePassEnv, "file key passphrase", 1);
  }
  CliRun Signer(const std::vector<std::string>& args) {
    std::string command = Quote(MDU_SIGNER_BINARY) + " --workspace " + Quote(ws().string());
    for (const auto& arg : args) command += " " + Quote(arg);
    CliRun run;
    run.status = testing::RunShell(command + " </dev/null", &run.out);
    return run;
  }
  CliRun TokenKeygen(const std::string& name, const std::string& scheme) {
    return Signer({"keygen", "--name", name, "--out-dir", keys().string(), "--scheme", scheme,
                   "--rsa-bits", "2048", "--pkcs11", Uri(name), "--passphrase-env",
                   testing::kPinEnv});
  }
  void FileKeygen(const std::string& name) {
    CliRun run = Signer({"keygen", "--name", name, "--out-dir", keys().string(), "--kdf-profile",
                         "interactive", "--passphrase-env", kFilePassEnv});
    ASSERT_EQ(run.status, 0) << run.out;
  }
  std::string Pub(const std::string& name) { return (keys() / (name + ".pub.json")).string(); }
  fs::path ws() const { return dir_ / "ws"; }
  fs::path keys() const { return dir_ / "keys"; }
  fs::path out() const { return dir_ / "repo"; }
};

TEST_F(TokenCliTest, ReleaseWithRootAndTargetsKeysOnlyInTheToken) {
  CliRun root1 = TokenKeygen("root-1", "ed25519");
  ASSERT_EQ(root1.status, 0) << root1.out;
  EXPECT_NE(root1.out.find("non-extractable"), std::string::npos) << root1.out;
  ASSERT_EQ(TokenKeygen("root-2", "ecdsa-sha2-nistp256").status, 0);
  ASSERT_EQ(TokenKeygen("targets", "rsassa-pss-sha256").status, 0);
  FileKeygen("snapshot");
  FileKeygen("timestamp");
  // Only public key files for the token keys.
  for (const char* name : {"root-1", "root-2", "targets"}) {
    EXPECT_TRUE(fs::exists(Pub(name))) << name;
    EXPECT_FALSE(fs::exists(keys() / (std::string(name) + ".key.json"))) << name;
  }
  // key show / export-public read the token's public key: the same key as the public key file.
  auto pub = ParsePublicKeyFile(ReadFile(Pub("root-1")), "root-1.pub.json");
  ASSERT_TRUE(pub) << pub.error().ToString();
  CliRun show = Signer({"--quiet", "key", "show", Uri("root-1")});
  ASSERT_EQ(show.status, 0) << show.out;
  EXPECT_EQ(show.out, pub->KeyId() + "\n");
  CliRun verify = Signer({"key", "show", "--verify", Uri("root-1"), "--passphrase-env",
                          testing::kPinEnv});
  ASSERT_EQ(verify.status, 0) << verify.out;
  EXPECT_NE(verify.out.find("verified:  yes"), std::string::npos) << verify.out;
  CliRun exported = Signer({"key", "export-public", Uri("root-1"), "--out", "-"});
  ASSERT_EQ(exported.status, 0) << exported.out;
  EXPECT_EQ(exported.out, ReadFile(Pub("root-1")));

  // init takes the public key files (a URI works too: root-2 straight from the token).
  CliRun init = Signer({"init", "--root-key", Pub("root-1"), "--root-key", Uri("root-2"),
                        "--root-threshold", "2", "--targets-key", Pub("targets"), "--snapshot-key",
                        Pub("snapshot"), "--timestamp-key", Pub("timestamp")});
  ASSERT_EQ(init.status, 0) << init.out;
  const fs::path fw = dir_ / "fw.bin";
  std::ofstream(fw) << "firmware on a token-signed release";
  CliRun add = Signer({"add-target", fw.string(), "--name", "pump/fw.bin", "--version", "4.0",
                       "--hardware-id", "hw-a"});
  ASSERT_EQ(add.status, 0) << add.out;

  // A wrong PIN: exit 1, the CKR_ code and the URI, never the PIN.
  CliRun wrong =
      Signer({"sign", "root", "--key", Uri("root-1"), "--passphrase-env", testing::kWrongPinEnv});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.out.find("CKR_PIN_INCORRECT"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find(Uri("root-1")), std::string::npos) << wrong.out;
  EXPECT_EQ(wrong.out.find(testing::kWrongPin), std::string::npos) << wrong.out;
  // A token key the role does not list is refused like a file key.
  CliRun unauthorized =
      Signer({"sign", "targets", "--key", Uri("root-1"), "--passphrase-env", testing::kPinEnv});
  EXPECT_EQ(unauthorized.status, 1);
  EXPECT_NE(unauthorized.out.find("not authorized"), std::string::npos) << unauthorized.out;

  for (const auto& [role, key] : std::vector<std::pair<std::string, std::string>>{
           {"root", "root-1"}, {"root", "root-2"}, {"targets", "targets"}}) {
    CliRun sign = Signer({"sign", role, "--key", Uri(key), "--passphrase-env", testing::kPinEnv});
    ASSERT_EQ(sign.status, 0) << role << " " << key << ": " << sign.out;
  }
  // Module given explicitly, as the option the help text documents.
  CliRun published = Signer(
      {"--pkcs11-module", std::string(kDefaultModulePath), "publish", "--out", out().string(),
       "--snapshot-key", (keys() / "snapshot.key.json").string(), "--snapshot-passphrase-env",
       kFilePassEnv, "--timestamp-key", (keys() / "timestamp.key.json").string(),
       "--timestamp-passphrase-env", kFilePassEnv});
  ASSERT_EQ(published.status, 0) << published.out;

  const std::string shipped_root = ReadFile(out() / "metadata" / "1.root.json");
  auto verified = repo::VerifyPublishedTree(out(), shipped_root, std::time(nullptr));
  ASSERT_TRUE(verified) << verified.error().ToString();
  EXPECT_EQ(*verified, 1u);

  // A device shipped with 1.root.json refreshes and downloads the release.
  auto store = client::FileMetadataStore::Open(dir_ / "device");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Store("root", shipped_root));
  client::FileFetcher fetcher;
  client::FakeClock clock(std::time(nullptr));
  client::UpdaterConfig config;
  config.metadata_base_url = "file://" + (out() / "metadata").string();
  config.targets_base_url = "file://" + (out() / "targets").string();
  client::Updater updater(config, fetcher, *store, clock);
  auto refreshed = updater.Refresh();
  ASSERT_TRUE(refreshed) << refreshed.error().ToString();
  auto match = updater.GetTargetInfo("pump/fw.bin");
  ASSERT_TRUE(match) << match.error().ToString();
  ASSERT_TRUE(match->has_value());
  auto download = updater.DownloadTarget(**match, dir_ / "download.bin");
  ASSERT_TRUE(download) << download.error().ToString();
  EXPECT_EQ(ReadFile(dir_ / "download.bin"), "firmware on a token-signed release");

  // Nowhere in the workspace, the keys folder or the tree is a private key for root/targets.
  for (const fs::path& root : {ws(), keys(), out()}) {
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      const std::string name = entry.path().filename().string();
      EXPECT_FALSE(name.ends_with(".key.json") && name != "snapshot.key.json" &&
                   name != "timestamp.key.json")
          << entry.path();
    }
  }
}

// A lost token is revoked by its URI; a token key can never be exported for the server.
TEST_F(TokenCliTest, RevokeByUriAndNoExportOfTokenKeys) {
  ASSERT_EQ(TokenKeygen("root-1", "ed25519").status, 0);
  ASSERT_EQ(TokenKeygen("timestamp", "ed25519").status, 0);
  FileKeygen("root-2");
  FileKeygen("targets");
  FileKeygen("snapshot");
  CliRun init = Signer({"init", "--root-key", Pub("root-1"), "--root-key", Pub("root-2"),
                        "--root-threshold", "1", "--targets-key", Pub("targets"),
                        "--snapshot-key", Pub("snapshot"), "--timestamp-key", Pub("timestamp")});
  ASSERT_EQ(init.status, 0) << init.out;

  CliRun exported = Signer({"export-online-key", "timestamp", "--key", Uri("timestamp"), "--out",
                            (dir_ / "ts.key.json").string()});
  EXPECT_EQ(exported.status, 1);
  EXPECT_NE(exported.out.find("never leaves its token"), std::string::npos) << exported.out;
  EXPECT_FALSE(fs::exists(dir_ / "ts.key.json"));

  auto pub = ParsePublicKeyFile(ReadFile(Pub("root-1")), "root-1.pub.json");
  ASSERT_TRUE(pub) << pub.error().ToString();
  const fs::path staged_root = ws() / "metadata" / "root.json";
  EXPECT_NE(ReadFile(staged_root).find(pub->KeyId()), std::string::npos);
  CliRun revoked = Signer({"--quiet", "revoke-key", Uri("root-1")});
  ASSERT_EQ(revoked.status, 0) << revoked.out;
  EXPECT_EQ(revoked.out, pub->KeyId() + "\n");
  EXPECT_EQ(ReadFile(staged_root).find(pub->KeyId()), std::string::npos);
}

TEST_F(TokenCliTest, KeygenErrorsAreClear) {
  CliRun missing = Signer({"keygen", "--name", "x", "--out-dir", keys().string(), "--pkcs11",
                           "pkcs11:token=absent;object=x", "--passphrase-env", testing::kPinEnv});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("no initialized token matches"), std::string::npos) << missing.out;
  EXPECT_FALSE(fs::exists(Pub("x")));
  CliRun pin_value = Signer({"keygen", "--name", "y", "--out-dir", keys().string(), "--pkcs11",
                             Uri("y") + "?pin-value=1234"});
  EXPECT_EQ(pin_value.status, 1);
  EXPECT_NE(pin_value.out.find("pin-value is refused"), std::string::npos) << pin_value.out;
  CliRun bad_module =
      Signer({"--pkcs11-module", "/nonexistent/module.so", "keygen", "--name", "z", "--out-dir",
              keys().string(), "--pkcs11", Uri("z"), "--passphrase-env", testing::kPinEnv});
  EXPECT_EQ(bad_module.status, 1);
  EXPECT_NE(bad_module.out.find("/nonexistent/module.so"), std::string::npos) << bad_module.out;
  CliRun help = Signer({"--help"});
  EXPECT_NE(help.out.find("--pkcs11-module"), std::string::npos);
  EXPECT_NE(help.out.find("pkcs11:token="), std::string::npos);
}

}  // namespace
}  // namespace mdu::signer::pkcs11
