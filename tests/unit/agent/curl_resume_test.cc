// CurlFetcher::FetchFrom against the in-process HTTP server: Range requests answered with 206,
// a server ignoring Range (200: restart from 0, announced before any byte), a 206 starting
// elsewhere refused, the limit applied to offset + body, and a whole staged download over HTTP
// that is cut mid-transfer and resumed with a Range request.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "client-agent/transport/curl_fetcher.h"
#include "client-agent/update/staging.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"
#include "tests/sim/test_util.h"
#include "tests/unit/agent/test_http_server.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

const std::string kBody = "0123456789abcdefghijklmnopqrstuvwxyz";

// 206 for "bytes=N-" when `honor_range`, else 200 with everything.
TestResponse Serve(const std::string& body, const TestRequest& request, bool honor_range) {
  TestResponse response;
  response.body = body;
  if (honor_range && request.range.rfind("bytes=", 0) == 0) {
    const uint64_t start = std::stoull(request.range.substr(6));
    response.status = 206;
    response.body = body.substr(start);
    response.headers.push_back({"Content-Range", "bytes " + std::to_string(start) + "-" +
                                                     std::to_string(body.size() - 1) + "/" +
                                                     std::to_string(body.size())});
  }
  return response;
}

struct Received {
  std::vector<uint64_t> starts;
  std::string body;
};

Status FetchFrom(CurlFetcher& fetcher, const std::string& url, uint64_t offset, uint64_t max_length,
                 Received& received) {
  return fetcher.FetchFrom(
      url, offset, max_length,
      [&](uint64_t start) -> Status {
        received.starts.push_back(start);
        return {};
      },
      [&](std::string_view chunk) -> Status {
        received.body.append(chunk);
        return {};
      });
}

std::unique_ptr<CurlFetcher> MakeFetcher() {
  auto fetcher = CurlFetcher::Create();
  EXPECT_TRUE(fetcher);
  return std::move(*fetcher);
}

TEST(CurlResumeTest, RangeAnsweredWith206ResumesAtTheOffset) {
  std::vector<std::string> ranges;
  TestHttpServer server([&](const TestRequest& request) {
    ranges.push_back(request.range);
    return Serve(kBody, request, true);
  });
  auto fetcher = MakeFetcher();
  Received received;
  ASSERT_OK(FetchFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received));
  EXPECT_EQ(received.starts, std::vector<uint64_t>{10});
  EXPECT_EQ(received.body, kBody.substr(10));
  // Offset 0 sends no Range header (and the handle forgets the previous one).
  Received whole;
  ASSERT_OK(FetchFrom(*fetcher, server.Url("/t"), 0, kBody.size(), whole));
  EXPECT_EQ(whole.body, kBody);
  EXPECT_EQ(ranges, (std::vector<std::string>{"bytes=10-", ""}));
}

TEST(CurlResumeTest, ServerIgnoringRangeRestartsFromZero) {
  TestHttpServer server([&](const TestRequest& request) { return Serve(kBody, request, false); });
  auto fetcher = MakeFetcher();
  Received received;
  ASSERT_OK(FetchFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received));
  EXPECT_EQ(received.starts, std::vector<uint64_t>{0});
  EXPECT_EQ(received.body, kBody);
}

// Bytes placed elsewhere than asked are not the target from the offset: refused before any of
// them is delivered, as data that does not match (the same kind as the gRPC fetcher's chunk at
// the wrong offset, so the agent logs the same hash_mismatch event).
TEST(CurlResumeTest, RangeStartingElsewhereIsRefused) {
  TestHttpServer server([&](const TestRequest&) {
    TestResponse response;
    response.status = 206;
    response.body = kBody.substr(5);
    response.headers.push_back({"Content-Range", "bytes 5-35/36"});
    return response;
  });
  auto fetcher = MakeFetcher();
  Received received;
  Status status = FetchFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received);
  EXPECT_ERROR_KIND(status, ErrorKind::kHashMismatch);
  ASSERT_FALSE(status);
  EXPECT_NE(
      status.error().message().find("answered 206 with bytes from 5, asked for bytes from 10"),
      std::string::npos)
      << status.error().message();
  EXPECT_TRUE(received.starts.empty());
  EXPECT_TRUE(received.body.empty());
}

TEST(CurlResumeTest, PartialContentWithoutUsableContentRangeIsRefused) {
  std::string content_range;  // none at first
  TestHttpServer server([&](const TestRequest&) {
    TestResponse response;
    response.status = 206;
    response.body = kBody.substr(10);
    if (!content_range.empty()) response.headers.push_back({"Content-Range", content_range});
    return response;
  });
  auto fetcher = MakeFetcher();
  for (const std::string& value :
       {std::string(), std::string("bytes */36"), std::string("items 10-35/36")}) {
    content_range = value;
    Received received;
    Status status = FetchFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received);
    SCOPED_TRACE("Content-Range: " + value);
    EXPECT_ERROR_KIND(status, ErrorKind::kHashMismatch);
    ASSERT_FALSE(status);
    EXPECT_NE(status.error().message().find("without a usable Content-Range"), std::string::npos)
        << status.error().message();
    EXPECT_NE(status.error().message().find("asked for bytes from 10"), std::string::npos);
    EXPECT_TRUE(received.body.empty());
  }
}

TEST(CurlResumeTest, LimitCountsTheOffset) {
  TestHttpServer server([&](const TestRequest& request) { return Serve(kBody, request, true); });
  auto fetcher = MakeFetcher();
  Received received;
  // 26 bytes from offset 10 is 36 in all: over a limit of 30, refused from Content-Length.
  EXPECT_ERROR_KIND(FetchFrom(*fetcher, server.Url("/t"), 10, 30, received),
                    ErrorKind::kLimitExceeded);
  EXPECT_TRUE(received.body.empty());
}

// Stages the reference repository's manifest.txt from `server` the way the agent does (real
// CurlFetcher, Updater trusting root v1, staging area under `dir`), retries without sleeping.
Result<update::StageResult> StageManifest(const TestHttpServer& server, const fs::path& repo,
                                          const fs::path& dir, update::StageOptions options) {
  MDU_ASSIGN_OR_RETURN(client::FileMetadataStore store,
                       client::FileMetadataStore::Open(dir / "md"));
  MDU_ASSIGN_OR_RETURN(std::string root, io::ReadFileBounded(repo / "metadata/1.root.json", 1 << 20));
  MDU_RETURN_IF_ERROR(store.Store("root", root));
  auto fetcher = MakeFetcher();
  client::FakeClock clock(1893456000);  // 2030
  client::UpdaterConfig config;
  config.metadata_base_url = server.Url("/metadata");
  config.targets_base_url = server.Url("/targets");
  client::Updater updater(config, *fetcher, store, clock);
  MDU_ASSIGN_OR_RETURN(std::optional<client::TargetMatch> match,
                       updater.GetTargetInfo("manifest.txt"));
  if (!match) return MakeError(ErrorKind::kNotFound, "manifest.txt is not listed");
  MDU_ASSIGN_OR_RETURN(update::StagingArea area, update::StagingArea::Open(dir / "state"));
  options.sleep = [](std::chrono::milliseconds) {};
  return area.Stage(updater, *match, options);
}

// The python-tuf reference repository as a mirror: `tamper(number, file, response)` may alter
// its answer to the number-th request for a target (0 first); Range headers are recorded.
class ReferenceMirror {
 public:
  using Tamper = std::function<void(int number, const std::string& file, TestResponse& response)>;

  explicit ReferenceMirror(Tamper tamper)
      : server_([this, tamper = std::move(tamper)](const TestRequest& request) {
          Result<std::string> file = io::ReadFileBounded(repo_ / request.path.substr(1), 1 << 20);
          if (!file) {
            TestResponse missing;
            missing.status = 404;
            return missing;
          }
          TestResponse response = Serve(*file, request, true);
          if (request.path.rfind("/targets/", 0) == 0) {
            std::lock_guard lock(mu_);
            target_ranges_.push_back(request.range);
            tamper(target_requests_++, *file, response);
          }
          return response;
        }) {}

  Result<update::StageResult> Stage(const fs::path& dir, update::StageOptions options = {}) {
    return StageManifest(server_, repo_, dir, std::move(options));
  }
  std::vector<std::string> TargetRanges() {
    std::lock_guard lock(mu_);
    return target_ranges_;
  }
  std::string Manifest() const {
    return *io::ReadFileBounded(
        repo_ / "targets" /
            "d60c270baa755e81f66806d66205c0aec98e870078f9e289ee92d88000e86fd5.manifest.txt",
        1 << 20);
  }

 private:
  const fs::path repo_ = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";
  std::mutex mu_;
  int target_requests_ = 0;                 // guarded by mu_
  std::vector<std::string> target_ranges_;  // guarded by mu_
  TestHttpServer server_;                   // last: its thread uses the members above
};

// The first target response is cut after 20 bytes: the staging area resumes it with a Range
// request.
TEST(CurlResumeTest, StagedDownloadIsResumedWithARangeRequest) {
  ReferenceMirror mirror([](int number, const std::string&, TestResponse& response) {
    if (number == 0) response.cut_after = 20;
  });
  agent::testing::TempDir tmp;
  Result<update::StageResult> staged = mirror.Stage(tmp.path());
  ASSERT_OK(staged);
  ASSERT_FALSE(staged->failure) << staged->failure->error.ToString();
  EXPECT_EQ(staged->attempts, 2);
  EXPECT_EQ(mirror.TargetRanges(), (std::vector<std::string>{"", "bytes=20-"}));
  EXPECT_EQ(*io::ReadFileBounded(staged->file, 1 << 20), mirror.Manifest());
}

// A mirror answers the resume of a cut download with the wrong range once, then behaves: the
// staging area refuses those bytes, starts over from byte 0 (a request without Range), stages
// only the verified file, and reports the refusal (the agent logs it as a security event).
TEST(CurlResumeTest, WrongRangeOnResumeStartsOverAndIsReported) {
  ReferenceMirror mirror([](int number, const std::string& file, TestResponse& response) {
    if (number == 0) response.cut_after = 20;
    if (number == 1) {  // the resume: the whole file, labelled as starting at byte 0
      response.body = file;
      response.headers = {{"Content-Range", "bytes 0-" + std::to_string(file.size() - 1) + "/" +
                                                std::to_string(file.size())}};
    }
  });
  agent::testing::TempDir tmp;
  std::vector<Error> told;
  update::StageOptions options;
  options.on_refused = [&](std::string_view, const Error& error) { told.push_back(error); };
  Result<update::StageResult> staged = mirror.Stage(tmp.path(), options);
  ASSERT_OK(staged);
  ASSERT_FALSE(staged->failure) << staged->failure->error.ToString();
  EXPECT_EQ(staged->attempts, 3);
  EXPECT_EQ(mirror.TargetRanges(), (std::vector<std::string>{"", "bytes=20-", ""}));
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].kind(), ErrorKind::kHashMismatch);
  EXPECT_NE(told[0].message().find("with bytes from 0, asked for bytes from 20"), std::string::npos)
      << told[0].message();
  EXPECT_EQ(*io::ReadFileBounded(staged->file, 1 << 20), mirror.Manifest());
}

}  // namespace
}  // namespace mdu::agent
