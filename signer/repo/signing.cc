#include "signer/repo/signing.h"

#include <algorithm>
#include <set>

#include "core/common/hex.h"
#include "core/crypto/hash.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::signer::repo {
namespace {

using json::Value;

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out.empty() ? "(none)" : out;
}

bool IsOnlineRole(std::string_view role) { return role == "snapshot" || role == "timestamp"; }

Result<std::vector<std::string>> AuthorizedKeyIds(const Workspace& ws, std::string_view role) {
  MDU_ASSIGN_OR_RETURN(metadata::KeyMap keys, AuthorizedKeys(ws, role));
  std::vector<std::string> ids;
  for (const auto& [id, key] : keys) ids.push_back(id);
  return ids;
}

}  // namespace

SignatureCount CountSignatures(const metadata::Envelope& envelope, const Authorization& auth) {
  SignatureCount count;
  count.threshold = auth.role.threshold;
  const std::string canonical = envelope.CanonicalSigned();
  std::set<std::string> valid;
  for (const metadata::Signature& signature : envelope.signatures) {
    auto key = auth.keys.find(signature.keyid);
    if (key == auth.keys.end() || valid.count(signature.keyid) != 0) continue;
    auto sig = HexDecode(signature.sig);
    if (sig && key->second.Verify(AsBytes(canonical), *sig)) valid.insert(signature.keyid);
  }
  for (const std::string& keyid : auth.role.keyids) {
    (valid.count(keyid) != 0 ? count.signed_by : count.missing_keyids).push_back(keyid);
  }
  return count;
}

Result<std::vector<std::string>> ExpandRole(const Workspace& ws, std::string_view role) {
  if (IsOnlineRole(role)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     std::string(role) +
                         " is generated and signed by `signer publish` "
                         "(--" +
                         std::string(role) + "-key); nothing to sign now");
  }
  if (role == "root" || ws.TargetsRole(role) != nullptr)
    return std::vector<std::string>{std::string(role)};
  if (const metadata::SuccinctRoles* bins = ws.FindBins(role)) {
    std::vector<std::string> names = ws.ExistingBins(*bins);
    if (names.empty()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "no bin of \"" + std::string(role) +
                           "\" exists yet (with more than 2^16 bins, bins are created by "
                           "add-target); nothing to sign");
    }
    return names;
  }
  return MakeError(ErrorKind::kNotFound,
                   "no role \"" + std::string(role) + "\" in this workspace (see `signer status`)");
}

Result<metadata::KeyMap> AuthorizedKeys(const Workspace& ws, std::string_view role) {
  MDU_ASSIGN_OR_RETURN(Authorization auth, ws.AuthorizationFor(role));
  metadata::KeyMap keys = auth.keys;
  if (role == "root" && ws.PreviousRoot() != nullptr) {
    const metadata::Root& previous = *ws.PreviousRoot();
    for (const std::string& keyid : previous.roles.at("root").keyids) {
      if (auto key = previous.keys.find(keyid); key != previous.keys.end()) {
        keys.emplace(keyid, key->second);
      }
    }
  }
  return keys;
}

Result<std::vector<std::string>> SignRole(Workspace& ws, std::string_view role,
                                          const crypto::Signer& signer) {
  MDU_ASSIGN_OR_RETURN(std::vector<std::string> roles, ExpandRole(ws, role));
  const std::string& keyid = signer.public_key().KeyId();
  for (const std::string& name : roles) {
    MDU_ASSIGN_OR_RETURN(std::vector<std::string> authorized, AuthorizedKeyIds(ws, name));
    if (std::find(authorized.begin(), authorized.end(), keyid) == authorized.end()) {
      return MakeError(ErrorKind::kPolicy, "key " + keyid + " is not authorized to sign role \"" +
                                               name +
                                               "\"; authorized keys: " + JoinIds(authorized));
    }
    const metadata::Envelope& staged = *ws.EnvelopeOf(name);
    auto sig = signer.Sign(AsBytes(staged.CanonicalSigned()));
    if (!sig) return MakeError(sig.error().WithContext("signing " + name));
    std::vector<metadata::Signature> signatures = staged.signatures;
    std::erase_if(signatures, [&](const metadata::Signature& s) { return s.keyid == keyid; });
    signatures.push_back(metadata::Signature{keyid, HexEncode(*sig), {}});
    MDU_RETURN_IF_ERROR(ws.SetSignatures(name, std::move(signatures)));
  }
  return roles;
}

Result<std::string> ExportSigningRequest(const Workspace& ws, std::string_view role) {
  if (IsOnlineRole(role)) return MakeError(ExpandRole(ws, role).error());  // same message
  const metadata::Envelope* envelope = ws.EnvelopeOf(role);
  if (envelope == nullptr) {
    return MakeError(ErrorKind::kNotFound, "no staged role \"" + std::string(role) + "\"");
  }
  MDU_ASSIGN_OR_RETURN(std::vector<std::string> authorized, AuthorizedKeyIds(ws, role));
  MDU_ASSIGN_OR_RETURN(Authorization auth, ws.AuthorizationFor(role));
  json::Array ids, signatures;
  for (const std::string& id : authorized) ids.emplace_back(id);
  for (const metadata::Signature& sig : envelope->signatures) {
    signatures.push_back(Value::MakeObject({{"keyid", Value(sig.keyid)}, {"sig", Value(sig.sig)}}));
  }
  const Value* version = envelope->signed_value.Find("version");
  Value request = Value::MakeObject({
      {"format", Value(kSigningRequestFormat)},
      {"version", Value(1)},
      {"role", Value(role)},
      {"role_version", version != nullptr ? *version : Value()},
      {"signed", envelope->signed_value},
      {"signed_sha256", Value(crypto::Sha256Hex(envelope->CanonicalSigned()))},
      {"authorized_keyids", Value(std::move(ids))},
      {"threshold", Value(auth.role.threshold)},
      {"signatures", Value(std::move(signatures))},
  });
  return json::Serialize(request, 1) + "\n";
}

namespace {

struct Request {
  Value document;
  std::string role;
  std::string canonical;
  std::vector<std::string> authorized;
  std::vector<metadata::Signature> signatures;
};

Result<Request> ParseRequest(std::string_view text) {
  constexpr std::string_view kWhere = "signing request";
  auto parsed = json::Parse(text, json::ParseLimits{kMaxMetadataBytes, 64});
  if (!parsed) return MakeError(parsed.error().WithContext(kWhere));
  Request request;
  request.document = std::move(parsed).value();
  MDU_ASSIGN_OR_RETURN(std::string format, json::RequireString(request.document, "format", kWhere));
  if (format != kSigningRequestFormat) {
    return MakeError(ErrorKind::kBadMetadata, "not a signing request (format \"" + format + "\")");
  }
  MDU_ASSIGN_OR_RETURN(request.role, json::RequireString(request.document, "role", kWhere));
  MDU_ASSIGN_OR_RETURN(const Value* signed_value,
                       json::RequireField(request.document, "signed", json::Type::kObject, kWhere));
  MDU_ASSIGN_OR_RETURN(std::string digest,
                       json::RequireString(request.document, "signed_sha256", kWhere));
  request.canonical = json::Canonical(*signed_value);
  if (crypto::Sha256Hex(request.canonical) != digest) {
    return MakeError(ErrorKind::kHashMismatch,
                     "the signing request's \"signed\" bytes do not match its signed_sha256: the "
                     "file was altered or damaged; ask for a fresh export");
  }
  MDU_ASSIGN_OR_RETURN(const Value* ids, json::RequireField(request.document, "authorized_keyids",
                                                            json::Type::kArray, kWhere));
  for (const Value& id : ids->as_array()) {
    if (!id.is_string()) return MakeError(ErrorKind::kBadMetadata, "bad authorized_keyids");
    request.authorized.push_back(id.as_string());
  }
  MDU_ASSIGN_OR_RETURN(const Value* sigs, json::RequireField(request.document, "signatures",
                                                             json::Type::kArray, kWhere));
  for (const Value& sig : sigs->as_array()) {
    MDU_ASSIGN_OR_RETURN(std::string keyid, json::RequireString(sig, "keyid", kWhere));
    MDU_ASSIGN_OR_RETURN(std::string hex, json::RequireString(sig, "sig", kWhere));
    request.signatures.push_back(metadata::Signature{keyid, hex, {}});
  }
  return request;
}

}  // namespace

Result<std::string> SignRequest(std::string_view request_text, const crypto::Signer& signer) {
  MDU_ASSIGN_OR_RETURN(Request request, ParseRequest(request_text));
  const std::string& keyid = signer.public_key().KeyId();
  if (std::find(request.authorized.begin(), request.authorized.end(), keyid) ==
      request.authorized.end()) {
    return MakeError(ErrorKind::kPolicy, "key " + keyid + " is not authorized to sign role \"" +
                                             request.role +
                                             "\"; authorized keys: " + JoinIds(request.authorized));
  }
  auto sig = signer.Sign(AsBytes(request.canonical));
  if (!sig) return MakeError(sig.error().WithContext("signing the request"));
  json::Array signatures;
  for (const metadata::Signature& existing : request.signatures) {
    if (existing.keyid == keyid) continue;
    signatures.push_back(
        Value::MakeObject({{"keyid", Value(existing.keyid)}, {"sig", Value(existing.sig)}}));
  }
  signatures.push_back(
      Value::MakeObject({{"keyid", Value(keyid)}, {"sig", Value(HexEncode(*sig))}}));
  request.document.Set("signatures", Value(std::move(signatures)));
  return json::Serialize(request.document, 1) + "\n";
}

Result<MergeReport> MergeSignatures(Workspace& ws, std::string_view request_text) {
  MDU_ASSIGN_OR_RETURN(Request request, ParseRequest(request_text));
  const metadata::Envelope* staged = ws.EnvelopeOf(request.role);
  if (staged == nullptr) {
    return MakeError(ErrorKind::kNotFound, "the request is for role \"" + request.role +
                                               "\", which this workspace "
                                               "does not have");
  }
  if (staged->CanonicalSigned() != request.canonical) {
    return MakeError(ErrorKind::kBadMetadata,
                     "the request's signatures are over different bytes than role \"" +
                         request.role +
                         "\" as staged now (it changed after the export, or the "
                         "request comes from another workspace); export a new request with "
                         "`signer export-signing-request " +
                         request.role + "`");
  }
  MDU_ASSIGN_OR_RETURN(metadata::KeyMap authorized, AuthorizedKeys(ws, request.role));
  std::vector<metadata::Signature> merged = staged->signatures;
  MergeReport report{request.role, {}};
  for (const metadata::Signature& signature : request.signatures) {
    auto key = authorized.find(signature.keyid);
    if (key == authorized.end()) {
      return MakeError(ErrorKind::kUnsignedMetadata, "signature by key " + signature.keyid +
                                                         " rejected: that key is not "
                                                         "authorized for role \"" +
                                                         request.role + "\"; nothing was merged");
    }
    auto sig = HexDecode(signature.sig);
    if (!sig || !key->second.Verify(AsBytes(request.canonical), *sig)) {
      return MakeError(ErrorKind::kUnsignedMetadata,
                       "signature by key " + signature.keyid + " does not verify over role \"" +
                           request.role + "\"'s bytes; nothing was merged");
    }
    auto existing = std::find_if(merged.begin(), merged.end(),
                                 [&](const auto& s) { return s.keyid == signature.keyid; });
    if (existing != merged.end()) {
      if (existing->sig == signature.sig) continue;
      existing->sig = signature.sig;
    } else {
      merged.push_back(signature);
    }
    report.added_keyids.push_back(signature.keyid);
  }
  MDU_RETURN_IF_ERROR(ws.SetSignatures(request.role, std::move(merged)));
  return report;
}

}  // namespace mdu::signer::repo
