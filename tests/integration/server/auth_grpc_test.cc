// Authentication of the real repo-server binary: mutual TLS for devices (certificates made by
// the test with the openssl CLI) and operator bearer tokens with roles.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/integration/server/server_fixture.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::LatestUpload;
using testing::Upload;

using Server = testing::ServerProcess;

class AuthTest : public testing::ServerFixture {
 protected:
  AuthTest() : ServerFixture("repo_server_auth") {}

  void SetUp() override {
    ServerFixture::SetUp();
    WriteOperators();  // alice publishes, bob views.
  }

  // The server's and the devices' certificates, and a rogue device claiming to be device-a.
  void MakeCertificates() {
    ServerFixture::MakeCertificates();
    MakeRogueDevice();
  }

  // Starts the server with TLS and the device CA.
  void StartMutualTls() { Start(MutualTlsFlags()); }

  // A device stub over TLS; `client` names a leaf (key + cert) or is empty for no certificate.
  std::unique_ptr<v1::DeviceService::Stub> Device(const std::string& client) {
    return v1::DeviceService::NewStub(Tls(port_, client));
  }

  // With mutual TLS reports are signed over a server nonce (device evidence): when the server
  // hands `device_id` a nonce, sign with <device_id>.key; otherwise send unsigned (the identity
  // check refuses before the signature matters).
  template <class Message>
  void SignIfPossible(v1::DeviceService::Stub& stub, Message& message) {
    std::string nonce;
    if (!testing::RequestReportNonce(stub, message.device_id(), &nonce).ok()) return;
    ASSERT_TRUE(::mdu::testing::SignReport(message, nonce, Read(message.device_id() + ".key")));
  }

  grpc::Status Report(v1::DeviceService::Stub& stub, const std::string& report_id,
                      const std::string& device_id, v1::ReportAck* ack = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(testing::In(20));
    v1::InstallationReport report;
    report.set_report_id(report_id);
    report.set_device_id(device_id);
    report.set_target("pump/firmware.bin");
    report.set_to_version("2.0");
    report.set_phase(v1::INSTALL_PHASE_COMPLETE);
    report.set_success(true);
    SignIfPossible(stub, report);
    v1::ReportAck local;
    return stub.ReportInstallation(&context, report, ack ? ack : &local);
  }

  grpc::Status SecurityEvent(v1::DeviceService::Stub& stub, const std::string& device_id) {
    grpc::ClientContext context;
    context.set_deadline(testing::In(20));
    v1::SecurityEvent event;
    event.set_event_id("ev-" + device_id);
    event.set_device_id(device_id);
    event.set_kind("bad_version");
    SignIfPossible(stub, event);
    v1::ReportAck ack;
    return stub.ReportSecurityEvent(&context, event, &ack);
  }

  // Operator stub over plaintext loopback.
  void StartInsecureWithOperators() {
    Start(Concat(InsecureFlags(), {"--operator-credentials", Path("operators.json")}));
    operator_ = v1::OperatorService::NewStub(Insecure(port_));
  }

  grpc::Status Publish(const std::string& token, const Upload& upload) {
    testing::PublishOptions options;
    options.token = token;
    options.description = "auth test";
    return testing::PublishUpload(*operator_, upload, options);
  }

  grpc::Status Status(const std::string& token, v1::RepositoryStatus* status) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return operator_->GetRepositoryStatus(&context, v1::GetRepositoryStatusRequest(), status);
  }

  std::unique_ptr<v1::OperatorService::Stub> operator_;
};

TEST_F(AuthTest, DeviceWithoutClientCertificateIsRefusedAtTheHandshake) {
  MakeCertificates();
  StartMutualTls();
  auto anonymous = Device("");
  grpc::Status status = Report(*anonymous, "r-anon", "device-a");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Even calls that name no device need the certificate.
  grpc::ClientContext context;
  context.set_deadline(testing::In(20));
  v1::GetMetadataRequest request;
  request.set_role("root");
  request.set_version(1);
  v1::GetMetadataResponse response;
  EXPECT_EQ(anonymous->GetMetadata(&context, request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AuthTest, DeviceWithCertificateFromAnotherCaIsRefused) {
  MakeCertificates();
  StartMutualTls();
  auto rogue = Device("rogue");
  grpc::Status status = Report(*rogue, "r-rogue", "device-a");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(AuthTest, DeviceClaimingAnotherDeviceIdIsDenied) {
  MakeCertificates();
  StartMutualTls();
  auto device_a = Device("device-a");
  grpc::Status status = Report(*device_a, "r-1", "device-b");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_NE(status.error_message().find("device-a"), std::string::npos);
  status = SecurityEvent(*device_a, "device-b");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
}

TEST_F(AuthTest, DeviceReportingAsItselfIsAccepted) {
  MakeCertificates();
  StartMutualTls();
  auto device_a = Device("device-a");
  v1::ReportAck ack;
  grpc::Status status = Report(*device_a, "r-1", "device-a", &ack);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ack.newly_stored());
  EXPECT_TRUE(SecurityEvent(*device_a, "device-a").ok());
  auto device_b = Device("device-b");
  status = Report(*device_b, "r-2", "device-b", &ack);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ack.newly_stored());
}

TEST_F(AuthTest, ViewerTryingToPublishIsDenied) {
  StartInsecureWithOperators();
  grpc::Status status = Publish("bob-token", LatestUpload(*sim_));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  v1::RepositoryStatus repo;
  ASSERT_TRUE(Status("bob-token", &repo).ok());  // viewers may read
  EXPECT_FALSE(repo.initialized());
}

TEST_F(AuthTest, UnknownOrMissingTokenIsUnauthenticated) {
  StartInsecureWithOperators();
  EXPECT_EQ(Publish("mallory-token", LatestUpload(*sim_)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Publish("", LatestUpload(*sim_)).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::RepositoryStatus repo;
  EXPECT_EQ(Status("", &repo).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Status("alice-token-but-longer", &repo).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthTest, PublisherPublishes) {
  StartInsecureWithOperators();
  grpc::Status status = Publish("alice-token", LatestUpload(*sim_));
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::RepositoryStatus repo;
  ASSERT_TRUE(Status("bob-token", &repo).ok());
  EXPECT_TRUE(repo.initialized());
}

TEST_F(AuthTest, RefusesTlsWithoutOperatorCredentialsAndClientCaWithoutTls) {
  MakeCertificates();
  Server tls_without_operators(dir_, {"--listen", "127.0.0.1:0", "--tls-cert", Path("server.pem"),
                                      "--tls-key", Path("server.key")});
  EXPECT_EQ(tls_without_operators.Wait(), 1);
  Server ca_without_tls(
      dir_, {"--listen", "127.0.0.1:0", "--insecure", "--client-ca", Path("device-ca.pem")});
  EXPECT_EQ(ca_without_tls.Wait(), 1);
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "bad.json", "[{\"name\":\"x\"}]"));
  Server bad_credentials(
      dir_, {"--listen", "127.0.0.1:0", "--insecure", "--operator-credentials", Path("bad.json")});
  EXPECT_EQ(bad_credentials.Wait(), 1);
}

// Runs `repo-server audit verify` on the server's data directory; returns the exit code and
// fills `output`.
int VerifyAudit(const fs::path& db, std::string* output) {
  return testing::RunShell(
      std::string(MDU_REPO_SERVER_BINARY) + " audit verify --data-dir '" + db.string() + "'",
      output);
}

TEST_F(AuthTest, AuditLogChainsOperatorActionsAndVerifyFindsATamperedRecord) {
  StartInsecureWithOperators();
  ASSERT_TRUE(Publish("alice-token", LatestUpload(*sim_)).ok());  // records 2 (use), 3 (publish)
  Upload broken = LatestUpload(*sim_);
  broken.metadata["timestamp.json"] = "{";
  EXPECT_FALSE(Publish("alice-token", broken).ok());
  EXPECT_EQ(Publish("bob-token", LatestUpload(*sim_)).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Publish("mallory-token", LatestUpload(*sim_)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer bob-token");
  v1::ListAuditRecordsRequest request;
  v1::ListAuditRecordsResponse response;
  grpc::Status status = operator_->ListAuditRecords(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> actions, actors;
  std::string prev(64, '0');
  for (const v1::AuditRecordEntry& entry : response.records()) {
    EXPECT_EQ(entry.sha256(), crypto::Sha256Hex(entry.record()));
    auto record = json::Parse(entry.record());
    ASSERT_TRUE(record) << entry.record();
    EXPECT_EQ(record->Find("prev_hash")->as_string(), prev) << entry.record();
    EXPECT_EQ(static_cast<uint64_t>(record->Find("seq")->as_int()), entry.seq());
    prev = entry.sha256();
    actions.push_back(record->Find("action")->as_string());
    actors.push_back(record->Find("actor")->as_string());
  }
  EXPECT_EQ(actions,
            (std::vector<std::string>{"server_start", "credential_used", "publish_accepted",
                                      "credential_used", "publish_rejected", "credential_refused",
                                      "credential_refused", "credential_used"}));
  EXPECT_EQ(actors, (std::vector<std::string>{"server", "alice", "alice", "alice", "alice", "bob",
                                              "unknown", "bob"}));

  server_.reset();  // the store is opened exclusively
  std::string output;
  EXPECT_EQ(VerifyAudit(dir_ / "db", &output), 0) << output;
  EXPECT_NE(output.find("audit chain OK: 8 records"), std::string::npos) << output;

  // Rewrite who published (record 3) directly in RocksDB.
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), (dir_ / "db").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string key = "a/00000000000000000003";
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &value).ok());
    size_t at = value.find("\"actor\":\"alice\"");
    ASSERT_NE(at, std::string::npos) << value;
    value.replace(at, 15, "\"actor\":\"eve\"");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }
  EXPECT_EQ(VerifyAudit(dir_ / "db", &output), 2) << output;
  EXPECT_NE(output.find("record 3 was modified"), std::string::npos) << output;
}

}  // namespace
}  // namespace mdu::server
