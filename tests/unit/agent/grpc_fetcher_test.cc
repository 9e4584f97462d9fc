// GrpcFetcher (gRPC over libcurl's HTTP/2): URL mapping (pure), then against the real repo-server
// binary on an ephemeral loopback port (plaintext, as --insecure allows there): a full refresh
// and verified download through core's Updater, a staged download resumed at a byte offset over
// GetTarget, the end of the root chain as kNotFound, limits, and a server that is not there;
// against a scripted HTTP/2 server (h2_test_server.h) what repo-server never sends (no
// grpc-status, compressed or oversized messages, malformed or misplaced chunks); and TLS against
// repo-server with mutual TLS (wrong server name refused, device certificate accepted, the
// report channel).
#include "client-agent/transport/grpc_fetcher.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "client-agent/report/sender.h"
#include "client-agent/report/wire_messages.h"
#include "client-agent/transport/grpc_call.h"
#include "client-agent/update/staging.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/evidence/device_certs.h"
#include "tests/integration/server/server_process.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/sim/test_util.h"
#include "tests/support/test_dir.h"
#include "tests/unit/agent/h2_test_server.h"
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

// Stops the test unless `expr` (a named Result or Status) failed with `expected_kind`.
#define ASSERT_ERROR_KIND(expr, expected_kind)                                    \
  do {                                                                            \
    ASSERT_FALSE((expr).has_value()) << #expr << " succeeded";                    \
    ASSERT_EQ(ErrorKindName((expr).error().kind()), ErrorKindName(expected_kind)) \
        << (expr).error().ToString();                                             \
  } while (0)

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

// ---- A scripted HTTP/2 server: what repo-server never sends ----------------------------------

using testing::GrpcFrame;
using testing::H2Headers;
using testing::H2Response;
using testing::H2TestServer;

// An answer of `body` with `trailers` (none: the stream ends with the body).
H2Response Answer(std::string body,
                  std::optional<H2Headers> trailers = H2Headers{{"grpc-status", "0"}}) {
  H2Response response;
  response.body = std::move(body);
  response.trailers = std::move(trailers);
  return response;
}

H2Response WithHeaders(H2Headers headers, std::string body) {
  H2Response response = Answer(std::move(body));
  response.headers = std::move(headers);
  return response;
}

std::string MetadataAnswer(const std::string& content) {
  wire::GetMetadataResponse response;
  response.set_content(content);
  return GrpcFrame(response.SerializeAsString());
}

std::string Varint(uint64_t value) {
  std::string out;
  for (; value >= 0x80; value >>= 7) out.push_back(static_cast<char>((value & 0x7f) | 0x80));
  out.push_back(static_cast<char>(value));
  return out;
}

class GrpcFetcherScriptedTest : public ::testing::Test {
 protected:
  void Serve(std::vector<H2Response> script) {
    server_ = std::make_unique<H2TestServer>(std::move(script));
    ASSERT_NE(server_->port(), 0);
    auto fetcher = GrpcFetcher::Create();
    ASSERT_OK(fetcher);
    fetcher_ = std::move(*fetcher);
  }
  std::string Url(const std::string& path) const {
    return "grpc://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  std::string TargetUrl() const { return Url("/targets/" + std::string(64, 'a') + ".fw.bin"); }
  // Fetches the target from `offset`; what reached the sink goes to received_.
  Status FetchTarget(uint64_t offset, uint64_t max_length) {
    received_.clear();
    starts_ = 0;
    return fetcher_->FetchFrom(
        TargetUrl(), offset, max_length,
        [&](uint64_t) -> Status {
          ++starts_;
          return {};
        },
        [&](std::string_view chunk) -> Status {
          received_.append(chunk);
          return {};
        });
  }

  std::unique_ptr<H2TestServer> server_;
  std::unique_ptr<GrpcFetcher> fetcher_;
  std::string received_;
  int starts_ = 0;
};

TEST_F(GrpcFetcherScriptedTest, MetadataAndConnectionReuse) {
  Serve({Answer(MetadataAnswer("{\"signed\":1}"))});
  for (int i = 0; i < 3; ++i) {
    auto bytes = fetcher_->FetchBytes(Url("/metadata/timestamp.json"), 1000);
    ASSERT_OK(bytes);
    EXPECT_EQ(*bytes, "{\"signed\":1}");
  }
  EXPECT_EQ(server_->requests(), 3);
  // Plaintext calls do not reuse connections (libcurl 7.88, see grpc_call.h); TLS calls do
  // (GrpcFetcherTlsTest.CallsShareOneConnection).
  EXPECT_EQ(server_->connections(), 3);
}

TEST_F(GrpcFetcherScriptedTest, TrailersOnlyErrorStatus) {
  H2Response not_found;
  not_found.headers = {{":status", "200"},
                       {"content-type", "application/grpc"},
                       {"grpc-status", "5"},
                       {"grpc-message", "no%20such%20role%0A%01"}};
  not_found.trailers = std::nullopt;
  not_found.trailers_only = true;
  H2Response unavailable = not_found;
  unavailable.headers[2].second = "14";
  H2Response exhausted = not_found;
  exhausted.headers[2].second = "8";
  H2Response deadline = not_found;
  deadline.headers[2].second = "4";
  Serve({not_found, unavailable, exhausted, deadline});
  auto missing = fetcher_->FetchBytes(Url("/metadata/2.root.json"), 1000);
  ASSERT_ERROR_KIND(missing, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message().find("NOT_FOUND"), std::string::npos);
  EXPECT_NE(missing.error().message().find("no such role  "), std::string::npos)
      << missing.error().message();  // decoded, controls replaced
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Url("/metadata/2.root.json"), 1000), ErrorKind::kDownload);
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Url("/metadata/2.root.json"), 1000),
                    ErrorKind::kLimitExceeded);
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Url("/metadata/2.root.json"), 1000),
                    ErrorKind::kSlowRetrieval);
}

TEST_F(GrpcFetcherScriptedTest, StreamEndingWithoutGrpcStatusIsRefused) {
  wire::TargetChunk chunk;
  chunk.set_data("all of it");
  chunk.set_total_length(9);
  Serve({Answer(MetadataAnswer("complete-looking"), std::nullopt),
         Answer(GrpcFrame(chunk.SerializeAsString()), std::nullopt),
         // Cut inside a message, with a status: still not complete.
         Answer(GrpcFrame(chunk.SerializeAsString()).substr(0, 8))});
  auto metadata = fetcher_->FetchBytes(Url("/metadata/timestamp.json"), 1000);
  ASSERT_ERROR_KIND(metadata, ErrorKind::kDownload);
  EXPECT_NE(metadata.error().message().find("without a gRPC status"), std::string::npos)
      << metadata.error().message();
  EXPECT_ERROR_KIND(FetchTarget(0, 100), ErrorKind::kDownload);
  EXPECT_ERROR_KIND(FetchTarget(0, 100), ErrorKind::kDownload);
}

TEST_F(GrpcFetcherScriptedTest, HttpErrorsAndNonGrpcAnswersAreRefused) {
  Serve({WithHeaders({{":status", "503"}, {"content-type", "text/html"}}, "<html>busy</html>"),
         WithHeaders({{":status", "200"}, {"content-type", "text/html"}}, MetadataAnswer("x"))});
  auto busy = fetcher_->FetchBytes(Url("/metadata/timestamp.json"), 1000);
  ASSERT_ERROR_KIND(busy, ErrorKind::kDownload);
  EXPECT_NE(busy.error().message().find("HTTP 503"), std::string::npos);
  EXPECT_ERROR_KIND(fetcher_->FetchBytes(Url("/metadata/timestamp.json"), 1000),
                    ErrorKind::kDownload);
}

TEST_F(GrpcFetcherScriptedTest, CompressedMessageIsRefused) {
  wire::TargetChunk chunk;
  chunk.set_data("zz");
  Serve({Answer(GrpcFrame("compressed?", 1)), Answer(GrpcFrame(chunk.SerializeAsString(), 1))});
  auto metadata = fetcher_->FetchBytes(Url("/metadata/timestamp.json"), 1000);
  ASSERT_ERROR_KIND(metadata, ErrorKind::kDownload);
  EXPECT_NE(metadata.error().message().find("compressed"), std::string::npos);
  EXPECT_ERROR_KIND(FetchTarget(0, 100), ErrorKind::kHashMismatch);
  EXPECT_TRUE(received_.empty());
}

TEST_F(GrpcFetcherScriptedTest, OversizedMessageIsRefusedBeforeItIsBuffered) {
  // Prefixes announcing 64 MiB and 2 MiB, followed by a few bytes only: refused from the
  // prefix (waiting for the rest would hang until the timeout).
  std::string huge = GrpcFrame("abc");
  huge[1] = 4;  // 0x04000003 bytes
  std::string big_chunk = GrpcFrame("abc");
  big_chunk[2] = 0x20;  // 0x00200003 bytes
  Serve({Answer(huge, std::nullopt), Answer(big_chunk, std::nullopt)});
  auto metadata = fetcher_->FetchBytes(Url("/metadata/timestamp.json"), 32 << 20);
  ASSERT_ERROR_KIND(metadata, ErrorKind::kLimitExceeded);
  EXPECT_ERROR_KIND(FetchTarget(0, 8 << 20), ErrorKind::kLimitExceeded);
  EXPECT_TRUE(received_.empty());
}

TEST_F(GrpcFetcherScriptedTest, UnknownChunkFieldsAreSkipped) {
  std::string first;
  first += "\x08" + Varint(0);               // offset 0 (explicit)
  first += "\x52" + Varint(5) + "extra";     // field 10, length-delimited: unknown
  first += "\x12" + Varint(6) + "hello ";    // data
  first += "\x61" + std::string(8, '\x07');  // field 12, fixed64: unknown
  first += "\x18" + Varint(11);              // total_length
  std::string second;
  second += "\x08" + Varint(6) + "\x12" + Varint(5) + "world" + "\x7d" + std::string(4, 'f');
  Serve({Answer(GrpcFrame(first) + GrpcFrame(second))});
  ASSERT_OK(FetchTarget(0, 11));
  EXPECT_EQ(received_, "hello world");
  EXPECT_EQ(starts_, 1);
}

TEST_F(GrpcFetcherScriptedTest, MalformedVarintIsRefused) {
  const std::string bad = "\x08" + std::string(10, '\xff') + "\x01";
  Serve({Answer(GrpcFrame(bad))});
  auto status = FetchTarget(0, 100);
  ASSERT_ERROR_KIND(status, ErrorKind::kHashMismatch);
  EXPECT_NE(status.error().message().find("malformed TargetChunk"), std::string::npos);
  EXPECT_TRUE(received_.empty());
}

TEST_F(GrpcFetcherScriptedTest, ChunkAtTheWrongOffsetIsRefused) {
  wire::TargetChunk first;
  first.set_offset(100);
  first.set_data("0123456789");
  first.set_total_length(200);
  wire::TargetChunk gap;  // skips 10 bytes
  gap.set_offset(120);
  gap.set_data("x");
  Serve({Answer(GrpcFrame(first.SerializeAsString())),
         Answer(GrpcFrame(first.SerializeAsString()) + GrpcFrame(gap.SerializeAsString()))});
  // Asked to resume at 50, answered from 100.
  auto resumed = FetchTarget(50, 200);
  ASSERT_ERROR_KIND(resumed, ErrorKind::kHashMismatch);
  EXPECT_NE(resumed.error().message().find("chunk at byte 100, expected 50"), std::string::npos)
      << resumed.error().message();
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(starts_, 0);
  // A gap between chunks.
  auto gapped = FetchTarget(100, 200);
  ASSERT_ERROR_KIND(gapped, ErrorKind::kHashMismatch);
  EXPECT_EQ(received_, "0123456789");
}

// Unlike an HTTP 200 to a Range request, a resume answered from byte 0 is not a restart: the
// server was asked for an offset and placed its bytes elsewhere. Refused with the kind the HTTP
// fetcher gives a 206 at the wrong offset (both log hash_mismatch), and on_start is never called.
TEST_F(GrpcFetcherScriptedTest, ResumeAnsweredFromByteZeroIsNotARestart) {
  wire::TargetChunk whole;
  whole.set_offset(0);
  whole.set_data(std::string(200, 'w'));
  whole.set_total_length(200);
  Serve({Answer(GrpcFrame(whole.SerializeAsString()))});
  auto resumed = FetchTarget(50, 200);
  ASSERT_ERROR_KIND(resumed, ErrorKind::kHashMismatch);
  EXPECT_NE(resumed.error().message().find("chunk at byte 0, expected 50"), std::string::npos)
      << resumed.error().message();
  EXPECT_EQ(starts_, 0);
  EXPECT_TRUE(received_.empty());
}

// ---- TLS: repo-server with mutual TLS -------------------------------------------------------

class GrpcFetcherTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("agent_grpc_tls_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    ::mdu::testing::DeviceCerts certs(*dir_);
    ASSERT_TRUE(certs.MakeCa("server-ca"));
    ASSERT_TRUE(certs.MakeLeaf("server", "server-ca", ::mdu::testing::KeyType::kEcdsaP256,
                               "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                               "extendedKeyUsage=serverAuth\n"));
    ASSERT_TRUE(certs.MakeCa("device-ca"));
    ASSERT_TRUE(
        certs.MakeDevice("device-a", "device-ca", ::mdu::testing::KeyType::kEcdsaP256, "device-a"));
    sim_ = server::testing::MakeSim(WallNow() + 30 * 86400).release();
    ASSERT_TRUE(io::WriteFileAtomically(*dir_ / "root.json", sim_->MetadataFile("1.root.json")));
    // TLS listeners need operator credentials; nobody here uses them.
    ASSERT_TRUE(io::WriteFileAtomically(*dir_ / "operators.json",
                                        "[{\"name\":\"nobody\",\"role\":\"viewer\","
                                        "\"token_sha256\":\"" +
                                            std::string(64, 'a') + "\"}]"));
    server_ = new ServerProcess(
        *dir_,
        {"--listen", "127.0.0.1:0", "--tls-cert", (*dir_ / "server.pem").string(), "--tls-key",
         (*dir_ / "server.key").string(), "--client-ca", (*dir_ / "device-ca.pem").string(),
         "--operator-credentials", (*dir_ / "operators.json").string()});
    port_ = server_->Port();
    ASSERT_NE(port_, 0) << "repo-server did not start";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete sim_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static GrpcFetcherOptions DeviceOptions() {
    GrpcFetcherOptions options;
    options.connect_timeout = std::chrono::seconds(10);
    options.total_timeout = std::chrono::seconds(20);
    options.ca_file = *dir_ / "server-ca.pem";
    options.client_cert_file = *dir_ / "device-a.pem";
    options.client_key_file = *dir_ / "device-a.key";
    return options;
  }
  // The trusted root through `options`: the call completed (OK or a gRPC status) or not.
  static Result<std::string> Root(const GrpcFetcherOptions& options, const std::string& host) {
    auto fetcher = GrpcFetcher::Create(options);
    if (!fetcher) return MakeError(fetcher.error());
    return (*fetcher)->FetchBytes(
        "grpcs://" + host + ":" + std::to_string(port_) + "/metadata/1.root.json", 512000);
  }
  // True when the server answered at the gRPC level (TLS handshake done).
  static bool Answered(const Result<std::string>& result) {
    return result || result.error().kind() == ErrorKind::kNotFound;
  }

  static fs::path* dir_;
  static sim::RepositorySimulator* sim_;
  static ServerProcess* server_;
  static int port_;
};

fs::path* GrpcFetcherTlsTest::dir_ = nullptr;
sim::RepositorySimulator* GrpcFetcherTlsTest::sim_ = nullptr;
ServerProcess* GrpcFetcherTlsTest::server_ = nullptr;
int GrpcFetcherTlsTest::port_ = 0;

TEST_F(GrpcFetcherTlsTest, MutualTlsWorks) {
  auto root = Root(DeviceOptions(), "127.0.0.1");
  EXPECT_TRUE(Answered(root)) << root.error().ToString();
  // The name override: the certificate is checked against "localhost", the connection goes to
  // 127.0.0.1.
  GrpcFetcherOptions renamed = DeviceOptions();
  renamed.tls_server_name = "localhost";
  root = Root(renamed, "127.0.0.1");
  EXPECT_TRUE(Answered(root)) << root.error().ToString();
}

TEST_F(GrpcFetcherTlsTest, CallsShareOneConnection) {
  GrpcClientOptions options;
  options.ca_pem = *io::ReadFileBounded(*dir_ / "server-ca.pem", 1 << 20);
  options.cert_pem = *io::ReadFileBounded(*dir_ / "device-a.pem", 1 << 20);
  options.key_pem = *io::ReadFileBounded(*dir_ / "device-a.key", 1 << 20);
  auto client = GrpcClient::Create(std::move(options));
  ASSERT_OK(client);
  wire::GetMetadataRequest get;
  get.set_role("root");
  get.set_version(1);
  GrpcCallLimits limits;
  limits.timeout = std::chrono::seconds(20);
  limits.max_message_bytes = 1 << 20;
  for (int i = 0; i < 3; ++i) {
    UnaryResponse response;
    auto status = (*client)->Call(GrpcEndpoint{true, "127.0.0.1:" + std::to_string(port_)},
                                  "/mdu.v1.DeviceService/GetMetadata", get.SerializeAsString(),
                                  limits, response, "GetMetadata");
    ASSERT_OK(status);
  }
  EXPECT_EQ((*client)->connections(), 1u);
}

TEST_F(GrpcFetcherTlsTest, WrongServerNameIsRefused) {
  GrpcFetcherOptions options = DeviceOptions();
  options.tls_server_name = "repo.example";
  auto root = Root(options, "127.0.0.1");
  ASSERT_ERROR_KIND(root, ErrorKind::kDownload);
  EXPECT_FALSE(Answered(root));
  EXPECT_ERROR_KIND(GrpcFetcher::Create([] {
                      GrpcFetcherOptions bad;
                      bad.tls_server_name = "a/b";
                      return bad;
                    }()),
                    ErrorKind::kInvalidArgument);
}

TEST_F(GrpcFetcherTlsTest, UntrustedServerOrNoClientCertificateIsRefused) {
  GrpcFetcherOptions other_ca = DeviceOptions();
  other_ca.ca_file = *dir_ / "device-ca.pem";  // not the server's issuer
  EXPECT_FALSE(Answered(Root(other_ca, "127.0.0.1")));
  GrpcFetcherOptions anonymous = DeviceOptions();
  anonymous.client_cert_file.reset();
  anonymous.client_key_file.reset();
  EXPECT_FALSE(Answered(Root(anonymous, "127.0.0.1")));
}

TEST_F(GrpcFetcherTlsTest, ReportChannelGetsANonceOverMutualTls) {
  report::ReportServerOptions options;
  options.address = "127.0.0.1:" + std::to_string(port_);
  options.ca_cert_pem = *io::ReadFileBounded(*dir_ / "server-ca.pem", 1 << 20);
  options.client_cert_pem = *io::ReadFileBounded(*dir_ / "device-a.pem", 1 << 20);
  options.client_key_pem = *io::ReadFileBounded(*dir_ / "device-a.key", 1 << 20);
  options.timeout = std::chrono::seconds(20);
  auto channel = report::NewGrpcReportChannel(options);
  ASSERT_OK(channel);
  auto nonce = (*channel)->GetNonce("device-a");
  ASSERT_OK(nonce);
  EXPECT_FALSE(nonce->empty());
  // Another device's nonce: the server refuses (its identity is device-a), not an outage.
  auto other = (*channel)->GetNonce("device-b");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().kind(), ErrorKind::kDownload) << other.error().ToString();
  // Plaintext only to loopback.
  report::ReportServerOptions remote;
  remote.address = "192.0.2.1:443";
  remote.plaintext = true;
  EXPECT_ERROR_KIND(report::NewGrpcReportChannel(remote), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mdu::agent
