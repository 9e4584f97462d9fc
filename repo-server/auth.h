// Who is calling, decided without gRPC (service.cc feeds it what the transport says):
//
//   Devices    (mutual TLS, --client-ca): the device id is taken from the verified client
//              certificate's URI subject alternative name `urn:mdu:device:<id>` (one id per
//              certificate; the CN is ignored because it is free text that other certificate
//              profiles reuse for host names). A device call that names a device id (reports,
//              security events) must name this id.
//   Operators  (--operator-credentials): a bearer token in the call metadata
//              (`authorization: Bearer <token>`); the server stores only sha256(token) and
//              compares digests in constant time against every entry. Roles: a viewer may read
//              (status, devices, histories, failures, audit log); a publisher may also publish.
//
// Thread-safety: OperatorCredentials is immutable after Parse; const methods may run
// concurrently.
#ifndef MDU_REPO_SERVER_AUTH_H_
#define MDU_REPO_SERVER_AUTH_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace mdu::server {

inline constexpr std::string_view kDeviceUriPrefix = "urn:mdu:device:";

// The device id named by the `urn:mdu:device:<id>` URIs among `uris` (the certificate's URI
// SANs; other URIs are ignored). kPolicy when there is none, when two name different ids, or
// when the id is not a valid identifier (1..128 of [A-Za-z0-9._:-]).
Result<std::string> DeviceIdFromUris(std::span<const std::string> uris);

enum class OperatorRole { kViewer, kPublisher };
std::string_view OperatorRoleName(OperatorRole role);

struct Operator {
  std::string name;
  OperatorRole role = OperatorRole::kViewer;
};

class OperatorCredentials {
 public:
  // Parses the credentials file: a JSON array of
  //   {"name": "<1..128 identifier>", "role": "publisher" | "viewer",
  //    "token_sha256": "<64 lowercase hex: sha256 of the token's bytes>"}
  // kBadMetadata naming the entry and field for anything else (unknown fields, duplicate names
  // or digests, empty list).
  static Result<OperatorCredentials> Parse(std::string_view json);

  // The operator whose token is carried by `authorization` ("Bearer <token>"), or nullopt for a
  // missing/malformed header or an unknown token. Takes the same time for every entry.
  std::optional<Operator> Authenticate(std::string_view authorization) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Operator op;
    std::array<uint8_t, 32> digest{};
  };
  std::vector<Entry> entries_;
};

// What a role may do: publishing needs kPublisher, everything else kViewer.
inline bool MayPublish(OperatorRole role) { return role == OperatorRole::kPublisher; }

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_AUTH_H_
