#include "repo-server/timestamp_resigner.h"

#include "core/metadata/metadata.h"

namespace mdu::server {

Result<TimestampResigner> TimestampResigner::Create(Repository& repository,
                                                    const crypto::Signer& key,
                                                    ResignPolicy policy) {
  if (policy.margin_seconds <= 0 || policy.validity_seconds <= policy.margin_seconds) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "timestamp re-signing needs 0 < margin < validity, got margin " +
                         std::to_string(policy.margin_seconds) + " s, validity " +
                         std::to_string(policy.validity_seconds) + " s");
  }
  return TimestampResigner(repository, key, policy);
}

Result<bool> TimestampResigner::Tick() {
  std::shared_ptr<const RepositoryView> view = repository_->view();
  const SharedBytes* current = view->Find("timestamp", 0);
  if (current == nullptr) return false;
  UnixSeconds now = repository_->clock().Now();
  auto parsed = metadata::ParseMetadata<metadata::Timestamp>(**current);
  if (!parsed) return MakeError(parsed.error().WithContext("current timestamp"));
  if (parsed->role.common.expires - now > policy_.margin_seconds) return false;

  metadata::Timestamp next = parsed->role;
  next.common.version += 1;
  next.common.expires = now + policy_.validity_seconds;
  auto signed_next = metadata::MakeMetadata(std::move(next));
  MDU_RETURN_IF_ERROR(metadata::Sign(signed_next.envelope, *key_));

  auto session = repository_->NewPublish();
  MDU_RETURN_IF_ERROR(session->AddMetadata("timestamp.json", signed_next.envelope.Serialize()));
  auto outcome = repository_->Publish(*session);
  if (!outcome) return MakeError(outcome.error().WithContext("re-signed timestamp"));
  return true;
}

}  // namespace mdu::server
