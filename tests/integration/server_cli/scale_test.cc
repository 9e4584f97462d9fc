// repo-server operations at fleet scale, through the real binary (tests/integration/server/
// server_process.h) and its operator commands:
//   - a re-release uploads only the target blobs the server does not store yet
//     (GetStoredTargets + PublishRequest.stored_target), and the server still verifies every
//     target: a client naming a blob the server lacks, or metadata whose hashes do not match the
//     stored content, is refused; kill -9 inside the commit window leaves old or new;
//   - ListDevices pages (opaque token, stable under concurrent inserts, server maximum) and
//     `repo-server devices` follows the pages;
//   - a legal 16 MiB targets file passes the operator listener's default message limit.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "repo-server/rocksdb_store.h"
#include "tests/integration/server_cli/operator_cli_fixture.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using testing::Content;
using ::mdu::testing::WallNow;

using testing::CliRun;
using testing::In;

class ScaleTest : public testing::OperatorCliFixture {
 protected:
  ScaleTest() : OperatorCliFixture("repo_server_scale") {}

  // Channels that carry messages up to 64 MiB (the 16 MiB targets file and more).
  static std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  std::shared_ptr<grpc::Channel> Channel() { return Channel(Address()); }
  std::unique_ptr<v1::OperatorService::Stub> Operators() {
    return v1::OperatorService::NewStub(Channel(OperatorAddress()));
  }

  static int64_t Field(const json::Value& doc, const char* name) {
    const json::Value* value = doc.Find(name);
    EXPECT_NE(value, nullptr) << name;
    return value != nullptr ? value->as_int() : -1;
  }

  std::map<std::string, int64_t> Versions() {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    context.AddMetadata("authorization", std::string("Bearer ") + kBobToken);
    v1::RepositoryStatus status;
    EXPECT_TRUE(Operators()->GetRepositoryStatus(&context, {}, &status).ok());
    std::map<std::string, int64_t> out;
    for (const auto& role : status.roles()) out[role.role()] = role.version();
    return out;
  }

  // The whole content of a target as a device downloads it.
  std::string Download(const std::string& path) {
    auto device = v1::DeviceService::NewStub(Channel());
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::GetTargetRequest request;
    request.set_path(path);
    auto reader = device->GetTarget(&context, request);
    std::string content;
    v1::TargetChunk chunk;
    while (reader->Read(&chunk)) content += chunk.data();
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << path << ": " << status.error_message();
    return content;
  }

  // One Publish stream as alice: metadata files, then for each target either its content or,
  // when listed in `claims`, a stored_target digest with the given length.
  grpc::Status RawPublish(const testing::Upload& upload, const std::map<std::string, uint64_t>& claims,
                          bool upload_claimed_too = false, v1::PublishResponse* out = nullptr) {
    testing::PublishOptions options;
    options.token = kAliceToken;
    options.description = "scale test";
    options.deadline_seconds = 30;
    options.response = out;
    options.stored_targets = claims;
    options.upload_stored_too = upload_claimed_too;
    return testing::PublishUpload(*Operators(), upload, options);
  }

  grpc::Status ListDevicesPage(uint32_t page_size, const std::string& token,
                               v1::ListDevicesResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    context.AddMetadata("authorization", std::string("Bearer ") + kBobToken);
    v1::ListDevicesRequest request;
    request.set_page_size(page_size);
    request.set_page_token(token);
    return Operators()->ListDevices(&context, request, response);
  }

  grpc::Status Report(v1::DeviceService::Stub& device, const std::string& device_id) {
    v1::InstallationReport report;
    report.set_report_id("r-" + device_id);
    report.set_device_id(device_id);
    report.set_target("pump/fw.bin");
    report.set_to_version("2.0");
    report.set_phase(v1::INSTALL_PHASE_COMPLETE);
    report.set_success(true);
    report.set_device_time(WallNow());
    grpc::ClientContext context;
    context.set_deadline(In(30));
    v1::ReportAck ack;
    return device.ReportInstallation(&context, report, &ack);
  }

  // Devices dev-0000 .. dev-<n-1> report once each, from `threads` threads (group commit).
  void RegisterDevices(int n, int threads = 8) {
    auto device = v1::DeviceService::NewStub(Channel());
    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int i = next++; i < n; i = next++) {
          char id[32];
          std::snprintf(id, sizeof id, "dev-%04d", i);
          if (!Report(*device, id).ok()) ++failed;
        }
      });
    }
    for (std::thread& worker : workers) worker.join();
    EXPECT_EQ(failed.load(), 0);
  }

  // Three targets (3 MiB + 17 bytes in four chunks, 100 KiB, 5000 bytes) published with the CLI.
  void PublishFirstRelease() {
    sim_->AddTarget("targets", "pump/fw.bin", Content((3 << 20) + 17, 1));
    sim_->AddTarget("targets", "pump/config.bin", Content(100 << 10, 2));
    sim_->AddTarget("targets", "readme.txt", Content(5000, 3));
    sim_->UpdateSnapshot();
    CliRun run = Command("publish", "alice.token", {"--json", WriteTree().string()});
    ASSERT_EQ(run.code, 0) << run.err;
    json::Value first = ParseJson(run);
    EXPECT_EQ(Field(first, "targets_uploaded"), 3);
    EXPECT_EQ(Field(first, "targets_stored"), 3);
    EXPECT_EQ(Field(first, "targets_already_stored"), 0);
  }
};

TEST_F(ScaleTest, RepublishUploadsOnlyTheChangedTarget) {
  StartInsecure();
  PublishFirstRelease();

  // One target changes (same path, new content): only that blob travels.
  const std::string new_config = Content(120 << 10, 4);
  sim_->AddTarget("targets", "pump/config.bin", new_config);
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  fs::path tree = WriteTree();
  CliRun run = Command("publish", "alice.token", {"--json", tree.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value second = ParseJson(run);
  EXPECT_EQ(Field(second, "targets_uploaded"), 1);
  EXPECT_EQ(Field(second, "targets_stored"), 1);
  EXPECT_EQ(Field(second, "targets_already_stored"), 2);
  EXPECT_EQ(Field(second, "bytes_not_uploaded"), (3 << 20) + 17 + 5000);
  // Metadata plus the one changed blob, not the 3 MiB firmware.
  EXPECT_GE(Field(second, "bytes_uploaded"), static_cast<int64_t>(new_config.size()));
  EXPECT_LT(Field(second, "bytes_uploaded"), static_cast<int64_t>(new_config.size()) + (64 << 10));
  EXPECT_EQ(Versions()["targets"], sim_->Role("targets").common.version);

  // A metadata-only re-release (a changed custom field) uploads no blob at all.
  sim_->Role("targets").targets.at("readme.txt").custom =
      json::Value::MakeObject({{"note", json::Value("re-signed")}});
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  run = Command("publish", "alice.token", {"--json", WriteTree().string()});
  ASSERT_EQ(run.code, 0) << run.err;
  json::Value third = ParseJson(run);
  EXPECT_EQ(Field(third, "targets_uploaded"), 0);
  EXPECT_EQ(Field(third, "targets_already_stored"), 3);
  EXPECT_EQ(Field(third, "targets_stored"), 0);
  EXPECT_LT(Field(third, "bytes_uploaded"), 64 << 10);
  // The text output says what was not sent.
  sim_->UpdateSnapshot();
  run = Command("publish", "alice.token", {WriteTree().string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("3 target blobs ("), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("already stored, not uploaded"), std::string::npos) << run.out;

  // --upload-all sends everything again (the server keeps its copies).
  sim_->UpdateSnapshot();
  run = Command("publish", "alice.token", {"--json", "--upload-all", WriteTree().string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Field(ParseJson(run), "targets_uploaded"), 3);

  // Devices get every target, the reused ones included.
  EXPECT_EQ(Download("pump/fw.bin"), Content((3 << 20) + 17, 1));
  EXPECT_EQ(Download("pump/config.bin"), new_config);
  EXPECT_EQ(Download("readme.txt"), Content(5000, 3));
}

TEST_F(ScaleTest, NamingABlobTheServerDoesNotStoreIsRefused) {
  StartInsecure();
  PublishFirstRelease();
  auto before = Versions();
  const std::string stored_sha = crypto::Sha256Hex(Content(5000, 3));

  // The next release has a new target; the attacker names it as stored instead of sending it.
  const std::string fresh = Content(7000, 9);
  const std::string fresh_sha = crypto::Sha256Hex(fresh);
  sim_->AddTarget("targets", "pump/new.bin", fresh);
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  testing::Upload upload = testing::LatestUpload(*sim_, 1);

  grpc::Status status = RawPublish(upload, {{fresh_sha, fresh.size()}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("not stored"), std::string::npos)
      << status.error_message();
  // A stored blob named with another length is not the stored blob.
  status = RawPublish(upload, {{stored_sha, 5001}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  // Named as stored and uploaded as well, or named twice: malformed.
  status = RawPublish(upload, {{stored_sha, 5000}}, /*upload_claimed_too=*/true);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  // Simply leaving it out is refused by the verification as before.
  testing::Upload without = upload;
  without.targets.erase(fresh_sha);
  status = RawPublish(without, {});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_EQ(Versions(), before);

  // A stored blob the new metadata does not list cannot be named either.
  sim_->Role("targets").targets.erase("readme.txt");
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  upload = testing::LatestUpload(*sim_, 1);
  status = RawPublish(upload, {{stored_sha, 5000}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("matches no target"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Versions(), before);

  // Honest: the stored blobs named, the fresh one uploaded.
  std::map<std::string, uint64_t> claims;
  for (const auto& [sha, content] : upload.targets) {
    if (sha != fresh_sha) claims[sha] = content.size();
  }
  v1::PublishResponse response;
  status = RawPublish(upload, claims, false, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.targets_stored(), 1u);
  EXPECT_EQ(response.targets_reused(), 2u);
  EXPECT_EQ(Download("pump/new.bin"), fresh);
}

TEST_F(ScaleTest, MetadataDisagreeingWithTheStoredBlobIsRefused) {
  StartInsecure();
  PublishFirstRelease();
  auto before = Versions();
  // Same sha256 and length as the stored readme, but another sha512: every device would fail
  // the download. The CLI does not upload the blob (the server has it); the server compares the
  // metadata with the stored content anyway.
  auto& readme = sim_->Role("targets").targets.at("readme.txt");
  for (auto& [algorithm, hex] : readme.hashes) {
    if (algorithm == "sha512") hex = std::string(128, 'e');
  }
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  CliRun run = Command("publish", "alice.token", {"--json", WriteTree().string()});
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_NE(run.err.find("FAILED_PRECONDITION"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("sha512"), std::string::npos) << run.err;
  EXPECT_EQ(Versions(), before);
}

TEST_F(ScaleTest, StoredTargetQueriesArePublisherOnlyAndBounded) {
  StartInsecure();
  PublishFirstRelease();
  auto ask = [&](const char* token, const v1::GetStoredTargetsRequest& request,
                 v1::GetStoredTargetsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    context.AddMetadata("authorization", std::string("Bearer ") + token);
    return Operators()->GetStoredTargets(&context, request, response);
  };
  v1::GetStoredTargetsRequest request;
  auto* stored = request.add_targets();
  stored->set_sha256(crypto::Sha256Hex(Content(5000, 3)));
  stored->set_length(5000);
  auto* wrong_length = request.add_targets();
  wrong_length->set_sha256(crypto::Sha256Hex(Content(5000, 3)));
  wrong_length->set_length(4999);
  auto* unknown = request.add_targets();
  unknown->set_sha256(std::string(64, 'a'));
  unknown->set_length(1);
  v1::GetStoredTargetsResponse response;
  ASSERT_TRUE(ask(kAliceToken, request, &response).ok());
  ASSERT_EQ(response.stored_size(), 1);
  EXPECT_EQ(response.stored(0).length(), 5000u);
  EXPECT_EQ(ask(kBobToken, request, &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ask("wrong", request, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  unknown->set_sha256("../../etc/passwd");
  EXPECT_EQ(ask(kAliceToken, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetStoredTargetsRequest many;
  for (int i = 0; i < 10001; ++i) {
    auto* digest = many.add_targets();
    digest->set_sha256(std::string(64, 'b'));
    digest->set_length(static_cast<uint64_t>(i));
  }
  EXPECT_EQ(ask(kAliceToken, many, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ScaleTest, KillNineInTheCommitWindowOfAPublishReusingBlobs) {
  StartInsecure();
  PublishFirstRelease();
  auto before = Versions();
  server_->Stop();
  sim_->AddTarget("targets", "pump/new.bin", Content(9000, 5));
  sim_->Role("targets").common.version++;
  sim_->UpdateSnapshot();
  fs::path tree = WriteTree();
  for (const std::string point : {"verified", "committed"}) {
    const fs::path marker = dir_ / ("at-" + point);
    setenv("MDU_TEST_PUBLISH_FAULT", (point + ":" + marker.string()).c_str(), 1);
    StartInsecure();
    unsetenv("MDU_TEST_PUBLISH_FAULT");
    CliRun run;
    std::thread publisher([&] {
      run = Command("publish", "alice.token", {"--json", "--timeout", "20", tree.string()});
    });
    for (int i = 0; i < 400 && !fs::exists(marker); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_TRUE(fs::exists(marker)) << "the publish never reached " << point;
    server_->Kill();
    publisher.join();
    EXPECT_EQ(run.code, 1);
    StartInsecure();
    auto after = Versions();
    if (point == "verified") {
      EXPECT_EQ(after, before);  // the old repository, whole
    } else {
      EXPECT_EQ(after["targets"], sim_->Role("targets").common.version);  // the new one, whole
      EXPECT_EQ(Download("pump/new.bin"), Content(9000, 5));
    }
    EXPECT_EQ(Download("pump/fw.bin"), Content((3 << 20) + 17, 1));
    server_->Stop();
  }
  // The interrupted publish's staged blob was dropped; the next release reuses every blob.
  StartInsecure();
  sim_->UpdateSnapshot();
  tree = WriteTree();
  CliRun run = Command("publish", "alice.token", {"--json", tree.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Field(ParseJson(run), "targets_already_stored"), 4);
}

TEST_F(ScaleTest, ListDevicesPagesAreStableUnderInserts) {
  StartInsecure();
  RegisterDevices(25);
  auto device = v1::DeviceService::NewStub(Channel());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  for (;;) {
    v1::ListDevicesResponse page;
    ASSERT_TRUE(ListDevicesPage(10, token, &page).ok());
    ++pages;
    EXPECT_LE(page.devices_size(), 10);
    for (const auto& summary : page.devices()) seen.push_back(summary.device_id());
    if (pages == 1) {
      // Inserted while paging: one before the cursor (not seen now), one after it (seen).
      ASSERT_TRUE(Report(*device, "dev-0000a").ok());
      ASSERT_TRUE(Report(*device, "zzz-late").ok());
    }
    if (page.next_page_token().empty()) break;
    token = page.next_page_token();
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 26u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  EXPECT_EQ(seen.back(), "zzz-late");

  // A token the server did not make is refused.
  v1::ListDevicesResponse page;
  EXPECT_EQ(ListDevicesPage(10, "not a token", &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The command follows the pages; --json keeps its shape ({devices: [...]}).
  CliRun paged = Command("devices", "bob.token", {"--json", "--page-size", "4"});
  ASSERT_EQ(paged.code, 0) << paged.err;
  CliRun whole = Command("devices", "bob.token", {"--json"});
  ASSERT_EQ(whole.code, 0) << whole.err;
  json::Value doc = ParseJson(paged);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.as_object().size(), 1u);
  ASSERT_NE(doc.Find("devices"), nullptr);
  EXPECT_EQ(doc.Find("devices")->as_array().size(), 27u);
  EXPECT_EQ(paged.out, whole.out);
}

TEST_F(ScaleTest, ListDevicesHasAServerMaximumPage) {
  StartInsecure();
  RegisterDevices(1003, 16);
  v1::ListDevicesResponse page;
  ASSERT_TRUE(ListDevicesPage(5000, "", &page).ok());
  EXPECT_EQ(page.devices_size(), 1000);
  EXPECT_FALSE(page.next_page_token().empty());
  v1::ListDevicesResponse rest;
  ASSERT_TRUE(ListDevicesPage(0, page.next_page_token(), &rest).ok());
  EXPECT_EQ(rest.devices_size(), 3);
  EXPECT_TRUE(rest.next_page_token().empty());
  CliRun run = Command("devices", "bob.token", {"--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(ParseJson(run).Find("devices")->as_array().size(), 1003u);
}

TEST_F(ScaleTest, A16MiBTargetsFilePassesTheDefaultOperatorLimit) {
  // A separate operator listener with its default message limit.
  StartInsecure(OperatorListenerFlags());
  ASSERT_NE(operator_port_, 0);
  // One target whose custom field makes targets.json just under 16 MiB.
  sim_->AddTarget("targets", "readme.txt", Content(100, 1),
                  json::Value::MakeObject({{"blob", json::Value(std::string((16 << 20) - 4096, 'x'))}}));
  sim_->UpdateSnapshot();
  const std::string& targets = sim_->MetadataFile(
      std::to_string(sim_->Role("targets").common.version) + ".targets.json");
  ASSERT_GT(targets.size(), 15u << 20);
  ASSERT_LE(targets.size(), 16u << 20);
  fs::path tree = WriteTree();
  CliRun run = Command("publish", "alice.token", {"--json", tree.string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Versions()["targets"], sim_->Role("targets").common.version);
}

TEST_F(ScaleTest, FindDevicesIndexFollowsInventoryChanges) {
  StartInsecure();
  auto device = v1::DeviceService::NewStub(Channel());
  const std::string sbom_old = crypto::Sha256Hex("sbom of openssl 3.0.1");
  const std::string sbom_new = crypto::Sha256Hex("sbom of openssl 3.0.13");
  int report = 0;
  auto inventory = [&](const std::string& id, const std::string& version, const std::string& sbom) {
    v1::InventoryReport request;
    request.set_report_id("inv-" + std::to_string(++report));
    request.set_device_id(id);
    auto* target = request.add_installed();
    target->set_name("pump/openssl.bin");
    target->set_version(version);
    target->set_sha256(crypto::Sha256Hex(version));
    target->set_sbom_sha256(sbom);
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::ReportAck ack;
    return device->ReportInventory(&context, request, &ack);
  };
  auto find = [&](const std::vector<std::string>& flags) {
    CliRun run = Command("find-devices", "bob.token", flags);
    EXPECT_EQ(run.code, 0) << run.err;
    std::vector<std::string> ids;
    json::Value doc = ParseJson(run);
    if (const json::Value* devices = doc.Find("devices"); devices != nullptr) {
      for (const json::Value& d : devices->as_array()) ids.push_back(d.Find("device_id")->as_string());
    }
    return ids;
  };
  using Ids = std::vector<std::string>;
  ASSERT_TRUE(inventory("pump-a", "3.0.1", sbom_old).ok());
  ASSERT_TRUE(inventory("pump-b", "3.0.1", sbom_old).ok());
  ASSERT_TRUE(inventory("pump-c", "3.0.13", sbom_new).ok());
  EXPECT_EQ(find({"--json", "--sbom-sha256", sbom_old}), (Ids{"pump-a", "pump-b"}));
  // pump-a upgrades away from the vulnerable component: no longer found by it.
  ASSERT_TRUE(inventory("pump-a", "3.0.13", sbom_new).ok());
  EXPECT_EQ(find({"--json", "--sbom-sha256", sbom_old}), (Ids{"pump-b"}));
  EXPECT_EQ(find({"--json", "--sbom-sha256", sbom_new}), (Ids{"pump-a", "pump-c"}));
  EXPECT_EQ(find({"--json", "--version", "3.0.1"}), (Ids{"pump-b"}));
  EXPECT_EQ(find({"--json", "--sha256", crypto::Sha256Hex("3.0.13")}), (Ids{"pump-a", "pump-c"}));
  // Every given field must match on one installed target (the index only narrows).
  EXPECT_EQ(find({"--json", "--target", "pump/openssl.bin", "--version", "3.0.1"}), (Ids{"pump-b"}));
  // An empty inventory drops the device from every term; the index survives a restart.
  v1::InventoryReport empty;
  empty.set_report_id("inv-empty");
  empty.set_device_id("pump-c");
  {
    grpc::ClientContext context;
    context.set_deadline(In(20));
    v1::ReportAck ack;
    ASSERT_TRUE(device->ReportInventory(&context, empty, &ack).ok());
  }
  server_->Stop();
  StartInsecure();
  EXPECT_EQ(find({"--json", "--sbom-sha256", sbom_new}), (Ids{"pump-a"}));
  EXPECT_EQ(find({"--json", "--target", "pump/openssl.bin"}), (Ids{"pump-a", "pump-b"}));
}

TEST_F(ScaleTest, TimestampHistoryIsPrunedToTheConfiguredCount) {
  // Five releases with --timestamp-history 2: the store keeps timestamps 5 and 6 (the newest
  // two), the device still gets the current one, and an older release is still refused.
  StartInsecure({"--timestamp-history", "2"});
  PublishFirstRelease();
  for (int i = 0; i < 5; ++i) {
    sim_->UpdateSnapshot();
    CliRun run = Command("publish", "alice.token", {WriteTree().string()});
    ASSERT_EQ(run.code, 0) << run.err;
  }
  const int64_t current = sim_->timestamp.common.version;
  EXPECT_EQ(Versions()["timestamp"], current);
  auto device = v1::DeviceService::NewStub(Channel());
  grpc::ClientContext context;
  context.set_deadline(In(20));
  v1::GetMetadataRequest request;
  request.set_role("timestamp");
  v1::GetMetadataResponse response;
  ASSERT_TRUE(device->GetMetadata(&context, request, &response).ok());
  EXPECT_EQ(response.content(), sim_->MetadataFile("timestamp.json"));
  server_->Stop();
  // What the store holds, read with the server stopped.
  {
    auto store = OpenRocksDbStore(dir_ / "db");
    ASSERT_TRUE(store) << store.error().ToString();
    auto entries = (*store)->AllMetadata();
    ASSERT_TRUE(entries);
    std::vector<int64_t> kept;
    for (const MetadataEntry& entry : *entries) {
      if (entry.role == "timestamp") kept.push_back(entry.version);
    }
    EXPECT_EQ(kept, (std::vector<int64_t>{current - 1, current}));
    auto versions = (*store)->CurrentVersions();
    ASSERT_TRUE(versions);
    EXPECT_EQ(versions->at("timestamp"), current);
  }
  StartInsecure({"--timestamp-history", "2"});
  EXPECT_EQ(Versions()["timestamp"], current);
}

}  // namespace
}  // namespace mdu::server
