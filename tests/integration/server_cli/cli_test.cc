// The operator commands through the real repo-server binary: a server started by the test
// (tests/integration/server/server_process.h), repositories written in the layout of
// `signer publish --out DIR` by the repository simulator (whose served files are exactly that
// tree), and the CLI run as a child process whose stdout, stderr and exit status are checked.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "proto/report_signing.h"
#include "tests/integration/server_cli/operator_cli_fixture.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::Content;

using ::mdu::testing::WallNow;
using testing::CliRun;

class CliTest : public testing::OperatorCliFixture {
 protected:
  CliTest() : OperatorCliFixture("repo_server_cli") {}

  // role -> version from `status --json`.
  std::map<std::string, int64_t> StatusVersions(json::Value* document = nullptr) {
    CliRun run = Command("status", "bob.token", {"--json"});
    EXPECT_EQ(run.code, 0) << run.err;
    json::Value status = ParseJson(run);
    std::map<std::string, int64_t> versions;
    if (const json::Value* roles = status.Find("roles"); roles != nullptr && roles->is_array()) {
      for (const json::Value& role : roles->as_array()) {
        versions[role.Find("role")->as_string()] = role.Find("version")->as_int();
      }
    }
    if (document != nullptr) *document = status;
    return versions;
  }

  std::unique_ptr<v1::DeviceService::Stub> InsecureDevice() {
    return v1::DeviceService::NewStub(
        grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
  }

  static grpc::Status Report(v1::DeviceService::Stub& stub, const v1::InstallationReport& report) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::ReportAck ack;
    return stub.ReportInstallation(&context, report, &ack);
  }

  static v1::InstallationReport FailedReport(const std::string& id, const std::string& device) {
    v1::InstallationReport report;
    report.set_report_id(id);
    report.set_device_id(device);
    report.set_target("pump/fw-2.0.bin");
    report.set_from_version("1.0");
    report.set_to_version("2.0");
    report.set_phase(v1::INSTALL_PHASE_HEALTH_CHECK);
    report.set_success(false);
    report.set_error_code("health_check_failed");
    // A hostile first line (terminal escape sequence) and more lines.
    report.set_log_excerpt("pump self-test failed \x1b[2J code 7\nsecond line\nthird line");
    report.set_device_time(WallNow());
    return report;
  }

};

TEST_F(CliTest, PublishIsAcceptedAndStatusShowsTheVersions) {
  StartInsecure();
  sim_->AddDelegation("targets", "pumps", {"pump/*"});
  sim_->Role("pumps").common.expires = sim_->Role("targets").common.expires;
  sim_->AddTarget("pumps", "pump/fw-1.0.bin", Content(2 * 1024 * 1024 + 17, 1));  // 3 chunks
  sim_->AddTarget("targets", "readme.txt", Content(100, 2));
  sim_->UpdateSnapshot();
  fs::path tree = WriteTree();

  CliRun run = Command("publish", "alice.token", {"--description", "release 1.0", tree.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("published to " + Address()), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("2 target blobs"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pumps"), std::string::npos) << run.out;

  json::Value status;
  auto versions = StatusVersions(&status);
  EXPECT_EQ(versions["root"], 1);
  EXPECT_EQ(versions["timestamp"], sim_->timestamp.common.version);
  EXPECT_EQ(versions["snapshot"], sim_->snapshot.common.version);
  EXPECT_EQ(versions["targets"], sim_->Role("targets").common.version);
  EXPECT_EQ(versions["pumps"], sim_->Role("pumps").common.version);
  EXPECT_EQ(status.Find("initialized")->as_bool(), true);
  EXPECT_EQ(status.Find("target_count")->as_int(), 2);

  // A second release: the tree now also holds the older versions, which are not uploaded again.
  sim_->AddTarget("pumps", "pump/fw-2.0.bin", Content(5000, 3));
  sim_->Role("pumps").common.version++;
  sim_->UpdateSnapshot();
  WriteTree();
  run = Command("publish", "alice.token", {"--json", tree.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value published = ParseJson(run);
  EXPECT_EQ(published.Find("targets_stored")->as_int(), 1);  // only the new blob is new
  // The two blobs of the first release are already stored: only the new one is sent.
  EXPECT_EQ(published.Find("targets_uploaded")->as_int(), 1);
  EXPECT_EQ(published.Find("targets_already_stored")->as_int(), 2);
  EXPECT_GT(published.Find("skipped_metadata_files")->as_int(), 0);
  EXPECT_EQ(published.Find("server")->as_string(), Address());
  EXPECT_EQ(StatusVersions()["snapshot"], sim_->snapshot.common.version);

  // Human-readable status names every role with its version.
  run = Command("status", "bob.token");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("3 targets"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("snapshot"), std::string::npos) << run.out;
}

TEST_F(CliTest, PublishesThePythonTufReferenceRepository) {
  // A tree written by another TUF implementation (python-tuf: hashed bins, delegations, a
  // rotated root, extra unversioned files) publishes as it is.
  const fs::path reference = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";
  ASSERT_TRUE(io::WriteFileAtomically(
      dir_ / "root.json", *io::ReadFileBounded(reference / "metadata" / "1.root.json", 1 << 20)));
  StartInsecure();
  CliRun run = Command("publish", "alice.token", {"--json", reference.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_GT(ParseJson(run).Find("targets_stored")->as_int(), 0);
  auto versions = StatusVersions();
  EXPECT_EQ(versions["root"], 2);
  EXPECT_EQ(versions.count("bins-0"), 1u);
}

TEST_F(CliTest, TamperedTreeIsRejectedWithTheReasonAndNothingChanges) {
  StartInsecure();
  sim_->AddTarget("targets", "pump/fw-1.0.bin", Content(4000, 1));
  sim_->UpdateSnapshot();
  fs::path tree = WriteTree();
  ASSERT_EQ(Command("publish", "alice.token", {tree.string()}).code, 0);
  auto before = StatusVersions();

  sim_->AddTarget("targets", "pump/fw-2.0.bin", Content(4000, 2));
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  WriteTree();
  // Same length, other bytes: only the server's hashing can tell.
  std::string name = std::string(*sim_->Role("targets").targets.at("pump/fw-2.0.bin").Sha256());
  fs::path blob = tree / "targets" / "pump" / (name + ".fw-2.0.bin");
  std::string content = Content(4000, 2);
  content[100] ^= 1;
  ASSERT_TRUE(io::WriteFileAtomically(blob, content));

  CliRun run = Command("publish", "alice.token", {tree.string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("server " + Address() + " refused the publish"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(name), std::string::npos) << run.err;  // the server names the blob
  EXPECT_NE(run.err.find("hash_mismatch"), std::string::npos) << run.err;
  EXPECT_EQ(StatusVersions(), before);

  // A tampered signed file: the server says which file does not match.
  ASSERT_TRUE(io::WriteFileAtomically(blob, Content(4000, 2)));
  std::string targets_name = std::to_string(sim_->Role("targets").common.version) + ".targets.json";
  std::string targets = sim_->MetadataFile(targets_name);
  size_t at = targets.find("\"sig\"");
  ASSERT_NE(at, std::string::npos);
  at = targets.find('"', targets.find(':', at)) + 1;  // the first hex digit of the signature
  targets[at] = targets[at] == '0' ? '1' : '0';
  ASSERT_TRUE(io::WriteFileAtomically(tree / "metadata" / targets_name, targets));
  run = Command("publish", "alice.token", {tree.string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find(targets_name), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("hash_mismatch"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("already published"), std::string::npos) << run.err;
  EXPECT_EQ(StatusVersions(), before);
}

TEST_F(CliTest, BrokenLocalTreeIsReportedBeforeUploading) {
  StartInsecure();
  sim_->AddTarget("targets", "pump/fw-1.0.bin", Content(4000, 1));
  sim_->AddTarget("targets", "other.bin", Content(10, 2));
  sim_->UpdateSnapshot();
  fs::path tree = WriteTree();
  std::string sha = std::string(*sim_->Role("targets").targets.at("pump/fw-1.0.bin").Sha256());
  fs::remove(tree / "targets" / "pump" / (sha + ".fw-1.0.bin"));
  ASSERT_TRUE(io::WriteFileAtomically(tree / "metadata" / "notes.txt", "x"));

  CliRun run = Command("publish", "alice.token", {tree.string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("nothing was uploaded"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("target pump/fw-1.0.bin"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("is missing"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("metadata/notes.txt"), std::string::npos) << run.err;
  json::Value status;
  StatusVersions(&status);
  EXPECT_FALSE(status.Find("initialized")->as_bool());
  // Nothing reached the server: no publish was even rejected there.
  CliRun audit = Cli({"audit", "list", "--server", Address(), "--insecure", "--token-file",
                   Path("bob.token")});
  ASSERT_EQ(audit.code, 0) << audit.err;
  EXPECT_EQ(audit.out.find("publish_rejected"), std::string::npos) << audit.out;
}

TEST_F(CliTest, ViewerCannotPublish) {
  StartInsecure();
  sim_->AddTarget("targets", "fw.bin", Content(100, 1));
  sim_->UpdateSnapshot();
  CliRun run = Command("publish", "bob.token", {WriteTree().string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("PERMISSION_DENIED"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("only publishers may publish"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find(kBobToken), std::string::npos);
}

TEST_F(CliTest, WrongTokenIsRefused) {
  StartInsecure();
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "wrong.token", "not-a-known-token\n", 0600));
  CliRun run = Command("status", "wrong.token");
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("UNAUTHENTICATED"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(Address()), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("not-a-known-token"), std::string::npos) << run.err;
  // No token at all.
  run = Cli({"status", "--server", Address(), "--insecure"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("UNAUTHENTICATED"), std::string::npos) << run.err;
}

TEST_F(CliTest, TokenFileReadableByOthersIsRefused) {
  StartInsecure();
  for (int mode : {0644, 0640, 0604}) {
    ASSERT_EQ(chmod(Path("alice.token").c_str(), static_cast<mode_t>(mode)), 0);
    CliRun run = Command("status", "alice.token");
    EXPECT_EQ(run.code, 1) << mode;
    EXPECT_NE(run.err.find("chmod 600"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find(kAliceToken), std::string::npos) << run.err;
    EXPECT_EQ(run.out.find(kAliceToken), std::string::npos) << run.out;
  }
  ASSERT_EQ(chmod(Path("alice.token").c_str(), 0600), 0);
  EXPECT_EQ(Command("status", "alice.token").code, 0);
}

TEST_F(CliTest, TokenFromTheEnvironment) {
  StartInsecure();
  CliRun run = Cli({"status", "--server", Address(), "--insecure", "--token-env", "MDU_TEST_TOKEN",
                 "--json"},
                {std::string("MDU_TEST_TOKEN=") + kBobToken});
  EXPECT_EQ(run.code, 0) << run.err;
  run = Cli({"status", "--server", Address(), "--insecure", "--token-env", "MDU_UNSET_VARIABLE"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("MDU_UNSET_VARIABLE is not set"), std::string::npos) << run.err;
}

TEST_F(CliTest, InsecureIsRefusedForNonLoopbackAddresses) {
  for (const char* server : {"10.1.2.3:9443", "127.evil.example:9443", "example.com:443"}) {
    CliRun run = Cli({"status", "--server", server, "--insecure", "--token-file",
                   Path("alice.token")});
    EXPECT_EQ(run.code, 1) << server;
    EXPECT_NE(run.err.find("only allowed for a loopback address"), std::string::npos) << run.err;
  }
  CliRun run = Cli({"status", "--server", "127.0.0.1:1", "--token-file", Path("alice.token")});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("--ca-cert"), std::string::npos) << run.err;
}

TEST_F(CliTest, UnreachableServerIsNamed) {
  CliRun run = Cli({"devices", "--server", "127.0.0.1:1", "--insecure", "--timeout", "5"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("cannot reach server 127.0.0.1:1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("UNAVAILABLE"), std::string::npos) << run.err;
}

TEST_F(CliTest, TlsWithCaCertificate) {
  MakeServerCertificate();
  ASSERT_TRUE(certs_.MakeCa("other-ca"));
  Start({"--listen", "127.0.0.1:0", "--tls-cert", Path("server.pem"), "--tls-key",
         Path("server.key"), "--operator-credentials", Path("operators.json")});
  sim_->AddTarget("targets", "fw.bin", Content(3000, 1));
  sim_->UpdateSnapshot();
  auto tls = [&](const std::string& ca) {
    return std::vector<std::string>{"--server", Address(), "--ca-cert", Path(ca),
                                    "--token-file", Path("alice.token")};
  };
  std::vector<std::string> args = {"publish"};
  for (const auto& flag : tls("server-ca.pem")) args.push_back(flag);
  args.push_back(WriteTree().string());
  CliRun run = Cli(args);
  ASSERT_EQ(run.code, 0) << run.err;

  args = {"status", "--json"};
  for (const auto& flag : tls("server-ca.pem")) args.push_back(flag);
  run = Cli(args);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(ParseJson(run).Find("initialized")->as_bool());

  // A server the given CA did not certify is not talked to.
  args = {"status", "--timeout", "5"};
  for (const auto& flag : tls("other-ca.pem")) args.push_back(flag);
  run = Cli(args);
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("UNAVAILABLE"), std::string::npos) << run.err;
}

TEST_F(CliTest, HistoryDevicesAndFailuresShowStoredReports) {
  StartInsecure();
  auto device = InsecureDevice();
  ASSERT_TRUE(Report(*device, FailedReport("r-fail-1", "pump-001")).ok());
  v1::InstallationReport ok = FailedReport("r-ok-1", "pump-002");
  ok.set_success(true);
  ok.set_phase(v1::INSTALL_PHASE_COMPLETE);
  ok.clear_error_code();
  ok.clear_log_excerpt();
  ASSERT_TRUE(Report(*device, ok).ok());

  CliRun run = Command("history", "bob.token", {"pump-001"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("health_check_failed"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("FAILED"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("unverified"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pump self-test failed \\x1b[2J code 7"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find('\x1b'), std::string::npos) << "escape sequence reached the terminal";
  EXPECT_EQ(run.out.find("second line"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Z"), std::string::npos);  // UTC times

  run = Command("history", "bob.token", {"pump-001", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value history = ParseJson(run);
  const json::Array& reports = history.Find("reports")->as_array();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].Find("report_id")->as_string(), "r-fail-1");
  EXPECT_EQ(reports[0].Find("evidence")->as_string(), "unverified");
  EXPECT_EQ(reports[0].Find("phase")->as_string(), "health_check");
  EXPECT_FALSE(reports[0].Find("success")->as_bool());
  EXPECT_EQ(reports[0].Find("log_excerpt")->as_string(), FailedReport("", "").log_excerpt());
  EXPECT_TRUE(reports[0].Find("received_time")->as_string().ends_with("Z"));

  run = Command("history", "bob.token", {"pump-999"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("no reports or security events from device pump-999"),
            std::string::npos)
      << run.err;

  run = Command("failures", "bob.token", {"2.0"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("1 failed installation"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pump-001"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("pump-002"), std::string::npos) << run.out;
  run = Command("failures", "bob.token", {"2.0", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value failures = ParseJson(run);
  EXPECT_EQ(failures.Find("release")->as_string(), "2.0");
  ASSERT_EQ(failures.Find("reports")->as_array().size(), 1u);
  EXPECT_EQ(failures.Find("reports")->as_array()[0].Find("error_code")->as_string(),
            "health_check_failed");

  run = Command("devices", "bob.token", {"--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value devices = ParseJson(run);
  std::map<std::string, bool> success;
  for (const json::Value& d : devices.Find("devices")->as_array()) {
    success[d.Find("device_id")->as_string()] = d.Find("last_success")->as_bool();
  }
  EXPECT_EQ(success, (std::map<std::string, bool>{{"pump-001", false}, {"pump-002", true}}));
  run = Command("devices", "bob.token");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("2 devices"), std::string::npos) << run.out;
}

TEST_F(CliTest, HistoryShowsVerifiedEvidenceOfSignedReports) {
  // Devices with mutual TLS sign their reports; operators use their own TLS listener.
  MakeServerCertificate();
  ASSERT_TRUE(certs_.MakeCa("device-ca"));
  ASSERT_TRUE(certs_.MakeDevice("pump-001", "device-ca", mdu::testing::KeyType::kEd25519,
                                "pump-001"));
  Start(Concat(MutualTlsFlags(), OperatorListenerFlags()));
  ASSERT_NE(operator_port_, 0);

  auto device = v1::DeviceService::NewStub(Tls(port_, "pump-001"));
  v1::InstallationReport report = FailedReport("r-signed-1", "pump-001");
  std::string nonce;
  ASSERT_TRUE(testing::RequestReportNonce(*device, "pump-001", &nonce).ok());
  ASSERT_TRUE(mdu::testing::SignReport(report, nonce, Read("pump-001.key")));
  grpc::Status stored = Report(*device, report);
  ASSERT_TRUE(stored.ok()) << stored.error_message();

  const std::vector<std::string> conn = {
      "--server", "127.0.0.1:" + std::to_string(operator_port_), "--ca-cert",
      Path("server-ca.pem"), "--token-file", Path("bob.token")};
  std::vector<std::string> args = {"history", "pump-001"};
  args.insert(args.end(), conn.begin(), conn.end());
  CliRun run = Cli(args);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find(" verified "), std::string::npos) << run.out;
  args.push_back("--json");
  run = Cli(args);
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value history = ParseJson(run);
  ASSERT_EQ(history.Find("reports")->as_array().size(), 1u);
  const json::Value& entry = history.Find("reports")->as_array()[0];
  EXPECT_EQ(entry.Find("evidence")->as_string(), "verified");
  EXPECT_EQ(entry.Find("signature")->as_string().size(), 128u);  // Ed25519, hex
  EXPECT_NE(entry.Find("device_certificate")->as_string().find("BEGIN CERTIFICATE"),
            std::string::npos);
  // The certificate in the output is the device's: the signature verifies with it offline.
  auto certificate =
      evidence::DeviceCertificate::FromPem(entry.Find("device_certificate")->as_string());
  ASSERT_TRUE(certificate);
  EXPECT_EQ(entry.Find("certificate_sha256")->as_string(), certificate->sha256());
  EXPECT_TRUE(certificate->Verify(evidence::SigningPayload(report), report.signature()));
}

TEST_F(CliTest, FindDevicesByInventory) {
  StartInsecure();
  auto device = InsecureDevice();
  v1::InventoryReport inventory;
  inventory.set_report_id("inv-1");
  inventory.set_device_id("pump-001");
  v1::InstalledTarget* installed = inventory.add_installed();
  installed->set_name("pump/fw.bin");
  installed->set_version("2.0");
  installed->set_sha256(std::string(64, 'a'));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::ReportAck ack;
  ASSERT_TRUE(device->ReportInventory(&context, inventory, &ack).ok());

  CliRun run = Command("find-devices", "bob.token", {"--target", "pump/fw.bin", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value document = ParseJson(run);
  const json::Array& found = document.Find("devices")->as_array();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].Find("installed")->as_array()[0].Find("version")->as_string(), "2.0");
  run = Command("find-devices", "bob.token", {"--version", "3.0"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("no devices"), std::string::npos) << run.out;
  run = Command("find-devices", "bob.token");
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("at least one"), std::string::npos) << run.err;
}

TEST_F(CliTest, AuditListShowsThePublish) {
  StartInsecure();
  sim_->UpdateSnapshot();
  ASSERT_EQ(Command("publish", "alice.token", {"--description", "rel-7", WriteTree().string()})
                .code,
            0);
  CliRun run = Cli({"audit", "list", "--server", Address(), "--insecure", "--token-file",
                 Path("bob.token"), "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value audit = ParseJson(run);
  bool accepted = false;
  int64_t previous = 0;
  for (const json::Value& entry : audit.Find("records")->as_array()) {
    EXPECT_GT(entry.Find("seq")->as_int(), previous);
    previous = entry.Find("seq")->as_int();
    const json::Value* action = entry.Find("record")->Find("action");
    if (action != nullptr && action->as_string() == "publish_accepted") {
      accepted = true;
      EXPECT_EQ(entry.Find("record")->Find("actor")->as_string(), "alice");
    }
  }
  EXPECT_TRUE(accepted) << run.out;
  run = Cli({"audit", "list", "--server", Address(), "--insecure", "--token-file",
             Path("bob.token"), "--limit", "2"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("2 records"), std::string::npos) << run.out;
}

TEST_F(CliTest, HelpNamesEveryCommand) {
  CliRun run = Cli({"--help"});
  EXPECT_EQ(run.code, 0);
  for (const char* command : {"publish", "history", "failures", "find-devices", "audit list"}) {
    EXPECT_NE(run.out.find(command), std::string::npos) << command;
  }
  run = Cli({"publish", "--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_NE(run.out.find("--token-file"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("REPO_DIR"), std::string::npos) << run.out;
  run = Cli({"history"});
  EXPECT_EQ(run.code, 1);
}

}  // namespace
}  // namespace mdu::server
