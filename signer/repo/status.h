// What state each role of a workspace is in, and what is missing before it can be published.
//
// For every staged role (root, targets, delegated roles): version (and the version last
// published), expiry with a warning when it is close, valid signatures of authorized keys
// against the threshold, and for a root rotation the previous root's threshold too plus the
// rehearsal of every earlier root generation. Snapshot and timestamp are listed with their last
// published version and expiry; they are generated at publish.
#ifndef MDU_SIGNER_REPO_STATUS_H_
#define MDU_SIGNER_REPO_STATUS_H_

#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/json/value.h"
#include "signer/repo/rotation.h"
#include "signer/repo/signing.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo {

struct RoleStatus {
  std::string name;
  int64_t version = 0;            // staged (for snapshot/timestamp: last published; 0 if none)
  int64_t published_version = 0;  // 0 if never published
  bool changed = false;           // staged version is newer than the published one
  std::optional<UnixTime> expires;
  bool expired = false;
  bool expires_soon = false;          // within a quarter of its expiry period (at most 30 days)
  bool generated_at_publish = false;  // snapshot, timestamp
  SignatureCount signatures;
  std::optional<SignatureCount> previous_root_signatures;  // root during a rotation
  size_t target_count = 0;
};

struct WorkspaceStatus {
  std::vector<RoleStatus> roles;
  std::optional<RehearsalReport> rehearsal;  // when a new root version is staged
  std::vector<std::string> missing;          // what blocks publishing, one sentence each
  std::vector<std::string> warnings;
  bool ready() const { return missing.empty(); }
};

Result<WorkspaceStatus> ComputeStatus(const Workspace& ws, UnixTime now);

json::Value StatusToJson(const WorkspaceStatus& status);
std::string FormatStatus(const WorkspaceStatus& status, UnixTime now);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_STATUS_H_
