// A whole staged target download over plain http, through each HTTP fetcher the agent has
// (CurlFetcher with a proxy configured, Http1Fetcher otherwise): a transfer cut mid-way is
// resumed with a Range request, and a mirror answering the resume at the wrong offset is
// refused (kHashMismatch, reported) and the download started over. The Range contract of the
// fetchers alone runs in http_fetcher_contract_test.cc.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "client-agent/transport/curl_fetcher.h"
#include "client-agent/transport/http1_fetcher.h"
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
using testing::ServeRange;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

// Stages the reference repository's manifest.txt from `server` the way the agent does (a real
// `Fetcher` fetcher, Updater trusting root v1, staging area under `dir`), retries without
// sleeping.
template <class Fetcher>
Result<update::StageResult> StageManifest(const TestHttpServer& server, const fs::path& repo,
                                          const fs::path& dir, update::StageOptions options) {
  MDU_ASSIGN_OR_RETURN(client::FileMetadataStore store,
                       client::FileMetadataStore::Open(dir / "md"));
  MDU_ASSIGN_OR_RETURN(std::string root, io::ReadFileBounded(repo / "metadata/1.root.json", 1 << 20));
  MDU_RETURN_IF_ERROR(store.Store("root", root));
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<Fetcher> fetcher, Fetcher::Create());
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
template <class Fetcher>
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
          TestResponse response = ServeRange(*file, request, true);
          if (request.path.rfind("/targets/", 0) == 0) {
            std::lock_guard lock(mu_);
            target_ranges_.push_back(request.range);
            tamper(target_requests_++, *file, response);
          }
          return response;
        }) {}

  Result<update::StageResult> Stage(const fs::path& dir, update::StageOptions options = {}) {
    return StageManifest<Fetcher>(server_, repo_, dir, std::move(options));
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

template <class Fetcher>
class StagedResumeTest : public ::testing::Test {};
using Fetchers = ::testing::Types<CurlFetcher, Http1Fetcher>;
class FetcherNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, CurlFetcher> ? "Curl" : "Http1";
  }
};
TYPED_TEST_SUITE(StagedResumeTest, Fetchers, FetcherNames);

// The first target response is cut after 20 bytes: the staging area resumes it with a Range
// request.
TYPED_TEST(StagedResumeTest, StagedDownloadIsResumedWithARangeRequest) {
  ReferenceMirror<TypeParam> mirror([](int number, const std::string&, TestResponse& response) {
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
TYPED_TEST(StagedResumeTest, WrongRangeOnResumeStartsOverAndIsReported) {
  ReferenceMirror<TypeParam> mirror([](int number, const std::string& file, TestResponse& response) {
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
