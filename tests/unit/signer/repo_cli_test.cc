// The workspace subcommands through the real `signer` program: exit status, messages, files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/json/parser.h"
#include "signer/repo/publish.h"
#include "tests/support/shell_run.h"
#include "tests/unit/signer/repo_test_util.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;

constexpr char kPassEnv[] = "MDU_REPO_CLI_TEST_PASS";

using ::mdu::testing::CliRun;
using ::mdu::testing::ShellQuote;

class RepoCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv(kPassEnv, "correct horse battery", 1); }

  CliRun Signer(const std::vector<std::string>& args) {
    std::vector<std::string> all = {MDU_SIGNER_BINARY, "--workspace", ws().string()};
    all.insert(all.end(), args.begin(), args.end());
    return ::mdu::testing::RunCaptured(all, tmp_.path());
  }
  // keygen with the fast KDF profile; returns the key file base path (without suffix).
  std::string Keygen(const std::string& name) {
    CliRun run = Signer({"keygen", "--name", name, "--out-dir", keys().string(), "--kdf-profile",
                         "interactive", "--passphrase-env", kPassEnv});
    EXPECT_EQ(run.status, 0) << run.err;
    return (keys() / name).string();
  }
  void MakeKeysAndInit() {
    for (const char* name : {"root-1", "root-2", "root-3", "targets", "snapshot", "timestamp"}) {
      Keygen(name);
    }
    CliRun init =
        Signer({"init", "--root-key", Pub("root-1"), "--root-key", Pub("root-2"), "--root-key",
                Pub("root-3"), "--root-threshold", "2", "--targets-key", Pub("targets"),
                "--snapshot-key", Pub("snapshot"), "--timestamp-key", Pub("timestamp")});
    ASSERT_EQ(init.status, 0) << init.err;
  }
  std::string Pub(const std::string& name) { return (keys() / (name + ".pub.json")).string(); }
  std::string Key(const std::string& name) { return (keys() / (name + ".key.json")).string(); }
  std::vector<std::string> SignArgs(const std::string& role, const std::string& key) {
    return {"sign", role, "--key", Key(key), "--passphrase-env", kPassEnv};
  }
  std::vector<std::string> PublishArgs() {
    return {"publish",        "--out",
            out().string(),   "--snapshot-key",
            Key("snapshot"),  "--snapshot-passphrase-env",
            kPassEnv,         "--timestamp-key",
            Key("timestamp"), "--timestamp-passphrase-env",
            kPassEnv};
  }
  fs::path ws() const { return tmp_.path() / "ws"; }
  fs::path keys() const { return tmp_.path() / "keys"; }
  fs::path out() const { return tmp_.path() / "repo"; }
  fs::path File(const std::string& name, const std::string& content) {
    testing::WriteAll(tmp_.path() / "files" / name, content);
    return tmp_.path() / "files" / name;
  }

  testing::TempDir tmp_;
};

TEST_F(RepoCliTest, EveryCommandHasHelp) {
  for (const char* command :
       {"init", "add-target", "remove-target", "withdraw", "delegate", "delegate-bins", "sign",
        "export-signing-request", "sign-request", "merge-signatures", "rotate-root", "revoke-key",
        "rehearse", "renew", "status", "publish", "export-online-key"}) {
    CliRun run = Signer({command, "--help"});
    EXPECT_EQ(run.status, 0) << command;
    EXPECT_NE(run.out.find("Usage"), std::string::npos) << command << run.out;
  }
}

TEST_F(RepoCliTest, FullReleaseWithTwoEngineerRootSigning) {
  MakeKeysAndInit();
  const fs::path fw = File("fw.bin", "firmware 3.0");
  CliRun bad = Signer(
      {"add-target", fw.string(), "--name", "../x", "--version", "3.0", "--hardware-id", "hw"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("../x"), std::string::npos) << bad.err;
  CliRun missing = Signer({"add-target", (tmp_.path() / "nope.bin").string(), "--version", "3.0",
                           "--hardware-id", "hw"});
  EXPECT_EQ(missing.status, 1);
  CliRun add = Signer({"add-target", fw.string(), "--name", "pump/fw.bin", "--version", "3.0",
                       "--hardware-id", "hw-a", "--security-version", "4", "--json"});
  ASSERT_EQ(add.status, 0) << add.err;
  EXPECT_NE(add.out.find("\"ok\": true"), std::string::npos);
  CliRun collide = Signer({"add-target", File("other.bin", "other").string(), "--name",
                           "pump/fw.bin", "--version", "3.1", "--hardware-id", "hw-a"});
  EXPECT_EQ(collide.status, 1);
  EXPECT_NE(collide.err.find("--replace"), std::string::npos);

  // Wrong passphrase and unauthorized key.
  ::setenv("MDU_REPO_CLI_WRONG", "not it", 1);
  CliRun wrong = Signer(
      {"sign", "targets", "--key", Key("targets"), "--passphrase-env", "MDU_REPO_CLI_WRONG"});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("wrong passphrase"), std::string::npos) << wrong.err;
  CliRun unauthorized = Signer(SignArgs("targets", "root-1"));
  EXPECT_EQ(unauthorized.status, 1);
  EXPECT_NE(unauthorized.err.find("not authorized"), std::string::npos) << unauthorized.err;

  ASSERT_EQ(Signer(SignArgs("targets", "targets")).status, 0);
  ASSERT_EQ(Signer(SignArgs("root", "root-1")).status, 0);

  // Threshold not met: publish refuses, lists it, writes nothing.
  CliRun refused = Signer(PublishArgs());
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("root v1: 1 of 2 signatures"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(out()));
  CliRun status = Signer({"status", "--json"});
  ASSERT_EQ(status.status, 0);
  auto status_json = json::Parse(status.out);
  ASSERT_TRUE(status_json) << status.out;
  EXPECT_FALSE(status_json->Find("ready_to_publish")->as_bool());

  // Second engineer signs root on "another machine" from a request file.
  const std::string request = (tmp_.path() / "usb" / "root.req.json").string();
  fs::create_directories(tmp_.path() / "usb");
  ASSERT_EQ(Signer({"export-signing-request", "root", "--out", request}).status, 0);
  CliRun sign_request =
      Signer({"sign-request", request, "--key", Key("root-2"), "--passphrase-env", kPassEnv});
  ASSERT_EQ(sign_request.status, 0) << sign_request.err;
  CliRun merge = Signer({"merge-signatures", request});
  ASSERT_EQ(merge.status, 0) << merge.err;

  CliRun published = Signer(PublishArgs());
  ASSERT_EQ(published.status, 0) << published.err;
  auto verified =
      VerifyPublishedTree(out(), ReadAll(out() / "metadata" / "1.root.json"), std::time(nullptr));
  ASSERT_TRUE(verified) << verified.error().ToString();
  EXPECT_EQ(*verified, 1u);

  // Withdraw, re-sign, publish: the target disappears from the tree.
  CliRun withdraw = Signer({"withdraw", "pump/fw.bin", "--reason", "field notice 17"});
  ASSERT_EQ(withdraw.status, 0) << withdraw.err;
  ASSERT_EQ(Signer(SignArgs("targets", "targets")).status, 0);
  ASSERT_EQ(Signer(PublishArgs()).status, 0);
  EXPECT_TRUE(fs::exists(out() / "metadata" / "2.targets.json"));
  EXPECT_NE(ReadAll(ws() / "withdrawn.json").find("field notice 17"), std::string::npos);
}

TEST_F(RepoCliTest, OnlyOnlineKeysCanBeExported) {
  MakeKeysAndInit();
  CliRun root = Signer({"export-online-key", "root", "--key", Key("root-1"), "--out",
                        (tmp_.path() / "x.json").string(), "--passphrase-env", kPassEnv});
  EXPECT_EQ(root.status, 1);
  CliRun wrong_role = Signer({"export-online-key", "timestamp", "--key", Key("targets"), "--out",
                              (tmp_.path() / "x.json").string(), "--passphrase-env", kPassEnv});
  EXPECT_EQ(wrong_role.status, 1);
  EXPECT_FALSE(fs::exists(tmp_.path() / "x.json"));
  CliRun ok = Signer({"export-online-key", "timestamp", "--key", Key("timestamp"), "--out",
                      (tmp_.path() / "ts.key.json").string(), "--passphrase-env", kPassEnv});
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ReadAll(tmp_.path() / "ts.key.json"), ReadAll(Key("timestamp")));
}

TEST_F(RepoCliTest, RotationRehearsalReportsStrandedGeneration) {
  MakeKeysAndInit();
  ASSERT_EQ(Signer(SignArgs("targets", "targets")).status, 0);
  ASSERT_EQ(Signer(SignArgs("root", "root-1")).status, 0);
  ASSERT_EQ(Signer(SignArgs("root", "root-2")).status, 0);
  ASSERT_EQ(Signer(PublishArgs()).status, 0);

  Keygen("root-4");
  Keygen("root-5");
  CliRun rotate =
      Signer({"rotate-root", "--add-key", Pub("root-4"), "--add-key", Pub("root-5"), "--remove-key",
              Pub("root-1"), "--remove-key", Pub("root-2"), "--remove-key", Pub("root-3")});
  ASSERT_EQ(rotate.status, 0) << rotate.err;
  ASSERT_EQ(Signer(SignArgs("root", "root-4")).status, 0);
  ASSERT_EQ(Signer(SignArgs("root", "root-5")).status, 0);
  CliRun rehearse = Signer({"rehearse"});
  EXPECT_EQ(rehearse.status, 1);
  EXPECT_NE(rehearse.err.find("devices trusting root v1: STRANDED at root v2"), std::string::npos)
      << rehearse.err;
  const auto before = testing::Snapshot(out());
  EXPECT_EQ(Signer(PublishArgs()).status, 1);
  EXPECT_EQ(testing::Snapshot(out()), before);

  ASSERT_EQ(Signer(SignArgs("root", "root-1")).status, 0);
  ASSERT_EQ(Signer(SignArgs("root", "root-3")).status, 0);
  CliRun ok = Signer({"rehearse"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  ASSERT_EQ(Signer(PublishArgs()).status, 0);
  EXPECT_TRUE(fs::exists(out() / "metadata" / "2.root.json"));
}

TEST_F(RepoCliTest, ConcurrentCommandsFailAtOnceAndNeverLoseAnUpdate) {
  {
    InitSpec spec;
    spec.root = spec.targets = spec.snapshot =
        spec.timestamp = {{testing::NewKey().public_key()}, 1};
    auto init = Workspace::Init(ws(), spec, testing::kNow);
    ASSERT_TRUE(init) << init.error().ToString();
    ASSERT_TRUE(init->Save());
  }
  const fs::path one = File("one.bin", "one");
  {
    // While another command (this test) holds the workspace, signer refuses at once and says
    // who holds it; a read-only command too.
    auto holder = Workspace::Open(ws());
    ASSERT_TRUE(holder) << holder.error().ToString();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"add-target", one.string(), "--version", "1", "--hardware-id",
                                   "hw"},
          std::vector<std::string>{"status"}}) {
      CliRun run = Signer(args);
      EXPECT_EQ(run.status, 1) << args[0];
      EXPECT_NE(run.err.find("in use by another signer command (pid " + std::to_string(::getpid())),
                std::string::npos)
          << run.err;
    }
  }
  // Several add-target processes at once: each either succeeds or fails with the lock message;
  // every one that succeeded is listed afterwards (no lost update).
  constexpr int kProcesses = 6;
  std::string script;
  for (int i = 0; i < kProcesses; ++i) {
    const fs::path file = File("f" + std::to_string(i) + ".bin", "content " + std::to_string(i));
    const fs::path base = tmp_.path() / ("run" + std::to_string(i));
    script += "(" + ShellQuote(MDU_SIGNER_BINARY) + " --workspace " + ShellQuote(ws().string()) +
              " add-target " + ShellQuote(file.string()) +
              " --version 1 --hardware-id hw >/dev/null 2>" +
              ShellQuote(base.string() + ".err") +
              "; echo $? >" + ShellQuote(base.string() + ".rc") + ") & ";
  }
  script += "wait";
  ASSERT_EQ(std::system(("bash -c " + ShellQuote(script)).c_str()), 0);
  auto ws_after = Workspace::Open(ws(), LockMode::kNone);
  ASSERT_TRUE(ws_after) << ws_after.error().ToString();
  const auto& listed = ws_after->TargetsRole("targets")->role.targets;
  int succeeded = 0;
  for (int i = 0; i < kProcesses; ++i) {
    const fs::path base = tmp_.path() / ("run" + std::to_string(i));
    const std::string rc = ReadAll(base.string() + ".rc");
    const std::string name = "f" + std::to_string(i) + ".bin";
    if (rc == "0\n") {
      ++succeeded;
      EXPECT_EQ(listed.count(name), 1u) << name << " was added but is not listed";
    } else {
      EXPECT_EQ(rc, "1\n");
      EXPECT_NE(ReadAll(base.string() + ".err").find("in use by another signer command"),
                std::string::npos);
      EXPECT_EQ(listed.count(name), 0u);
    }
  }
  EXPECT_GE(succeeded, 1);
  EXPECT_EQ(listed.size(), static_cast<size_t>(succeeded));
  EXPECT_TRUE(fs::is_empty(ws() / "tmp"));
}

}  // namespace
}  // namespace mdu::signer::repo
