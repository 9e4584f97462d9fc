// Authentication of the real repo-server binary: mutual TLS for devices (certificates made by
// the test with the openssl CLI) and operator bearer tokens with roles.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "proto/report_signing.h"
#include "tests/integration/server/server_process.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/support/test_dir.h"

extern char** environ;

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::LatestUpload;
using testing::MakeSim;
using testing::Upload;

using ::mdu::testing::WallNow;

using Server = testing::ServerProcess;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::mdu::testing::FreshTestDir("repo_server_auth");
    sim_ = MakeSim(WallNow() + 30 * 86400);
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "root.json", sim_->MetadataFile("1.root.json")));
    // alice publishes, bob views.
    std::string creds = "[{\"name\":\"alice\",\"role\":\"publisher\",\"token_sha256\":\"" +
                        crypto::Sha256Hex("alice-token") +
                        "\"},{\"name\":\"bob\",\"role\":\"viewer\",\"token_sha256\":\"" +
                        crypto::Sha256Hex("bob-token") + "\"}]";
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "operators.json", creds));
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Read(const std::string& name) const {
    auto bytes = io::ReadFileBounded(dir_ / name, 1 << 20);
    EXPECT_TRUE(bytes) << name;
    return bytes ? *bytes : std::string();
  }

  // Runs the openssl CLI in dir_; true on success.
  bool Openssl(const std::string& args) const {
    std::string command = "cd '" + dir_.string() + "' && openssl " + args + " >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }
  // A self-signed P-256 CA: <name>.key, <name>.pem.
  bool MakeCa(const std::string& name) const {
    return Openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                   name + ".key -out " + name + ".pem -days 2 -subj /CN=" + name +
                   " -addext basicConstraints=critical,CA:TRUE -addext "
                   "keyUsage=critical,keyCertSign,cRLSign");
  }
  // A leaf <name>.key/<name>.pem issued by `ca` with the given X.509v3 extension lines.
  bool MakeLeaf(const std::string& name, const std::string& ca, const std::string& cn,
                const std::string& extensions) const {
    if (!io::WriteFileAtomically(dir_ / (name + ".ext"), extensions)) return false;
    return Openssl("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                   ".key -out " + name + ".csr -subj /CN=" + cn) &&
           Openssl("x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
                   ".key -CAcreateserial -out " + name + ".pem -days 2 -extfile " + name + ".ext");
  }
  void MakeCertificates() {
    ASSERT_TRUE(MakeCa("server-ca"));
    ASSERT_TRUE(MakeCa("device-ca"));
    ASSERT_TRUE(MakeCa("rogue-ca"));
    ASSERT_TRUE(MakeLeaf("server", "server-ca", "localhost",
                         "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                         "extendedKeyUsage=serverAuth\n"));
    for (const char* device : {"device-a", "device-b"}) {
      ASSERT_TRUE(MakeLeaf(device, "device-ca", device,
                           std::string("subjectAltName=URI:urn:mdu:device:") + device +
                               "\nextendedKeyUsage=clientAuth\n"));
    }
    // Claims to be device-a, but issued by a CA the server does not trust.
    ASSERT_TRUE(MakeLeaf("rogue", "rogue-ca", "device-a",
                         "subjectAltName=URI:urn:mdu:device:device-a\n"
                         "extendedKeyUsage=clientAuth\n"));
  }

  // Starts the server with TLS and the device CA.
  void StartMutualTls() {
    server_ = std::make_unique<Server>(
        dir_, std::vector<std::string>{"--listen", "127.0.0.1:0", "--tls-cert", Path("server.pem"),
                                       "--tls-key", Path("server.key"), "--client-ca",
                                       Path("device-ca.pem"), "--operator-credentials",
                                       Path("operators.json")});
    port_ = server_->Port();
    ASSERT_NE(port_, 0) << "repo-server did not start";
  }

  // A device stub over TLS; `client` names a leaf (key + cert) or is empty for no certificate.
  std::unique_ptr<v1::DeviceService::Stub> Device(const std::string& client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read("server-ca.pem");
    if (!client.empty()) {
      ssl.pem_private_key = Read(client + ".key");
      ssl.pem_cert_chain = Read(client + ".pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return v1::DeviceService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::SslCredentials(ssl), args));
  }

  // With mutual TLS reports are signed over a server nonce (device evidence): when the server
  // hands `device_id` a nonce, sign with <device_id>.key; otherwise send unsigned (the identity
  // check refuses before the signature matters).
  template <class Message>
  void SignIfPossible(v1::DeviceService::Stub& stub, Message& message) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::GetReportNonceRequest request;
    request.set_device_id(message.device_id());
    v1::ReportNonce nonce;
    if (!stub.GetReportNonce(&context, request, &nonce).ok()) return;
    auto key = evidence::DeviceKey::FromPem(Read(message.device_id() + ".key"));
    ASSERT_TRUE(key);
    message.set_nonce(nonce.nonce());
    auto signature = key->Sign(evidence::SigningPayload(message));
    ASSERT_TRUE(signature);
    message.set_signature(*signature);
  }

  grpc::Status Report(v1::DeviceService::Stub& stub, const std::string& report_id,
                      const std::string& device_id, v1::ReportAck* ack = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
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
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
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
    server_ = std::make_unique<Server>(
        dir_, std::vector<std::string>{"--listen", "127.0.0.1:0", "--insecure",
                                       "--operator-credentials", Path("operators.json")});
    port_ = server_->Port();
    ASSERT_NE(port_, 0) << "repo-server did not start";
    operator_ = v1::OperatorService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Publish(const std::string& token, const Upload& upload) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::PublishResponse response;
    auto stream = operator_->Publish(&context, &response);
    v1::PublishRequest request;
    request.mutable_header()->set_description("auth test");
    stream->Write(request);
    for (const auto& [name, bytes] : upload.metadata) {
      request.Clear();
      request.mutable_metadata()->set_name(name);
      request.mutable_metadata()->set_content(bytes);
      if (!stream->Write(request)) break;
    }
    for (const auto& [sha, content] : upload.targets) {
      request.Clear();
      request.mutable_target()->set_sha256(sha);
      request.mutable_target()->set_offset(0);
      request.mutable_target()->set_data(content);
      if (!stream->Write(request)) break;
    }
    request.Clear();
    request.mutable_commit();
    stream->Write(request);
    stream->WritesDone();
    return stream->Finish();
  }

  grpc::Status Status(const std::string& token, v1::RepositoryStatus* status) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return operator_->GetRepositoryStatus(&context, v1::GetRepositoryStatusRequest(), status);
  }

  fs::path dir_;
  std::unique_ptr<sim::RepositorySimulator> sim_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::OperatorService::Stub> operator_;
  int port_ = 0;
};

TEST_F(AuthTest, DeviceWithoutClientCertificateIsRefusedAtTheHandshake) {
  MakeCertificates();
  StartMutualTls();
  auto anonymous = Device("");
  grpc::Status status = Report(*anonymous, "r-anon", "device-a");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Even calls that name no device need the certificate.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
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
  std::string command =
      std::string(MDU_REPO_SERVER_BINARY) + " audit verify --data-dir '" + db.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  output->clear();
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
