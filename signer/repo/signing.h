// Signing staged roles, on this machine or across machines (threshold signing).
//
// Who may sign: the keys the role's delegator lists (root for the top-level roles; the
// delegating targets role for delegated roles). For root during a rotation, the keys of the
// staged root AND of the last published root: both thresholds must be met (TUF 5.3.4).
//
// Signing request file ("mdu-signing-request", version 1), exported on the machine holding the
// workspace, signed elsewhere, merged back:
//   {"format": "mdu-signing-request", "version": 1, "role": "targets", "role_version": N,
//    "signed": {the role's signed object}, "signed_sha256": "<hex sha256 of its canonical JSON>",
//    "authorized_keyids": [...], "threshold": N, "signatures": [{"keyid", "sig"}]}
// The signature is always over the canonical JSON of "signed"; "signed_sha256" lets the second
// engineer check (and compare out of band) that the bytes are exactly the ones exported.
// Merging accepts only signatures by authorized keys that verify over the canonical bytes of
// the role as it is staged now; otherwise nothing is merged and the error says which signature
// and why.
#ifndef MDU_SIGNER_REPO_SIGNING_H_
#define MDU_SIGNER_REPO_SIGNING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "core/metadata/metadata.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo {

inline constexpr std::string_view kSigningRequestFormat = "mdu-signing-request";

struct SignatureCount {
  int64_t threshold = 1;
  std::vector<std::string> signed_by;       // authorized keys with a valid signature
  std::vector<std::string> missing_keyids;  // authorized keys without one
  bool met() const { return static_cast<int64_t>(signed_by.size()) >= threshold; }
};

// Counts valid signatures of distinct authorized keys over Canonical(envelope.signed_value).
SignatureCount CountSignatures(const metadata::Envelope& envelope, const Authorization& auth);

// The staged roles `role` stands for: itself, or every bin when it is a hash-bin name prefix.
Result<std::vector<std::string>> ExpandRole(const Workspace& ws, std::string_view role);

// Keys allowed to sign `role` (for root: staged and previous root keys).
Result<metadata::KeyMap> AuthorizedKeys(const Workspace& ws, std::string_view role);

// Signs each staged role `role` stands for with `signer`. kPolicy, naming the authorized key
// IDs, if the key may not sign it. Snapshot and timestamp are signed at publish, not here.
Result<std::vector<std::string>> SignRole(Workspace& ws, std::string_view role,
                                          const crypto::Signer& signer);

Result<std::string> ExportSigningRequest(const Workspace& ws, std::string_view role);
// Adds `signer`'s signature to a request and returns the new file text. Checks signed_sha256
// and that the key is among authorized_keyids (kPolicy otherwise).
Result<std::string> SignRequest(std::string_view request_text, const crypto::Signer& signer);

struct MergeReport {
  std::string role;
  std::vector<std::string> added_keyids;
};
Result<MergeReport> MergeSignatures(Workspace& ws, std::string_view request_text);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_SIGNING_H_
