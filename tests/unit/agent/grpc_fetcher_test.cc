// GrpcFetcher: URL mapping (pure), then against the real repo-server binary on an ephemeral
// loopback port (plaintext, as --insecure allows there): a full refresh and verified download
// through core's Updater, a staged download resumed at a byte offset over GetTarget, the end of
// the root chain as kNotFound, limits, and a server that is not there.
#include "client-agent/transport/grpc_fetcher.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "client-agent/update/staging.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/integration/server/server_process.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/sim/test_util.h"
#include "tests/support/test_dir.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using server::testing::Content;
using server::testing::LatestUpload;
using server::testing::ServerProcess;
using server::testing::Upload;

constexpr uint64_t kMiB = 1 << 20;

TEST(ParseGrpcUrlTest, MapsMetadataAndTargets) {
  auto root = ParseGrpcUrl("grpcs://repo.example:8443/metadata/3.root.json");
  ASSERT_OK(root);
  EXPECT_TRUE(root->tls);
  EXPECT_EQ(root->authority, "repo.example:8443");
  EXPECT_EQ(root->kind, GrpcRequest::Kind::kMetadata);
  EXPECT_EQ(root->role, "root");
  EXPECT_EQ(root->version, 3);

  auto timestamp = ParseGrpcUrl("grpc://127.0.0.1:50051/metadata/timestamp.json");
  ASSERT_OK(timestamp);
  EXPECT_FALSE(timestamp->tls);
  EXPECT_EQ(timestamp->role, "timestamp");
  EXPECT_EQ(timestamp->version, 0);

  auto delegated = ParseGrpcUrl("grpcs://r:1/metadata/7.team%3Aa.json");
  ASSERT_OK(delegated);
  EXPECT_EQ(delegated->role, "team:a");
  EXPECT_EQ(delegated->version, 7);

  const std::string sha(64, 'a');
  auto hashed = ParseGrpcUrl("grpcs://r:1/targets/pump/" + sha + ".fw.bin");
  ASSERT_OK(hashed);
  EXPECT_EQ(hashed->kind, GrpcRequest::Kind::kTarget);
  EXPECT_EQ(hashed->sha256, sha);
  auto plain = ParseGrpcUrl("grpcs://r:1/targets/pump/fw.bin");
  ASSERT_OK(plain);
  EXPECT_EQ(plain->path, "pump/fw.bin");
  EXPECT_TRUE(plain->sha256.empty());
}

TEST(ParseGrpcUrlTest, RefusesPlaintextOffLoopbackAndMalformedUrls) {
  EXPECT_ERROR_KIND(ParseGrpcUrl("grpc://repo.example:80/metadata/timestamp.json"),
                    ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(ParseGrpcUrl("grpc://10.0.0.1:80/metadata/timestamp.json"),
                    ErrorKind::kInvalidArgument);
  EXPECT_OK(ParseGrpcUrl("grpc://localhost:80/metadata/timestamp.json"));
  EXPECT_OK(ParseGrpcUrl("grpc://[::1]:80/metadata/timestamp.json"));
  for (const char* url : {"grpcs://r/metadata/timestamp.json", "grpcs://r:0/metadata/x.json",
                          "grpcs://user:pw@r:1/metadata/x.json", "grpcs://r:1/other/x.json",
                          "grpcs://r:1/metadata/x.txt", "grpcs://r:1/metadata/a/b.json",
                          "grpcs://r:1/targets/", "https://r:1/metadata/x.json",
                          "grpcs://r:1/metadata/x.json?v=1", "grpcs://r:1/metadata/%zz.json"}) {
    SCOPED_TRACE(url);
    EXPECT_ERROR_KIND(ParseGrpcUrl(url), ErrorKind::kInvalidArgument);
  }
}

using ::mdu::testing::WallNow;

// One repo-server for the suite, with a published repository: a small target and one of
// 3 MiB + 5 bytes (several 1 MiB chunks).
class GrpcFetcherServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("agent_grpc_fetcher_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    sim_ = server::testing::MakeSim(WallNow() + 30 * 86400).release();
    big_ = new std::string(Content(3 * kMiB + 5, 42));
    sim_->AddTarget("targets", "pump/fw.bin", *big_);
    sim_->AddTarget("targets", "small.txt", "small target");
    sim_->Role("targets").common.version += 1;
    sim_->UpdateSnapshot();
    ASSERT_TRUE(io::WriteFileAtomically(*dir_ / "root.json", sim_->MetadataFile("1.root.json")));
    server_ = new ServerProcess(*dir_, {"--listen", "127.0.0.1:0", "--insecure"});
    port_ = server_->Port();
    ASSERT_NE(port_, 0) << "repo-server did not start";
    ASSERT_TRUE(Publish(LatestUpload(*sim_)));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete sim_;
    delete big_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static bool Publish(const Upload& upload) {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::OperatorService::NewStub(channel);
    grpc::ClientContext context;
    v1::PublishResponse response;
    auto stream = stub->Publish(&context, &response);
    v1::PublishRequest request;
    request.mutable_header()->set_description("agent test");
    stream->Write(request);
    for (const auto& [name, bytes] : upload.metadata) {
      request.Clear();
      request.mutable_metadata()->set_name(name);
      request.mutable_metadata()->set_content(bytes);
      stream->Write(request);
    }
    for (const auto& [sha, content] : upload.targets) {
      for (uint64_t offset = 0; offset < content.size() || offset == 0; offset += kMiB) {
        request.Clear();
        request.mutable_target()->set_sha256(sha);
        request.mutable_target()->set_offset(offset);
        request.mutable_target()->set_data(content.substr(offset, kMiB));
        stream->Write(request);
        if (content.empty()) break;
      }
    }
    request.Clear();
    request.mutable_commit();
    stream->Write(request);
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok();
  }

  void SetUp() override {
    auto fetcher = GrpcFetcher::Create();
    ASSERT_OK(fetcher);
    fetcher_ = std::move(*fetcher);
    ASSERT_OK(metadata_.Store("root", sim_->MetadataFile("1.root.json")));
  }
  std::string Base() const { return "grpc://127.0.0.1:" + std::to_string(port_); }
  client::Updater NewUpdater() {
    client::UpdaterConfig config;
    config.metadata_base_url = Base() + "/metadata";
    config.targets_base_url = Base() + "/targets";
    return client::Updater(config, *fetcher_, metadata_, clock_);
  }

  static fs::path* dir_;
  static sim::RepositorySimulator* sim_;
  static std::string* big_;
  static ServerProcess* server_;
  static int port_;

  agent::testing::TempDir tmp_;
  std::unique_ptr<GrpcFetcher> fetcher_;
  client::MemoryMetadataStore metadata_;
  client::SystemClock clock_;
};

fs::path* GrpcFetcherServerTest::dir_ = nullptr;
sim::RepositorySimulator* GrpcFetcherServerTest::sim_ = nullptr;
std::string* GrpcFetcherServerTest::big_ = nullptr;
ServerProcess* GrpcFetcherServerTest::server_ = nullptr;
int GrpcFetcherServerTest::port_ = 0;

TEST_F(GrpcFetcherServerTest, RefreshesAndDownloadsVerifiedTargets) {
  client::Updater updater = NewUpdater();
  ASSERT_OK(updater.Refresh());
  EXPECT_EQ(updater.trusted_set()->targets()->common.version, sim_->Role("targets").common.version);
  auto match = updater.GetTargetInfo("pump/fw.bin");
  ASSERT_OK(match);
  ASSERT_TRUE(match->has_value());
  ASSERT_OK(updater.DownloadTarget(**match, tmp_.path() / "fw.bin"));
  EXPECT_EQ(*io::ReadFileBounded(tmp_.path() / "fw.bin", 8 * kMiB), *big_);
}

TEST_F(GrpcFetcherServerTest, StagedDownloadResumesAtTheByteOffset) {
  client::Updater updater = NewUpdater();
  auto match = updater.GetTargetInfo("pump/fw.bin");
  ASSERT_OK(match);
  ASSERT_TRUE(match->has_value());
  auto area = update::StagingArea::Open(tmp_.path());
  ASSERT_OK(area);
  // What an interrupted earlier run left: the first 1.5 MiB and its sidecar.
  ASSERT_OK(
      io::WriteFileAtomically(area->sidecar_path(), update::StagingArea::DescribeTarget(**match)));
  const uint64_t kept = 3 * kMiB / 2;
  ASSERT_OK(io::WriteFileAtomically(area->partial_path(), big_->substr(0, kept)));
  Result<update::StageResult> staged = area->Stage(updater, **match);
  ASSERT_OK(staged);
  ASSERT_FALSE(staged->failure) << staged->failure->error.ToString();
  EXPECT_EQ(staged->resumed_from, kept);
  EXPECT_EQ(staged->fetched, big_->size() - kept);
  EXPECT_EQ(*io::ReadFileBounded(staged->file, 8 * kMiB), *big_);
}

TEST_F(GrpcFetcherServerTest, MapsServerAnswersToErrorKinds) {
  // The end of the root chain.
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Base() + "/metadata/2.root.json", 512000),
                    ErrorKind::kNotFound);
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Base() + "/targets/" + std::string(64, 'f') + ".x", 10),
                    ErrorKind::kNotFound);
  // More than the signed length allows: refused from the announced total.
  const std::string sha = sim_->Role("targets").targets.at("pump/fw.bin").Sha256()->data();
  uint64_t received = 0;
  EXPECT_ERROR_KIND(
      fetcher_->Fetch(Base() + "/targets/" + sha.substr(0, 64) + ".fw.bin", big_->size() - 1,
                      [&](std::string_view chunk) -> Status {
                        received += chunk.size();
                        return {};
                      }),
      ErrorKind::kLimitExceeded);
  EXPECT_EQ(received, 0u);
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Base() + "/metadata/timestamp.json", 10),
                    ErrorKind::kLimitExceeded);
}

TEST(GrpcFetcherNoServerTest, UnreachableServerIsADownloadError) {
  // A port nobody listens on (bound, then closed).
  auto fetcher = GrpcFetcher::Create();
  ASSERT_OK(fetcher);
  EXPECT_ERROR_KIND((*fetcher)->FetchBytes("grpc://127.0.0.1:1/metadata/timestamp.json", 100),
                    ErrorKind::kDownload);
}

TEST(GrpcFetcherNoServerTest, TlsFilesAreCheckedAtCreation) {
  GrpcFetcherOptions options;
  options.client_cert_file = "/nonexistent/cert.pem";
  EXPECT_ERROR_KIND(GrpcFetcher::Create(options), ErrorKind::kInvalidArgument);  // no key
  options.client_key_file = "/nonexistent/key.pem";
  EXPECT_FALSE(GrpcFetcher::Create(options));
}

}  // namespace
}  // namespace mdu::agent
