// The real repo-server binary, started on an ephemeral loopback port, driven through gRPC:
// publish, fetch every role, resume a target download, reports, rejected publishes, restart.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/io/file.h"
#include "core/trust/trusted_set.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/integration/server/server_fixture.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::Content;
using testing::LatestUpload;
using testing::ServerProcess;
using testing::Upload;

constexpr uint64_t kMiB = 1u << 20;

using ::mdu::testing::WallNow;

class ServerTest : public testing::ServerFixture {
 protected:
  ServerTest() : ServerFixture("repo_server") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerFixture::SetUp());
    Start();
  }
  void TearDown() override {
    device_.reset();
    operator_.reset();
    channel_.reset();
    ServerFixture::TearDown();
  }

  // Starts the server (plaintext loopback, then `extra_args`) and connects the stubs.
  void Start(const std::vector<std::string>& extra_args = {}) {
    ASSERT_NO_FATAL_FAILURE(ServerFixture::Start(Concat(InsecureFlags(), extra_args)));
    channel_ = Insecure(port_);
    device_ = v1::DeviceService::NewStub(channel_);
    operator_ = v1::OperatorService::NewStub(channel_);
  }

  grpc::Status Publish(const Upload& upload, v1::PublishResponse* response = nullptr,
                       bool commit = true) {
    testing::PublishOptions options;
    options.response = response;
    options.commit = commit;
    return testing::PublishUpload(*operator_, upload, options);
  }

  grpc::Status GetMetadata(const std::string& role, int64_t version, std::string* content) {
    grpc::ClientContext context;
    v1::GetMetadataRequest request;
    request.set_role(role);
    request.set_version(version);
    v1::GetMetadataResponse response;
    grpc::Status status = device_->GetMetadata(&context, request, &response);
    *content = response.content();
    return status;
  }

  std::string Metadata(const std::string& role, int64_t version) {
    std::string content;
    grpc::Status status = GetMetadata(role, version, &content);
    EXPECT_TRUE(status.ok()) << role << " " << version << ": " << status.error_message();
    return content;
  }

  // Downloads a target from `offset`; checks chunk sizes and offsets on the way.
  grpc::Status Download(v1::GetTargetRequest request, std::string* out) {
    grpc::ClientContext context;
    auto reader = device_->GetTarget(&context, request);
    v1::TargetChunk chunk;
    uint64_t expected = request.offset();
    while (reader->Read(&chunk)) {
      EXPECT_LE(chunk.data().size(), kMiB);
      EXPECT_EQ(chunk.offset(), expected);
      expected += chunk.data().size();
      *out += chunk.data();
    }
    return reader->Finish();
  }

  v1::RepositoryStatus Status() {
    grpc::ClientContext context;
    v1::RepositoryStatus status;
    EXPECT_TRUE(operator_->GetRepositoryStatus(&context, {}, &status).ok());
    return status;
  }

  grpc::Status Report(const std::string& id, const std::string& device, const std::string& release,
                      bool success, bool* newly_stored = nullptr) {
    grpc::ClientContext context;
    v1::InstallationReport report;
    report.set_report_id(id);
    report.set_device_id(device);
    report.set_target("pump/fw.bin");
    report.set_from_version("1.0");
    report.set_to_version(release);
    report.set_phase(success ? v1::INSTALL_PHASE_COMPLETE : v1::INSTALL_PHASE_HEALTH_CHECK);
    report.set_success(success);
    report.set_error_code(success ? "" : "health_check_failed");
    report.set_log_excerpt("log of " + id);
    v1::ReportAck ack;
    grpc::Status status = device_->ReportInstallation(&context, report, &ack);
    if (newly_stored != nullptr) *newly_stored = ack.newly_stored();
    return status;
  }

  // Publishes `upload`, expects `code`, and checks that the repository did not change.
  void ExpectRejected(const Upload& upload, grpc::StatusCode code) {
    std::string timestamp_before = Metadata("timestamp", 0);
    std::string status_before = Status().SerializeAsString();
    grpc::Status status = Publish(upload);
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_FALSE(status.error_message().empty());
    EXPECT_EQ(Metadata("timestamp", 0), timestamp_before);
    EXPECT_EQ(Status().SerializeAsString(), status_before);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DeviceService::Stub> device_;
  std::unique_ptr<v1::OperatorService::Stub> operator_;
};

TEST_F(ServerTest, EmptyServerHasNoMetadata) {
  std::string content;
  EXPECT_EQ(GetMetadata("timestamp", 0, &content).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(Status().initialized());
}

TEST_F(ServerTest, PublishesAndServesEveryRoleByteForByte) {
  sim_->AddDelegation("targets", "pumps", {"pump/*"});
  sim_->Role("pumps").common.expires = sim_->root.common.expires;
  sim_->AddTarget("pumps", "pump/fw.bin", Content(1000, 1));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  v1::PublishResponse response;
  grpc::Status status = Publish(LatestUpload(*sim_), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.targets_stored(), 1u);

  const int64_t snapshot = sim_->snapshot.common.version;
  EXPECT_EQ(Metadata("root", 1), sim_->MetadataFile("1.root.json"));
  EXPECT_EQ(Metadata("root", 0), sim_->MetadataFile("1.root.json"));
  EXPECT_EQ(Metadata("timestamp", 0), sim_->MetadataFile("timestamp.json"));
  EXPECT_EQ(Metadata("snapshot", snapshot),
            sim_->MetadataFile(std::to_string(snapshot) + ".snapshot.json"));
  EXPECT_EQ(Metadata("targets", 2), sim_->MetadataFile("2.targets.json"));
  EXPECT_EQ(Metadata("pumps", 1), sim_->MetadataFile("1.pumps.json"));

  std::string content;
  EXPECT_EQ(GetMetadata("root", 2, &content).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetMetadata("../x", 0, &content).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetMetadata("timestamp", 3, &content).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::RepositoryStatus repo = Status();
  EXPECT_TRUE(repo.initialized());
  EXPECT_EQ(repo.target_count(), 1u);
  std::map<std::string, int64_t> versions;
  for (const auto& role : repo.roles()) versions[role.role()] = role.version();
  EXPECT_EQ(versions,
            (std::map<std::string, int64_t>{{"pumps", 1},
                                            {"root", 1},
                                            {"snapshot", snapshot},
                                            {"targets", 2},
                                            {"timestamp", sim_->timestamp.common.version}}));
}

TEST_F(ServerTest, ResumesATargetDownloadFromAnOffset) {
  const std::string blob = Content(3 * kMiB + 12345, 7);
  sim_->AddTarget("targets", "pump/fw-2.0.bin", blob);
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());

  v1::GetTargetRequest by_path;
  by_path.set_path("pump/fw-2.0.bin");
  std::string whole;
  ASSERT_TRUE(Download(by_path, &whole).ok());
  EXPECT_EQ(whole, blob);

  // Interrupted after 1.5 MiB + 3 bytes: resume by consistent-snapshot name.
  const uint64_t offset = kMiB + kMiB / 2 + 3;
  v1::GetTargetRequest resume;
  resume.set_sha256(crypto::Sha256Hex(blob) + ".fw-2.0.bin");
  resume.set_offset(offset);
  std::string rest;
  ASSERT_TRUE(Download(resume, &rest).ok());
  EXPECT_EQ(whole.substr(0, offset) + rest, blob);

  resume.set_offset(blob.size());
  std::string nothing;
  ASSERT_TRUE(Download(resume, &nothing).ok());
  EXPECT_TRUE(nothing.empty());
  resume.set_offset(blob.size() + 1);
  EXPECT_EQ(Download(resume, &nothing).error_code(), grpc::StatusCode::OUT_OF_RANGE);

  v1::GetTargetRequest missing;
  missing.set_path("pump/none.bin");
  EXPECT_EQ(Download(missing, &nothing).error_code(), grpc::StatusCode::NOT_FOUND);
  missing.set_path("../etc/passwd");
  EXPECT_EQ(Download(missing, &nothing).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Every offset class: 0, inside the first chunk, just before/at/after a chunk boundary, the
// start of the last (partial) chunk, its last byte, the end. The first message carries
// total_length and runs to the next chunk boundary; the others are whole chunks but the last.
TEST_F(ServerTest, StreamsChunksFromOffsetsAtAndBetweenChunkBoundaries) {
  const std::string blob = Content(3 * kMiB + 12345, 11);
  sim_->AddTarget("targets", "pump/fw-3.0.bin", blob);
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());

  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, kMiB - 1, kMiB, kMiB + 1, 3 * kMiB,
                          blob.size() - 1, uint64_t{blob.size()}}) {
    SCOPED_TRACE("offset " + std::to_string(offset));
    v1::GetTargetRequest request;
    request.set_path("pump/fw-3.0.bin");
    request.set_offset(offset);
    grpc::ClientContext context;
    auto reader = device_->GetTarget(&context, request);
    std::vector<v1::TargetChunk> chunks;
    v1::TargetChunk chunk;
    while (reader->Read(&chunk)) chunks.push_back(chunk);
    ASSERT_TRUE(reader->Finish().ok());
    ASSERT_FALSE(chunks.empty());
    EXPECT_EQ(chunks.front().total_length(), blob.size());
    std::string received;
    uint64_t expected = offset;
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i > 0) {
        EXPECT_EQ(chunks[i].total_length(), 0u) << "total_length on chunk " << i;
      }
      EXPECT_EQ(chunks[i].offset(), expected);
      const uint64_t boundary = std::min<uint64_t>((expected / kMiB + 1) * kMiB, blob.size());
      EXPECT_EQ(chunks[i].data().size(), boundary - expected) << "chunk " << i;
      expected += chunks[i].data().size();
      received += chunks[i].data();
    }
    EXPECT_EQ(received, blob.substr(offset));
    // At the end: one message with the length and no data.
    if (offset == blob.size()) {
      EXPECT_EQ(chunks.size(), 1u);
    }
  }
}

// Streams that end early (cancelled after 0, 1 or 3 chunks while the server reads ahead and
// waits on a small flow-control window; a client deadline passing mid-stream) end with
// CANCELLED / DEADLINE_EXCEEDED; the server goes on serving and stops cleanly (under the
// sanitizers a leaked stream or chunk fails the exit code).
TEST_F(ServerTest, CancelledTargetStreamsEndAndTheServerKeepsServing) {
  const std::string blob = Content(12 * kMiB + 7, 12);
  sim_->AddTarget("targets", "pump/big.bin", blob);
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  v1::GetTargetRequest request;
  request.set_path("pump/big.bin");

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 65535);
  args.SetInt("mdu.test.separate_connection", 1);
  auto slow = v1::DeviceService::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(server_->Port()), grpc::InsecureChannelCredentials(), args));
  for (int before_cancel : {0, 1, 3}) {
    SCOPED_TRACE("cancelled after " + std::to_string(before_cancel) + " chunks");
    grpc::ClientContext context;
    auto reader = slow->GetTarget(&context, request);
    v1::TargetChunk chunk;
    for (int i = 0; i < before_cancel; ++i) ASSERT_TRUE(reader->Read(&chunk));
    context.TryCancel();
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    auto reader = slow->GetTarget(&context, request);
    v1::TargetChunk chunk;
    reader->Read(&chunk);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // not reading: window full
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  std::string whole;
  ASSERT_TRUE(Download(request, &whole).ok());
  EXPECT_TRUE(whole == blob);
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(ServerTest, DuplicateReportIdsAreStoredOnceAndListed) {
  bool fresh = false;
  ASSERT_TRUE(Report("r-1", "pump-001", "2.0", true, &fresh).ok());
  EXPECT_TRUE(fresh);
  ASSERT_TRUE(Report("r-1", "pump-001", "2.0", true, &fresh).ok());  // a retry
  EXPECT_FALSE(fresh);
  ASSERT_TRUE(Report("r-2", "pump-002", "2.0", false).ok());
  ASSERT_TRUE(Report("r-3", "pump-003", "2.1", false).ok());
  ASSERT_TRUE(Report("r-4", "pump-001", "2.1", true).ok());
  EXPECT_EQ(Report("bad id!", "pump-001", "2.1", true).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext history_context;
  v1::GetDeviceHistoryRequest history_request;
  history_request.set_device_id("pump-001");
  v1::DeviceHistory history;
  ASSERT_TRUE(operator_->GetDeviceHistory(&history_context, history_request, &history).ok());
  ASSERT_EQ(history.reports_size(), 2);
  EXPECT_EQ(history.reports(0).report().report_id(), "r-1");
  EXPECT_EQ(history.reports(0).report().log_excerpt(), "log of r-1");
  EXPECT_EQ(history.reports(1).report().report_id(), "r-4");

  grpc::ClientContext failures_context;
  v1::ListFailuresRequest failures_request;
  failures_request.set_release("2.0");
  v1::ListFailuresResponse failures;
  ASSERT_TRUE(operator_->ListFailures(&failures_context, failures_request, &failures).ok());
  ASSERT_EQ(failures.reports_size(), 1);
  EXPECT_EQ(failures.reports(0).report().device_id(), "pump-002");
  EXPECT_EQ(failures.reports(0).report().error_code(), "health_check_failed");

  grpc::ClientContext devices_context;
  v1::ListDevicesResponse devices;
  ASSERT_TRUE(operator_->ListDevices(&devices_context, {}, &devices).ok());
  ASSERT_EQ(devices.devices_size(), 3);
  EXPECT_EQ(devices.devices(0).device_id(), "pump-001");
  EXPECT_EQ(devices.devices(0).installed_version(), "2.1");
  EXPECT_EQ(devices.devices(0).last_phase(), v1::INSTALL_PHASE_COMPLETE);
  EXPECT_EQ(devices.devices(1).installed_version(), "");
  EXPECT_FALSE(devices.devices(1).last_success());

  grpc::ClientContext event_context;
  v1::SecurityEvent event;
  event.set_event_id("e-1");
  event.set_device_id("pump-002");
  event.set_kind("bad_version");
  v1::ReportAck ack;
  ASSERT_TRUE(device_->ReportSecurityEvent(&event_context, event, &ack).ok());
  EXPECT_TRUE(ack.newly_stored());
}

TEST_F(ServerTest, RejectedPublishesLeaveTheRepositoryUnchanged) {
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  Upload old = LatestUpload(*sim_);

  // Lower version.
  sim_->UpdateSnapshot();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  ExpectRejected(old, grpc::StatusCode::FAILED_PRECONDITION);

  // Missing signature.
  auto saved_signers = sim_->signers["targets"];
  sim_->signers["targets"].clear();
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ExpectRejected(LatestUpload(*sim_), grpc::StatusCode::FAILED_PRECONDITION);
  sim_->signers["targets"] = saved_signers;

  // Broken root chain: 3.root.json without 2.root.json.
  sim_->BumpRoot();
  std::string root2 = sim_->MetadataFile("2.root.json");
  sim_->BumpRoot();
  sim_->UpdateSnapshot();
  Upload broken = LatestUpload(*sim_, 1);
  broken.metadata.erase("2.root.json");
  ExpectRejected(broken, grpc::StatusCode::FAILED_PRECONDITION);

  // Mismatching target hash.
  sim_->AddTarget("targets", "fw.bin", Content(4000, 9));
  sim_->Role("targets").common.version = 3;
  sim_->UpdateSnapshot();
  Upload mismatch = LatestUpload(*sim_, 1);
  std::string evil = Content(4000, 10);
  mismatch.targets = {{crypto::Sha256Hex(evil), evil}};
  ExpectRejected(mismatch, grpc::StatusCode::FAILED_PRECONDITION);

  // Snapshot naming a targets version that was not uploaded.
  Upload wrong_version = LatestUpload(*sim_, 1);
  wrong_version.metadata.erase("3.targets.json");
  ExpectRejected(wrong_version, grpc::StatusCode::FAILED_PRECONDITION);

  // Malformed metadata.
  Upload garbage = LatestUpload(*sim_, 1);
  garbage.metadata["timestamp.json"] = "{not json";
  ExpectRejected(garbage, grpc::StatusCode::INVALID_ARGUMENT);

  // After all that, the good publish still goes through.
  v1::PublishResponse response;
  grpc::Status status = Publish(LatestUpload(*sim_, 1), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Metadata("root", 0), sim_->MetadataFile("3.root.json"));
  EXPECT_EQ(Metadata("root", 2), root2);
}

TEST_F(ServerTest, APublishWithoutCommitChangesNothing) {
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  sim_->AddTarget("targets", "fw.bin", Content(2 * kMiB, 3));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  std::string before = Metadata("timestamp", 0);
  EXPECT_EQ(Publish(LatestUpload(*sim_), nullptr, /*commit=*/false).error_code(),
            grpc::StatusCode::CANCELLED);
  EXPECT_EQ(Metadata("timestamp", 0), before);
  EXPECT_EQ(Status().target_count(), 0u);
}

TEST_F(ServerTest, KillDuringALargePublishLeavesTheOldRepository) {
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  const std::string old_timestamp = Metadata("timestamp", 0);
  const std::string blob = Content(24 * kMiB, 12);
  sim_->AddTarget("targets", "big.bin", blob);
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  Upload upload = LatestUpload(*sim_);
  {
    grpc::ClientContext context;
    v1::PublishResponse response;
    auto stream = operator_->Publish(&context, &response);
    v1::PublishRequest request;
    request.mutable_header();
    stream->Write(request);
    for (const auto& [name, bytes] : upload.metadata) {
      request.Clear();
      request.mutable_metadata()->set_name(name);
      request.mutable_metadata()->set_content(bytes);
      stream->Write(request);
    }
    for (uint64_t offset = 0; offset < blob.size(); offset += kMiB) {
      if (offset == 8 * kMiB) server_->Kill();
      request.Clear();
      request.mutable_target()->set_sha256(crypto::Sha256Hex(blob));
      request.mutable_target()->set_offset(offset);
      request.mutable_target()->set_data(blob.substr(offset, kMiB));
      if (!stream->Write(request)) break;
    }
    EXPECT_FALSE(stream->Finish().ok());
  }
  Start();
  EXPECT_EQ(Metadata("timestamp", 0), old_timestamp);
  EXPECT_EQ(Status().target_count(), 0u);
  grpc::Status status = Publish(upload);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Metadata("timestamp", 0), sim_->MetadataFile("timestamp.json"));
  EXPECT_EQ(Status().target_count(), 1u);
}

TEST_F(ServerTest, RestartServesTheSameRepository) {
  sim_->AddTarget("targets", "fw.bin", Content(kMiB + 1, 4));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  ASSERT_TRUE(Report("r-1", "pump-001", "2.0", true).ok());
  std::string timestamp = Metadata("timestamp", 0);
  EXPECT_EQ(server_->Stop(), 0);  // SIGTERM: graceful
  Start();
  EXPECT_EQ(Metadata("timestamp", 0), timestamp);
  v1::GetTargetRequest request;
  request.set_path("fw.bin");
  std::string content;
  ASSERT_TRUE(Download(request, &content).ok());
  EXPECT_EQ(content, Content(kMiB + 1, 4));
  bool fresh = true;
  ASSERT_TRUE(Report("r-1", "pump-001", "2.0", true, &fresh).ok());
  EXPECT_FALSE(fresh);
}

TEST_F(ServerTest, ResignsTheTimestampWithTheOnlineKey) {
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  const int64_t version = sim_->timestamp.common.version;
  auto der = sim_->signers["timestamp"][0]->ExportPkcs8Der();
  ASSERT_TRUE(der);
  const fs::path key = dir_ / "timestamp.pk8";
  ASSERT_TRUE(io::WriteFileAtomically(
      key, std::string_view(reinterpret_cast<const char*>(der->data()), der->size()), 0600));
  server_->Stop();
  // The published timestamp expires in 30 days; a 31-day margin makes it due at once, and the
  // re-signed one (40 days) is then not due again.
  Start({"--timestamp-key-insecure-file", key.string(), "--timestamp-validity", "3456000",
         "--timestamp-margin", "2678400", "--resign-interval", "1"});
  std::string fresh;
  for (int i = 0; i < 100; ++i) {
    fresh = Metadata("timestamp", 0);
    auto parsed = metadata::ParseMetadata<metadata::Timestamp>(fresh);
    ASSERT_TRUE(parsed);
    if (parsed->role.common.version > version) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto parsed = metadata::ParseMetadata<metadata::Timestamp>(fresh);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->role.common.version, version + 1);
  EXPECT_GT(parsed->role.common.expires, WallNow() + 39 * 86400);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Metadata("timestamp", 0), fresh);  // not re-signed again: not due

  // A device's view: everything verifies from the root it trusts.
  auto client = trust::TrustedSet::Create(Metadata("root", 1), WallNow());
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->UpdateTimestamp(fresh));
  EXPECT_TRUE(client->UpdateSnapshot(Metadata("snapshot", parsed->role.snapshot_meta.version)));
  EXPECT_TRUE(client->UpdateTargets(Metadata("targets", 0)));
}

TEST_F(ServerTest, MaterializesTheStaticMirrorOnPublish) {
  server_->Stop();
  const fs::path mirror = dir_ / "mirror";
  Start({"--static-mirror-dir", mirror.string()});
  sim_->AddTarget("targets", "a/b.bin", Content(300, 11));
  sim_->Role("targets").common.version = 2;
  sim_->UpdateSnapshot();
  ASSERT_TRUE(Publish(LatestUpload(*sim_)).ok());
  auto read = [&](const std::string& relative) {
    auto bytes = io::ReadFileBounded(mirror / "current" / relative, 1u << 20);
    return bytes ? *bytes : std::string("<missing>");
  };
  EXPECT_EQ(read("metadata/timestamp.json"), sim_->MetadataFile("timestamp.json"));
  EXPECT_EQ(read("metadata/2.targets.json"), sim_->MetadataFile("2.targets.json"));
  EXPECT_EQ(read("metadata/1.root.json"), sim_->MetadataFile("1.root.json"));
  EXPECT_EQ(read(sim_->TargetPath("targets", "a/b.bin")), Content(300, 11));
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// Collects every response of one bidi call that sends a single request.
class OneRequestReactor final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit OneRequestReactor(std::string request) {
    grpc::Slice slice(request.data(), request.size());
    request_ = grpc::ByteBuffer(&slice, 1);
  }
  void Begin() {
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnWriteDone(bool) override { StartWritesDone(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    received_ += ToString(response_);
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }
  grpc::Status Wait() { return done_.get_future().get(); }
  const std::string& received() const { return received_; }

 private:
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::string received_;
  std::promise<grpc::Status> done_;
};

TEST_F(ServerTest, ServesHealthAndReflection) {
  grpc::GenericStub stub(channel_);
  // grpc.health.v1.HealthCheckRequest{service: ""} is empty; SERVING is status = 1.
  grpc::ClientContext health_context;
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> health;
  stub.UnaryCall(&health_context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) { health.set_value(status); });
  grpc::Status health_status = health.get_future().get();
  ASSERT_TRUE(health_status.ok()) << health_status.error_message();
  EXPECT_EQ(ToString(response), std::string("\x08\x01", 2));

  // ServerReflectionRequest{list_services: ""} (field 7) lists our services.
  grpc::ClientContext reflection_context;
  OneRequestReactor reflection(std::string("\x3a\x00", 2));
  stub.PrepareBidiStreamingCall(&reflection_context,
                                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                grpc::StubOptions(), &reflection);
  reflection.Begin();
  grpc::Status reflection_status = reflection.Wait();
  ASSERT_TRUE(reflection_status.ok()) << reflection_status.error_message();
  EXPECT_NE(reflection.received().find("mdu.v1.DeviceService"), std::string::npos);
  EXPECT_NE(reflection.received().find("mdu.v1.OperatorService"), std::string::npos);
}

TEST_F(ServerTest, RefusesPlaintextOffLoopbackAndBadArguments) {
  server_.reset();
  std::string root = (dir_ / "root.json").string();
  std::string db = (dir_ / "db2").string();
  EXPECT_EQ(ServerProcess::WaitPid(ServerProcess::Spawn(
                {MDU_REPO_SERVER_BINARY, "--listen", "0.0.0.0:0", "--insecure", "--data-dir", db,
                 "--trusted-root", root, "--log-level", "critical"})),
            1);
  EXPECT_EQ(ServerProcess::WaitPid(ServerProcess::Spawn(
                {MDU_REPO_SERVER_BINARY, "--listen", "127.0.0.1:0", "--data-dir", db,
                 "--trusted-root", root, "--log-level", "critical"})),
            1);  // neither TLS nor --insecure
  std::string not_root = (dir_ / "not_root.json").string();
  ASSERT_TRUE(io::WriteFileAtomically(not_root, "{}"));
  EXPECT_EQ(ServerProcess::WaitPid(ServerProcess::Spawn(
                {MDU_REPO_SERVER_BINARY, "--listen", "127.0.0.1:0", "--insecure", "--data-dir", db,
                 "--trusted-root", not_root, "--log-level", "critical"})),
            1);
}

}  // namespace
}  // namespace mdu::server
