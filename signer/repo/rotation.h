// Key rotation and its rehearsal.
//
// RotateKeys stages a new root version (last published + 1) that changes the keys and/or
// threshold of one top-level role; RevokeKey removes a compromised key from every top-level
// role and every delegation. The new root must then be signed by the old root threshold AND
// the new one (TUF 5.3.4), which `signer status` and `signer publish` check.
//
// The rehearsal runs the real client code (core trust::TrustedSet::UpdateRoot, spec 5.3) for
// a device trusting each earlier root version: it starts from that root and walks every later
// root up to the staged one. A generation that cannot reach the new root would be stranded
// (never update again) if it were published.
#ifndef MDU_SIGNER_REPO_ROTATION_H_
#define MDU_SIGNER_REPO_ROTATION_H_

#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo {

struct RotationSpec {
  std::string role = "root";           // root, targets, snapshot or timestamp
  std::vector<crypto::PublicKey> add;  // keys to add to the role
  std::vector<std::string> remove;     // key IDs to remove from the role
  std::optional<int64_t> threshold;    // new threshold (default: unchanged)
};

// Stages the change in the root (and drops key objects no role uses any more). kInvalidArgument
// if the result would be unusable: a role without keys, or a threshold above its key count.
Status RotateKeys(Workspace& ws, const RotationSpec& spec, UnixTime now);

// Removes `keyid` from every top-level role and every delegation that lists it; returns the
// roles changed. Refused (kInvalidArgument) if a role would be left with fewer keys than its
// threshold: add a replacement key first.
Result<std::vector<std::string>> RevokeKey(Workspace& ws, const std::string& keyid, UnixTime now);

struct GenerationResult {
  int64_t trusted_version = 0;  // the root version the devices of this generation trust
  bool reaches_final = false;
  int64_t stuck_at = 0;  // the first root version they cannot accept (when stranded)
  std::string reason;    // the client's error (when stranded)
};

struct RehearsalReport {
  int64_t final_version = 0;
  std::vector<GenerationResult> generations;
  bool ok() const;
  std::vector<int64_t> stranded() const;
};

// `chain[i]` is the file of root version i + 1 (the whole chain from version 1). Generation v
// starts from chain[v-1] and must reach the last element. `reference_time` is only used to
// create the trusted set (intermediate root expiry is not checked by the spec).
RehearsalReport RehearseRootChain(const std::vector<std::string>& chain, UnixTime reference_time);

// The chain of the workspace: history/1..N.root.json plus the staged root (with its current
// signatures) when it is a new version.
Result<std::vector<std::string>> WorkspaceRootChain(const Workspace& ws);
Result<RehearsalReport> RehearseWorkspace(const Workspace& ws, UnixTime reference_time);

// Text for humans, one line per generation.
std::string FormatRehearsal(const RehearsalReport& report);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_ROTATION_H_
