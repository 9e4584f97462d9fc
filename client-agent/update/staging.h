// The staging area of the update flow: where a target is downloaded, resumed and verified before
// the installer ever sees it. In the state directory:
//
//   staging/<percent-encoded target path>   verified files, ready for the installer
//   download/partial                        bytes of the download in progress
//   download/partial.json                   which target they belong to: canonical JSON of
//                                           {"target", "length", "hashes"} from the signed
//                                           metadata, written before the first byte
//
// One download is in progress at a time. A partial file is resumed only when its sidecar names
// exactly the target being staged (path, length and every hash); otherwise (another target, a new
// release under the same path, a missing or unreadable sidecar) it is discarded. Resuming never
// trusts the kept bytes: core's Updater re-reads them into the hashes, and a file that does not
// verify at the end is discarded and fetched again from byte 0 (one more attempt). So a partial
// file altered on disk can cost a download, never an install. The partial survives agent
// restarts and reboots (synced every 64 MiB and after each failed attempt).
//
// Bounded retries: an attempt that fails for a transport reason (kDownload, kSlowRetrieval,
// kNotFound) is retried after an exponential backoff. The download gives up after
// `max_attempts` consecutive attempts that received nothing, or `max_total_attempts` in all, with
// a DownloadFailure (Reason kDownloadFailed); the partial file stays for the next run. Data the
// signed metadata does not allow (hash or length mismatch of a fresh download, more bytes than
// listed, bytes placed at another offset than asked) stops at once with kDownloadRejected: that
// is an attack or a broken mirror, not a network hiccup. Local errors (kIo: disk full, ...) stop
// at once with kDownloadFailed.
//
// Refused data is a security event even when a later attempt recovers (a resume answered at the
// wrong offset, then a clean restart from byte 0): StageOptions::on_refused hears of it as soon
// as the attempt fails, once per error kind per Stage, so a source failing the same way on every
// attempt cannot flood the event log, and a recovered download is not a silent one.
//
// Errors (the Result's error) are left for what is not a download outcome: the staging
// directories cannot be created or the sidecar cannot be written.
// Ownership: borrows the updater during Stage. Thread-safety: none; one agent per state dir.
#ifndef MDU_CLIENT_AGENT_UPDATE_STAGING_H_
#define MDU_CLIENT_AGENT_UPDATE_STAGING_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client-agent/update/reason.h"
#include "core/client/updater.h"
#include "core/common/error.h"

namespace mdu::agent::update {

// Configurable: the agent config's "download" object and --download-attempts,
// --download-max-attempts, --retry-backoff, --retry-max-backoff (policy/agent_config.h, with
// their bounds).
struct RetryPolicy {
  int max_attempts = 5;         // consecutive attempts without a single new byte
  int max_total_attempts = 50;  // in all, whatever the progress (a trickling source)
  std::chrono::milliseconds initial_backoff{2000};  // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{60000};     // the delay never exceeds it
};

struct DownloadProgress {
  std::string_view target;
  uint64_t done = 0;   // bytes held (resumed ones included)
  uint64_t total = 0;  // the listed length
  int attempt = 1;
};

// Told of data refused by an attempt (see the file comment): the target path and the attempt's
// error (kHashMismatch, kLengthMismatch or kLimitExceeded, with context).
using RefusedDataSink = std::function<void(std::string_view target, const Error& error)>;

struct StageOptions {
  RetryPolicy retry;
  std::function<void(const DownloadProgress&)> progress;  // optional
  RefusedDataSink on_refused;                             // optional
  // Sleeps between attempts; default std::this_thread::sleep_for (tests record instead).
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct DownloadFailure {
  Reason reason = Reason::kDownloadFailed;  // kDownloadFailed or kDownloadRejected
  Error error;                              // the last attempt's error, with context
  int attempts = 0;
  // on_refused was already told of an error of this kind during this Stage: the caller must not
  // report it again.
  bool reported = false;
};

struct StageResult {
  std::filesystem::path file;              // the verified staged file (when no failure)
  std::optional<DownloadFailure> failure;  // set when nothing verified was staged
  bool cached = false;                     // the verified file was already staged
  int attempts = 0;
  uint64_t resumed_from = 0;  // bytes kept from an earlier run by the first attempt
  uint64_t fetched = 0;       // bytes received in all attempts
  // The first refused attempt of each error kind (what on_refused was told), also when a later
  // attempt succeeded.
  std::vector<Error> refused;
};

class StagingArea {
 public:
  // Creates <state_dir>/staging and <state_dir>/download if needed (kIo on failure).
  static Result<StagingArea> Open(const std::filesystem::path& state_dir);

  // staging/<PercentEncode(target_path)>.
  std::filesystem::path StagedPath(std::string_view target_path) const;
  std::filesystem::path partial_path() const { return download_dir_ / "partial"; }
  std::filesystem::path sidecar_path() const { return download_dir_ / "partial.json"; }

  // Returns the verified staged file for `match`, downloading or resuming it as described above.
  Result<StageResult> Stage(client::Updater& updater, const client::TargetMatch& match,
                            const StageOptions& options = {});

  // The sidecar content for `match` (canonical JSON), exposed for tests.
  static std::string DescribeTarget(const client::TargetMatch& match);

 private:
  StagingArea(std::filesystem::path staging_dir, std::filesystem::path download_dir)
      : staging_dir_(std::move(staging_dir)), download_dir_(std::move(download_dir)) {}
  Status PreparePartial(const client::TargetMatch& match);
  Status DiscardPartial();

  std::filesystem::path staging_dir_;
  std::filesystem::path download_dir_;
};

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_STAGING_H_
