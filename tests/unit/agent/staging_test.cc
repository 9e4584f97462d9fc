// StagingArea: resumable staged downloads with bounded retries, over an in-memory repository
// (tests/sim) served by a fetcher that can be told to break: resume after an interruption and
// across a restart (new objects on the same state directory), a partial file of another target
// or another release discarded, a tampered partial file refetched and never staged, retries
// bounded (with backoff) and reset by progress, data the metadata does not allow rejected.
#include "client-agent/update/staging.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "tests/sim/repository_simulator.h"
#include "tests/sim/test_util.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::update {
namespace {

namespace fs = std::filesystem;
using agent::testing::TempDir;
using sim::RepositorySimulator;

std::string Content(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed;
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Serves the simulator with offsets. Each target request takes the next step of `plan` (then
// serves normally): deliver at most `bytes` and fail with `kind`.
class FlakyFetcher final : public client::Fetcher {
 public:
  struct Step {
    uint64_t bytes = 0;
    ErrorKind kind = ErrorKind::kDownload;
  };
  explicit FlakyFetcher(RepositorySimulator& sim) : sim_(sim) {}

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override {
    return sim_.Fetch(url, max_length, sink);
  }
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override {
    offsets.push_back(offset);
    const std::string path(url.substr(std::string_view("https://sim.test/").size()));
    auto it = sim_.files.find(path);
    if (it == sim_.files.end()) return MakeError(ErrorKind::kNotFound, "404 " + path);
    std::optional<Step> step;
    if (!plan.empty()) {
      step = plan.front();
      plan.pop_front();
    }
    const std::string& body = it->second;
    if (offset > body.size()) return MakeError(ErrorKind::kDownload, "416");
    MDU_RETURN_IF_ERROR(on_start(offset));
    uint64_t sent = 0;
    for (uint64_t at = offset; at < body.size(); at += 1024) {
      const std::string_view chunk = std::string_view(body).substr(at, 1024);
      if (step && sent + chunk.size() > step->bytes) break;
      if (at + chunk.size() > max_length) return MakeError(ErrorKind::kLimitExceeded, "long");
      MDU_RETURN_IF_ERROR(sink(chunk));
      sent += chunk.size();
    }
    if (step) return MakeError(step->kind, "simulated failure after " + std::to_string(sent));
    return {};
  }

  std::deque<Step> plan;
  std::vector<uint64_t> offsets;

 private:
  RepositorySimulator& sim_;
};

class StagingTest : public ::testing::Test {
 protected:
  StagingTest() : content_(Content(64 * 1024, 7)) {
    sim::Must(store_.Store("root", sim_.MetadataFile("1.root.json")), "bootstrap");
    sim_.AddTarget("targets", "pump/fw.bin", content_);
    sim_.AddTarget("targets", "pump/other.bin", Content(10000, 9));
    sim_.UpdateSnapshot();
    options_.retry.initial_backoff = std::chrono::milliseconds(100);
    options_.retry.max_backoff = std::chrono::milliseconds(400);
    options_.sleep = [this](std::chrono::milliseconds delay) { sleeps_.push_back(delay); };
  }
  client::Updater NewUpdater() {
    client::UpdaterConfig config;
    config.metadata_base_url = std::string(RepositorySimulator::kMetadataUrl);
    config.targets_base_url = std::string(RepositorySimulator::kTargetsUrl);
    return client::Updater(config, fetcher_, store_, clock_);
  }
  client::TargetMatch Match(client::Updater& updater, const std::string& name) {
    auto match = updater.GetTargetInfo(name);
    EXPECT_TRUE(match && match->has_value());
    return **match;
  }
  Result<StageResult> Stage(const std::string& name = "pump/fw.bin") {
    client::Updater updater = NewUpdater();  // a new agent process, same state directory
    auto area = StagingArea::Open(tmp_.path());
    EXPECT_TRUE(area);
    return area->Stage(updater, Match(updater, name), options_);
  }
  fs::path Partial() const { return tmp_.path() / "download" / "partial"; }
  fs::path Sidecar() const { return tmp_.path() / "download" / "partial.json"; }
  fs::path Staged() const { return tmp_.path() / "staging" / "pump%2Ffw.bin"; }
  std::string TargetFile() const { return sim_.TargetPath("targets", "pump/fw.bin"); }

  TempDir tmp_;
  const std::string content_;
  RepositorySimulator sim_;
  client::MemoryMetadataStore store_;
  client::FakeClock clock_{sim::kNow};
  FlakyFetcher fetcher_{sim_};
  StageOptions options_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(StagingTest, StagesAVerifiedFile) {
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  EXPECT_FALSE(result->failure);
  EXPECT_EQ(result->file, Staged());
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);
  EXPECT_FALSE(fs::exists(Partial()));
  EXPECT_FALSE(fs::exists(Sidecar()));
  // Already staged and still valid: no download.
  fetcher_.offsets.clear();
  result = Stage();
  ASSERT_OK(result);
  EXPECT_TRUE(result->cached);
  EXPECT_TRUE(fetcher_.offsets.empty());
}

TEST_F(StagingTest, ResumesAcrossARestartAfterGivingUp) {
  // The link dies after 20 KiB, then nothing gets through: bounded retries, then a failure.
  options_.retry.max_attempts = 3;
  fetcher_.plan = {{20 * 1024}, {0}, {0}, {0}};
  Result<StageResult> failed = Stage();
  ASSERT_OK(failed);
  ASSERT_TRUE(failed->failure);
  EXPECT_EQ(failed->failure->reason, Reason::kDownloadFailed);
  EXPECT_EQ(failed->failure->error.kind(), ErrorKind::kDownload);
  EXPECT_EQ(failed->attempts, 4);  // one that progressed, then three idle ones
  EXPECT_FALSE(fs::exists(Staged()));
  EXPECT_EQ(fs::file_size(Partial()), 20u * 1024);
  EXPECT_TRUE(fs::exists(Sidecar()));

  // The agent restarts (new Updater, new StagingArea): the download continues at 20 KiB.
  fetcher_.offsets.clear();
  Result<StageResult> resumed = Stage();
  ASSERT_OK(resumed);
  ASSERT_FALSE(resumed->failure) << resumed->failure->error.ToString();
  EXPECT_EQ(resumed->resumed_from, 20u * 1024);
  EXPECT_EQ(resumed->fetched, content_.size() - 20 * 1024);
  EXPECT_EQ(fetcher_.offsets, std::vector<uint64_t>{20 * 1024});
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);
}

TEST_F(StagingTest, RetriesAreBoundedWithExponentialBackoff) {
  options_.retry.max_attempts = 5;
  fetcher_.plan = {{0}, {0}, {0}, {0}, {0}, {0}, {0}};
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  ASSERT_TRUE(result->failure);
  EXPECT_EQ(result->failure->reason, Reason::kDownloadFailed);
  EXPECT_EQ(result->attempts, 5);
  EXPECT_EQ(fetcher_.offsets.size(), 5u);
  using std::chrono::milliseconds;
  EXPECT_EQ(sleeps_, (std::vector<milliseconds>{milliseconds(100), milliseconds(200),
                                                milliseconds(400), milliseconds(400)}));
  EXPECT_FALSE(fs::exists(Staged()));
}

TEST_F(StagingTest, SlowRetrievalIsRetriedLikeAnyTransportFailure) {
  fetcher_.plan = {{0, ErrorKind::kSlowRetrieval}, {0, ErrorKind::kNotFound}};
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  EXPECT_FALSE(result->failure);
  EXPECT_EQ(result->attempts, 3);
}

TEST_F(StagingTest, ProgressResetsTheCountButTheTotalIsCapped) {
  // 8 KiB per attempt: never two idle attempts in a row, so it gets there.
  options_.retry.max_attempts = 2;
  for (int i = 0; i < 7; ++i) fetcher_.plan.push_back({8 * 1024});
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  EXPECT_FALSE(result->failure);
  EXPECT_EQ(result->attempts, 8);
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);

  // A source that trickles forever still ends: max_total_attempts.
  fs::remove(Staged());
  options_.retry.max_total_attempts = 4;
  for (int i = 0; i < 10; ++i) fetcher_.plan.push_back({1024});
  result = Stage();
  ASSERT_OK(result);
  ASSERT_TRUE(result->failure);
  EXPECT_EQ(result->attempts, 4);
}

TEST_F(StagingTest, PartialFileOfAnotherTargetIsDiscarded) {
  options_.retry.max_attempts = 1;
  fetcher_.plan = {{4096}, {0}};
  Result<StageResult> other = Stage("pump/other.bin");
  ASSERT_OK(other);
  ASSERT_TRUE(other->failure);
  EXPECT_EQ(fs::file_size(Partial()), 4096u);

  fetcher_.offsets.clear();
  Result<StageResult> result = Stage("pump/fw.bin");
  ASSERT_OK(result);
  ASSERT_FALSE(result->failure);
  EXPECT_EQ(result->resumed_from, 0u);
  EXPECT_EQ(fetcher_.offsets, std::vector<uint64_t>{0});
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);
}

TEST_F(StagingTest, PartialFileOfAnotherReleaseOfTheSameTargetIsDiscarded) {
  options_.retry.max_attempts = 1;
  fetcher_.plan = {{4096}, {0}};
  ASSERT_OK(Stage());
  EXPECT_EQ(fs::file_size(Partial()), 4096u);
  // A new release under the same name: other length and hashes.
  const std::string v2 = Content(50000, 11);
  sim_.AddTarget("targets", "pump/fw.bin", v2);
  sim_.Role("targets").common.version += 1;
  sim_.UpdateSnapshot();
  fetcher_.offsets.clear();
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  ASSERT_FALSE(result->failure);
  EXPECT_EQ(fetcher_.offsets, std::vector<uint64_t>{0});
  EXPECT_EQ(agent::testing::ReadFile(Staged()), v2);
}

TEST_F(StagingTest, TamperedPartialFileIsRefetchedNeverStaged) {
  options_.retry.max_attempts = 1;
  fetcher_.plan = {{30 * 1024}, {0}};
  ASSERT_OK(Stage());
  // Someone alters the kept bytes (or the disk does).
  std::string kept = agent::testing::ReadFile(Partial());
  kept[100] ^= 0x20;
  agent::testing::WriteFile(Partial(), kept);

  fetcher_.offsets.clear();
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  ASSERT_FALSE(result->failure) << result->failure->error.ToString();
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(fetcher_.offsets, (std::vector<uint64_t>{30 * 1024, 0}));
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);
}

TEST_F(StagingTest, AlteredSidecarMakesThePartialFileUnusable) {
  options_.retry.max_attempts = 1;
  fetcher_.plan = {{30 * 1024}, {0}};
  ASSERT_OK(Stage());
  agent::testing::WriteFile(Sidecar(), "{\"target\":\"pump/fw.bin\"}");
  fetcher_.offsets.clear();
  ASSERT_OK(Stage());
  EXPECT_EQ(fetcher_.offsets, std::vector<uint64_t>{0});
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);
}

TEST_F(StagingTest, DataTheMetadataDoesNotAllowIsRejectedAtOnce) {
  sim_.files[TargetFile()][5] ^= 0x01;
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  ASSERT_TRUE(result->failure);
  EXPECT_EQ(result->failure->reason, Reason::kDownloadRejected);
  EXPECT_EQ(result->failure->error.kind(), ErrorKind::kHashMismatch);
  EXPECT_EQ(result->attempts, 1);
  EXPECT_FALSE(fs::exists(Staged()));
  EXPECT_FALSE(fs::exists(Partial()));
  EXPECT_FALSE(fs::exists(Sidecar()));
}

// A resume answered with data that is not the target (a chunk at the wrong offset, bytes past
// the listed length): the next attempt starts over from byte 0 and succeeds, but the refusal is
// still reported, once per error kind however often the source repeats it.
TEST_F(StagingTest, RefusedDataIsReportedOnceEvenWhenARetryRecovers) {
  std::vector<std::pair<std::string, ErrorKind>> told;
  options_.on_refused = [&](std::string_view target, const Error& error) {
    told.emplace_back(std::string(target), error.kind());
  };
  fetcher_.plan = {{30 * 1024}, {0, ErrorKind::kHashMismatch},
                   {30 * 1024}, {0, ErrorKind::kHashMismatch},
                   {30 * 1024}, {0, ErrorKind::kLimitExceeded}};
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  ASSERT_FALSE(result->failure) << result->failure->error.ToString();
  EXPECT_EQ(result->attempts, 7);
  EXPECT_EQ(fetcher_.offsets, (std::vector<uint64_t>{0, 30 * 1024, 0, 30 * 1024, 0, 30 * 1024, 0}));
  EXPECT_EQ(agent::testing::ReadFile(Staged()), content_);  // only verified bytes
  EXPECT_EQ(told, (std::vector<std::pair<std::string, ErrorKind>>{
                      {"pump/fw.bin", ErrorKind::kHashMismatch},
                      {"pump/fw.bin", ErrorKind::kLimitExceeded}}));
  ASSERT_EQ(result->refused.size(), 2u);
  EXPECT_NE(result->refused[0].message().find("attempt 2"), std::string::npos)
      << result->refused[0].message();
}

// A refusal that ends the download is told once too; the failure says so, for the caller not to
// report it a second time. Without a listener it is left to the caller.
TEST_F(StagingTest, RefusalEndingTheDownloadIsMarkedReported) {
  int told = 0;
  options_.on_refused = [&](std::string_view, const Error&) { ++told; };
  fetcher_.plan = {{30 * 1024}, {0, ErrorKind::kHashMismatch}};
  sim_.files[TargetFile()][40 * 1024] ^= 0x01;  // the restart from 0 does not verify either
  Result<StageResult> result = Stage();
  ASSERT_OK(result);
  ASSERT_TRUE(result->failure);
  EXPECT_EQ(result->failure->reason, Reason::kDownloadRejected);
  EXPECT_EQ(result->failure->error.kind(), ErrorKind::kHashMismatch);
  EXPECT_EQ(result->attempts, 3);
  EXPECT_TRUE(result->failure->reported);
  EXPECT_EQ(told, 1);
  EXPECT_FALSE(fs::exists(Staged()));

  options_.on_refused = nullptr;
  Result<StageResult> unheard = Stage();
  ASSERT_OK(unheard);
  ASSERT_TRUE(unheard->failure);
  EXPECT_FALSE(unheard->failure->reported);
  EXPECT_EQ(unheard->refused.size(), 1u);
}

TEST_F(StagingTest, ReportsProgress) {
  std::vector<DownloadProgress> seen;
  std::string target;
  options_.progress = [&](const DownloadProgress& progress) {
    seen.push_back(progress);
    target = std::string(progress.target);  // only valid during the call
  };
  ASSERT_OK(Stage());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().done, 0u);
  EXPECT_EQ(seen.back().done, content_.size());
  EXPECT_EQ(seen.back().total, content_.size());
  EXPECT_EQ(target, "pump/fw.bin");
}

}  // namespace
}  // namespace mdu::agent::update
