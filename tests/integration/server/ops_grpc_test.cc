// Operations of the real repo-server binary: the encrypted timestamp key (and the refusal of a
// wrong passphrase), the configuration file and its audit record, limits (per-device rate,
// upload caps, message sizes), the separate operator listener, certificate revocation, audited
// device-id claims, and kill -9 inside the commit window of a publish.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "signer/keystore/keystore.h"
#include "tests/integration/server/server_fixture.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::Content;
using testing::LatestUpload;
using testing::Upload;
using Server = testing::ServerProcess;
using testing::In;
using testing::RunShell;

class OpsTest : public testing::ServerFixture {
 protected:
  OpsTest() : ServerFixture("repo_server_ops") {}

  void SetUp() override {
    ServerFixture::SetUp();
    WriteOperators();  // alice publishes, bob views.
  }

  // A CRL of `ca` revoking the certificates `revoked` (openssl ca database in dir_/<ca>-db).
  bool MakeCrl(const std::string& ca, const std::vector<std::string>& revoked,
               const std::string& out) {
    std::string db = ca + "-db";
    fs::create_directories(dir_ / db);
    if (!io::WriteFileAtomically(dir_ / db / "index.txt", "") ||
        !io::WriteFileAtomically(dir_ / db / "crlnumber", "01\n") ||
        !io::WriteFileAtomically(dir_ / db / "ca.cnf",
                                 "[ca]\ndefault_ca = d\n[d]\ndatabase = " + db +
                                     "/index.txt\ncrlnumber = " + db +
                                     "/crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n")) {
      return false;
    }
    std::string common =
        "ca -config " + db + "/ca.cnf -keyfile " + ca + ".key -cert " + ca + ".pem";
    for (const std::string& leaf : revoked) {
      if (!certs_.Openssl(common + " -revoke " + leaf + ".pem")) return false;
    }
    return certs_.Openssl(common + " -gencrl -out " + out);
  }

  // ---- the server ----
  void StartInsecure(const std::vector<std::string>& extra = {}) {
    Start(Concat(InsecureFlags(), extra));
  }
  // Mutual TLS for devices, a separate TLS operator listener with bearer tokens.
  void StartMutualTls(const std::vector<std::string>& extra = {}) {
    Start(Concat(Concat(MutualTlsFlags(), OperatorListenerFlags()), extra));
    ASSERT_NE(operator_port_, 0) << "no operator listener";
  }

  static grpc::Status Publish(v1::OperatorService::Stub& stub, const std::string& token,
                              const Upload& upload, int deadline_seconds = 60) {
    testing::PublishOptions options;
    options.token = token;
    options.description = "ops test";
    options.chunk_bytes = 256 << 10;
    options.deadline_seconds = deadline_seconds;
    return testing::PublishUpload(stub, upload, options);
  }

  static grpc::Status RepoStatus(v1::OperatorService::Stub& stub, const std::string& token,
                                 v1::RepositoryStatus* status) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return stub.GetRepositoryStatus(&context, v1::GetRepositoryStatusRequest(), status);
  }

  static grpc::Status GetMetadata(v1::DeviceService::Stub& stub, const std::string& role,
                                  int64_t version, std::string* content = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::GetMetadataRequest request;
    request.set_role(role);
    request.set_version(version);
    v1::GetMetadataResponse response;
    grpc::Status status = stub.GetMetadata(&context, request, &response);
    if (content != nullptr) *content = response.content();
    return status;
  }

  static grpc::Status Report(v1::DeviceService::Stub& stub, const std::string& report_id,
                             const std::string& device_id) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::InstallationReport report;
    report.set_report_id(report_id);
    report.set_device_id(device_id);
    report.set_target("pump/firmware.bin");
    report.set_to_version("2.0");
    report.set_phase(v1::INSTALL_PHASE_COMPLETE);
    report.set_success(true);
    v1::ReportAck ack;
    return stub.ReportInstallation(&context, report, &ack);
  }

  // Every audit record as parsed JSON, read over the operator API.
  std::vector<json::Value> AuditRecords(v1::OperatorService::Stub& stub, const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ListAuditRecordsResponse response;
    grpc::Status status = stub.ListAuditRecords(&context, v1::ListAuditRecordsRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<json::Value> records;
    for (const auto& entry : response.records()) {
      auto parsed = json::Parse(entry.record());
      EXPECT_TRUE(parsed);
      if (parsed) records.push_back(*parsed);
    }
    return records;
  }
  static std::vector<std::string> Actions(const std::vector<json::Value>& records) {
    std::vector<std::string> actions;
    for (const json::Value& r : records) actions.push_back(r.Find("action")->as_string());
    return actions;
  }

  // The common server flags of ServerProcess, for runs through the shell.
  std::string BaseCommand() const {
    return std::string(MDU_REPO_SERVER_BINARY) + " --data-dir '" + Path("db") +
           "' --trusted-root '" + Path("root.json") + "' --listen 127.0.0.1:0 --insecure";
  }

  // The simulator's timestamp key as an mdu-encrypted-key file under `passphrase`.
  void WriteEncryptedTimestampKey(const std::string& name, const std::string& passphrase) {
    auto text = signer::EncryptKeyFile(*sim_->signers["timestamp"][0],
                                       signer::SecureBuffer::CopyOf(passphrase),
                                       signer::sealing::InteractiveLimits());
    ASSERT_TRUE(text) << text.error().ToString();
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / name, *text, 0600));
  }

};

// ---- 1. encrypted timestamp key ----

TEST_F(OpsTest, ResignsWithTheEncryptedTimestampKey) {
  WriteEncryptedTimestampKey("timestamp.key.json", "ts-passphrase-1");
  StartInsecure();
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  ASSERT_TRUE(Publish(*operators, "", LatestUpload(*sim_)).ok());
  const int64_t version = sim_->timestamp.common.version;
  server_->Stop();
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "pass", "ts-passphrase-1\n", 0600));
  // Published timestamp expires in 30 days; a 31-day margin makes it due at once.
  StartInsecure({"--timestamp-key", Path("timestamp.key.json"), "--timestamp-passphrase-file",
                 Path("pass"), "--timestamp-validity", "3456000", "--timestamp-margin", "2678400",
                 "--resign-interval", "1"});
  auto device = v1::DeviceService::NewStub(Insecure(port_));
  int64_t seen = 0;
  for (int i = 0; i < 100 && seen <= version; ++i) {
    std::string content;
    ASSERT_TRUE(GetMetadata(*device, "timestamp", 0, &content).ok());
    auto parsed = metadata::ParseMetadata<metadata::Timestamp>(content);
    ASSERT_TRUE(parsed);
    seen = parsed->role.common.version;
    if (seen <= version) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(seen, version + 1);
}

TEST_F(OpsTest, WrongPassphraseRefusesToStartAndIsNeverLogged) {
  WriteEncryptedTimestampKey("timestamp.key.json", "right-passphrase");
  std::string output;
  int code = RunShell("MDU_TS_PASS=Wr0ngPassphraseXYZ " + BaseCommand() + " --timestamp-key '" +
                          Path("timestamp.key.json") + "' --timestamp-passphrase-env MDU_TS_PASS",
                      &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("wrong passphrase or corrupted key file"), std::string::npos) << output;
  EXPECT_EQ(output.find("Wr0ngPassphraseXYZ"), std::string::npos) << output;
  EXPECT_EQ(output.find("right-passphrase"), std::string::npos) << output;
  // No passphrase source at all: a usage error, never a prompt.
  code = RunShell(
      BaseCommand() + " --timestamp-key '" + Path("timestamp.key.json") + "' </dev/null", &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("exactly one of"), std::string::npos) << output;
}

TEST_F(OpsTest, KeyRootDoesNotTrustForTimestampIsRefusedAtStart) {
  StartInsecure();
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  ASSERT_TRUE(Publish(*operators, "", LatestUpload(*sim_)).ok());
  server_->Stop();
  auto other = sim::RepositorySimulator::NewKey();
  auto text = signer::EncryptKeyFile(*other, signer::SecureBuffer::CopyOf("pw"),
                                     signer::sealing::InteractiveLimits());
  ASSERT_TRUE(text);
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "other.key.json", *text, 0600));
  std::string output;
  int code = RunShell("MDU_TS_PASS=pw " + BaseCommand() + " --timestamp-key '" +
                          Path("other.key.json") + "' --timestamp-passphrase-env MDU_TS_PASS",
                      &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("does not list key"), std::string::npos) << output;
}

// ---- 2. configuration file, --help, audit of configuration changes ----

TEST_F(OpsTest, HelpDocumentsEverySetting) {
  std::string output;
  ASSERT_EQ(RunShell(std::string(MDU_REPO_SERVER_BINARY) + " --help", &output), 0);
  for (const char* flag : {"--config",
                           "--listen",
                           "--operator-listen",
                           "--operator-tls-cert",
                           "--client-ca",
                           "--crl",
                           "--timestamp-key",
                           "--timestamp-passphrase-env",
                           "--timestamp-passphrase-fd",
                           "--timestamp-passphrase-file",
                           "--snapshot-key",
                           "--timestamp-key-insecure-file",
                           "--device-max-message-bytes",
                           "--operator-max-message-bytes",
                           "--max-publish-bytes",
                           "--max-target-bytes",
                           "--publish-timeout",
                           "--device-rate",
                           "--device-burst",
                           "--max-connection-idle",
                           "--max-concurrent-publishes",
                           "--publish-idle-timeout",
                           "--refused-credential-rate",
                           "--refused-credential-burst",
                           "--audit-summary-interval",
                           "--report-batch-max"}) {
    EXPECT_NE(output.find(flag), std::string::npos) << flag;
  }
}

TEST_F(OpsTest, ConfigFileWithFlagOverridesAndChangesAreAudited) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml",
                                      "listen = \"127.0.0.1:0\"\n"
                                      "insecure = true\n"
                                      "max-target-bytes = 5000\n"
                                      "device-rate = 5\n"));
  Start({"--config", Path("server.toml")});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  // The file's cap applies.
  sim_->AddTarget("targets", "big.bin", Content(6000, 1));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  EXPECT_EQ(Publish(*operators, "", LatestUpload(*sim_)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  server_->Stop();
  // Restart with the same file and one flag overriding it.
  Start({"--config", Path("server.toml"), "--max-target-bytes", "10000"});
  operators = v1::OperatorService::NewStub(Insecure(port_));
  ASSERT_TRUE(Publish(*operators, "", LatestUpload(*sim_)).ok());
  auto records = AuditRecords(*operators, "");
  auto actions = Actions(records);
  ASSERT_GE(actions.size(), 4u);
  EXPECT_EQ(actions[0], "server_start");
  EXPECT_EQ(actions[1], "publish_rejected");
  EXPECT_EQ(actions[2], "server_start");
  EXPECT_EQ(actions[3], "config_changed");
  const json::Value* changes = records[3].Find("detail")->Find("changes");
  ASSERT_NE(changes, nullptr);
  EXPECT_EQ(changes->as_object().size(), 1u);
  ASSERT_NE(changes->Find("max_target_bytes"), nullptr);
  EXPECT_EQ(changes->Find("max_target_bytes")->Find("old")->as_int(), 5000);
  EXPECT_EQ(changes->Find("max_target_bytes")->Find("new")->as_int(), 10000);
  EXPECT_EQ(records[0].Find("detail")->Find("config")->Find("device_rate_milli")->as_int(), 5000);
  // An unchanged restart records no change.
  server_->Stop();
  Start({"--config", Path("server.toml"), "--max-target-bytes", "10000"});
  operators = v1::OperatorService::NewStub(Insecure(port_));
  actions = Actions(AuditRecords(*operators, ""));
  EXPECT_EQ(actions.back(), "server_start");
}

TEST_F(OpsTest, UnknownConfigKeyRefusesToStart) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml", "insecure = true\nlisten-addr = 1\n"));
  Server server(dir_, {"--config", Path("server.toml"), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(server.Wait(), 1);
}

// ---- 3. limits ----

TEST_F(OpsTest, OverSizeUploadIsRefusedAndChangesNothing) {
  StartInsecure({"--max-publish-bytes", "200000"});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  sim_->AddTarget("targets", "big.bin", Content(300000, 2));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  grpc::Status status = Publish(*operators, "", LatestUpload(*sim_));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("cap of 200000 bytes"), std::string::npos)
      << status.error_message();
  v1::RepositoryStatus repo;
  ASSERT_TRUE(RepoStatus(*operators, "", &repo).ok());
  EXPECT_FALSE(repo.initialized());
  EXPECT_EQ(repo.target_count(), 0u);
}

TEST_F(OpsTest, MessageSizeLimitsPerListener) {
  StartInsecure({"--operator-listen", "127.0.0.1:0", "--operator-port-file", Path("operator-port"),
                 "--device-max-message-bytes", "4096", "--operator-max-message-bytes", "300000"});
  ASSERT_NE(operator_port_, 0);
  auto device = v1::DeviceService::NewStub(Insecure(port_));
  EXPECT_EQ(GetMetadata(*device, std::string(8000, 'r'), 1).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GetMetadata(*device, "root", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  // A 512 KiB chunk is over the operator listener's limit; 256 KiB chunks pass.
  auto operators = v1::OperatorService::NewStub(Insecure(operator_port_));
  grpc::ClientContext context;
  context.set_deadline(In(20));
  v1::PublishResponse response;
  auto stream = operators->Publish(&context, &response);
  v1::PublishRequest request;
  request.mutable_header()->set_description("big chunk");
  stream->Write(request);
  request.Clear();
  request.mutable_target()->set_sha256(std::string(64, 'a'));
  request.mutable_target()->set_data(std::string(512 << 10, 'x'));
  stream->Write(request);
  stream->WritesDone();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  sim_->AddTarget("targets", "fw.bin", Content(600000, 3));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  grpc::Status status = Publish(*operators, "", LatestUpload(*sim_));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(OpsTest, PublishTimeoutEndsASlowPublish) {
  StartInsecure({"--publish-timeout", "1"});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  grpc::ClientContext context;
  context.set_deadline(In(20));
  v1::PublishResponse response;
  auto stream = operators->Publish(&context, &response);
  v1::PublishRequest request;
  request.mutable_header()->set_description("slow");
  stream->Write(request);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (const auto& [name, bytes] : LatestUpload(*sim_).metadata) {
    request.Clear();
    request.mutable_metadata()->set_name(name);
    request.mutable_metadata()->set_content(bytes);
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
}

// A publish stream that has sent its header and nothing more (holds a publish slot).
struct OpenPublish {
  grpc::ClientContext context;
  v1::PublishResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PublishRequest>> stream;
  OpenPublish(v1::OperatorService::Stub& stub, const std::string& token, int deadline_seconds) {
    context.set_deadline(In(deadline_seconds));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    stream = stub.Publish(&context, &response);
    v1::PublishRequest request;
    request.mutable_header()->set_description("held open");
    stream->Write(request);
  }
};

// Attack: a second publisher (or a client holding a stream open) races the first.
TEST_F(OpsTest, SecondConcurrentPublishIsRefusedNamingTheLimitAndAudited) {
  StartInsecure({"--max-concurrent-publishes", "1"});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  auto first = std::make_unique<OpenPublish>(*operators, "", 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server holds the slot
  grpc::Status second = Publish(*operators, "", LatestUpload(*sim_));
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second.error_message();
  EXPECT_NE(second.error_message().find("--max-concurrent-publishes"), std::string::npos)
      << second.error_message();
  // The first one ends (abandoned): the slot is free again.
  first->stream->WritesDone();
  EXPECT_EQ(first->stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  first.reset();
  grpc::Status third = Publish(*operators, "", LatestUpload(*sim_));
  EXPECT_TRUE(third.ok()) << third.error_message();
  bool audited = false;
  for (const json::Value& record : AuditRecords(*operators, "")) {
    if (record.Find("action")->as_string() == "publish_rejected" &&
        record.Find("detail")->Find("reason")->as_string().find("--max-concurrent-publishes") !=
            std::string::npos) {
      audited = true;
    }
  }
  EXPECT_TRUE(audited);
}

// Attack: a stalled publish stream (slowloris) must not hold the publish slot until its own
// (here: far) deadline.
TEST_F(OpsTest, StalledPublishIsEndedByTheServersIdleTimer) {
  StartInsecure({"--publish-idle-timeout", "1"});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  const auto start = std::chrono::steady_clock::now();
  OpenPublish stalled(*operators, "", 60);
  grpc::Status status = stalled.stream->Finish();  // sends nothing more; waits for the server
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_NE(status.error_message().find("--publish-idle-timeout"), std::string::npos)
      << status.error_message();
  EXPECT_LT(waited, std::chrono::seconds(10));
  // The slot is free, and a stream that keeps sending is not cut by the idle timer.
  grpc::Status next = Publish(*operators, "", LatestUpload(*sim_));
  EXPECT_TRUE(next.ok()) << next.error_message();
  bool audited = false;
  for (const json::Value& record : AuditRecords(*operators, "")) {
    if (record.Find("action")->as_string() == "publish_rejected" &&
        record.Find("detail")->Find("reason")->as_string().find("idle") != std::string::npos) {
      audited = true;
    }
  }
  EXPECT_TRUE(audited);
}

// Attack: a flood of bad operator tokens. Every one is refused, legitimate operators are still
// served, and the audit log grows by the per-peer budget plus one summary, not by the flood.
TEST_F(OpsTest, FloodOfBadTokensIsRefusedWithoutFloodingTheAuditLog) {
  StartInsecure({"--operator-credentials", Path("operators.json"), "--refused-credential-burst",
                 "5", "--refused-credential-rate", "0.001", "--audit-summary-interval", "1"});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  v1::RepositoryStatus repo;
  constexpr int kFlood = 300;
  for (int i = 0; i < kFlood; ++i) {
    ASSERT_EQ(RepoStatus(*operators, "guess-" + std::to_string(i), &repo).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  ASSERT_TRUE(RepoStatus(*operators, "bob-token", &repo).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_TRUE(RepoStatus(*operators, "bob-token", &repo).ok());  // writes the due summary
  int refused = 0;
  int64_t summarized = 0;
  for (const json::Value& record : AuditRecords(*operators, "bob-token")) {
    const std::string& action = record.Find("action")->as_string();
    if (action == "credential_refused") ++refused;
    if (action == "credential_refusals_suppressed") {
      summarized += record.Find("detail")->Find("count")->as_int();
      EXPECT_EQ(record.Find("detail")->Find("peers")->as_array().size(), 1u);
    }
  }
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(refused + summarized, kFlood) << "every refusal is accounted for";
}

// SIGHUP: the config file and the operator credentials file are read again; runtime settings
// apply at once, the change is audited; an invalid new configuration is refused whole.
TEST_F(OpsTest, SighupReloadsCredentialsAndLimitsAndRefusesABadConfig) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml",
                                      "listen = \"127.0.0.1:0\"\n"
                                      "insecure = true\n"
                                      "max-target-bytes = 5000\n"
                                      "operator-credentials = \"" + Path("operators.json") +
                                          "\"\n"));
  Start({"--config", Path("server.toml")});
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  v1::RepositoryStatus repo;
  ASSERT_TRUE(RepoStatus(*operators, "bob-token", &repo).ok());
  EXPECT_EQ(RepoStatus(*operators, "carol-token", &repo).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  sim_->AddTarget("targets", "big.bin", Content(6000, 1));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  EXPECT_EQ(Publish(*operators, "alice-token", LatestUpload(*sim_)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  // carol replaces bob; the cap grows; a setting that needs a restart changes too.
  WriteOperators({{"alice", "publisher", "alice-token"}, {"carol", "viewer", "carol-token"}});
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml",
                                      "listen = \"127.0.0.1:0\"\n"
                                      "insecure = true\n"
                                      "max-target-bytes = 10000\n"
                                      "timestamp-validity = 7200\n"
                                      "operator-credentials = \"" + Path("operators.json") +
                                          "\"\n"));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  bool reloaded = false;
  for (int i = 0; i < 100 && !reloaded; ++i) {
    reloaded = RepoStatus(*operators, "carol-token", &repo).ok();
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(reloaded) << "carol's token not accepted after SIGHUP";
  EXPECT_EQ(RepoStatus(*operators, "bob-token", &repo).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status published = Publish(*operators, "alice-token", LatestUpload(*sim_));
  EXPECT_TRUE(published.ok()) << published.error_message();

  // An invalid configuration: refused, the running one stays.
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml",
                                      "insecure = true\nmax-target-bytez = 1\n"));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  std::vector<json::Value> records;
  auto await_refusals = [&](int n) {
    int refusals = 0;
    for (int i = 0; i < 100 && refusals < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      records = AuditRecords(*operators, "carol-token");
      refusals = 0;
      for (const auto& action : Actions(records)) refusals += action == "config_reload_refused";
    }
    return refusals;
  };
  EXPECT_EQ(await_refusals(1), 1);
  // A credentials file that does not parse: refused too (with a valid config again).
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml",
                                      "listen = \"127.0.0.1:0\"\n"
                                      "insecure = true\n"
                                      "operator-credentials = \"" + Path("operators.json") +
                                          "\"\n"));
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "operators.json", "[{\"name\": \"mallory\"}]"));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  EXPECT_EQ(await_refusals(2), 2);
  EXPECT_TRUE(RepoStatus(*operators, "carol-token", &repo).ok()) << "old credentials kept";

  const json::Value* change = nullptr;
  for (const json::Value& record : records) {
    if (record.Find("action")->as_string() == "config_changed") change = &record;
  }
  ASSERT_NE(change, nullptr);
  const json::Value* detail = change->Find("detail");
  EXPECT_EQ(detail->Find("trigger")->as_string(), "SIGHUP");
  const json::Value* changes = detail->Find("changes");
  ASSERT_NE(changes->Find("max_target_bytes"), nullptr);
  EXPECT_EQ(changes->Find("max_target_bytes")->Find("old")->as_int(), 5000);
  EXPECT_EQ(changes->Find("max_target_bytes")->Find("new")->as_int(), 10000);
  EXPECT_NE(changes->Find("operator_credentials_sha256"), nullptr);
  const auto& restart = detail->Find("restart_required")->as_array();
  ASSERT_EQ(restart.size(), 1u);
  EXPECT_EQ(restart[0].as_string(), "timestamp_validity");
}

// ---- 4-8 with certificates ----

TEST_F(OpsTest, OperatorsUseTheirOwnListenerWithTokensAndNoClientCertificate) {
  MakeCertificates();
  StartMutualTls();
  auto operators = v1::OperatorService::NewStub(Tls(operator_port_, ""));
  v1::RepositoryStatus repo;
  grpc::Status status = RepoStatus(*operators, "bob-token", &repo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(RepoStatus(*operators, "", &repo).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A viewer publishing is refused; the publisher publishes.
  EXPECT_EQ(Publish(*operators, "bob-token", LatestUpload(*sim_)).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  status = Publish(*operators, "alice-token", LatestUpload(*sim_));
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Each listener serves only its own service.
  auto device_a = v1::DeviceService::NewStub(Tls(port_, "device-a"));
  EXPECT_TRUE(GetMetadata(*device_a, "root", 1).ok());
  auto operator_on_device_port = v1::OperatorService::NewStub(Tls(port_, "device-a"));
  EXPECT_EQ(RepoStatus(*operator_on_device_port, "alice-token", &repo).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  auto device_on_operator_port = v1::DeviceService::NewStub(Tls(operator_port_, ""));
  EXPECT_EQ(GetMetadata(*device_on_operator_port, "root", 1).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // The device listener still requires a device certificate.
  auto anonymous = v1::DeviceService::NewStub(Tls(port_, ""));
  EXPECT_EQ(GetMetadata(*anonymous, "root", 1).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(OpsTest, RevokedDeviceCertificateIsRefused) {
  MakeCertificates();
  ASSERT_TRUE(MakeCrl("device-ca", {"device-b"}, "devices.crl"));
  StartMutualTls({"--crl", Path("devices.crl")});
  // device-a gets through the handshake (nothing is published yet: NOT_FOUND).
  auto device_a = v1::DeviceService::NewStub(Tls(port_, "device-a"));
  grpc::Status status = GetMetadata(*device_a, "root", 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  auto device_b = v1::DeviceService::NewStub(Tls(port_, "device-b"));
  status = Report(*device_b, "r-b", "device-b");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(GetMetadata(*device_b, "root", 1).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The CRL path uses other gRPC credentials: they still refuse foreign and missing certificates.
  MakeRogueDevice();
  auto rogue = v1::DeviceService::NewStub(Tls(port_, "rogue"));
  EXPECT_EQ(GetMetadata(*rogue, "root", 1).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto anonymous = v1::DeviceService::NewStub(Tls(port_, ""));
  EXPECT_EQ(GetMetadata(*anonymous, "root", 1).error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A device revoked after the start is refused at its next handshake once the new CRL is
// loaded with SIGHUP; a CRL that is not newer than the one in use is refused.
TEST_F(OpsTest, SighupLoadsANewCrlAndTheNewlyRevokedDeviceIsRefused) {
  MakeCertificates();
  ASSERT_TRUE(MakeCrl("device-ca", {}, "devices.crl"));
  StartMutualTls({"--crl", Path("devices.crl")});
  auto device_b = v1::DeviceService::NewStub(Tls(port_, "device-b"));
  EXPECT_EQ(GetMetadata(*device_b, "root", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later lastUpdate
  ASSERT_TRUE(MakeCrl("device-ca", {"device-b"}, "devices.crl"));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  grpc::StatusCode code = grpc::StatusCode::NOT_FOUND;
  for (int i = 0; i < 100 && code != grpc::StatusCode::UNAVAILABLE; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto fresh = v1::DeviceService::NewStub(Tls(port_, "device-b"));  // a new handshake
    code = GetMetadata(*fresh, "root", 1).error_code();
  }
  EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << "device-b still accepted after the reload";
  auto device_a = v1::DeviceService::NewStub(Tls(port_, "device-a"));
  EXPECT_EQ(GetMetadata(*device_a, "root", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  // The old CRL again (not newer): refused, device-b stays revoked.
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "devices.crl", Read("devices.crl") + "\n"));
  auto operators = v1::OperatorService::NewStub(Tls(operator_port_, ""));
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& action : Actions(AuditRecords(*operators, "bob-token"))) {
      refused = refused || action == "config_reload_refused";
    }
  }
  EXPECT_TRUE(refused);
  auto again = v1::DeviceService::NewStub(Tls(port_, "device-b"));
  EXPECT_EQ(GetMetadata(*again, "root", 1).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(OpsTest, CrlNotSignedByTheDeviceCaRefusesToStart) {
  MakeCertificates();
  ASSERT_TRUE(certs_.MakeCa("rogue-ca"));
  ASSERT_TRUE(MakeCrl("rogue-ca", {}, "rogue.crl"));
  Server server(dir_, Concat(MutualTlsFlags(), {"--crl", Path("rogue.crl")}));
  EXPECT_EQ(server.Wait(), 1);
}

TEST_F(OpsTest, ClaimingAnotherDevicesIdIsDeniedAndAudited) {
  MakeCertificates();
  StartMutualTls();
  auto device_a = v1::DeviceService::NewStub(Tls(port_, "device-a"));
  grpc::Status status = Report(*device_a, "r-1", "device-b");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  auto operators = v1::OperatorService::NewStub(Tls(operator_port_, ""));
  auto records = AuditRecords(*operators, "bob-token");
  bool found = false;
  for (const json::Value& record : records) {
    if (record.Find("action")->as_string() != "device_claim_refused") continue;
    found = true;
    EXPECT_EQ(record.Find("actor")->as_string(), "device:device-a");
    EXPECT_EQ(record.Find("detail")->Find("claimed_device_id")->as_string(), "device-b");
  }
  EXPECT_TRUE(found);
}

TEST_F(OpsTest, DeviceOverItsRateIsRefusedOthersAreServed) {
  MakeCertificates();
  StartMutualTls({"--device-rate", "0.5", "--device-burst", "3"});
  auto device_a = v1::DeviceService::NewStub(Tls(port_, "device-a"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(GetMetadata(*device_a, "root", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  grpc::Status status = GetMetadata(*device_a, "root", 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("device-a"), std::string::npos);
  EXPECT_EQ(Report(*device_a, "r-1", "device-a").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto device_b = v1::DeviceService::NewStub(Tls(port_, "device-b"));
  EXPECT_EQ(GetMetadata(*device_b, "root", 1).error_code(), grpc::StatusCode::NOT_FOUND);
}

// ---- kill -9 in the commit window ----

class CommitWindowTest : public OpsTest {
 protected:
  // Starts the server so that publishes stop at `point` (MDU_TEST_PUBLISH_FAULT), publishes
  // `upload` on a thread, waits until the server is at that point, kills it with SIGKILL and
  // restarts it normally.
  void KillAt(const std::string& point, const Upload& upload) {
    const fs::path marker = dir_ / ("at-" + point);
    setenv("MDU_TEST_PUBLISH_FAULT", (point + ":" + marker.string()).c_str(), 1);
    StartInsecure();
    unsetenv("MDU_TEST_PUBLISH_FAULT");
    auto operators = v1::OperatorService::NewStub(Insecure(port_));
    grpc::Status outcome;
    std::thread publisher([&] { outcome = Publish(*operators, "", upload, 30); });
    for (int i = 0; i < 400 && !fs::exists(marker); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_TRUE(fs::exists(marker)) << "the publish never reached " << point;
    server_->Kill();
    publisher.join();
    EXPECT_FALSE(outcome.ok());  // the publisher never got an answer
    StartInsecure();
  }

  int64_t TimestampVersion() {
    auto operators = v1::OperatorService::NewStub(Insecure(port_));
    v1::RepositoryStatus repo;
    EXPECT_TRUE(RepoStatus(*operators, "", &repo).ok());
    for (const auto& role : repo.roles()) {
      if (role.role() == "timestamp") return role.version();
    }
    return 0;
  }

  void ExpectAuditChainOk() {
    server_->Stop();
    std::string output;
    EXPECT_EQ(RunShell(std::string(MDU_REPO_SERVER_BINARY) + " audit verify --data-dir '" +
                           Path("db") + "'",
                       &output),
              0)
        << output;
  }
};

TEST_F(CommitWindowTest, KilledAfterTheWriteBatchRestartsWithTheNewRepository) {
  StartInsecure();
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  ASSERT_TRUE(Publish(*operators, "", LatestUpload(*sim_)).ok());
  server_->Stop();
  sim_->AddTarget("targets", "fw-2.bin", Content(3 << 20, 9));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  KillAt("committed", LatestUpload(*sim_));
  EXPECT_EQ(TimestampVersion(), sim_->timestamp.common.version);  // new
  auto device = v1::DeviceService::NewStub(Insecure(port_));
  std::string targets;
  ASSERT_TRUE(GetMetadata(*device, "targets", 0, &targets).ok());
  EXPECT_EQ(targets, sim_->MetadataFile("2.targets.json"));
  ExpectAuditChainOk();
}

TEST_F(CommitWindowTest, KilledBeforeTheWriteBatchRestartsWithTheOldRepository) {
  StartInsecure();
  auto operators = v1::OperatorService::NewStub(Insecure(port_));
  ASSERT_TRUE(Publish(*operators, "", LatestUpload(*sim_)).ok());
  const int64_t old_version = sim_->timestamp.common.version;
  server_->Stop();
  sim_->AddTarget("targets", "fw-2.bin", Content(3 << 20, 9));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  KillAt("verified", LatestUpload(*sim_));
  EXPECT_EQ(TimestampVersion(), old_version);  // old
  auto device = v1::DeviceService::NewStub(Insecure(port_));
  std::string targets;
  ASSERT_TRUE(GetMetadata(*device, "targets", 0, &targets).ok());
  EXPECT_EQ(targets, sim_->MetadataFile("1.targets.json"));
  // The interrupted publish can be repeated and then succeeds.
  operators = v1::OperatorService::NewStub(Insecure(port_));
  ASSERT_TRUE(Publish(*operators, "", LatestUpload(*sim_)).ok());
  ExpectAuditChainOk();
}

}  // namespace
}  // namespace mdu::server
