// Http1Fetcher under the staging area (client-agent/update/staging.h): a target download over
// http:// cut mid-transfer is resumed with a Range request, and a mirror answering the resume at
// the wrong offset is refused (kHashMismatch, reported) and the download started over. The
// Range contract itself runs over both HTTP fetchers in http_fetcher_contract_test.cc; this is
// the whole path the agent takes for targets over plain http.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

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
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

// The python-tuf reference repository over http; `tamper(number, file, response)` may alter the
// answer to the number-th target request (0 first). Range requests are honoured (206).
class Http1Mirror {
 public:
  using Tamper = std::function<void(int number, const std::string& file, TestResponse& response)>;

  explicit Http1Mirror(Tamper tamper)
      : server_([this, tamper = std::move(tamper)](const TestRequest& request) {
          TestResponse response;
          Result<std::string> file = io::ReadFileBounded(repo_ / request.path.substr(1), 1 << 20);
          if (!file) {
            response.status = 404;
            return response;
          }
          response.body = *file;
          if (request.range.rfind("bytes=", 0) == 0) {
            const uint64_t start = std::stoull(request.range.substr(6));
            response.status = 206;
            response.body = file->substr(start);
            response.headers.push_back({"Content-Range", "bytes " + std::to_string(start) + "-" +
                                                             std::to_string(file->size() - 1) +
                                                             "/" + std::to_string(file->size())});
          }
          if (request.path.rfind("/targets/", 0) == 0) {
            std::lock_guard lock(mu_);
            ranges_.push_back(request.range);
            tamper(requests_++, *file, response);
          }
          return response;
        }) {}

  Result<update::StageResult> Stage(const fs::path& dir, update::StageOptions options = {}) {
    MDU_ASSIGN_OR_RETURN(client::FileMetadataStore store,
                         client::FileMetadataStore::Open(dir / "md"));
    MDU_ASSIGN_OR_RETURN(std::string root,
                         io::ReadFileBounded(repo_ / "metadata/1.root.json", 1 << 20));
    MDU_RETURN_IF_ERROR(store.Store("root", root));
    MDU_ASSIGN_OR_RETURN(std::unique_ptr<Http1Fetcher> fetcher, Http1Fetcher::Create());
    client::FakeClock clock(1893456000);  // 2030
    client::UpdaterConfig config;
    config.metadata_base_url = server_.Url("/metadata");
    config.targets_base_url = server_.Url("/targets");
    client::Updater updater(config, *fetcher, store, clock);
    MDU_ASSIGN_OR_RETURN(std::optional<client::TargetMatch> match,
                         updater.GetTargetInfo("manifest.txt"));
    if (!match) return MakeError(ErrorKind::kNotFound, "manifest.txt is not listed");
    MDU_ASSIGN_OR_RETURN(update::StagingArea area, update::StagingArea::Open(dir / "state"));
    options.sleep = [](std::chrono::milliseconds) {};
    return area.Stage(updater, *match, options);
  }
  std::vector<std::string> TargetRanges() {
    std::lock_guard lock(mu_);
    return ranges_;
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
  int requests_ = 0;                 // guarded by mu_
  std::vector<std::string> ranges_;  // guarded by mu_
  TestHttpServer server_;            // last: its thread uses the members above
};

TEST(Http1ResumeTest, StagedDownloadIsResumedWithARangeRequest) {
  Http1Mirror mirror([](int number, const std::string&, TestResponse& response) {
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

TEST(Http1ResumeTest, WrongRangeOnResumeStartsOverAndIsReported) {
  Http1Mirror mirror([](int number, const std::string& file, TestResponse& response) {
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
