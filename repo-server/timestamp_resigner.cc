#include "repo-server/timestamp_resigner.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "core/crypto/hash.h"
#include "core/metadata/metadata.h"

namespace mdu::server {

Status RebaseUploadedTimestamp(PublishInput& input, const RepositoryView& current,
                               const crypto::Signer& key) {
  auto uploaded = input.metadata.find("timestamp.json");
  const SharedBytes* published = current.Find("timestamp", 0);
  if (uploaded == input.metadata.end() || published == nullptr) return {};
  auto next = metadata::ParseMetadata<metadata::Timestamp>(uploaded->second);
  if (!next) return MakeError(next.error().WithContext("uploaded timestamp.json"));
  const int64_t published_version = current.CurrentVersion("timestamp");
  if (next->role.common.version > published_version ||
      next->role.snapshot_meta.version <= current.CurrentVersion("snapshot")) {
    return {};
  }
  const int64_t uploaded_version = next->role.common.version;
  metadata::Timestamp role = next->role;
  role.common.version = published_version + 1;
  auto signed_next = metadata::MakeMetadata(std::move(role));
  MDU_RETURN_IF_ERROR(metadata::Sign(signed_next.envelope, key));
  uploaded->second = signed_next.envelope.Serialize();
  spdlog::info("event=timestamp_rebased uploaded_version={} published_version={} new_version={}",
               uploaded_version, published_version, published_version + 1);
  return {};
}

Result<TimestampResigner> TimestampResigner::Create(Repository& repository,
                                                    const crypto::Signer& key, ResignPolicy policy,
                                                    const crypto::Signer* snapshot_key) {
  if (policy.margin_seconds <= 0 || policy.validity_seconds <= policy.margin_seconds) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "timestamp re-signing needs 0 < margin < validity, got margin " +
                         std::to_string(policy.margin_seconds) + " s, validity " +
                         std::to_string(policy.validity_seconds) + " s");
  }
  if (snapshot_key != nullptr && policy.snapshot_validity_seconds <= policy.margin_seconds) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "snapshot re-signing needs margin < snapshot validity, got margin " +
                         std::to_string(policy.margin_seconds) + " s, snapshot validity " +
                         std::to_string(policy.snapshot_validity_seconds) + " s");
  }
  return TimestampResigner(repository, key, policy, snapshot_key);
}

Result<bool> TimestampResigner::Tick() {
  std::shared_ptr<const RepositoryView> view = repository_->view();
  const SharedBytes* current = view->Find("timestamp", 0);
  if (current == nullptr) return false;
  UnixSeconds now = repository_->clock().Now();
  auto parsed = metadata::ParseMetadata<metadata::Timestamp>(**current);
  if (!parsed) return MakeError(parsed.error().WithContext("current timestamp"));
  bool timestamp_due = parsed->role.common.expires - now <= policy_.margin_seconds;

  // The snapshot, re-signed if a snapshot key is held and it is due.
  std::optional<std::string> next_snapshot;
  if (snapshot_key_ != nullptr) {
    const SharedBytes* snapshot_bytes = view->Find("snapshot", 0);
    if (snapshot_bytes != nullptr) {
      auto snapshot = metadata::ParseMetadata<metadata::Snapshot>(**snapshot_bytes);
      if (!snapshot) return MakeError(snapshot.error().WithContext("current snapshot"));
      if (snapshot->role.common.expires - now <= policy_.margin_seconds) {
        metadata::Snapshot next = snapshot->role;
        next.common.version += 1;
        next.common.expires = now + policy_.snapshot_validity_seconds;
        auto signed_next = metadata::MakeMetadata(std::move(next));
        MDU_RETURN_IF_ERROR(metadata::Sign(signed_next.envelope, *snapshot_key_));
        next_snapshot = signed_next.envelope.Serialize();
      }
    }
  }
  if (!timestamp_due && !next_snapshot) return false;

  metadata::Timestamp next = parsed->role;
  next.common.version += 1;
  next.common.expires = now + policy_.validity_seconds;
  if (next_snapshot) {
    // Name the new snapshot with the same kinds of fields the old meta had.
    metadata::MetaFile& meta = next.snapshot_meta;
    meta.version += 1;
    if (meta.length) meta.length = static_cast<int64_t>(next_snapshot->size());
    for (auto& [algorithm, hex] : meta.hashes) {
      auto known = crypto::HashAlgorithmFromName(algorithm);
      if (!known) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "current timestamp names the snapshot by hash " + algorithm +
                             ", which the server cannot compute");
      }
      hex = crypto::DigestHex(*known, *next_snapshot);
    }
  }
  auto signed_next = metadata::MakeMetadata(std::move(next));
  MDU_RETURN_IF_ERROR(metadata::Sign(signed_next.envelope, *key_));

  auto session = repository_->NewPublish();
  if (next_snapshot) {
    MDU_RETURN_IF_ERROR(session->AddMetadata(
        std::to_string(signed_next.role.snapshot_meta.version) + ".snapshot.json", *next_snapshot));
  }
  MDU_RETURN_IF_ERROR(session->AddMetadata("timestamp.json", signed_next.envelope.Serialize()));
  auto outcome = repository_->Publish(*session);
  if (!outcome) {
    return MakeError(outcome.error().WithContext(next_snapshot ? "re-signed snapshot and timestamp"
                                                               : "re-signed timestamp"));
  }
  return true;
}

}  // namespace mdu::server
