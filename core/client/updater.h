// Updater: the TUF client workflow (specification 1.0.x, 5.1 to 5.7) around the pure
// trust::TrustedSet. All I/O goes through the narrow interfaces it borrows: Fetcher (network or
// mirror), MetadataStore (trusted metadata) and Clock (reference time).
//
// Refresh() runs four named steps, each "local copy, verify, bounded download, verify, persist":
//   LoadRoot       trusted root from the store, then N+1.root.json until not found (at most
//                  max_root_rotations), persisting each accepted root.
//   LoadTimestamp  stored timestamp as the rollback baseline (if it still verifies), then
//                  timestamp.json; an equal version keeps the stored one.
//   LoadSnapshot   stored snapshot if it is the one timestamp lists, else download and persist.
//   LoadTargets    the same for top-level targets.
// Delegated roles are loaded lazily by GetTargetInfo, each at most once per Refresh, stored copy
// first. The store only ever receives bytes the trusted set accepted.
//
// Persistence: each accepted root is stored at once (5.3.7: a key rotation must stick even if
// the rest of the refresh fails). Timestamp, snapshot and targets are stored together only when
// all four steps succeeded, so a rejected update leaves them exactly as they were. Delegated
// roles are stored when accepted. Fast-forward recovery
// (5.3.11): when the root chain changed the timestamp or snapshot keys, the stored timestamp
// and snapshot are not used as baseline (and are removed from the store).
//
// Bootstrap: the store must hold a trusted "root" (shipped with the device); Refresh fails with
// kNotFound otherwise.
//
// Errors: the kinds of trust::TrustedSet, plus the Fetcher's (kDownload, kSlowRetrieval,
// kLimitExceeded, kNotFound) and the store's (kIo). A failed Refresh leaves the store with only
// the roots it had accepted before the failure (each a verified successor).
//
// Ownership: the updater borrows fetcher, store and clock; they must outlive it.
// Thread-safety: none; one thread at a time.
#ifndef MDU_CORE_CLIENT_UPDATER_H_
#define MDU_CORE_CLIENT_UPDATER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/client/chunk_pipeline.h"
#include "core/client/clock.h"
#include "core/client/fetcher.h"
#include "core/client/metadata_store.h"
#include "core/common/error.h"
#include "core/trust/delegation_search.h"
#include "core/trust/trusted_set.h"

namespace mdu::client {

using trust::TargetMatch;

struct UpdaterConfig {
  std::string metadata_base_url;  // e.g. "https://repo.example/metadata" (no trailing slash)
  std::string targets_base_url;   // e.g. "https://repo.example/targets"
  // 5.3.2: Y. When spent, the refresh goes on with the last root reached (as python-tuf does);
  // the next refresh continues the walk.
  int max_root_rotations = 256;
  int max_delegations = 32;                // 5.6.7.1: roles visited per target search
  uint64_t root_max_length = 512000;       // 5.3.2: W
  uint64_t timestamp_max_length = 16384;   // 5.4: X
  uint64_t snapshot_max_length = 2000000;  // 5.5 when timestamp gives no length
  uint64_t targets_max_length = 5000000;   // 5.6 when snapshot gives no length
  // Download targets as <dir>/<sha256>.<name> when root has consistent_snapshot (5.7.2).
  bool prefix_targets_with_hash = true;
};

// Progress of a target download: bytes of the target held so far (resumed ones included) and its
// listed length. Called after each chunk; must not throw.
using ProgressSink = std::function<void(uint64_t done, uint64_t total)>;

// A resumable target download (Updater::DownloadTargetResumable).
struct ResumableDownload {
  // Bytes kept from earlier attempts (created if missing). The caller makes sure they were
  // meant for this target (same path, length and hashes); they are re-read to rebuild the hash
  // state but never trusted: the final check covers every byte.
  std::filesystem::path partial;
  // Where the verified file goes (same file system as `partial`; its directory must exist).
  std::filesystem::path destination;
  // Optional. Called from the download's worker thread (one call at a time, in order), not from
  // the thread that called DownloadTargetResumable, except for the first call (the kept bytes).
  ProgressSink progress;
  // Receiving overlaps hashing and writing (core/client/chunk_pipeline.h): memory for the data
  // in flight is buffers * buffer_size, whatever the target size.
  ChunkPipelineOptions pipeline;
  // The partial file is flushed to disk (fdatasync) every this many bytes, so a power loss loses
  // at most that much of the progress.
  uint64_t sync_interval = uint64_t{64} << 20;
};

// What a resumable download did.
struct ResumeReport {
  uint64_t resumed_from = 0;  // bytes of `partial` kept and re-hashed
  uint64_t fetched = 0;       // bytes received in this call
  bool restarted = false;     // the source could not resume and sent everything again
};

class Updater {
 public:
  Updater(UpdaterConfig config, Fetcher& fetcher, MetadataStore& store, const Clock& clock);
  Updater(Updater&&) = default;
  Updater(const Updater&) = delete;
  Updater& operator=(const Updater&) = delete;

  // Runs the four steps from a fresh trusted set at clock.Now(). May be called again later.
  Status Refresh();

  // 5.6.7: searches the delegation graph for `target_path`, loading delegated roles as needed.
  // Refreshes first if Refresh has not succeeded yet. An empty optional means "no such target".
  // kInvalidArgument for an invalid path.
  Result<std::optional<TargetMatch>> GetTargetInfo(std::string_view target_path);

  // 5.7: downloads the target (at most its listed length) into a temporary file beside
  // `destination` (whose directory must exist), verifying length and every listed known hash while
  // streaming, then renames it over `destination` durably. On any failure nothing is left at
  // `destination` (an existing file there is untouched) and no temporary file remains.
  // Receiving overlaps hashing and writing as in DownloadTargetResumable (`pipeline`, shrunk to
  // the target's length for small targets); one request (Fetcher::Fetch) per call.
  Status DownloadTarget(const TargetMatch& match, const std::filesystem::path& destination,
                        const ChunkPipelineOptions& pipeline = {});

  // 5.7 with resume: continues the download of `match` at the end of download.partial
  // (Fetcher::FetchFrom), hashing the kept bytes first and the new ones while they stream; at
  // most the listed length in total. When the length is reached and every listed known hash
  // matches, the partial file is synced and renamed to download.destination durably.
  //   - A transport failure (kDownload, kSlowRetrieval, kNotFound, a body ending early) keeps
  //     every byte received in the partial file (synced), for the next call.
  //   - A complete file whose hashes do not match (kHashMismatch), or a source sending more than
  //     the listed length (kLimitExceeded), removes the partial file: the next call starts at 0.
  //     The message says whether kept bytes were part of it (then the mismatch may come from an
  //     altered partial file rather than from the source).
  //   - A partial file longer than the target is truncated to 0 first.
  // Only verified bytes ever appear at the destination. kIo for local file errors.
  Result<ResumeReport> DownloadTargetResumable(const TargetMatch& match,
                                               const ResumableDownload& download);

  // True iff `path` exists and matches the target's length and hashes; false if it is missing
  // or differs; kIo if it cannot be read.
  Result<bool> IsCachedTargetValid(const TargetMatch& match, const std::filesystem::path& path);

  // The trusted set of the last Refresh (null before the first successful LoadRoot).
  const trust::TrustedSet* trusted_set() const {
    return trusted_.has_value() ? &*trusted_ : nullptr;
  }
  const UpdaterConfig& config() const { return config_; }

 private:
  Status LoadRoot();
  Status LoadTimestamp();
  Status LoadSnapshot();
  Status LoadTargets();
  Result<const metadata::Targets*> LoadDelegatedRole(std::string_view role,
                                                     std::string_view parent);
  std::string MetadataUrl(std::string_view role, std::optional<int64_t> version) const;
  std::string TargetUrl(const TargetMatch& match) const;
  Status CheckDownloadable(const TargetMatch& match) const;

  UpdaterConfig config_;
  Fetcher& fetcher_;
  MetadataStore& store_;
  const Clock& clock_;
  std::optional<trust::TrustedSet> trusted_;
  bool refreshed_ = false;
  // Verified timestamp/snapshot/targets, staged in the store (written while the next role is
  // fetched and verified) and committed together at the end of a successful Refresh.
  std::vector<std::unique_ptr<StagedRole>> pending_;
  // Keys of timestamp/snapshot in the root we started from, for 5.3.11.
  metadata::KeyRole initial_timestamp_keys_;
  metadata::KeyRole initial_snapshot_keys_;
};

}  // namespace mdu::client

#endif  // MDU_CORE_CLIENT_UPDATER_H_
