#include "core/client/updater.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/client/chunk_pipeline.h"
#include "core/common/hex.h"
#include "core/crypto/hash.h"
#include "core/io/file.h"

namespace mdu::client {
namespace {

Error WithContext(const Error& error, std::string_view context) {
  return error.WithContext(context);
}

bool SameKeys(const metadata::KeyRole& a, const metadata::KeyRole& b) {
  std::vector<std::string> ids_a = a.keyids;
  std::vector<std::string> ids_b = b.keyids;
  std::sort(ids_a.begin(), ids_a.end());
  std::sort(ids_b.begin(), ids_b.end());
  return ids_a == ids_b && a.threshold == b.threshold;
}

metadata::KeyRole KeysOf(const metadata::Root& root, std::string_view role) {
  auto it = root.roles.find(role);
  return it == root.roles.end() ? metadata::KeyRole{} : it->second;
}

bool IsTopLevelMetadataName(std::string_view role) {
  return role == "root" || role == "timestamp" || role == "snapshot";
}

// The known hash algorithms a target lists; kBadMetadata when there is none we can check.
Result<std::vector<crypto::HashAlgorithm>> KnownAlgorithms(const TargetMatch& match) {
  std::vector<crypto::HashAlgorithm> algorithms;
  for (const auto& [name, hex] : match.file.hashes) {
    if (auto algorithm = crypto::HashAlgorithmFromName(name)) {
      algorithms.push_back(*algorithm);
    }
  }
  if (algorithms.empty()) {
    return MakeError(ErrorKind::kBadMetadata,
                     "target \"" + match.path + "\" lists no hash algorithm we support");
  }
  return algorithms;
}

// 5.7.2: the length and every listed hash we know must match.
Status VerifyDigests(const TargetMatch& match, uint64_t length,
                     const std::vector<std::pair<std::string, std::string>>& digests) {
  const std::string what = "target \"" + match.path + "\" (role \"" + match.role + "\")";
  if (length != static_cast<uint64_t>(match.file.length)) {
    return MakeError(ErrorKind::kLengthMismatch, what + " is " + std::to_string(length) +
                                                     " bytes, metadata says " +
                                                     std::to_string(match.file.length));
  }
  for (const auto& [name, hex] : digests) {
    for (const auto& [listed_name, listed_hex] : match.file.hashes) {
      if (listed_name == name && listed_hex != hex) {
        return MakeError(ErrorKind::kHashMismatch,
                         what + " " + name + " is " + hex + ", metadata says " + listed_hex);
      }
    }
  }
  return {};
}

// Removes the temporary file unless released.
class TempFile {
 public:
  TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~TempFile() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  Status Close() {
    const int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      return MakeError(ErrorKind::kIo, "cannot write " + path_ + ": " + std::strerror(errno));
    }
    return {};
  }
  void Release() { path_.clear(); }

 private:
  std::string path_;
  int fd_;
};

// Writes all of `data` at the current offset of `fd`; kIo naming `path` on failure.
Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorKind::kIo, "cannot write " + path + ": " + std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  return {};
}

// The partial file of a resumable download; closes its descriptor.
class PartialFile {
 public:
  static Result<PartialFile> Open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return MakeError(ErrorKind::kIo,
                       "cannot open " + path.string() + ": " + std::strerror(errno));
    }
    return PartialFile(path.string(), fd);
  }
  PartialFile(PartialFile&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}
  PartialFile& operator=(PartialFile&&) = delete;
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  Result<uint64_t> Size() const {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return MakeError(Failure("stat"));
    return static_cast<uint64_t>(info.st_size);
  }
  // Drops everything from `length` on and positions the descriptor there.
  Status TruncateTo(uint64_t length) {
    if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) return MakeError(Failure("truncate"));
    return SeekTo(length);
  }
  Status SeekTo(uint64_t offset) {
    if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) return MakeError(Failure("seek"));
    return {};
  }
  Status Sync() {
    if (::fdatasync(fd_) != 0) return MakeError(Failure("sync"));
    return {};
  }
  Status Close() {
    const int fd = std::exchange(fd_, -1);
    if (::fsync(fd) != 0 || ::close(fd) != 0) return MakeError(Failure("close"));
    return {};
  }
  // Feeds the first `length` bytes to `hasher`; returns how many could be read (a file that
  // shrank under us yields fewer).
  Result<uint64_t> HashPrefix(uint64_t length, crypto::MultiHasher& hasher) {
    uint64_t done = 0;
    if (length == 0) return done;  // a fresh download: no buffer to allocate and touch
    // Not zeroed: only what pread filled is hashed.
    constexpr size_t kBufferSize = 128 * 1024;
    auto buffer = std::make_unique_for_overwrite<uint8_t[]>(kBufferSize);
    while (done < length) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kBufferSize, length - done));
      const ssize_t n = ::pread(fd_, buffer.get(), want, static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return MakeError(Failure("read"));
      }
      if (n == 0) break;
      hasher.Update(std::span<const uint8_t>(buffer.get(), static_cast<size_t>(n)));
      done += static_cast<uint64_t>(n);
    }
    return done;
  }

 private:
  PartialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Error Failure(std::string_view what) const {
    return Error(ErrorKind::kIo,
                 "cannot " + std::string(what) + " " + path_ + ": " + std::strerror(errno));
  }

  std::string path_;
  int fd_;
};

// The pipeline for `remaining` bytes: blocks no larger than the data, so a small target does not
// allocate (and touch) the full buffers.
ChunkPipelineOptions FitToLength(ChunkPipelineOptions options, uint64_t remaining) {
  if (remaining < options.buffer_size) {
    options.buffer_size = static_cast<size_t>(std::max<uint64_t>(remaining, 1));
  }
  return options;
}

bool KeepsPartialBytes(ErrorKind kind) {
  // Transport failures: what arrived is as good as before; the next attempt resumes after it.
  return kind == ErrorKind::kDownload || kind == ErrorKind::kSlowRetrieval ||
         kind == ErrorKind::kNotFound || kind == ErrorKind::kIo;
}

}  // namespace

Updater::Updater(UpdaterConfig config, Fetcher& fetcher, MetadataStore& store, const Clock& clock)
    : config_(std::move(config)), fetcher_(fetcher), store_(store), clock_(clock) {}

Status Updater::Refresh() {
  refreshed_ = false;
  pending_.clear();
  Status verified = [this]() -> Status {
    MDU_RETURN_IF_ERROR(LoadRoot());
    MDU_RETURN_IF_ERROR(LoadTimestamp());
    MDU_RETURN_IF_ERROR(LoadSnapshot());
    return LoadTargets();
  }();
  if (!verified) {
    pending_.clear();  // discards the staged writes (their temporary files) now
    return verified;
  }
  // All four steps verified: only now does the new state replace the stored one, so a rejected
  // update leaves timestamp, snapshot and targets in the store exactly as they were.
  MDU_RETURN_IF_ERROR(store_.Commit(std::exchange(pending_, {})));
  refreshed_ = true;
  return {};
}

std::string Updater::MetadataUrl(std::string_view role, std::optional<int64_t> version) const {
  std::string url = config_.metadata_base_url + "/";
  if (version) {
    url += std::to_string(*version) + ".";
  }
  return url + PercentEncode(role) + ".json";
}

Status Updater::LoadRoot() {
  trusted_.reset();
  // 5.2: the trusted root from the store (shipped with the device).
  Result<std::string> local = store_.Load("root", config_.root_max_length);
  if (!local) {
    return MakeError(WithContext(local.error(), "loading the trusted root"));
  }
  MDU_ASSIGN_OR_RETURN(trust::TrustedSet set, trust::TrustedSet::Create(*local, clock_.Now()));
  trusted_.emplace(std::move(set));
  initial_timestamp_keys_ = KeysOf(trusted_->root(), "timestamp");
  initial_snapshot_keys_ = KeysOf(trusted_->root(), "snapshot");

  // 5.3.2 - 5.3.8: walk the chain N+1, N+2, ... until the repository has no next version or
  // the rotation budget (Y) is spent.
  for (int i = 0; i < config_.max_root_rotations; ++i) {
    const int64_t next = trusted_->root().common.version + 1;
    Result<std::string> bytes =
        fetcher_.FetchBytes(MetadataUrl("root", next), config_.root_max_length);
    if (!bytes) {
      if (bytes.error().kind() == ErrorKind::kNotFound) {
        break;  // the latest root is reached
      }
      return MakeError(WithContext(bytes.error(), "root version " + std::to_string(next)));
    }
    MDU_RETURN_IF_ERROR(trusted_->UpdateRoot(*bytes));
    MDU_RETURN_IF_ERROR(store_.Store("root", *bytes));  // 5.3.7
  }
  return {};
}

Status Updater::LoadTimestamp() {
  const metadata::Root& root = trusted_->root();
  // 5.3.11: after the timestamp or snapshot keys rotated, the stored timestamp and snapshot may
  // be fast-forwarded by an attacker; forget them instead of using them as rollback baseline.
  if (!SameKeys(initial_timestamp_keys_, KeysOf(root, "timestamp")) ||
      !SameKeys(initial_snapshot_keys_, KeysOf(root, "snapshot"))) {
    MDU_RETURN_IF_ERROR(store_.Remove("timestamp"));
    MDU_RETURN_IF_ERROR(store_.Remove("snapshot"));
  } else if (Result<std::string> local = store_.Load("timestamp", config_.timestamp_max_length)) {
    // The stored copy is only a rollback baseline: if it no longer verifies it is ignored.
    (void)trusted_->UpdateTimestamp(*local);
  }

  // 5.4.1: download timestamp.json, at most X bytes.
  Result<HugePageString> fetched =
      fetcher_.FetchDocument(MetadataUrl("timestamp", std::nullopt), config_.timestamp_max_length);
  if (!fetched) {
    return MakeError(WithContext(fetched.error(), "timestamp"));
  }
  HugePageString bytes = std::move(fetched).value();
  Result<const metadata::Timestamp*> accepted = trusted_->UpdateTimestamp(bytes);
  if (!accepted) {
    // Same version as stored: nothing new, the stored copy stays trusted.
    if (accepted.error().kind() == ErrorKind::kEqualVersion) {
      return {};
    }
    return MakeError(accepted.error());
  }
  // 5.4.5, committed by Refresh. Staged only once accepted: an unchanged timestamp (the usual
  // poll) never costs a write.
  pending_.push_back(store_.Stage("timestamp", std::move(bytes)));
  return {};
}

Status Updater::LoadSnapshot() {
  // The stored snapshot is reused when it is the one timestamp lists (no download); otherwise it
  // remains the rollback baseline for the new one, if it verified.
  const metadata::MetaFile& meta = trusted_->timestamp()->snapshot_meta;
  // 5.5.1: at most the length timestamp lists, else Y.
  const uint64_t max_length =
      meta.length ? static_cast<uint64_t>(*meta.length) : config_.snapshot_max_length;
  if (Result<std::string> local = store_.Load("snapshot", max_length)) {
    if (trusted_->UpdateSnapshot(*local, /*trusted_local=*/true)) {
      return {};
    }
  }
  const std::optional<int64_t> version =
      trusted_->root().consistent_snapshot ? std::optional<int64_t>(meta.version) : std::nullopt;
  Result<HugePageString> bytes =
      fetcher_.FetchDocument(MetadataUrl("snapshot", version), max_length);
  if (!bytes) {
    return MakeError(
        WithContext(bytes.error(), "snapshot version " + std::to_string(meta.version)));
  }
  // Staged before verification so the disk write overlaps it; dropped (never stored) if rejected.
  std::unique_ptr<StagedRole> staged = store_.Stage("snapshot", std::move(*bytes));
  MDU_RETURN_IF_ERROR(trusted_->UpdateSnapshot(staged->bytes()));
  pending_.push_back(std::move(staged));  // 5.5.7, committed by Refresh
  return {};
}

Status Updater::LoadTargets() {
  Result<const metadata::Targets*> targets = LoadDelegatedRole("targets", "root");
  if (!targets) {
    return MakeError(std::move(targets).error());
  }
  return {};
}

Result<const metadata::Targets*> Updater::LoadDelegatedRole(std::string_view role,
                                                            std::string_view parent) {
  if (const metadata::Targets* loaded = trusted_->TargetsRole(role)) {
    return loaded;
  }
  if (IsTopLevelMetadataName(role)) {
    return MakeError(ErrorKind::kBadMetadata, "role \"" + std::string(parent) +
                                                  "\" delegates to reserved role name \"" +
                                                  std::string(role) + "\"");
  }
  const metadata::Snapshot& snapshot = *trusted_->snapshot();
  auto meta_it = snapshot.meta.find(std::string(role) + ".json");
  if (meta_it == snapshot.meta.end()) {
    // 5.6.1: only roles snapshot lists (extraneous dependencies).
    return MakeError(ErrorKind::kBadMetadata, "role \"" + std::string(role) +
                                                  "\" is not listed in snapshot version " +
                                                  std::to_string(snapshot.common.version));
  }
  const metadata::MetaFile& meta = meta_it->second;
  // 5.6.1: at most the length snapshot lists, else Z.
  const uint64_t max_length =
      meta.length ? static_cast<uint64_t>(*meta.length) : config_.targets_max_length;
  // Stored copy first: valid if it is the version snapshot lists, with its hashes.
  if (Result<std::string> local = store_.Load(role, max_length)) {
    if (auto accepted = trusted_->UpdateDelegatedTargets(*local, role, parent)) {
      return *accepted;
    }
  }
  const std::optional<int64_t> version =
      trusted_->root().consistent_snapshot ? std::optional<int64_t>(meta.version) : std::nullopt;
  Result<HugePageString> bytes = fetcher_.FetchDocument(MetadataUrl(role, version), max_length);
  if (!bytes) {
    return MakeError(WithContext(bytes.error(), "role \"" + std::string(role) + "\" version " +
                                                    std::to_string(meta.version)));
  }
  // Staged before verification so the disk write overlaps it; dropped (never stored) if rejected.
  std::unique_ptr<StagedRole> staged = store_.Stage(role, std::move(*bytes));
  MDU_ASSIGN_OR_RETURN(const metadata::Targets* accepted,
                       trusted_->UpdateDelegatedTargets(staged->bytes(), role, parent));
  // 5.6.6: top-level targets is committed with the rest of Refresh; delegated roles, loaded
  // lazily after a successful Refresh, are persisted as soon as they are accepted.
  if (refreshed_) {
    std::vector<std::unique_ptr<StagedRole>> now;
    now.push_back(std::move(staged));
    MDU_RETURN_IF_ERROR(store_.Commit(std::move(now)));
  } else {
    pending_.push_back(std::move(staged));
  }
  return accepted;
}

Result<std::optional<TargetMatch>> Updater::GetTargetInfo(std::string_view target_path) {
  if (!refreshed_) {
    MDU_RETURN_IF_ERROR(Refresh());
  }
  return trust::FindTarget(
      target_path,
      [this](std::string_view role, std::string_view parent) {
        return LoadDelegatedRole(role, parent);
      },
      trust::SearchOptions{.max_roles_visited = config_.max_delegations});
}

std::string Updater::TargetUrl(const TargetMatch& match) const {
  const std::string_view path = match.path;
  const size_t slash = path.rfind('/');
  const std::string_view dir = slash == std::string_view::npos ? "" : path.substr(0, slash + 1);
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  std::string url = config_.targets_base_url + "/" + std::string(dir);
  const bool consistent = trusted_.has_value() && trusted_->root().consistent_snapshot;
  // 5.7.2: HASH.FILENAME with consistent snapshots; the sha256 is required for that name.
  if (consistent && config_.prefix_targets_with_hash) {
    if (std::optional<std::string_view> sha256 = match.file.Sha256()) {
      url += std::string(*sha256) + ".";
    }
  }
  return url + std::string(name);
}

Status Updater::CheckDownloadable(const TargetMatch& match) const {
  MDU_RETURN_IF_ERROR(metadata::ValidateTargetPath(match.path));
  if (trusted_.has_value() && trusted_->root().consistent_snapshot &&
      config_.prefix_targets_with_hash && !match.file.Sha256()) {
    return MakeError(ErrorKind::kBadMetadata,
                     "target \"" + match.path + "\" has no sha256 for its consistent name");
  }
  if (match.file.length < 0) {
    return MakeError(ErrorKind::kBadMetadata,
                     "target \"" + match.path + "\" has a negative length");
  }
  return {};
}

Status Updater::DownloadTarget(const TargetMatch& match, const std::filesystem::path& destination,
                               const ChunkPipelineOptions& pipeline_options) {
  MDU_RETURN_IF_ERROR(CheckDownloadable(match));
  MDU_ASSIGN_OR_RETURN(std::vector<crypto::HashAlgorithm> algorithms, KnownAlgorithms(match));
  const uint64_t length = static_cast<uint64_t>(match.file.length);
  std::filesystem::path directory = destination.parent_path();
  if (directory.empty()) {
    directory = ".";
  }
  std::string pattern =
      (directory / ("." + destination.filename().string() + ".part-XXXXXX")).string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, "cannot create a temporary file in " + directory.string() +
                                         ": " + std::strerror(errno));
  }
  TempFile temp(pattern, fd);

  // Receiving runs on this thread; hashing and writing on the pipeline's worker, which owns
  // `hasher` and the temporary file's position until Finish/Cancel.
  crypto::MultiHasher hasher(algorithms);
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<ChunkPipeline> pipeline,
                       ChunkPipeline::Start(FitToLength(pipeline_options, length),
                                            [&](std::string_view block) -> Status {
                                              hasher.Update(AsBytes(block));
                                              return WriteAll(temp.fd(), block, temp.path());
                                            }));
  // 5.7.2: at most the listed length; the fetcher enforces it (endless data).
  Status fetched = fetcher_.Fetch(TargetUrl(match), length,
                                  [&](std::string_view chunk) { return pipeline->Push(chunk); });
  // A failed transfer leaves nothing behind, so what is still queued is dropped unwritten.
  Status drained;
  if (fetched) {
    drained = pipeline->Finish();
  } else {
    pipeline->Cancel();
  }
  pipeline.reset();
  if (!fetched || !drained) {
    const Error& error = !fetched ? fetched.error() : drained.error();
    return MakeError(WithContext(error, "target \"" + match.path + "\""));
  }
  MDU_RETURN_IF_ERROR(VerifyDigests(match, hasher.length(), hasher.FinishHex()));
  MDU_RETURN_IF_ERROR(temp.Close());
  if (::rename(temp.path().c_str(), destination.c_str()) != 0) {
    return MakeError(ErrorKind::kIo, "cannot rename " + temp.path() + " to " +
                                         destination.string() + ": " + std::strerror(errno));
  }
  temp.Release();
  return io::SyncDirectory(directory);
}

Result<ResumeReport> Updater::DownloadTargetResumable(const TargetMatch& match,
                                                      const ResumableDownload& download) {
  MDU_RETURN_IF_ERROR(CheckDownloadable(match));
  MDU_ASSIGN_OR_RETURN(std::vector<crypto::HashAlgorithm> algorithms, KnownAlgorithms(match));
  const uint64_t length = static_cast<uint64_t>(match.file.length);
  const std::string what = "target \"" + match.path + "\"";
  MDU_ASSIGN_OR_RETURN(PartialFile partial, PartialFile::Open(download.partial));
  auto discard = [&](const Error& error) -> Error {
    ::unlink(partial.path().c_str());
    return error;
  };

  // The kept bytes are re-read, never trusted: they go through the same hashes as new ones.
  ResumeReport report;
  auto hasher = std::make_unique<crypto::MultiHasher>(algorithms);
  MDU_ASSIGN_OR_RETURN(uint64_t kept, partial.Size());
  if (kept > length) kept = 0;
  MDU_ASSIGN_OR_RETURN(kept, partial.HashPrefix(kept, *hasher));
  MDU_RETURN_IF_ERROR(partial.TruncateTo(kept));
  report.resumed_from = kept;
  if (download.progress) download.progress(kept, length);

  if (kept < length) {
    // Receiving runs on this thread; hashing and writing on the pipeline's worker, which owns
    // `hasher`, `partial`'s position, `held` and `unsynced` from its start until Finish/Cancel.
    uint64_t held = kept;  // bytes in the partial file
    uint64_t unsynced = 0;
    std::unique_ptr<ChunkPipeline> pipeline;
    auto consume = [&](std::string_view block) -> Status {
      hasher->Update(AsBytes(block));
      MDU_RETURN_IF_ERROR(WriteAll(partial.fd(), block, partial.path()));
      held += block.size();
      unsynced += block.size();
      if (unsynced >= download.sync_interval) {
        unsynced = 0;
        MDU_RETURN_IF_ERROR(partial.Sync());
      }
      if (download.progress) download.progress(held, length);
      return {};
    };
    Status fetched = fetcher_.FetchFrom(
        TargetUrl(match), kept, length,
        [&](uint64_t start) -> Status {
          if (pipeline) {
            return MakeError(ErrorKind::kDownload, "the source started the download twice");
          }
          if (start != kept) {
            if (start != 0) {
              return MakeError(ErrorKind::kDownload, "the source resumed at byte " +
                                                         std::to_string(start) + ", asked for " +
                                                         std::to_string(kept));
            }
            // The source cannot resume: everything comes again.
            report.restarted = true;
            held = 0;
            hasher = std::make_unique<crypto::MultiHasher>(algorithms);
            MDU_RETURN_IF_ERROR(partial.TruncateTo(0));
          }
          MDU_ASSIGN_OR_RETURN(
              pipeline,
              ChunkPipeline::Start(FitToLength(download.pipeline, length - held), consume));
          return {};
        },
        [&](std::string_view chunk) -> Status {
          if (!pipeline) return MakeError(ErrorKind::kInternal, "a chunk before the start");
          report.fetched += chunk.size();
          return pipeline->Push(chunk);
        });
    // What arrived is written out (and kept for the next attempt) unless the source sent data
    // the metadata does not allow; then it is dropped unwritten.
    Status drained;
    if (pipeline) {
      if (!fetched && !KeepsPartialBytes(fetched.error().kind())) {
        pipeline->Cancel();
      } else {
        drained = pipeline->Finish();
      }
      pipeline.reset();
    }
    if (!fetched || !drained) {
      const Error& first = !fetched ? fetched.error() : drained.error();
      const Error error = first.WithContext(what + " (" + std::to_string(held) + " of " +
                                            std::to_string(length) + " bytes held)");
      if (!KeepsPartialBytes(error.kind())) return MakeError(discard(error));
      (void)partial.Sync();  // best effort: the bytes held are what the next attempt resumes
      return MakeError(error);
    }
    if (held < length) {
      (void)partial.Sync();
      return MakeError(ErrorKind::kDownload, what + ": the source ended after " +
                                                 std::to_string(held) + " of " +
                                                 std::to_string(length) + " bytes");
    }
  }

  // 5.7.2: length and every listed hash we know, over every byte of the file.
  Status verified = VerifyDigests(match, hasher->length(), hasher->FinishHex());
  if (!verified) {
    Error error = verified.error();
    if (report.resumed_from > 0 && !report.restarted) {
      error = error.WithContext("after resuming at byte " + std::to_string(report.resumed_from) +
                                " (the kept partial file may have been altered); discarded");
    }
    return MakeError(discard(error));
  }
  MDU_RETURN_IF_ERROR(partial.Close());
  if (::rename(download.partial.c_str(), download.destination.c_str()) != 0) {
    return MakeError(discard(Error(ErrorKind::kIo, "cannot rename " + download.partial.string() +
                                                       " to " + download.destination.string() +
                                                       ": " + std::strerror(errno))));
  }
  std::filesystem::path directory = download.destination.parent_path();
  if (directory.empty()) directory = ".";
  MDU_RETURN_IF_ERROR(io::SyncDirectory(directory));
  std::filesystem::path partial_directory = download.partial.parent_path();
  if (partial_directory.empty()) partial_directory = ".";
  if (partial_directory != directory) MDU_RETURN_IF_ERROR(io::SyncDirectory(partial_directory));
  return report;
}

Result<bool> Updater::IsCachedTargetValid(const TargetMatch& match,
                                          const std::filesystem::path& path) {
  MDU_ASSIGN_OR_RETURN(std::vector<crypto::HashAlgorithm> algorithms, KnownAlgorithms(match));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return MakeError(ErrorKind::kIo, "cannot stat " + path.string() + ": " + ec.message());
    }
    return false;
  }
  MDU_ASSIGN_OR_RETURN(crypto::FileDigests digests, crypto::HashFile(path.string(), algorithms));
  return static_cast<bool>(VerifyDigests(match, digests.length, digests.hex));
}

}  // namespace mdu::client
