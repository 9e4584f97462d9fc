#include "repo-server/auth.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/common/hex.h"
#include "core/crypto/hash.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "repo-server/publish_verifier.h"

namespace mdu::server {

Result<std::string> DeviceIdFromUris(std::span<const std::string> uris) {
  std::optional<std::string> id;
  for (const std::string& uri : uris) {
    if (!uri.starts_with(kDeviceUriPrefix)) continue;
    std::string named = uri.substr(kDeviceUriPrefix.size());
    if (!IsValidIdentifier(named)) {
      return MakeError(ErrorKind::kPolicy,
                       "client certificate names an invalid device id in " + uri.substr(0, 200));
    }
    if (id && *id != named) {
      return MakeError(ErrorKind::kPolicy,
                       "client certificate names two device ids: " + *id + " and " + named);
    }
    id = std::move(named);
  }
  if (!id) {
    return MakeError(ErrorKind::kPolicy, "client certificate has no URI SAN " +
                                             std::string(kDeviceUriPrefix) + "<device id>");
  }
  return *id;
}

std::string_view OperatorRoleName(OperatorRole role) {
  return role == OperatorRole::kPublisher ? "publisher" : "viewer";
}

Result<OperatorCredentials> OperatorCredentials::Parse(std::string_view text) {
  auto fail = [](std::string message) {
    return MakeError(ErrorKind::kBadMetadata, "operator credentials: " + std::move(message));
  };
  auto parsed = json::Parse(text);
  if (!parsed) return MakeError(parsed.error().WithContext("operator credentials"));
  if (!parsed->is_array()) return fail("must be a JSON array of entries");
  if (parsed->as_array().empty()) return fail("no entries");
  OperatorCredentials out;
  std::set<std::string> names;
  std::set<std::array<uint8_t, 32>> digests;
  size_t index = 0;
  for (const json::Value& item : parsed->as_array()) {
    std::string where = "entry " + std::to_string(index++);
    if (!item.is_object()) return fail(where + " must be an object");
    for (const auto& [key, value] : item.as_object()) {
      if (key != "name" && key != "role" && key != "token_sha256") {
        return fail(where + " has unknown field \"" + key.substr(0, 64) + "\"");
      }
    }
    MDU_ASSIGN_OR_RETURN(std::string name, json::RequireString(item, "name", where));
    MDU_ASSIGN_OR_RETURN(std::string role, json::RequireString(item, "role", where));
    MDU_ASSIGN_OR_RETURN(std::string hex, json::RequireString(item, "token_sha256", where));
    Entry entry;
    if (!IsValidIdentifier(name)) return fail(where + ": name must be 1..128 of [A-Za-z0-9._:-]");
    entry.op.name = name;
    if (role == "publisher") {
      entry.op.role = OperatorRole::kPublisher;
    } else if (role == "viewer") {
      entry.op.role = OperatorRole::kViewer;
    } else {
      return fail(where + " (" + name + "): role must be \"publisher\" or \"viewer\"");
    }
    auto digest = HexDecode(hex);
    if (hex.size() != 64 || !digest || digest->size() != 32 ||
        std::any_of(hex.begin(), hex.end(), [](char c) { return c >= 'A' && c <= 'F'; })) {
      return fail(where + " (" + name + "): token_sha256 must be 64 lowercase hex digits");
    }
    std::copy(digest->begin(), digest->end(), entry.digest.begin());
    if (!names.insert(name).second) return fail("duplicate name " + name);
    if (!digests.insert(entry.digest).second)
      return fail(where + " (" + name + "): duplicate token");
    out.entries_.push_back(std::move(entry));
  }
  return out;
}

std::optional<Operator> OperatorCredentials::Authenticate(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer) || authorization.size() == kBearer.size()) {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(kBearer.size());
  std::vector<uint8_t> digest =
      crypto::Digest(crypto::HashAlgorithm::kSha256,
                     std::span(reinterpret_cast<const uint8_t*>(token.data()), token.size()));
  // Every entry is compared (no early exit), so timing does not tell which entry matched.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    bool equal = crypto::ConstantTimeEquals(digest, entry.digest);
    if (equal) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  return match->op;
}

}  // namespace mdu::server
