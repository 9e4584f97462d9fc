// Updater::DownloadTargetResumable and Fetcher::FetchFrom: resume at the byte offset after an
// interruption (also with a new Updater, as after a restart), a tampered partial file detected
// and discarded, a source that cannot resume, a partial file longer than the target, a complete
// partial file verified without a download.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/client/updater.h"
#include "tests/sim/repository_simulator.h"
#include "tests/sim/test_util.h"

namespace mdu::client {
namespace {

using sim::RepositorySimulator;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mdu-resume-XXXXXX");
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string Content(size_t size) {
  std::string out(size, '\0');
  uint32_t x = 12345;
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Serves the simulator's files with offsets (Range-like), and misbehaves on request: stops with
// kDownload after `fail_after` bytes of a target, or ignores the offset.
class RangeFetcher final : public Fetcher {
 public:
  explicit RangeFetcher(RepositorySimulator& sim) : sim_(sim) {}

  Status Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) override {
    return sim_.Fetch(url, max_length, sink);
  }
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const StartSink& on_start, const ChunkSink& sink) override {
    offsets.push_back(offset);
    const std::string path(url.substr(std::string_view("https://sim.test/").size()));
    auto it = sim_.files.find(path);
    if (it == sim_.files.end()) return MakeError(ErrorKind::kNotFound, "404 " + path);
    const std::string& body = it->second;
    const uint64_t start = ignore_range ? 0 : offset;
    if (start > body.size()) return MakeError(ErrorKind::kDownload, "416");
    MDU_RETURN_IF_ERROR(on_start(start));
    uint64_t sent = 0;
    for (uint64_t at = start; at < body.size(); at += 4096) {
      if (fail_after && sent >= *fail_after) {
        fail_after.reset();  // one interruption
        return MakeError(ErrorKind::kDownload, "connection reset");
      }
      const std::string_view chunk = std::string_view(body).substr(at, 4096);
      if (at + chunk.size() > max_length) return MakeError(ErrorKind::kLimitExceeded, "too long");
      MDU_RETURN_IF_ERROR(sink(chunk));
      sent += chunk.size();
      delivered += chunk.size();
    }
    return {};
  }

  std::optional<uint64_t> fail_after;
  bool ignore_range = false;
  uint64_t delivered = 0;  // bytes the sink accepted, all calls
  std::vector<uint64_t> offsets;

 private:
  RepositorySimulator& sim_;
};

class ResumableDownloadTest : public ::testing::Test {
 protected:
  ResumableDownloadTest() : content_(Content(300000)) {
    sim::Must(store_.Store("root", sim_.MetadataFile("1.root.json")), "bootstrap");
    sim_.AddTarget("targets", "fw/image.bin", content_);
    sim_.UpdateSnapshot();
    download_.partial = dir_.path() / "partial";
    download_.destination = dir_.path() / "image.bin";
  }
  Updater NewUpdater(Fetcher& fetcher) {
    UpdaterConfig config;
    config.metadata_base_url = std::string(RepositorySimulator::kMetadataUrl);
    config.targets_base_url = std::string(RepositorySimulator::kTargetsUrl);
    return Updater(config, fetcher, store_, clock_);
  }
  TargetMatch Match(Updater& updater) {
    auto match = updater.GetTargetInfo("fw/image.bin");
    EXPECT_TRUE(match && match->has_value());
    return **match;
  }
  std::string TargetFile() const { return sim_.TargetPath("targets", "fw/image.bin"); }

  const std::string content_;
  RepositorySimulator sim_;
  MemoryMetadataStore store_;
  FakeClock clock_{sim::kNow};
  TempDir dir_;
  ResumableDownload download_;
};

TEST_F(ResumableDownloadTest, ResumesAtTheByteOffsetAfterAnInterruption) {
  RangeFetcher fetcher(sim_);
  fetcher.fail_after = 102400;  // 25 chunks of 4096
  {
    Updater updater = NewUpdater(fetcher);
    const TargetMatch match = Match(updater);
    EXPECT_ERROR_KIND(updater.DownloadTargetResumable(match, download_), ErrorKind::kDownload);
    EXPECT_FALSE(fs::exists(download_.destination));  // nothing unverified is handed out
    EXPECT_EQ(fs::file_size(download_.partial), 102400u);
  }
  // A new Updater (as after an agent restart) continues where the first stopped.
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  std::vector<uint64_t> progress;
  download_.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, content_.size());
    progress.push_back(done);
  };
  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  ASSERT_OK(report);
  EXPECT_EQ(report->resumed_from, 102400u);
  EXPECT_EQ(report->fetched, content_.size() - 102400);
  EXPECT_FALSE(report->restarted);
  EXPECT_EQ(fetcher.offsets, (std::vector<uint64_t>{0, 102400}));
  EXPECT_EQ(ReadFile(download_.destination), content_);
  EXPECT_FALSE(fs::exists(download_.partial));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front(), 102400u);
  EXPECT_EQ(progress.back(), content_.size());
}

TEST_F(ResumableDownloadTest, TamperedPartialFileIsDetectedAndDiscarded) {
  RangeFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  std::string tampered = content_.substr(0, 150000);
  tampered[1234] ^= 0x01;  // one flipped bit in the kept prefix
  WriteFile(download_.partial, tampered);

  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  EXPECT_ERROR_KIND(report, ErrorKind::kHashMismatch);
  EXPECT_EQ(fetcher.offsets, std::vector<uint64_t>{150000});
  EXPECT_FALSE(fs::exists(download_.destination));
  EXPECT_FALSE(fs::exists(download_.partial));  // the next attempt starts at 0

  report = updater.DownloadTargetResumable(match, download_);
  ASSERT_OK(report);
  EXPECT_EQ(report->resumed_from, 0u);
  EXPECT_EQ(ReadFile(download_.destination), content_);
}

TEST_F(ResumableDownloadTest, SourceIgnoringTheOffsetRestartsFromZero) {
  RangeFetcher fetcher(sim_);
  fetcher.ignore_range = true;
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  // Garbage kept bytes: if they were not dropped on restart, the result could not verify.
  WriteFile(download_.partial, std::string(5000, 'z'));
  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->restarted);
  EXPECT_EQ(report->fetched, content_.size());
  EXPECT_EQ(ReadFile(download_.destination), content_);
}

TEST_F(ResumableDownloadTest, FetcherWithoutResumeRestartsThroughTheDefault) {
  // The simulator only implements Fetch: the default FetchFrom starts over.
  Updater updater = NewUpdater(sim_);
  const TargetMatch match = Match(updater);
  WriteFile(download_.partial, content_.substr(0, 1000));
  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->restarted);
  EXPECT_EQ(ReadFile(download_.destination), content_);
}

TEST_F(ResumableDownloadTest, PartialLongerThanTheTargetIsDropped) {
  RangeFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  WriteFile(download_.partial, content_ + "extra");
  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  ASSERT_OK(report);
  EXPECT_EQ(report->resumed_from, 0u);
  EXPECT_EQ(fetcher.offsets, std::vector<uint64_t>{0});
  EXPECT_EQ(ReadFile(download_.destination), content_);
}

TEST_F(ResumableDownloadTest, CompletePartialIsVerifiedWithoutADownload) {
  RangeFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  WriteFile(download_.partial, content_);
  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  ASSERT_OK(report);
  EXPECT_EQ(report->fetched, 0u);
  EXPECT_TRUE(fetcher.offsets.empty());
  EXPECT_EQ(ReadFile(download_.destination), content_);

  // The same, altered: refused, never renamed.
  fs::remove(download_.destination);
  std::string altered = content_;
  altered.back() ^= 0x40;
  WriteFile(download_.partial, altered);
  EXPECT_ERROR_KIND(updater.DownloadTargetResumable(match, download_), ErrorKind::kHashMismatch);
  EXPECT_FALSE(fs::exists(download_.destination));
  EXPECT_FALSE(fs::exists(download_.partial));
}

TEST_F(ResumableDownloadTest, MaliciousSourceDataIsNeverHandedOut) {
  RangeFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  sim_.files[TargetFile()][200000] ^= 0x01;  // mix-and-match / tampered mirror
  EXPECT_ERROR_KIND(updater.DownloadTargetResumable(match, download_), ErrorKind::kHashMismatch);
  EXPECT_FALSE(fs::exists(download_.destination));
  EXPECT_FALSE(fs::exists(download_.partial));

  sim_.files[TargetFile()] = content_ + "more";  // endless data: more than the listed length
  EXPECT_ERROR_KIND(updater.DownloadTargetResumable(match, download_), ErrorKind::kLimitExceeded);
  EXPECT_FALSE(fs::exists(download_.destination));
  EXPECT_FALSE(fs::exists(download_.partial));

  sim_.files[TargetFile()] = content_.substr(0, 1000);  // a source that ends early: resumable
  EXPECT_ERROR_KIND(updater.DownloadTargetResumable(match, download_), ErrorKind::kDownload);
  EXPECT_EQ(fs::file_size(download_.partial), 1000u);
  EXPECT_FALSE(fs::exists(download_.destination));
}

TEST_F(ResumableDownloadTest, SmallPipelineBuffersGiveTheSameFile) {
  RangeFetcher fetcher(sim_);
  fetcher.fail_after = 10000;  // stops after 3 chunks of 4096: not a multiple of 1000
  download_.pipeline = {.buffers = 2, .buffer_size = 1000};
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  EXPECT_ERROR_KIND(updater.DownloadTargetResumable(match, download_), ErrorKind::kDownload);
  EXPECT_EQ(fs::file_size(download_.partial), 12288u);  // everything received was written
  ASSERT_OK(updater.DownloadTargetResumable(match, download_));
  EXPECT_EQ(ReadFile(download_.destination), content_);
}

// A failing write (here the file size limit, EFBIG) on the writer thread stops the transfer
// within the buffers in flight; the bytes written stay for the next attempt.
TEST_F(ResumableDownloadTest, WriterErrorStopsTheReceiver) {
  RangeFetcher fetcher(sim_);
  download_.pipeline = {.buffers = 2, .buffer_size = 8192};
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  void (*old_handler)(int) = ::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 50000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  Result<ResumeReport> report = updater.DownloadTargetResumable(match, download_);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_ERROR_KIND(report, ErrorKind::kIo);
  EXPECT_LT(fetcher.delivered, 50000u + 4 * 8192 + 4096) << "the receiver went on";
  EXPECT_FALSE(fs::exists(download_.destination));
  ASSERT_TRUE(fs::exists(download_.partial));
  EXPECT_LE(fs::file_size(download_.partial), 50000u);

  ASSERT_OK(updater.DownloadTargetResumable(match, download_));  // resumes after the error
  EXPECT_EQ(ReadFile(download_.destination), content_);
}

// Serves the simulator's target files through Fetch in chunks of 4096, counting what the sink
// accepted; everything else (metadata) as the simulator does.
class ChunkedFetcher final : public Fetcher {
 public:
  explicit ChunkedFetcher(RepositorySimulator& sim) : sim_(sim) {}
  Status Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) override {
    const std::string path(url.substr(std::string_view("https://sim.test/").size()));
    auto it = sim_.files.find(path);
    if (it == sim_.files.end() || path.find("targets/") != 0) {
      return sim_.Fetch(url, max_length, sink);
    }
    ++target_requests;
    const std::string& body = it->second;
    for (uint64_t at = 0; at < body.size(); at += 4096) {
      const std::string_view chunk = std::string_view(body).substr(at, 4096);
      if (at + chunk.size() > max_length) return MakeError(ErrorKind::kLimitExceeded, "too long");
      MDU_RETURN_IF_ERROR(sink(chunk));
      delivered += chunk.size();
    }
    return {};
  }
  uint64_t delivered = 0;
  int target_requests = 0;

 private:
  RepositorySimulator& sim_;
};

std::vector<std::string> FilesIn(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

// Updater::DownloadTarget (the `download` command) goes through the same pipeline: the file is
// the same whatever the buffers, one request per target, nothing left behind on failure.
TEST_F(ResumableDownloadTest, DownloadTargetStreamsThroughThePipeline) {
  ChunkedFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  ASSERT_OK(updater.DownloadTarget(match, download_.destination,
                                   ChunkPipelineOptions{.buffers = 2, .buffer_size = 1000}));
  EXPECT_EQ(ReadFile(download_.destination), content_);
  EXPECT_EQ(fetcher.target_requests, 1);
  EXPECT_EQ(FilesIn(dir_.path()), std::vector<std::string>{"image.bin"});  // no temporary left

  ASSERT_OK(updater.DownloadTarget(match, download_.destination));  // default buffers
  EXPECT_EQ(ReadFile(download_.destination), content_);
  EXPECT_EQ(fetcher.target_requests, 2);
}

TEST_F(ResumableDownloadTest, DownloadTargetRejectsBadDataAndLeavesNothing) {
  ChunkedFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  WriteFile(download_.destination, "the old verified copy");
  sim_.files[TargetFile()][200000] ^= 0x01;
  EXPECT_ERROR_KIND(updater.DownloadTarget(match, download_.destination), ErrorKind::kHashMismatch);
  sim_.files[TargetFile()] = content_ + "more";
  EXPECT_ERROR_KIND(updater.DownloadTarget(match, download_.destination),
                    ErrorKind::kLimitExceeded);
  EXPECT_EQ(ReadFile(download_.destination), "the old verified copy");  // untouched
  EXPECT_EQ(FilesIn(dir_.path()), std::vector<std::string>{"image.bin"});
}

TEST_F(ResumableDownloadTest, DownloadTargetWriterErrorStopsTheReceiver) {
  ChunkedFetcher fetcher(sim_);
  Updater updater = NewUpdater(fetcher);
  const TargetMatch match = Match(updater);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  void (*old_handler)(int) = ::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 50000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  Status downloaded = updater.DownloadTarget(
      match, download_.destination, ChunkPipelineOptions{.buffers = 2, .buffer_size = 8192});
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_ERROR_KIND(downloaded, ErrorKind::kIo);
  EXPECT_LT(fetcher.delivered, 50000u + 4 * 8192 + 4096) << "the receiver went on";
  EXPECT_TRUE(FilesIn(dir_.path()).empty());
}

TEST(FileFetcherResumeTest, StartsAtTheOffset) {
  TempDir dir;
  WriteFile(dir.path() / "f", "0123456789");
  FileFetcher fetcher;
  std::string body;
  uint64_t start = 99;
  ASSERT_OK(fetcher.FetchFrom(
      "file://" + (dir.path() / "f").string(), 4, 10,
      [&](uint64_t at) -> Status {
        start = at;
        return {};
      },
      [&](std::string_view chunk) -> Status {
        body.append(chunk);
        return {};
      }));
  EXPECT_EQ(start, 4u);
  EXPECT_EQ(body, "456789");
  EXPECT_ERROR_KIND(
      fetcher.FetchFrom((dir.path() / "f").string(), 11, 20, [](uint64_t) -> Status { return {}; },
                        [](std::string_view) -> Status { return {}; }),
      ErrorKind::kDownload);
}

}  // namespace
}  // namespace mdu::client
