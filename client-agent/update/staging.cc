#include "client-agent/update/staging.h"

#include <algorithm>
#include <system_error>
#include <thread>
#include <utility>

#include "core/client/metadata_store.h"
#include "core/io/file.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::agent::update {
namespace {

constexpr uint64_t kMaxSidecarBytes = 64 * 1024;

bool IsTransportFailure(ErrorKind kind) {
  return kind == ErrorKind::kDownload || kind == ErrorKind::kSlowRetrieval ||
         kind == ErrorKind::kNotFound;
}

bool IsRejectedData(ErrorKind kind) {
  return kind == ErrorKind::kHashMismatch || kind == ErrorKind::kLengthMismatch ||
         kind == ErrorKind::kLimitExceeded;
}

std::chrono::milliseconds Backoff(const RetryPolicy& policy, int failures) {
  std::chrono::milliseconds delay = policy.initial_backoff;
  for (int i = 1; i < failures && delay < policy.max_backoff; ++i) delay *= 2;
  return std::min(delay, policy.max_backoff);
}

}  // namespace

Result<StagingArea> StagingArea::Open(const std::filesystem::path& state_dir) {
  StagingArea area(state_dir / "staging", state_dir / "download");
  MDU_RETURN_IF_ERROR(io::CreateDirectories(area.staging_dir_, 0700));
  MDU_RETURN_IF_ERROR(io::CreateDirectories(area.download_dir_, 0700));
  return area;
}

std::filesystem::path StagingArea::StagedPath(std::string_view target_path) const {
  return staging_dir_ / client::PercentEncode(target_path);
}

std::string StagingArea::DescribeTarget(const client::TargetMatch& match) {
  json::Object hashes;
  for (const auto& [name, hex] : match.file.hashes) hashes.emplace_back(name, hex);
  std::sort(hashes.begin(), hashes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return json::Canonical(json::Value::MakeObject({{"target", match.path},
                                                  {"length", match.file.length},
                                                  {"hashes", json::Value::MakeObject(hashes)}}));
}

Status StagingArea::DiscardPartial() {
  // Data first: a crash in between leaves a sidecar without data (harmless), never old data
  // under a new sidecar.
  MDU_RETURN_IF_ERROR(io::RemoveFileDurably(partial_path()));
  return io::RemoveFileDurably(sidecar_path());
}

Status StagingArea::PreparePartial(const client::TargetMatch& match) {
  const std::string expected = DescribeTarget(match);
  Result<std::string> sidecar = io::ReadFileBounded(sidecar_path(), kMaxSidecarBytes);
  if (sidecar && *sidecar == expected) return {};  // resume what was meant for this target
  MDU_RETURN_IF_ERROR(DiscardPartial());
  return io::WriteFileAtomically(sidecar_path(), expected);
}

Result<StageResult> StagingArea::Stage(client::Updater& updater, const client::TargetMatch& match,
                                       const StageOptions& options) {
  StageResult result;
  result.file = StagedPath(match.path);
  MDU_ASSIGN_OR_RETURN(bool cached, updater.IsCachedTargetValid(match, result.file));
  if (cached) {
    result.cached = true;
    return result;
  }
  MDU_RETURN_IF_ERROR(io::RemoveFileDurably(result.file));  // an unverifiable leftover
  MDU_RETURN_IF_ERROR(PreparePartial(match));

  const RetryPolicy& policy = options.retry;
  int attempt = 0;
  int idle_attempts = 0;   // consecutive attempts that received nothing
  int progress_calls = 0;  // in this attempt; the first reports the kept bytes
  client::ResumableDownload download;
  download.partial = partial_path();
  download.destination = result.file;
  download.progress = [&](uint64_t done, uint64_t total) {
    ++progress_calls;
    if (options.progress) options.progress(DownloadProgress{match.path, done, total, attempt});
  };
  // Once per error kind: a source refused the same way on every attempt is one event, not 50.
  auto refused = [&](const Error& error) {
    for (const Error& seen : result.refused) {
      if (seen.kind() == error.kind()) return;
    }
    result.refused.push_back(error);
    if (options.on_refused) options.on_refused(match.path, error);
  };
  auto fail = [&](Reason reason, const Error& error) -> Result<StageResult> {
    bool reported = false;
    for (const Error& seen : result.refused) reported |= seen.kind() == error.kind();
    result.failure = DownloadFailure{reason, error, attempt, reported && options.on_refused};
    result.attempts = attempt;
    return result;
  };

  while (true) {
    ++attempt;
    progress_calls = 0;
    std::error_code ec;
    const uintmax_t kept = std::filesystem::file_size(partial_path(), ec);
    const bool resuming = !ec && kept > 0;
    Result<client::ResumeReport> report = updater.DownloadTargetResumable(match, download);
    if (report) {
      if (attempt == 1) result.resumed_from = report->resumed_from;
      result.fetched += report->fetched;
      result.attempts = attempt;
      MDU_RETURN_IF_ERROR(io::RemoveFileDurably(sidecar_path()));
      return result;
    }
    const Error detailed = report.error().WithContext("attempt " + std::to_string(attempt));
    const ErrorKind kind = report.error().kind();
    bool retry_at_once = false;
    if (IsRejectedData(kind)) {
      refused(detailed);  // logged now, whether the next attempt recovers or not
      // The Updater removed the partial file. If kept bytes took part, they (altered on disk)
      // rather than the source may be at fault: one fresh attempt from byte 0 settles it.
      MDU_RETURN_IF_ERROR(DiscardPartial());
      if (!resuming) return fail(Reason::kDownloadRejected, detailed);
      MDU_RETURN_IF_ERROR(PreparePartial(match));
      retry_at_once = true;
    } else if (!IsTransportFailure(kind)) {
      return fail(Reason::kDownloadFailed, detailed);  // local trouble: retrying will not help
    } else if (progress_calls > 1) {
      idle_attempts = 0;  // it got somewhere: the next attempt resumes after it
    } else {
      ++idle_attempts;
    }
    if (attempt >= policy.max_total_attempts ||
        (idle_attempts > 0 && idle_attempts >= policy.max_attempts)) {
      return fail(Reason::kDownloadFailed,
                  detailed.WithContext("gave up after " + std::to_string(attempt) + " attempts"));
    }
    if (retry_at_once) continue;
    const std::chrono::milliseconds delay = Backoff(policy, std::max(idle_attempts, 1));
    if (options.sleep) {
      options.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }
}

}  // namespace mdu::agent::update
