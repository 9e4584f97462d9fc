#include "repo-server/repository.h"

#include <utility>

#include "core/json/value.h"
#include "core/trust/trusted_set.h"

namespace mdu::server {
namespace {

bool IsLowerHexSha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The stored root chain must continue the configured trust anchor (5.3, as a client would).
Status CheckStoredRootChain(const RepositoryView& view, std::string_view bootstrap_root,
                            UnixSeconds now) {
  auto set = trust::TrustedSet::Create(bootstrap_root, now);
  if (!set) return MakeError(set.error().WithContext("configured trusted root"));
  if (!view.initialized()) return {};
  int64_t configured = set->root().common.version;
  int64_t stored = view.CurrentVersion("root");
  if (configured > stored) {
    return MakeError(ErrorKind::kBadVersion,
                     "configured trusted root version " + std::to_string(configured) +
                         " is newer than the stored root version " + std::to_string(stored));
  }
  const SharedBytes* same = view.Find("root", configured);
  if (same == nullptr || **same != bootstrap_root) {
    return MakeError(ErrorKind::kBadVersion, "stored root version " + std::to_string(configured) +
                                                 " differs from the configured trusted root");
  }
  for (int64_t version = configured + 1; version <= stored; ++version) {
    const SharedBytes* next = view.Find("root", version);
    if (next == nullptr) {
      return MakeError(ErrorKind::kNotFound,
                       "stored root chain misses version " + std::to_string(version));
    }
    auto root = set->UpdateRoot(**next);
    if (!root) {
      return MakeError(root.error().WithContext("stored root version " + std::to_string(version)));
    }
  }
  return {};
}

// The sha512 of a blob committed before the store recorded it: read back chunk by chunk.
Result<std::string> HashStoredBlob(const Store& store, const BlobInfo& blob) {
  crypto::Hasher sha512(crypto::HashAlgorithm::kSha512);
  const uint64_t chunks = (blob.length + blob.chunk_bytes - 1) / blob.chunk_bytes;
  for (uint64_t index = 0; index < chunks; ++index) {
    MDU_ASSIGN_OR_RETURN(std::string chunk, store.ReadBlobChunk(blob.blob_id, index));
    sha512.Update(chunk);
  }
  return sha512.FinishHex();
}

}  // namespace

PublishSession::~PublishSession() {
  if (committed_) return;
  if (open_ && !open_->blob_id.empty()) staged_ids_.push_back(open_->blob_id);
  for (const std::string& id : staged_ids_) (void)store_.DiscardBlob(id);
}

Status PublishSession::AddMetadata(std::string_view name, std::string_view bytes) {
  MDU_RETURN_IF_ERROR(ParseMetadataName(name));
  if (input_.metadata.size() >= kMaxMetadataFiles) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "more than " + std::to_string(kMaxMetadataFiles) + " metadata files");
  }
  if (bytes.size() > kMaxMetadataFileBytes) {
    return MakeError(
        ErrorKind::kInvalidArgument,
        std::string(name) + " is larger than " + std::to_string(kMaxMetadataFileBytes) + " bytes");
  }
  if (!input_.metadata.emplace(std::string(name), std::string(bytes)).second) {
    return MakeError(ErrorKind::kInvalidArgument, std::string(name) + " uploaded twice");
  }
  metadata_bytes_ += bytes.size();
  return {};
}

Status PublishSession::AddTargetChunk(std::string_view sha256, uint64_t offset,
                                      std::string_view data) {
  if (!open_ || open_->declared_sha256 != sha256) {
    if (open_) MDU_RETURN_IF_ERROR(FinishBlob());
    if (!IsLowerHexSha256(sha256)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "target chunk: sha256 must be 64 lowercase hex digits");
    }
    for (const StagedTarget& staged : input_.targets) {
      if (staged.sha256 == sha256) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "target " + std::string(sha256) + " uploaded twice");
      }
    }
    if (input_.claimed.contains(sha256)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "target " + std::string(sha256) + " uploaded after naming it as stored");
    }
    MDU_ASSIGN_OR_RETURN(auto writer, store_.NewBlob());
    open_.emplace();
    open_->declared_sha256 = std::string(sha256);
    open_->writer = std::move(writer);
  }
  if (offset != open_->length) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "target " + std::string(sha256) + ": chunk at offset " +
                         std::to_string(offset) + ", expected " + std::to_string(open_->length));
  }
  if (data.size() > kBlobChunkBytes) {
    return MakeError(ErrorKind::kInvalidArgument, "target chunk larger than 1 MiB");
  }
  open_->sha256.Update(data);
  open_->sha512.Update(data);
  open_->length += data.size();
  return open_->writer->Append(data);
}

Status PublishSession::ClaimStoredTarget(std::string_view sha256, uint64_t length) {
  MDU_RETURN_IF_ERROR(FinishBlob());
  if (!IsLowerHexSha256(sha256)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "stored target: sha256 must be 64 lowercase hex digits");
  }
  if (input_.claimed.size() >= kMaxClaimedTargets) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "more than " + std::to_string(kMaxClaimedTargets) + " stored targets named");
  }
  for (const StagedTarget& staged : input_.targets) {
    if (staged.sha256 == sha256) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "target " + std::string(sha256) + " both uploaded and named as stored");
    }
  }
  auto stored = store_.GetTarget(sha256);
  if (!stored && stored.error().kind() != ErrorKind::kNotFound) return MakeError(stored.error());
  if (!stored || stored->length != length) {
    return MakeError(ErrorKind::kNotFound,
                     "target content with sha256 " + std::string(sha256) + " (" +
                         std::to_string(length) +
                         " bytes) named as stored is not stored by this server: upload it");
  }
  if (!input_.claimed.emplace(std::string(sha256), length).second) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "target " + std::string(sha256) + " named as stored twice");
  }
  return {};
}

Status PublishSession::FinishBlob() {
  if (!open_) return {};
  OpenBlob blob = std::move(*open_);
  open_.reset();
  MDU_ASSIGN_OR_RETURN(std::string id, blob.writer->Finish());
  staged_ids_.push_back(id);
  StagedTarget staged{id, blob.length, blob.sha256.FinishHex(), blob.sha512.FinishHex()};
  if (staged.sha256 != blob.declared_sha256) {
    return MakeError(ErrorKind::kHashMismatch, "uploaded target declared as sha256 " +
                                                   blob.declared_sha256 + " hashes to " +
                                                   staged.sha256);
  }
  input_.targets.push_back(std::move(staged));
  return {};
}

Result<std::unique_ptr<Repository>> Repository::Open(std::unique_ptr<Store> store,
                                                     std::string bootstrap_root,
                                                     const Clock& clock) {
  MDU_ASSIGN_OR_RETURN(auto entries, store->AllMetadata());
  MDU_ASSIGN_OR_RETURN(auto current, store->CurrentVersions());
  MDU_ASSIGN_OR_RETURN(auto view, RepositoryView::Build(entries, current));
  MDU_RETURN_IF_ERROR(CheckStoredRootChain(*view, bootstrap_root, clock.Now()));
  return std::unique_ptr<Repository>(
      new Repository(std::move(store), std::move(bootstrap_root), clock, std::move(view)));
}

void Repository::PruneTimestampHistory(const RepositoryView& current, PublishBatch& batch) const {
  auto next = batch.current.find("timestamp");
  if (timestamp_history_ == 0 || next == batch.current.end()) return;
  const auto role = current.files().find("timestamp");
  if (role == current.files().end()) return;
  // Versions <= newest - keep go; the newest is the one this publish makes current.
  const int64_t keep = static_cast<int64_t>(timestamp_history_);
  for (const auto& [version, bytes] : role->second) {
    if (version > next->second - keep || version == next->second) break;
    batch.removed_metadata.emplace_back("timestamp", version);
  }
}

Result<PublishOutcome> Repository::Publish(PublishSession& session, std::string_view actor) {
  std::lock_guard lock(publish_mu_);
  auto rejected = [&](const Error& error) {
    if (audit_ != nullptr) {
      // The rejection stands even if it cannot be recorded; the error names the publish.
      (void)audit_->Append(actor, "publish_rejected",
                           json::Value::MakeObject({{"description", session.description_},
                                                    {"reason", error.ToString()}}));
    }
    return MakeError(error);
  };
  if (auto finished = session.FinishBlob(); !finished) return rejected(finished.error());
  std::shared_ptr<const RepositoryView> current = view_.load();
  StoredTargetLookup lookup =
      [this](std::string_view sha256,
             bool want_sha512) -> Result<std::optional<StoredTargetInfo>> {
    auto info = store_->GetTarget(sha256);
    if (!info) {
      if (info.error().kind() == ErrorKind::kNotFound) return std::optional<StoredTargetInfo>();
      return MakeError(info.error());
    }
    StoredTargetInfo stored{info->length, info->sha512};
    if (want_sha512 && stored.sha512.empty()) {
      MDU_ASSIGN_OR_RETURN(stored.sha512, HashStoredBlob(*store_, *info));
    }
    return std::optional<StoredTargetInfo>(std::move(stored));
  };
  if (rebase_) {
    if (auto rebased = rebase_(session.input_, *current); !rebased) {
      return rejected(rebased.error());
    }
  }
  auto verified = VerifyPublish(*current, bootstrap_root_, session.input_, clock_.Now(), lookup);
  if (!verified) return rejected(verified.error());
  PublishPlan& plan = *verified;
  PruneTimestampHistory(*current, plan.batch);
  if (fault_hook_) fault_hook_("verified");
  if (audit_ != nullptr) {
    json::Object roles;
    for (const auto& [role, version] : plan.batch.current) {
      roles.emplace_back(role, json::Value(version));
    }
    json::Value detail = json::Value::MakeObject(
        {{"description", session.description_},
         {"roles", json::Value::MakeObject(std::move(roles))},
         {"targets_stored", json::Value(static_cast<int64_t>(plan.batch.targets.size()))},
         {"targets_reused", json::Value(static_cast<int64_t>(session.input_.claimed.size()))}});
    MDU_RETURN_IF_ERROR(audit_->AppendWith(actor, "publish_accepted", std::move(detail),
                                           [&](const AuditRecord& record) {
                                             plan.batch.audit = record;
                                             return store_->Commit(plan.batch);
                                           }));
  } else {
    MDU_RETURN_IF_ERROR(store_->Commit(plan.batch));
  }
  session.committed_ = true;
  if (fault_hook_) fault_hook_("committed");
  // Staged blobs that the commit did not reference (duplicates of stored content).
  for (const std::string& id : plan.unused_blob_ids) (void)store_->DiscardBlob(id);
  auto next = current->With(plan.batch);
  if (!next) {
    // Committed but unreadable: cannot happen for verified metadata; keep serving the old view
    // until a restart rebuilds it from the store.
    return MakeError(next.error().WithContext("rebuilding the view after commit"));
  }
  view_.store(*next);
  if (listener_) listener_(**next);
  PublishOutcome outcome;
  outcome.roles = (*next)->current();
  outcome.targets_stored = static_cast<uint32_t>(plan.batch.targets.size());
  outcome.targets_reused = static_cast<uint32_t>(session.input_.claimed.size());
  return outcome;
}

}  // namespace mdu::server
