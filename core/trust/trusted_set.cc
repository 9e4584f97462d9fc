#include "core/trust/trusted_set.h"

#include <string>
#include <utility>

#include "core/common/aside_task.h"
#include "core/common/page_advice.h"
#include "core/json/writer.h"

namespace mdu::trust {
namespace {

// Below this, a thread costs more than the signature check it would overlap.
constexpr size_t kVerifyAsideBytes = 256 * 1024;

using metadata::Envelope;
using metadata::RoleType;

template <class T>
Result<T> AddContext(Result<T> result, std::string_view context) {
  if (!result) {
    return MakeError(result.error().WithContext(context));
  }
  return result;
}
Status AddContext(Status status, std::string_view context) {
  if (!status) {
    return MakeError(status.error().WithContext(context));
  }
  return status;
}

// "timestamp version 7" or "timestamp" when the document has no readable version yet. Only for
// messages: the typed model validates the field.
std::string Describe(std::string_view role_name, const Envelope& envelope) {
  const json::Value* version = envelope.signed_value.Find("version");
  if (version == nullptr || !version->is_int()) {
    return std::string(role_name);
  }
  return std::string(role_name) + " version " + std::to_string(version->as_int());
}

std::string Describe(std::string_view role_name, int64_t version) {
  return std::string(role_name) + " version " + std::to_string(version);
}

// Parses the envelope and checks `_type` before anything looks at the signed content, so a
// snapshot served as timestamp is reported as such rather than as a signature failure.
Result<Envelope> ParseEnvelope(std::string_view bytes, RoleType type, std::string_view role_name) {
  MDU_ASSIGN_OR_RETURN(Envelope envelope,
                       AddContext(Envelope::Parse(bytes), std::string(role_name) + " metadata"));
  const json::Value* found = envelope.signed_value.Find("_type");
  std::string_view expected = metadata::RoleTypeName(type);
  if (found == nullptr || !found->is_string() || found->as_string() != expected) {
    std::string got = (found != nullptr && found->is_string()) ? found->as_string() : "none";
    return MakeError(ErrorKind::kBadMetadata, std::string(role_name) + " metadata: _type is \"" +
                                                  got + "\", expected \"" + std::string(expected) +
                                                  "\"");
  }
  return envelope;
}

Status CheckExpiry(std::string_view role_name, const metadata::CommonFields& common,
                   UnixTime reference_time) {
  if (common.IsExpired(reference_time)) {
    return MakeError(ErrorKind::kExpired,
                     Describe(role_name, common.version) + " expired at " +
                         metadata::FormatExpires(common.expires) + " (reference time " +
                         metadata::FormatExpires(reference_time) + "; freeze attack?)");
  }
  return {};
}

}  // namespace

TrustedSet::TrustedSet(std::unique_ptr<metadata::Root> root, UnixTime reference_time)
    : root_(std::move(root)), reference_time_(reference_time) {}

TrustedSet::~TrustedSet() = default;

Result<TrustedSet> TrustedSet::Create(std::string_view root_bytes, UnixTime reference_time) {
  // 5.2: load the trusted root; it must carry a threshold of its own root keys. Its expiry does
  // not matter yet (checked for the final root in 5.3.10).
  MDU_ASSIGN_OR_RETURN(Envelope envelope, ParseEnvelope(root_bytes, RoleType::kRoot, "root"));
  std::string what = "trusted " + Describe("root", envelope);
  MDU_ASSIGN_OR_RETURN(metadata::Root root,
                       AddContext(metadata::Root::FromValue(envelope.signed_value), what));
  MDU_RETURN_IF_ERROR(AddContext(root.VerifyDelegate("root", envelope), what));
  return TrustedSet(std::make_unique<metadata::Root>(std::move(root)), reference_time);
}

Result<const metadata::Root*> TrustedSet::UpdateRoot(std::string_view bytes) {
  if (timestamp_ != nullptr) {
    return MakeError(ErrorKind::kInternal, "cannot update root after timestamp was loaded");
  }
  MDU_ASSIGN_OR_RETURN(Envelope envelope, ParseEnvelope(bytes, RoleType::kRoot, "root"));
  const std::string canonical = envelope.CanonicalSigned();
  const std::string what = "new " + Describe("root", envelope);

  // 5.3.3 (1): signed by a threshold of the trusted root's root keys.
  MDU_RETURN_IF_ERROR(AddContext(
      root_->VerifyDelegate("root", canonical, envelope.signatures),
      what + " is not signed by trusted root version " + std::to_string(root_->common.version)));

  MDU_ASSIGN_OR_RETURN(metadata::Root new_root,
                       AddContext(metadata::Root::FromValue(envelope.signed_value), what));

  // 5.3.4: the version must be exactly trusted + 1 (lower is a rollback, higher a gap).
  const int64_t trusted = root_->common.version;
  if (new_root.common.version != trusted + 1) {
    std::string reason = new_root.common.version <= trusted ? " (rollback)" : " (gap in chain)";
    return MakeError(ErrorKind::kBadVersion, Describe("root", new_root.common.version) +
                                                 " is not the successor of trusted version " +
                                                 std::to_string(trusted) + reason);
  }

  // 5.3.3 (2): signed by a threshold of its own root keys.
  MDU_RETURN_IF_ERROR(AddContext(new_root.VerifyDelegate("root", canonical, envelope.signatures),
                                 what + " is not signed by its own root keys"));

  // 5.3.5: intermediate root expiry does not matter. 5.3.6: it becomes the trusted root.
  *root_ = std::move(new_root);
  return root_.get();
}

Status TrustedSet::CheckFinalTimestamp() const {
  // 5.4.4: freeze attack.
  return CheckExpiry("timestamp", timestamp_->common, reference_time_);
}

Result<const metadata::Timestamp*> TrustedSet::UpdateTimestamp(std::string_view bytes) {
  if (snapshot_ != nullptr) {
    return MakeError(ErrorKind::kInternal, "cannot update timestamp after snapshot was loaded");
  }
  // 5.3.10: the final root must not be expired. (5.3.11, fast-forward recovery, needs no action
  // here: no timestamp or snapshot signed with rotated keys can have been loaded yet.)
  MDU_RETURN_IF_ERROR(
      AddContext(CheckExpiry("root", root_->common, reference_time_), "final root"));

  MDU_ASSIGN_OR_RETURN(Envelope envelope, ParseEnvelope(bytes, RoleType::kTimestamp, "timestamp"));
  const std::string what = Describe("timestamp", envelope);
  // 5.4.2: signed by a threshold of root's timestamp keys.
  MDU_RETURN_IF_ERROR(AddContext(root_->VerifyDelegate("timestamp", envelope), what));
  MDU_ASSIGN_OR_RETURN(metadata::Timestamp timestamp,
                       AddContext(metadata::Timestamp::FromValue(envelope.signed_value), what));

  if (timestamp_ != nullptr) {
    const int64_t trusted = timestamp_->common.version;
    const int64_t version = timestamp.common.version;
    // 5.4.3.1: the timestamp version must not go back.
    if (version < trusted) {
      return MakeError(ErrorKind::kBadVersion, what + " is lower than trusted version " +
                                                   std::to_string(trusted) + " (rollback)");
    }
    if (version == trusted) {
      return MakeError(ErrorKind::kEqualVersion,
                       what + " equals the trusted version (nothing new)");
    }
    // 5.4.3.2: nor the snapshot version it lists.
    const int64_t trusted_snapshot = timestamp_->snapshot_meta.version;
    if (timestamp.snapshot_meta.version < trusted_snapshot) {
      return MakeError(ErrorKind::kBadVersion, what + " lists snapshot version " +
                                                   std::to_string(timestamp.snapshot_meta.version) +
                                                   ", lower than trusted snapshot version " +
                                                   std::to_string(trusted_snapshot) +
                                                   " (rollback)");
    }
  }
  // Accepted before the expiry check: an expired but newer timestamp still protects the next
  // update against rollback, and blocks UpdateSnapshot.
  timestamp_ = std::make_unique<metadata::Timestamp>(std::move(timestamp));
  MDU_RETURN_IF_ERROR(CheckFinalTimestamp());
  return timestamp_.get();
}

Status TrustedSet::CheckFinalSnapshot() const {
  // 5.5.6: freeze attack.
  MDU_RETURN_IF_ERROR(CheckExpiry("snapshot", snapshot_->common, reference_time_));
  // 5.5.4: the version must be the one timestamp lists.
  const int64_t expected = timestamp_->snapshot_meta.version;
  if (snapshot_->common.version != expected) {
    return MakeError(ErrorKind::kBadVersion,
                     Describe("snapshot", snapshot_->common.version) + " differs from version " +
                         std::to_string(expected) + " listed by timestamp version " +
                         std::to_string(timestamp_->common.version));
  }
  return {};
}

Result<const metadata::Snapshot*> TrustedSet::UpdateSnapshot(std::string_view bytes,
                                                             bool trusted_local) {
  if (timestamp_ == nullptr) {
    return MakeError(ErrorKind::kInternal, "cannot update snapshot before timestamp");
  }
  if (!targets_.empty()) {
    return MakeError(ErrorKind::kInternal, "cannot update snapshot after targets was loaded");
  }
  // The timestamp that vouches for this snapshot must be final (5.4.4).
  MDU_RETURN_IF_ERROR(CheckFinalTimestamp());

  const metadata::MetaFile& meta = timestamp_->snapshot_meta;
  // 5.5.2: length and hashes as timestamp lists them (mix-and-match). Bytes from our own store
  // were checked when they were downloaded.
  if (!trusted_local) {
    MDU_RETURN_IF_ERROR(meta.VerifyLengthAndHashes(Describe("snapshot", meta.version), bytes));
  }

  MDU_ASSIGN_OR_RETURN(Envelope envelope, ParseEnvelope(bytes, RoleType::kSnapshot, "snapshot"));
  const std::string what = Describe("snapshot", envelope);
  // 5.5.3: signed by a threshold of root's snapshot keys.
  MDU_RETURN_IF_ERROR(AddContext(root_->VerifyDelegate("snapshot", envelope), what));
  MDU_ASSIGN_OR_RETURN(metadata::Snapshot snapshot,
                       AddContext(metadata::Snapshot::FromValue(envelope.signed_value), what));

  // 5.5.5: no targets role listed in the trusted snapshot may disappear or go back.
  if (snapshot_ != nullptr) {
    for (const auto& [file_name, trusted_meta] : snapshot_->meta) {
      auto it = snapshot.meta.find(file_name);
      if (it == snapshot.meta.end()) {
        return MakeError(ErrorKind::kBadVersion,
                         what + " no longer lists \"" + file_name + "\" (listed at version " +
                             std::to_string(trusted_meta.version) +
                             " by trusted snapshot version " +
                             std::to_string(snapshot_->common.version) + "; rollback)");
      }
      if (it->second.version < trusted_meta.version) {
        return MakeError(ErrorKind::kBadVersion,
                         what + " lists \"" + file_name + "\" version " +
                             std::to_string(it->second.version) + ", lower than trusted version " +
                             std::to_string(trusted_meta.version) + " (rollback)");
      }
    }
  }
  // Accepted before the expiry and version checks (see the header): it protects the next
  // snapshot update against rollback but blocks UpdateTargets until it is final.
  snapshot_ = std::make_unique<metadata::Snapshot>(std::move(snapshot));
  MDU_RETURN_IF_ERROR(CheckFinalSnapshot());
  return snapshot_.get();
}

Result<const metadata::Targets*> TrustedSet::UpdateDelegatedTargets(
    std::string_view bytes, std::string_view role_name, std::string_view delegator_name) {
  if (snapshot_ == nullptr) {
    return MakeError(ErrorKind::kInternal, "cannot update targets before snapshot");
  }
  if ((role_name == "targets") != (delegator_name == "root")) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "only the top-level targets role is delegated by root, not \"" +
                         std::string(role_name) + "\" by \"" + std::string(delegator_name) + "\"");
  }
  // The snapshot that lists this role must be final (5.5.4, 5.5.6).
  MDU_RETURN_IF_ERROR(CheckFinalSnapshot());

  const metadata::Targets* delegator = nullptr;
  if (delegator_name != "root") {
    delegator = TargetsRole(delegator_name);
    if (delegator == nullptr) {
      return MakeError(ErrorKind::kInternal, "cannot load \"" + std::string(role_name) +
                                                 "\" before its delegator \"" +
                                                 std::string(delegator_name) + "\"");
    }
  }

  // 5.6.1: only roles that snapshot lists may be loaded (extraneous dependencies).
  const std::string file_name = std::string(role_name) + ".json";
  auto meta_it = snapshot_->meta.find(file_name);
  if (meta_it == snapshot_->meta.end()) {
    return MakeError(ErrorKind::kBadMetadata, "role \"" + std::string(role_name) +
                                                  "\" is not listed in snapshot version " +
                                                  std::to_string(snapshot_->common.version));
  }
  const metadata::MetaFile& meta = meta_it->second;
  const std::string quoted = "\"" + std::string(role_name) + "\"";
  // 5.6.2: length and hashes as snapshot lists them (mix-and-match).
  MDU_RETURN_IF_ERROR(meta.VerifyLengthAndHashes(Describe(quoted, meta.version), bytes));

  MDU_ASSIGN_OR_RETURN(Envelope envelope, ParseEnvelope(bytes, RoleType::kTargets, quoted));
  const std::string what = Describe(quoted, envelope);
  // 5.6.3: signed by a threshold of the delegator's keys for this role. The signatures cover
  // the canonical form, made here; checking them (hashing megabytes) overlaps building the
  // model from the tree, which only the model step touches from now on. Nothing is kept unless
  // both succeed, and a bad signature is reported first, as if the steps ran in spec order.
  const HugePageString canonical = json::CanonicalInHugePages(envelope.signed_value);
  auto verify = [&]() -> Status {
    return delegator == nullptr
               ? root_->VerifyDelegate("targets", canonical, envelope.signatures)
               : delegator->VerifyDelegate(role_name, canonical, envelope.signatures);
  };
  AsideTask<Status> verified(verify, /*on_thread=*/canonical.size() >= kVerifyAsideBytes);
  Result<metadata::Targets> parsed =
      metadata::Targets::FromValue(std::move(envelope.signed_value));
  MDU_RETURN_IF_ERROR(AddContext(verified.Get(), what));
  MDU_ASSIGN_OR_RETURN(metadata::Targets targets, AddContext(std::move(parsed), what));

  // 5.6.4: the version must be the one snapshot lists.
  if (targets.common.version != meta.version) {
    return MakeError(ErrorKind::kBadVersion, what + " differs from version " +
                                                 std::to_string(meta.version) +
                                                 " listed by snapshot version " +
                                                 std::to_string(snapshot_->common.version));
  }
  // 5.6.5: freeze attack.
  MDU_RETURN_IF_ERROR(CheckExpiry(quoted, targets.common, reference_time_));

  auto it = targets_.insert_or_assign(std::string(role_name), std::move(targets)).first;
  return &it->second;
}

const metadata::Targets* TrustedSet::TargetsRole(std::string_view role_name) const {
  auto it = targets_.find(role_name);
  return it == targets_.end() ? nullptr : &it->second;
}

}  // namespace mdu::trust
