// Operator authorization for manual commands on a device (issue 5: manual installs and
// rollbacks of a medical device need an authorized operator). One implementation of the format
// for both sides: the signer's `authorize` command signs, the client-agent verifies. The operator's workstation holds an ed25519 key;
// the device's agent config holds its public key (a TUF key object). For each intervention the
// operator signs a short-lived authorization and hands the file to the device:
//
//   {"signed": {"_type": "operator-authorization", "action": "rollback", "device": "pump-0001",
//               "target": "pump/fw.bin" (optional), "issued": "2026-12-01T10:00:00Z",
//               "expires": "2026-12-01T11:00:00Z"},
//    "signatures": [{"keyid": "<TUF key id>", "sig": "<hex ed25519 over canonical JSON of signed>"}]}
//
// The device accepts it only when a signature by a configured operator key verifies over the
// canonical JSON of "signed" (as TUF metadata), the action and device id are its own, issued <=
// now + 5 minutes (clock skew) < expires, and expires - issued <= the configured maximum
// lifetime (default 1 hour), so a leaked authorization is soon worthless and cannot be minted
// for years. A "target", when present, must match the command's target. Replay within the
// lifetime on the same device for the same action is allowed (the operator is present then).
//
// Errors: kPolicy for any refusal (the message says which check failed; callers log an
// unauthorized_command security event), kBadMetadata for a file that is not an authorization.
// Thread-safety: pure functions.
#ifndef MDU_CORE_METADATA_OPERATOR_AUTHORIZATION_H_
#define MDU_CORE_METADATA_OPERATOR_AUTHORIZATION_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "core/json/value.h"
#include "core/metadata/metadata.h"

namespace mdu::metadata {

inline constexpr std::string_view kOperatorAuthorizationType = "operator-authorization";
inline constexpr int64_t kMaxClockSkewSeconds = 300;

struct Authorization {
  std::string action;  // "rollback", "install", "approve"
  std::string device;
  std::optional<std::string> target;
  UnixTime issued = 0;
  UnixTime expires = 0;
};

struct AuthorizationRequest {
  std::string action;
  std::string device;
  std::string target;  // "" when the command has no target
  UnixTime now = 0;
  int64_t max_lifetime_seconds = 3600;
};

// Checks `bytes` (the authorization file) against the operator keys. Returns the verified
// authorization, or kPolicy / kBadMetadata as described above.
Result<Authorization> VerifyAuthorization(std::string_view bytes,
                                          std::span<const crypto::PublicKey> operator_keys,
                                          const AuthorizationRequest& request);

// Builds and signs an authorization (the operator tool's side: signer authorize).
Result<std::string> SignAuthorization(const Authorization& authorization,
                                      const crypto::Signer& signer);

}  // namespace mdu::metadata

#endif  // MDU_CORE_METADATA_OPERATOR_AUTHORIZATION_H_
