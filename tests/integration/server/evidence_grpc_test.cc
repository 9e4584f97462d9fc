// Device evidence against the real repo-server binary with mutual TLS (certificates made by the
// test with the openssl CLI): signed reports are accepted and stored with their signature,
// nonce and certificate; forged signatures, replayed nonces, another device's nonce and a key
// that is not the certificate's are refused; inventories are listed and queried; duplicate ids
// are stored once. Then through the real client-agent: a failed health check appears, signed,
// in the server's device history, also when the server was down at the time of the update; the
// daemon retries its outbox with backoff; the inventory carries the installed release's SBOM hash.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/json/value.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "proto/report_signing.h"
#include "tests/integration/server/server_fixture.h"

extern char** environ;

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using mdu::testing::KeyType;
using Server = testing::ServerProcess;
using testing::In;

class EvidenceTest : public testing::ServerFixture {
 protected:
  EvidenceTest() : ServerFixture("repo_server_evidence") {}

  void SetUp() override {
    ServerFixture::SetUp();
    MakeCertificates(KeyType::kEd25519);  // device-a ECDSA P-256, device-b Ed25519
    // Operators: one viewer token (operator calls go over the same mutual TLS listener).
    WriteOperators({{"bob", "viewer", "bob-token"}});
  }

  void StartMutualTls() { Start(MutualTlsFlags()); }

  std::shared_ptr<grpc::Channel> Channel(const std::string& client) { return Tls(port_, client); }
  std::unique_ptr<v1::DeviceService::Stub> Device(const std::string& client) {
    return v1::DeviceService::NewStub(Channel(client));
  }
  // Operator calls over device-a's TLS identity with the viewer token ("bob-token").
  std::unique_ptr<v1::OperatorService::Stub> Operator() {
    return v1::OperatorService::NewStub(Channel("device-a"));
  }

  std::string Nonce(v1::DeviceService::Stub& stub, const std::string& device_id,
                    grpc::StatusCode expected = grpc::StatusCode::OK) {
    std::string nonce;
    grpc::Status status = testing::RequestReportNonce(stub, device_id, &nonce);
    EXPECT_EQ(status.error_code(), expected) << status.error_message();
    return nonce;
  }

  static v1::InstallationReport Report(const std::string& id, const std::string& device_id) {
    v1::InstallationReport report;
    report.set_report_id(id);
    report.set_device_id(device_id);
    report.set_target("pump/firmware.bin");
    report.set_from_version("1.0");
    report.set_to_version("2.0");
    report.set_phase(v1::INSTALL_PHASE_HEALTH_CHECK);
    report.set_success(false);
    report.set_error_code("health_check_failed");
    report.set_log_excerpt("self test failed");
    return report;
  }

  template <class Message>
  void Sign(Message& message, const std::string& nonce, const std::string& key_name) {
    ASSERT_TRUE(::mdu::testing::SignReport(message, nonce, Read(key_name + ".key")));
  }

  static grpc::Status Send(v1::DeviceService::Stub& stub, const v1::InstallationReport& report,
                           v1::ReportAck* ack = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::ReportAck local;
    return stub.ReportInstallation(&context, report, ack ? ack : &local);
  }

  v1::DeviceHistory History(const std::string& device_id) {
    auto op = Operator();
    grpc::ClientContext context;
    context.set_deadline(In(20));
    context.AddMetadata("authorization", "Bearer bob-token");
    v1::GetDeviceHistoryRequest request;
    request.set_device_id(device_id);
    v1::DeviceHistory history;
    grpc::Status status = op->GetDeviceHistory(&context, request, &history);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return history;
  }

  std::string Fingerprint(const std::string& name) {
    auto cert = evidence::DeviceCertificate::FromPem(certs_.Read(name + ".pem"));
    EXPECT_TRUE(cert);
    return cert ? cert->sha256() : std::string();
  }
};

TEST_F(EvidenceTest, SignedReportIsAcceptedAndStoredWithItsSignature) {
  StartMutualTls();
  for (const std::string device : {"device-a", "device-b"}) {  // ECDSA P-256 and Ed25519
    SCOPED_TRACE(device);
    auto stub = Device(device);
    v1::InstallationReport report = Report("r-" + device, device);
    Sign(report, Nonce(*stub, device), device);
    v1::ReportAck ack;
    grpc::Status status = Send(*stub, report, &ack);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(ack.newly_stored());

    v1::DeviceHistory history = History(device);
    ASSERT_EQ(history.reports_size(), 1);
    const v1::StoredReport& stored = history.reports(0);
    EXPECT_EQ(stored.evidence(), v1::EVIDENCE_VERIFIED);
    EXPECT_EQ(stored.report().signature(), report.signature());
    EXPECT_EQ(stored.report().nonce(), report.nonce());
    EXPECT_EQ(stored.certificate_sha256(), Fingerprint(device));
    // The stored evidence re-verifies offline with the stored certificate.
    auto cert = evidence::DeviceCertificate::FromPem(stored.device_certificate());
    ASSERT_TRUE(cert);
    EXPECT_TRUE(
        cert->Verify(evidence::SigningPayload(stored.report()), stored.report().signature()));
  }
}

TEST_F(EvidenceTest, UnsignedReportIsRefusedUnderMutualTls) {
  StartMutualTls();
  auto stub = Device("device-a");
  grpc::Status status = Send(*stub, Report("r-1", "device-a"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("not signed"), std::string::npos) << status.error_message();
}

TEST_F(EvidenceTest, ForgedSignatureIsRefused) {
  StartMutualTls();
  auto stub = Device("device-a");
  v1::InstallationReport report = Report("r-1", "device-a");
  Sign(report, Nonce(*stub, "device-a"), "device-a");
  report.set_success(true);  // the network changed the outcome after signing
  grpc::Status status = Send(*stub, report);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("does not verify"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(History("device-a").reports_size(), 0);
}

TEST_F(EvidenceTest, ReplayedNonceIsRefused) {
  StartMutualTls();
  auto stub = Device("device-a");
  v1::InstallationReport report = Report("r-1", "device-a");
  Sign(report, Nonce(*stub, "device-a"), "device-a");
  ASSERT_TRUE(Send(*stub, report).ok());
  // The captured signed report replayed as is, and a new report over the spent nonce.
  grpc::Status replay = Send(*stub, report);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::PERMISSION_DENIED) << replay.error_message();
  v1::InstallationReport second = Report("r-2", "device-a");
  Sign(second, report.nonce(), "device-a");
  grpc::Status reused = Send(*stub, second);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(reused.error_message().find("unknown report nonce"), std::string::npos)
      << reused.error_message();
  EXPECT_EQ(History("device-a").reports_size(), 1);
}

TEST_F(EvidenceTest, AnotherDevicesNonceIsRefused) {
  StartMutualTls();
  auto a = Device("device-a");
  auto b = Device("device-b");
  Nonce(*a, "device-b", grpc::StatusCode::PERMISSION_DENIED);  // cannot ask in b's name
  const std::string b_nonce = Nonce(*b, "device-b");
  v1::InstallationReport report = Report("r-1", "device-a");
  Sign(report, b_nonce, "device-a");
  grpc::Status status = Send(*a, report);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("issued to device device-b"), std::string::npos)
      << status.error_message();
}

TEST_F(EvidenceTest, ReportSignedByAKeyThatIsNotTheCertificatesIsRefused) {
  StartMutualTls();
  auto a = Device("device-a");
  v1::InstallationReport report = Report("r-1", "device-a");
  Sign(report, Nonce(*a, "device-a"), "device-b");  // a valid signature, by the wrong key
  grpc::Status status = Send(*a, report);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_EQ(History("device-a").reports_size(), 0);
}

TEST_F(EvidenceTest, DuplicateReportIdsAreStoredOnce) {
  StartMutualTls();
  auto stub = Device("device-a");
  v1::InstallationReport report = Report("r-1", "device-a");
  Sign(report, Nonce(*stub, "device-a"), "device-a");
  v1::ReportAck ack;
  ASSERT_TRUE(Send(*stub, report, &ack).ok());
  EXPECT_TRUE(ack.newly_stored());
  v1::InstallationReport resend = Report("r-1", "device-a");
  resend.set_log_excerpt("a different text under the same id");
  Sign(resend, Nonce(*stub, "device-a"), "device-a");
  ASSERT_TRUE(Send(*stub, resend, &ack).ok());
  EXPECT_FALSE(ack.newly_stored());
  v1::DeviceHistory history = History("device-a");
  ASSERT_EQ(history.reports_size(), 1);
  EXPECT_EQ(history.reports(0).report().log_excerpt(), "self test failed");  // the first copy
}

// Concurrent signed reports go through the group commit (repo-server/report_writer.h): every
// call is answered after its batch is synced, each id is stored once and acknowledged as new
// exactly once, however the copies of one id fall into batches.
TEST_F(EvidenceTest, ConcurrentReportsWithDuplicateIdsAreStoredOnceThroughGroupCommit) {
  StartMutualTls();
  constexpr int kThreads = 8;
  constexpr int kIds = 5;  // 8 x 5 x (nonce + report) calls: within device-a's default burst
  std::atomic<int> ok{0}, newly{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = Device("device-a");
      for (int i = 0; i < kIds; ++i) {
        v1::InstallationReport report = Report("r-" + std::to_string((i + t) % kIds), "device-a");
        report.set_log_excerpt("copy from thread " + std::to_string(t));
        Sign(report, Nonce(*stub, "device-a"), "device-a");
        v1::ReportAck ack;
        grpc::Status status = Send(*stub, report, &ack);
        EXPECT_TRUE(status.ok()) << status.error_message();
        if (status.ok()) ++ok;
        if (ack.newly_stored()) ++newly;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kIds);
  EXPECT_EQ(newly.load(), kIds);
  v1::DeviceHistory history = History("device-a");
  ASSERT_EQ(history.reports_size(), kIds);
  for (const auto& stored : history.reports()) {
    EXPECT_EQ(stored.evidence(), v1::EVIDENCE_VERIFIED);
  }
}

TEST_F(EvidenceTest, InventoryIsListedAndDevicesAreFoundByComponent) {
  StartMutualTls();
  const std::string sbom(64, 'b');
  for (const std::string device : {"device-a", "device-b"}) {
    auto stub = Device(device);
    v1::InventoryReport inventory;
    inventory.set_report_id("inv-" + device);
    inventory.set_device_id(device);
    v1::InstalledTarget* fw = inventory.add_installed();
    fw->set_name("pump/firmware.bin");
    fw->set_version(device == "device-a" ? "2.0" : "2.1");
    fw->set_security_version(device == "device-a" ? 3 : 4);
    fw->set_sha256(std::string(64, device == "device-a" ? 'a' : 'c'));
    if (device == "device-a") fw->set_sbom_sha256(sbom);
    Sign(inventory, Nonce(*stub, device), device);
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::ReportAck ack;
    grpc::Status status = stub->ReportInventory(&context, inventory, &ack);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  auto op = Operator();
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer bob-token");
    v1::ListDevicesResponse devices;
    ASSERT_TRUE(op->ListDevices(&context, v1::ListDevicesRequest(), &devices).ok());
    ASSERT_EQ(devices.devices_size(), 2);
    const v1::DeviceSummary& a = devices.devices(0);
    EXPECT_EQ(a.device_id(), "device-a");
    ASSERT_EQ(a.installed_size(), 1);
    EXPECT_EQ(a.installed(0).version(), "2.0");
    EXPECT_EQ(a.installed(0).security_version(), 3);
    EXPECT_EQ(a.installed(0).sbom_sha256(), sbom);
    EXPECT_GT(a.inventory_time(), 0);
    EXPECT_EQ(a.certificate_sha256(), Fingerprint("device-a"));
  }
  auto find = [&](v1::FindDevicesRequest request) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer bob-token");
    v1::ListDevicesResponse found;
    grpc::Status status = op->FindDevices(&context, request, &found);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const auto& device : found.devices()) ids.push_back(device.device_id());
    return ids;
  };
  v1::FindDevicesRequest by_sbom;
  by_sbom.set_sbom_sha256(sbom);
  EXPECT_EQ(find(by_sbom), std::vector<std::string>{"device-a"});
  v1::FindDevicesRequest by_version;
  by_version.set_target("pump/firmware.bin");
  by_version.set_version("2.1");
  EXPECT_EQ(find(by_version), std::vector<std::string>{"device-b"});
  v1::FindDevicesRequest by_target;
  by_target.set_target("pump/firmware.bin");
  EXPECT_EQ(find(by_target), (std::vector<std::string>{"device-a", "device-b"}));
  v1::FindDevicesRequest nothing;
  nothing.set_target("other");
  EXPECT_TRUE(find(nothing).empty());
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer bob-token");
  v1::ListDevicesResponse found;
  EXPECT_EQ(op->FindDevices(&context, v1::FindDevicesRequest(), &found).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EvidenceTest, SignedSecurityEventAppearsInTheDeviceHistory) {
  StartMutualTls();
  auto stub = Device("device-b");
  v1::SecurityEvent event;
  event.set_event_id("ev-1");
  event.set_device_id("device-b");
  event.set_kind("bad_version");
  event.set_subject("snapshot");
  Sign(event, Nonce(*stub, "device-b"), "device-b");
  grpc::ClientContext context;
  context.set_deadline(In(20));
  v1::ReportAck ack;
  ASSERT_TRUE(stub->ReportSecurityEvent(&context, event, &ack).ok());
  v1::DeviceHistory history = History("device-b");
  ASSERT_EQ(history.security_events_size(), 1);
  EXPECT_EQ(history.security_events(0).event().kind(), "bad_version");
  EXPECT_EQ(history.security_events(0).evidence(), v1::EVIDENCE_VERIFIED);
}

TEST_F(EvidenceTest, WithoutMutualTlsReportsAreStoredUnverified) {
  Start(InsecureFlags());
  auto channel = Insecure(port_);
  auto stub = v1::DeviceService::NewStub(channel);
  ASSERT_TRUE(Send(*stub, Report("r-1", "device-a")).ok());
  auto op = v1::OperatorService::NewStub(channel);
  grpc::ClientContext context;
  v1::GetDeviceHistoryRequest request;
  request.set_device_id("device-a");
  v1::DeviceHistory history;
  ASSERT_TRUE(op->GetDeviceHistory(&context, request, &history).ok());
  ASSERT_EQ(history.reports_size(), 1);
  EXPECT_EQ(history.reports(0).evidence(), v1::EVIDENCE_UNVERIFIED);
  EXPECT_TRUE(history.reports(0).certificate_sha256().empty());
}

// ---- through the real client-agent ----

class AgentEvidenceTest : public EvidenceTest {
 protected:
  // client-agent update against the python-tuf reference repository (manifest.txt, hardware
  // pump-x1) with a failing health check, reporting to the server on `port`.
  int RunAgent(const std::vector<std::string>& command, int port) {
    return Server::WaitPid(Server::Spawn(AgentArgs(command, port)));
  }
  std::vector<std::string> AgentArgs(const std::vector<std::string>& command, int port) {
    const fs::path& repo = agent_repo_;
    std::vector<std::string> args = {MDU_CLIENT_AGENT,
                                     "--metadata-dir",
                                     (dir_ / "md").string(),
                                     "--metadata-url",
                                     "file://" + (repo / "metadata").string(),
                                     "--target-base-url",
                                     "file://" + (repo / "targets").string(),
                                     "--state-dir",
                                     (dir_ / "state").string(),
                                     "--install-root",
                                     (dir_ / "install").string(),
                                     "--hardware-id",
                                     agent_hardware_id_,
                                     "--health-check",
                                     agent_health_check_,
                                     "--report-server",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--report-server-name",
                                     "localhost",
                                     "--device-cert",
                                     certs_.Path("device-a.pem"),
                                     "--device-key",
                                     certs_.Path("device-a.key"),
                                     "--ca-cert",
                                     certs_.Path("server-ca.pem")};
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }
  void InitAgent() {
    const fs::path root = agent_repo_ / "metadata" / "1.root.json";
    pid_t pid = Server::Spawn(
        {MDU_CLIENT_AGENT, "--metadata-dir", (dir_ / "md").string(), "init", root.string()});
    ASSERT_EQ(Server::WaitPid(pid), 0);
  }
  size_t OutboxFiles() {
    size_t n = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ / "state" / "outbox", ec)) {
      n += entry.path().extension() == ".report";
    }
    return n;
  }
  void ExpectHealthCheckFailureInHistory() {
    v1::DeviceHistory history = History("device-a");
    ASSERT_EQ(history.reports_size(), 1);
    const v1::StoredReport& stored = history.reports(0);
    EXPECT_EQ(stored.report().error_code(), "health_check_failed");
    EXPECT_EQ(stored.report().phase(), v1::INSTALL_PHASE_HEALTH_CHECK);
    EXPECT_FALSE(stored.report().success());
    EXPECT_EQ(stored.report().target(), "manifest.txt");
    EXPECT_EQ(stored.evidence(), v1::EVIDENCE_VERIFIED);
    EXPECT_EQ(stored.certificate_sha256(), Fingerprint("device-a"));
  }
  v1::ListDevicesResponse Devices() {
    auto op = Operator();
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer bob-token");
    v1::ListDevicesResponse devices;
    grpc::Status status = op->ListDevices(&context, v1::ListDevicesRequest(), &devices);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return devices;
  }

  // The agent's repository, hardware id and health check (AgentArgs).
  fs::path agent_repo_ = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";
  std::string agent_hardware_id_ = "pump-x1";
  std::string agent_health_check_ = "exit 3";
};

TEST_F(AgentEvidenceTest, FailedHealthCheckAppearsSignedInTheDeviceHistory) {
  StartMutualTls();
  InitAgent();
  EXPECT_EQ(RunAgent({"update"}, port_), 1);  // rolled back
  ExpectHealthCheckFailureInHistory();
  EXPECT_EQ(OutboxFiles(), 0u);
  // The inventory came along (nothing installed after the rollback of a first install).
  auto op = Operator();
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer bob-token");
  v1::ListDevicesResponse devices;
  ASSERT_TRUE(op->ListDevices(&context, v1::ListDevicesRequest(), &devices).ok());
  ASSERT_EQ(devices.devices_size(), 1);
  EXPECT_GT(devices.devices(0).inventory_time(), 0);
}

TEST_F(AgentEvidenceTest, ReportsWaitInTheOutboxWhileTheServerIsDownThenArriveOnce) {
  InitAgent();
  // Reserve a port, then start nothing on it: the report server is down during the update.
  StartMutualTls();
  const int port = port_;
  server_.reset();
  EXPECT_EQ(RunAgent({"update"}, port), 1);
  EXPECT_EQ(OutboxFiles(), 2u);  // the outcome and the inventory
  // Server back (same data directory, new port): flush delivers, a second flush sends nothing.
  StartMutualTls();
  EXPECT_EQ(RunAgent({"report", "flush"}, port_), 0);
  EXPECT_EQ(OutboxFiles(), 0u);
  EXPECT_EQ(RunAgent({"report", "flush"}, port_), 0);
  ExpectHealthCheckFailureInHistory();
}

TEST_F(AgentEvidenceTest, DaemonRetriesTheOutboxWithBackoffUntilTheServerIsBack) {
  InitAgent();
  // Reserve a port, then start nothing on it: the report server is down when the daemon starts.
  StartMutualTls();
  const int port = port_;
  server_.reset();
  // One update cycle an hour, so reports arriving later came from the backoff retries (1 s).
  ASSERT_TRUE(io::WriteFileAtomically(
      dir_ / "agent.json", R"({"poll": {"interval_s": 3600, "jitter_s": 0, "max_backoff_s": 1}})"));
  const pid_t daemon =
      Server::Spawn(AgentArgs({"--config", (dir_ / "agent.json").string(), "run"}, port));
  // The inventory at start, the rolled-back install and the inventory after it wait.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (OutboxFiles() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(OutboxFiles(), 3u);
  std::vector<std::string> flags = MutualTlsFlags();
  flags[1] = "127.0.0.1:" + std::to_string(port);  // back on the port the daemon uses
  Start(flags);
  ASSERT_EQ(port_, port);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (OutboxFiles() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(OutboxFiles(), 0u);
  ::kill(daemon, SIGTERM);
  EXPECT_EQ(Server::WaitPid(daemon), 0);
  ExpectHealthCheckFailureInHistory();  // exactly one: nothing lost, nothing sent twice
  const v1::ListDevicesResponse devices = Devices();
  ASSERT_EQ(devices.devices_size(), 1);
  EXPECT_GT(devices.devices(0).inventory_time(), 0);
}

TEST_F(AgentEvidenceTest, InventoryCarriesTheSbomHashAndTheDeviceIsFoundByIt) {
  // A release whose signed custom metadata references its SBOM target (signer add-target --sbom).
  const std::string sbom = R"({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})";
  const std::string sbom_sha256 = crypto::Sha256Hex(sbom);
  sim_->AddTarget("targets", "pump/fw.bin.sbom.json", sbom,
                  json::Value::MakeObject({{"sbom_for", "pump/fw.bin"}}));
  sim_->AddTarget("targets", "pump/fw.bin", "firmware 2.0\n",
                  json::Value::MakeObject(
                      {{"version", "2.0.0"},
                       {"security_version", 3},
                       {"hardware_ids", json::Array{json::Value("pump-x2")}},
                       {"sbom", json::Value::MakeObject({{"name", "pump/fw.bin.sbom.json"},
                                                         {"sha256", sbom_sha256}})}}));
  sim_->UpdateSnapshot();
  agent_repo_ = dir_ / "agent-repo";
  for (const auto& [path, bytes] : sim_->files) {
    fs::create_directories((agent_repo_ / path).parent_path());
    ASSERT_TRUE(io::WriteFileAtomically(agent_repo_ / path, bytes));
  }
  agent_hardware_id_ = "pump-x2";
  agent_health_check_ = "exit 0";
  StartMutualTls();
  InitAgent();
  EXPECT_EQ(RunAgent({"--target-name", "pump/fw.bin", "update"}, port_), 0);
  EXPECT_EQ(OutboxFiles(), 0u);

  const v1::ListDevicesResponse devices = Devices();
  ASSERT_EQ(devices.devices_size(), 1);
  ASSERT_EQ(devices.devices(0).installed_size(), 1);
  const v1::InstalledTarget& installed = devices.devices(0).installed(0);
  EXPECT_EQ(installed.name(), "pump/fw.bin");
  EXPECT_EQ(installed.version(), "2.0.0");
  EXPECT_EQ(installed.security_version(), 3);
  EXPECT_EQ(installed.sha256(), crypto::Sha256Hex("firmware 2.0\n"));
  EXPECT_EQ(installed.sbom_sha256(), sbom_sha256);

  auto op = Operator();
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer bob-token");
  v1::FindDevicesRequest by_sbom;
  by_sbom.set_sbom_sha256(sbom_sha256);
  v1::ListDevicesResponse found;
  ASSERT_TRUE(op->FindDevices(&context, by_sbom, &found).ok());
  ASSERT_EQ(found.devices_size(), 1);
  EXPECT_EQ(found.devices(0).device_id(), "device-a");
}

}  // namespace
}  // namespace mdu::server
