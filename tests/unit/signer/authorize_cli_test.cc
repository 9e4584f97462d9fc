// Operator authorizations end to end: made by the real `signer authorize` with an encrypted
// operator key, exported for the agent config with `signer operator-key`, and checked by the real
// `client-agent rollback`. A valid one is accepted; a tampered, expired (issued under
// libfaketime), foreign-device or other-action one is refused and logged as unauthorized_command.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/writer.h"
#include "tests/support/shell_run.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

constexpr char kPassEnv[] = "MDU_AUTHORIZE_TEST_PASS";
const fs::path kRepo = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";

using ::mdu::testing::CliRun;

std::string Read(const fs::path& path) {
  Result<std::string> bytes = io::ReadFileBounded(path, 1 << 20);
  return bytes ? *bytes : std::string();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class AuthorizeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv(kPassEnv, "operator passphrase for the test", 1);
    dir_ = fs::temp_directory_path() /
           ("signer_authorize_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliRun Exec(const std::vector<std::string>& args) {
    return ::mdu::testing::RunCaptured(args, dir_);
  }
  CliRun Signer(std::vector<std::string> args, const std::string& fake_time = "") {
    std::vector<std::string> all;
    if (!fake_time.empty()) {
      // libfaketime is preloaded ahead of the sanitizer runtime in sanitizer builds: allowed.
      const char* asan = std::getenv("ASAN_OPTIONS");
      const bool has = asan != nullptr && *asan != '\0';
      all = {"/usr/bin/env",
             "ASAN_OPTIONS=" + std::string(has ? asan : "") + (has ? ":" : "") +
                 "verify_asan_link_order=0",
             "/usr/bin/faketime", fake_time};
    }
    all.insert(all.end(), {MDU_SIGNER_BINARY, "--workspace", dir_.string()});
    all.insert(all.end(), args.begin(), args.end());
    return Exec(all);
  }
  CliRun Agent(std::vector<std::string> args) {
    std::vector<std::string> all = {MDU_CLIENT_AGENT,
                                    "--metadata-dir",
                                    (dir_ / "md").string(),
                                    "--metadata-url",
                                    "file://" + (kRepo / "metadata").string(),
                                    "--target-base-url",
                                    "file://" + (kRepo / "targets").string(),
                                    "--state-dir",
                                    (dir_ / "state").string(),
                                    "--install-root",
                                    (dir_ / "install").string(),
                                    "--hardware-id",
                                    "pump-x1",
                                    "--config",
                                    (dir_ / "agent.json").string()};
    all.insert(all.end(), args.begin(), args.end());
    return Exec(all);
  }
  // signer authorize with the operator key; returns the file written.
  std::string Authorize(const std::string& name, std::vector<std::string> extra,
                        const std::string& fake_time = "") {
    const std::string file = (dir_ / (name + ".json")).string();
    std::vector<std::string> args = {"authorize", "--key", key_, "--passphrase-env", kPassEnv,
                                     "--out", file};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun run = Signer(args, fake_time);
    EXPECT_EQ(run.status, 0) << run.err;
    return file;
  }
  // The operator's key pair, the agent config built from `signer operator-key`, a device with
  // manifest.txt 1.0.0 installed.
  void SetUpOperatorAndDevice() {
    CliRun keygen = Signer({"keygen", "--name", "operator-1", "--out-dir", (dir_ / "keys").string(),
                         "--kdf-profile", "interactive", "--passphrase-env", kPassEnv});
    ASSERT_EQ(keygen.status, 0) << keygen.err;
    key_ = (dir_ / "keys" / "operator-1.key.json").string();
    const std::string snippet = (dir_ / "operator-keys.json").string();
    CliRun exported = Signer({"operator-key", "--key", (dir_ / "keys" / "operator-1.pub.json").string(),
                           "--out", snippet});
    ASSERT_EQ(exported.status, 0) << exported.err;
    Result<json::Value> config = json::Parse(Read(snippet));
    ASSERT_TRUE(config) << config.error().ToString();
    ASSERT_NE(config->Find("operator_keys"), nullptr);
    config->Set("device_id", "pump-0001");
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "agent.json", json::Serialize(*config, 1)));

    CliRun init = Agent({"init", (kRepo / "metadata" / "1.root.json").string()});
    ASSERT_EQ(init.status, 0) << init.err;
    CliRun update = Agent({"update"});
    ASSERT_EQ(update.status, 0) << update.err;
  }
  size_t Refusals() {
    const std::string events = Agent({"--json", "events", "--verify"}).out;
    EXPECT_TRUE(Contains(events, "\"intact\": true")) << events;
    size_t n = 0;
    for (size_t at = events.find("unauthorized_command"); at != std::string::npos;
         at = events.find("unauthorized_command", at + 1)) {
      ++n;
    }
    return n;
  }

  fs::path dir_;
  std::string key_;
};

TEST_F(AuthorizeCliTest, AuthorizationFromTheSignerIsAcceptedByTheAgent) {
  SetUpOperatorAndDevice();
  const std::string auth =
      Authorize("rollback", {"--action", "rollback", "--device", "pump-0001", "--valid-for", "30m"});
  const CliRun run = Agent({"--authorization", auth, "--json", "rollback"});
  // Authorized; only one version was ever installed, so the rollback itself has nothing to do.
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(Contains(run.out, "nothing_to_roll_back")) << run.out << run.err;
  EXPECT_FALSE(Contains(run.err, "authorization refused")) << run.err;
  EXPECT_EQ(Refusals(), 0u);

  // The same key, as the agent config takes it, also from the private key file and --json.
  const CliRun shown = Signer({"--json", "operator-key", "--key", key_});
  EXPECT_EQ(shown.status, 0) << shown.err;
  EXPECT_TRUE(Contains(Read(dir_ / "agent.json"), "\"keytype\": \"ed25519\""));
  EXPECT_TRUE(Contains(shown.out, "\"keyid\"")) << shown.out;
}

TEST_F(AuthorizeCliTest, TamperedExpiredForeignOrOtherActionAuthorizationsAreRefused) {
  SetUpOperatorAndDevice();
  struct Case {
    std::string file;
    std::string why;
  };
  std::vector<Case> cases;
  // Tampered: made for pump-0002, then the device id in the signed body edited.
  std::string tampered = Authorize("foreign-edited", {"--action", "rollback", "--device",
                                                      "pump-0002", "--valid-for", "30m"});
  std::string text = Read(tampered);
  const size_t at = text.find("pump-0002");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 9, "pump-0001");
  ASSERT_TRUE(io::WriteFileAtomically(tampered, text));
  cases.push_back({tampered, "no valid signature"});
  // Expired: issued (under libfaketime) in 2020 for 30 minutes.
  cases.push_back({Authorize("expired",
                             {"--action", "rollback", "--device", "pump-0001", "--valid-for", "30m"},
                             "2020-01-01 00:00:00"),
                   "expired"});
  cases.push_back({Authorize("foreign", {"--action", "rollback", "--device", "pump-0002"}),
                   "for device"});
  cases.push_back({Authorize("approve", {"--action", "approve", "--device", "pump-0001"}),
                   "authorizes"});
  // Valid for longer than the device accepts (1 h by default).
  cases.push_back({Authorize("long", {"--action", "rollback", "--device", "pump-0001",
                                      "--valid-for", "2h"}),
                   "exceeds the maximum"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    const CliRun run = Agent({"--authorization", c.file, "rollback"});
    EXPECT_EQ(run.status, 1);
    EXPECT_TRUE(Contains(run.err, c.why)) << run.err;
  }
  EXPECT_EQ(Refusals(), cases.size());
}

TEST_F(AuthorizeCliTest, BadRequestsAreRefusedBeforeAnythingIsSigned) {
  SetUpOperatorAndDevice();
  const std::string out = (dir_ / "never.json").string();
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--action", "reboot", "--device", "pump-0001"},
        std::vector<std::string>{"--action", "rollback", "--device", "pump-0001", "--valid-for",
                                 "2y"},
        std::vector<std::string>{"--action", "rollback", "--device", "pump-0001", "--valid-for",
                                 "3d"}}) {
    std::vector<std::string> args = {"authorize", "--key", key_, "--passphrase-env", kPassEnv,
                                     "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun run = Signer(args);
    EXPECT_NE(run.status, 0);
    EXPECT_FALSE(run.err.empty());
    EXPECT_FALSE(fs::exists(out));
  }
  // A wrong passphrase signs nothing either.
  ::setenv("MDU_AUTHORIZE_TEST_WRONG", "not it", 1);
  const CliRun wrong = Signer({"authorize", "--key", key_, "--passphrase-env",
                            "MDU_AUTHORIZE_TEST_WRONG", "--out", out, "--action", "rollback",
                            "--device", "pump-0001"});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_TRUE(Contains(wrong.err, "wrong passphrase")) << wrong.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace mdu::signer
