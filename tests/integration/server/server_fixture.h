// One fixture for the tests that run the real repo-server binary: a fresh directory with the
// simulator's root as trusted root, operator credentials, certificates made with the openssl
// CLI (tests/evidence/device_certs.h), the server's flags for each listener setup, the server
// started on ephemeral loopback ports, and gRPC channels to it (plaintext or TLS, with or
// without a device certificate). Plus the publish stream every test drives the same way.
//
// MDU_REPO_SERVER_BINARY must be defined (as for server_process.h).
#ifndef MDU_TESTS_INTEGRATION_SERVER_SERVER_FIXTURE_H_
#define MDU_TESTS_INTEGRATION_SERVER_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/evidence/device_certs.h"
#include "tests/integration/server/server_process.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/support/test_dir.h"

namespace mdu::server::testing {

// A gRPC deadline `seconds` from now.
inline std::chrono::system_clock::time_point In(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// Runs a shell command; its exit code (-1 if it did not exit) and combined output.
inline int RunShell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  output->clear();
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One entry of the server's --operator-credentials file.
struct OperatorToken {
  std::string name;
  std::string role;  // publisher | viewer
  std::string token;
};

// The credentials file: names, roles and the SHA-256 of each token.
inline std::string OperatorCredentialsJson(const std::vector<OperatorToken>& operators) {
  std::string json = "[";
  for (const OperatorToken& op : operators) {
    if (json.size() > 1) json += ",";
    json += "{\"name\":\"" + op.name + "\",\"role\":\"" + op.role + "\",\"token_sha256\":\"" +
            crypto::Sha256Hex(op.token) + "\"}";
  }
  return json + "]";
}

struct PublishOptions {
  std::string token;  // bearer token; empty: none
  std::string description = "test release";
  size_t chunk_bytes = 1 << 20;        // target data per message
  bool commit = true;                  // false: the stream ends without a commit
  int deadline_seconds = 0;            // 0: no deadline
  v1::PublishResponse* response = nullptr;
  // Targets claimed as already stored (sha256 -> length): sent as stored_target messages after
  // the metadata, their content not uploaded unless upload_stored_too.
  std::map<std::string, uint64_t> stored_targets;
  bool upload_stored_too = false;
};

// One Publish stream: the header, every metadata file, the stored-target claims, every target
// not claimed in chunks, the commit.
inline grpc::Status PublishUpload(v1::OperatorService::Stub& stub, const Upload& upload,
                                  const PublishOptions& options = {}) {
  grpc::ClientContext context;
  if (options.deadline_seconds > 0) context.set_deadline(In(options.deadline_seconds));
  if (!options.token.empty()) context.AddMetadata("authorization", "Bearer " + options.token);
  v1::PublishResponse local;
  auto stream = stub.Publish(&context, options.response ? options.response : &local);
  v1::PublishRequest request;
  request.mutable_header()->set_description(options.description);
  stream->Write(request);
  for (const auto& [name, bytes] : upload.metadata) {
    request.Clear();
    request.mutable_metadata()->set_name(name);
    request.mutable_metadata()->set_content(bytes);
    if (!stream->Write(request)) break;
  }
  for (const auto& [sha, length] : options.stored_targets) {
    request.Clear();
    request.mutable_stored_target()->set_sha256(sha);
    request.mutable_stored_target()->set_length(length);
    if (!stream->Write(request)) break;
  }
  for (const auto& [sha, content] : upload.targets) {
    if (options.stored_targets.contains(sha) && !options.upload_stored_too) continue;
    for (size_t offset = 0; offset < content.size() || offset == 0;
         offset += options.chunk_bytes) {
      request.Clear();
      request.mutable_target()->set_sha256(sha);
      request.mutable_target()->set_offset(offset);
      request.mutable_target()->set_data(content.substr(offset, options.chunk_bytes));
      if (!stream->Write(request) || content.empty()) break;
    }
  }
  if (options.commit) {
    request.Clear();
    request.mutable_commit();
    stream->Write(request);
  }
  stream->WritesDone();
  return stream->Finish();
}

// Asks the server for a report nonce in `device_id`'s name.
inline grpc::Status RequestReportNonce(v1::DeviceService::Stub& stub,
                                       const std::string& device_id, std::string* nonce) {
  grpc::ClientContext context;
  context.set_deadline(In(20));
  v1::GetReportNonceRequest request;
  request.set_device_id(device_id);
  v1::ReportNonce response;
  grpc::Status status = stub.GetReportNonce(&context, request, &response);
  *nonce = response.nonce();
  return status;
}

class ServerFixture : public ::testing::Test {
 protected:
  // `prefix` names the test directory.
  explicit ServerFixture(std::string prefix) : prefix_(std::move(prefix)) {}

  // A fresh directory with root.json: version 1 of a simulator whose roles expire in 30 days.
  void SetUp() override {
    dir_ = ::mdu::testing::FreshTestDir(prefix_);
    certs_ = ::mdu::testing::DeviceCerts(dir_);
    sim_ = MakeSim(::mdu::testing::WallNow() + 30 * 86400);
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "root.json", sim_->MetadataFile("1.root.json")));
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // A file of the test directory, which must exist.
  std::string Read(const std::string& name) const {
    auto bytes = io::ReadFileBounded(dir_ / name, 1 << 20);
    EXPECT_TRUE(bytes) << name;
    return bytes ? *bytes : std::string();
  }

  // operators.json: by default alice publishes with "alice-token", bob views with "bob-token".
  void WriteOperators(const std::vector<OperatorToken>& operators = {
                          {"alice", "publisher", "alice-token"}, {"bob", "viewer", "bob-token"}}) {
    ASSERT_TRUE(
        io::WriteFileAtomically(dir_ / "operators.json", OperatorCredentialsJson(operators)));
  }

  // ---- certificates (openssl CLI) ----
  // server-ca and the server's leaf "server" (localhost and 127.0.0.1, serverAuth).
  void MakeServerCertificate() {
    ASSERT_TRUE(certs_.MakeCa("server-ca"));
    ASSERT_TRUE(certs_.MakeLeaf("server", "server-ca", ::mdu::testing::KeyType::kEcdsaP256,
                                "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                "extendedKeyUsage=serverAuth\n"));
  }
  // The server's certificate, device-ca and the devices device-a (P-256) and device-b
  // (`device_b_key`), each a leaf <name>.key/<name>.pem for its own device id.
  void MakeCertificates(
      ::mdu::testing::KeyType device_b_key = ::mdu::testing::KeyType::kEcdsaP256) {
    MakeServerCertificate();
    ASSERT_TRUE(certs_.MakeCa("device-ca"));
    ASSERT_TRUE(certs_.MakeDevice("device-a", "device-ca", ::mdu::testing::KeyType::kEcdsaP256,
                                  "device-a"));
    ASSERT_TRUE(certs_.MakeDevice("device-b", "device-ca", device_b_key, "device-b"));
  }
  // "rogue": claims to be device-a, issued by rogue-ca, a CA the server does not trust.
  void MakeRogueDevice() {
    ASSERT_TRUE(certs_.MakeCa("rogue-ca"));
    ASSERT_TRUE(
        certs_.MakeDevice("rogue", "rogue-ca", ::mdu::testing::KeyType::kEcdsaP256, "device-a"));
  }

  // ---- the server's flags ----
  static std::vector<std::string> InsecureFlags() {
    return {"--listen", "127.0.0.1:0", "--insecure"};
  }
  // TLS with the server's certificate, device certificates from device-ca required, operator
  // tokens from operators.json (on the same listener unless OperatorListenerFlags are added).
  std::vector<std::string> MutualTlsFlags() const {
    return {"--listen",
            "127.0.0.1:0",
            "--tls-cert",
            Path("server.pem"),
            "--tls-key",
            Path("server.key"),
            "--client-ca",
            Path("device-ca.pem"),
            "--operator-credentials",
            Path("operators.json")};
  }
  // A separate operator listener; its port is written to dir_/operator-port.
  std::vector<std::string> OperatorListenerFlags() const {
    return {"--operator-listen", "127.0.0.1:0", "--operator-port-file", Path("operator-port")};
  }
  static std::vector<std::string> Concat(std::vector<std::string> flags,
                                         const std::vector<std::string>& more) {
    flags.insert(flags.end(), more.begin(), more.end());
    return flags;
  }

  // Starts repo-server with `flags`; port_ (and operator_port_ with --operator-port-file) is
  // where it listens.
  void Start(const std::vector<std::string>& flags) {
    std::filesystem::remove(dir_ / "operator-port");
    server_ = std::make_unique<ServerProcess>(dir_, flags);
    port_ = server_->Port();
    ASSERT_NE(port_, 0) << "repo-server did not start";
    operator_port_ = 0;
    if (std::find(flags.begin(), flags.end(), "--operator-port-file") == flags.end()) return;
    for (int i = 0; i < 100 && !std::filesystem::exists(dir_ / "operator-port"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (auto text = io::ReadFileBounded(dir_ / "operator-port", 64); text && !text->empty()) {
      operator_port_ = std::stoi(*text);
    }
  }

  // ---- channels ----
  static std::shared_ptr<grpc::Channel> Insecure(int port) {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                               grpc::InsecureChannelCredentials());
  }
  // TLS to `port` trusting server-ca, presenting `client` (<client>.key + .pem) or, if empty,
  // no certificate.
  std::shared_ptr<grpc::Channel> Tls(int port, const std::string& client) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read("server-ca.pem");
    if (!client.empty()) {
      ssl.pem_private_key = Read(client + ".key");
      ssl.pem_cert_chain = Read(client + ".pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::SslCredentials(ssl), args);
  }

  std::filesystem::path dir_;
  ::mdu::testing::DeviceCerts certs_{""};
  std::unique_ptr<sim::RepositorySimulator> sim_;
  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
  int operator_port_ = 0;

 private:
  std::string prefix_;
};

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_INTEGRATION_SERVER_SERVER_FIXTURE_H_
