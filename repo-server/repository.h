// Repository: the published TUF repository of this server. Owns the Store, the current
// RepositoryView (swapped atomically after each commit) and the publish path:
//
//   PublishSession  collects one publish as it arrives: metadata files in memory (bounded),
//                   target blobs streamed into the store's staging area while hashing them.
//   Publish         verifies the session (repo-server/publish_verifier.h) against the current
//                   view at Clock::Now(), commits it as one Store::Commit and swaps the view;
//                   or rejects it, discarding the staged blobs, leaving everything as it was.
//
// Trust anchor: `bootstrap_root` (the --trusted-root file). Open refuses a store whose root
// chain does not descend from it, so a swapped database cannot change whom the server trusts.
//
// Thread-safety: view() is lock-free-ish (std::atomic<shared_ptr>) and may be called from any
// thread; publishes are serialized by a mutex; a PublishSession belongs to one thread.
#ifndef MDU_REPO_SERVER_REPOSITORY_H_
#define MDU_REPO_SERVER_REPOSITORY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/hash.h"
#include "repo-server/audit_log.h"
#include "repo-server/clock.h"
#include "repo-server/publish_verifier.h"
#include "repo-server/repository_view.h"
#include "repo-server/store.h"

namespace mdu::server {

// Limits of one publish (documented in proto/mdu/v1/repository.proto).
inline constexpr size_t kMaxMetadataFileBytes = 16u << 20;
inline constexpr size_t kMaxMetadataFiles = 4096;
inline constexpr size_t kMaxClaimedTargets = 1u << 20;

class Repository;

class PublishSession {
 public:
  PublishSession(const PublishSession&) = delete;
  PublishSession& operator=(const PublishSession&) = delete;
  // Discards staged blobs that no commit took.
  ~PublishSession();

  // kInvalidArgument: duplicate name, too many files, file too large, bad name.
  Status AddMetadata(std::string_view name, std::string_view bytes);
  // Chunks of one blob come in order: `offset` must equal the bytes received so far for
  // `sha256`; a chunk naming another sha256 ends the previous blob, whose content must hash to
  // its declared sha256 (kHashMismatch otherwise). kInvalidArgument for a malformed sha256, a
  // gap or a blob sent twice.
  Status AddTargetChunk(std::string_view sha256, uint64_t offset, std::string_view data);
  // The publish relies on a blob the store already holds instead of uploading it (ends an open
  // blob like a chunk of another blob would). kNotFound when no committed blob has that sha256
  // and length; kInvalidArgument for a malformed sha256, a digest named twice or also uploaded,
  // or more than kMaxClaimedTargets. Verified again at commit (publish_verifier.h).
  Status ClaimStoredTarget(std::string_view sha256, uint64_t length);
  // Free text recorded in the audit log with the publish (the PublishHeader's description).
  void set_description(std::string description) { description_ = std::move(description); }

 private:
  friend class Repository;
  explicit PublishSession(Store& store) : store_(store) {}
  Status FinishBlob();

  struct OpenBlob {
    std::string declared_sha256;
    std::unique_ptr<BlobWriter> writer;
    std::string blob_id;
    crypto::Hasher sha256{crypto::HashAlgorithm::kSha256};
    crypto::Hasher sha512{crypto::HashAlgorithm::kSha512};
    uint64_t length = 0;
  };

  Store& store_;
  PublishInput input_;
  size_t metadata_bytes_ = 0;
  std::optional<OpenBlob> open_;
  std::vector<std::string> staged_ids_;  // every blob staged, to discard unless committed
  std::string description_;
  bool committed_ = false;
};

struct PublishOutcome {
  std::map<std::string, CurrentRole, std::less<>> roles;
  uint32_t targets_stored = 0;
  uint32_t targets_reused = 0;  // claimed as stored (PublishSession::ClaimStoredTarget)
};

class Repository {
 public:
  // Builds the view from `store`; kBadVersion/kUnsignedMetadata if the stored root chain does
  // not descend from `bootstrap_root`, kBadMetadata if it is not a root. `clock` must outlive
  // the repository.
  static Result<std::unique_ptr<Repository>> Open(std::unique_ptr<Store> store,
                                                  std::string bootstrap_root, const Clock& clock);

  std::shared_ptr<const RepositoryView> view() const { return view_.load(); }
  Store& store() { return *store_; }
  const Clock& clock() const { return clock_; }

  std::unique_ptr<PublishSession> NewPublish() {
    return std::unique_ptr<PublishSession>(new PublishSession(*store_));
  }
  // Verifies and commits (see the file comment). The session's blobs are discarded on failure.
  // With an audit log, an accepted publish is recorded (as `actor`) in the same Store::Commit,
  // a rejected one in a record of its own.
  Result<PublishOutcome> Publish(PublishSession& session, std::string_view actor = "server");

  // Keep at most `keep` timestamp versions (the newest; 0 = every version). Each publish that
  // makes a new timestamp current deletes the older ones beyond that in its own Store::Commit,
  // so the pruning is atomic with the publish and never touches the current version. Devices
  // fetch the timestamp unversioned only (GetMetadata refuses a version), so nothing served
  // goes away; the audit log keeps the record of every publish.
  void set_timestamp_history(size_t keep) {
    std::lock_guard lock(publish_mu_);
    timestamp_history_ = keep;
  }

  // The audit log (borrowed, must outlive the repository; null = none). Set before serving.
  void set_audit_log(AuditLog* audit) {
    std::lock_guard lock(publish_mu_);
    audit_ = audit;
  }

  // Called after each commit with the new view, under the publish lock (so calls never
  // overlap), e.g. to materialize the static mirror. Its failure does not undo the commit.
  using CommitListener = std::function<void(const RepositoryView&)>;
  void set_commit_listener(CommitListener listener) {
    std::lock_guard lock(publish_mu_);
    listener_ = std::move(listener);
  }

  // Called under the publish lock before verification, to adjust the uploaded files (the
  // online timestamp rebase, see timestamp_resigner.h). Its error rejects the publish.
  using PublishRebase = std::function<Status(PublishInput& input, const RepositoryView& current)>;
  void set_publish_rebase(PublishRebase rebase) {
    std::lock_guard lock(publish_mu_);
    rebase_ = std::move(rebase);
  }

  // Test-only fault injection (the kill -9 tests of the commit window): called under the publish
  // lock with "verified" just before a publish's Store::Commit and "committed" right after it,
  // before the view swap.
  using FaultHook = std::function<void(std::string_view point)>;
  void set_fault_hook(FaultHook hook) {
    std::lock_guard lock(publish_mu_);
    fault_hook_ = std::move(hook);
  }

 private:
  Repository(std::unique_ptr<Store> store, std::string bootstrap_root, const Clock& clock,
             std::shared_ptr<const RepositoryView> view)
      : store_(std::move(store)),
        bootstrap_root_(std::move(bootstrap_root)),
        clock_(clock),
        view_(std::move(view)) {}

  // Adds the timestamp versions beyond timestamp_history_ to the batch's removals.
  void PruneTimestampHistory(const RepositoryView& current, PublishBatch& batch) const;

  std::unique_ptr<Store> store_;
  const std::string bootstrap_root_;
  const Clock& clock_;
  std::mutex publish_mu_;
  CommitListener listener_;
  FaultHook fault_hook_;
  PublishRebase rebase_;
  AuditLog* audit_ = nullptr;
  size_t timestamp_history_ = 0;
  std::atomic<std::shared_ptr<const RepositoryView>> view_;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_REPOSITORY_H_
