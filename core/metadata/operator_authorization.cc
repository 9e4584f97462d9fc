#include "core/metadata/operator_authorization.h"

#include <utility>
#include <vector>

#include "core/common/hex.h"
#include "core/json/writer.h"

namespace mdu::metadata {
namespace {

Error Refused(std::string why) {
  return Error(ErrorKind::kPolicy, "operator authorization refused: " + std::move(why));
}

}  // namespace

Result<Authorization> VerifyAuthorization(std::string_view bytes,
                                          std::span<const crypto::PublicKey> operator_keys,
                                          const AuthorizationRequest& request) {
  if (operator_keys.empty()) return MakeError(Refused("no operator key is configured"));
  Result<Envelope> envelope = Envelope::Parse(bytes);
  if (!envelope) return MakeError(envelope.error().WithContext("operator authorization"));

  // Signature first: nothing of an unsigned document is trusted, not even its type.
  KeyMap keys;
  KeyRole role;
  for (const crypto::PublicKey& key : operator_keys) {
    keys.emplace(key.KeyId(), key);
    role.keyids.push_back(key.KeyId());
  }
  role.threshold = 1;
  Status signed_ok = VerifyThreshold("operator", envelope->CanonicalSigned(),
                                               envelope->signatures, keys, role);
  if (!signed_ok) return MakeError(Refused("no valid signature by a configured operator key"));

  constexpr std::string_view kWhere = "operator authorization";
  const json::Value& body = envelope->signed_value;
  MDU_ASSIGN_OR_RETURN(std::string type, json::RequireString(body, "_type", kWhere));
  if (type != kOperatorAuthorizationType) {
    return MakeError(Refused("_type is \"" + type + "\", not \"" +
                             std::string(kOperatorAuthorizationType) + "\""));
  }
  Authorization auth;
  MDU_ASSIGN_OR_RETURN(auth.action, json::RequireString(body, "action", kWhere));
  MDU_ASSIGN_OR_RETURN(auth.device, json::RequireString(body, "device", kWhere));
  if (const json::Value* target = body.Find("target"); target != nullptr) {
    if (!target->is_string()) {
      return MakeError(ErrorKind::kBadMetadata, "operator authorization: target must be a string");
    }
    auth.target = target->as_string();
  }
  MDU_ASSIGN_OR_RETURN(std::string issued, json::RequireString(body, "issued", kWhere));
  MDU_ASSIGN_OR_RETURN(std::string expires, json::RequireString(body, "expires", kWhere));
  MDU_ASSIGN_OR_RETURN(auth.issued, ParseExpires(issued));
  MDU_ASSIGN_OR_RETURN(auth.expires, ParseExpires(expires));

  if (auth.action != request.action) {
    return MakeError(Refused("it authorizes \"" + auth.action + "\", not \"" + request.action +
                             "\""));
  }
  if (auth.device != request.device) {
    return MakeError(Refused("it is for device \"" + auth.device + "\", this is \"" +
                             request.device + "\""));
  }
  if (auth.target && *auth.target != request.target) {
    return MakeError(Refused("it is for target \"" + *auth.target + "\", not \"" +
                             request.target + "\""));
  }
  if (auth.issued > request.now + kMaxClockSkewSeconds) {
    return MakeError(Refused("issued in the future (" + issued + ")"));
  }
  if (request.now >= auth.expires) return MakeError(Refused("expired at " + expires));
  if (auth.expires - auth.issued > request.max_lifetime_seconds) {
    return MakeError(Refused("lifetime " + std::to_string(auth.expires - auth.issued) +
                             " s exceeds the maximum of " +
                             std::to_string(request.max_lifetime_seconds) + " s"));
  }
  return auth;
}

Result<std::string> SignAuthorization(const Authorization& authorization,
                                      const crypto::Signer& signer) {
  json::Value body = json::Value::MakeObject(
      {{"_type", kOperatorAuthorizationType},
       {"action", authorization.action},
       {"device", authorization.device},
       {"issued", FormatExpires(authorization.issued)},
       {"expires", FormatExpires(authorization.expires)}});
  if (authorization.target) body.Set("target", *authorization.target);
  const std::string canonical = json::Canonical(body);
  MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> sig, signer.Sign(AsBytes(canonical)));
  json::Array signatures;
  signatures.push_back(json::Value::MakeObject(
      {{"keyid", signer.public_key().KeyId()}, {"sig", HexEncode(sig)}}));
  json::Value document =
      json::Value::MakeObject({{"signed", std::move(body)}, {"signatures", std::move(signatures)}});
  return json::Serialize(document, 1) + "\n";
}

}  // namespace mdu::metadata
