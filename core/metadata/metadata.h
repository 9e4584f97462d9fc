// The TUF metadata model (specification 1.0.x, section "Document formats"): root, timestamp,
// snapshot and targets (with delegations, path patterns, path hash prefixes and TAP 15 succinct
// hash bins), plus the signed envelope they travel in.
//
// Two layers:
//   Envelope   the exact `signed` JSON object and the signatures. Signatures are always
//              verified over Canonical(envelope.signed), never over a re-serialized typed model,
//              so metadata signed by python-tuf, go-tuf or tuf-js verifies byte for byte.
//   Root, ...  typed, validated views. FromValue checks every field's presence and type,
//              `_type`, `spec_version` (major version 1), versions >= 1, thresholds >= 1,
//              hex digests, and ISO 8601 `expires`; unknown fields are kept at every level
//              (`unknown`) so ToValue() of an unmodified model reproduces the input exactly.
//
// Errors: kBadMetadata with a message naming the role and the field, e.g.
//   `targets "product-a": delegations.roles[0].threshold must be an integer >= 1, got 0`.
// Thread-safety: plain value types.
#ifndef MDU_CORE_METADATA_METADATA_H_
#define MDU_CORE_METADATA_METADATA_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "core/json/parser.h"
#include "core/json/value.h"

namespace mdu::metadata {

// The specification version we write; we read any 1.x.
inline constexpr std::string_view kSpecVersion = "1.0.31";

enum class RoleType { kRoot, kTimestamp, kSnapshot, kTargets };
std::string_view RoleTypeName(RoleType type);  // "root", "timestamp", "snapshot", "targets"

// Seconds since the Unix epoch, UTC. TUF writes "YYYY-MM-DDTHH:MM:SSZ".
using UnixTime = int64_t;
Result<UnixTime> ParseExpires(std::string_view text);  // kBadMetadata on any other format
std::string FormatExpires(UnixTime time);

struct Signature {
  std::string keyid;
  std::string sig;  // hex, as in the file
  json::Object unknown;
};

struct Envelope {
  json::Value signed_value;  // an object
  std::vector<Signature> signatures;
  json::Object unknown;

  // Parses a metadata file. kBadMetadata if it is not {"signatures": [...], "signed": {...}}.
  static Result<Envelope> Parse(std::string_view bytes, const json::ParseLimits& limits = {});
  static Result<Envelope> FromValue(json::Value document);

  std::string CanonicalSigned() const;  // the bytes signatures cover
  json::Value ToValue() const;
  std::string Serialize() const;  // standard JSON for files (json::Serialize, indent 1)
};

// Fields every role has.
struct CommonFields {
  RoleType type = RoleType::kRoot;
  std::string spec_version{kSpecVersion};
  int64_t version = 1;
  UnixTime expires = 0;

  bool IsExpired(UnixTime reference_time) const { return reference_time >= expires; }
};

// A role's keys and threshold, as root lists them for the top-level roles and delegations list
// them for delegated roles.
struct KeyRole {
  std::vector<std::string> keyids;
  int64_t threshold = 1;
  json::Object unknown;
};

using KeyMap = std::map<std::string, crypto::PublicKey, std::less<>>;  // keyid -> key

// Verifies that at least `role.threshold` distinct keys of `role.keyids` (present in `keys`)
// have a valid signature over `canonical_signed` in `signatures`. Signatures by unknown keys,
// duplicates and malformed hex are ignored, never counted. kUnsignedMetadata otherwise, naming
// the role, the count found and the threshold. `role_name` is for the message only.
Status VerifyThreshold(std::string_view role_name, std::string_view canonical_signed,
                       std::span<const Signature> signatures, const KeyMap& keys,
                       const KeyRole& role);

struct Root {
  CommonFields common{RoleType::kRoot};
  bool consistent_snapshot = true;
  // False when the file omits consistent_snapshot (the spec allows that, meaning false); ToValue
  // then omits it too while consistent_snapshot stays false, so such files round-trip.
  bool consistent_snapshot_present = true;
  KeyMap keys;
  std::map<std::string, KeyRole, std::less<>> roles;  // exactly root, timestamp, snapshot, targets
  json::Object unknown;

  static Result<Root> FromValue(const json::Value& signed_value);
  json::Value ToValue() const;

  // Verifies `envelope` (of role `role_name`: one of the four top-level roles) against this
  // root's keys and threshold for that role.
  Status VerifyDelegate(std::string_view role_name, const Envelope& envelope) const;
  Status VerifyDelegate(std::string_view role_name, std::string_view canonical_signed,
                        std::span<const Signature> signatures) const;
};

// An entry of timestamp's or snapshot's `meta`.
struct MetaFile {
  int64_t version = 1;
  std::optional<int64_t> length;
  std::vector<std::pair<std::string, std::string>> hashes;  // algorithm -> hex, sorted
  json::Object unknown;

  // kLengthMismatch / kHashMismatch naming `what` (e.g. "snapshot version 3"); only the fields
  // present are checked; unknown hash algorithms are skipped but at least one known one must
  // match when hashes are present.
  Status VerifyLengthAndHashes(std::string_view what, std::string_view data) const;
};

struct Timestamp {
  CommonFields common{RoleType::kTimestamp};
  MetaFile snapshot_meta;  // meta["snapshot.json"]
  json::Object unknown;

  static Result<Timestamp> FromValue(const json::Value& signed_value);
  json::Value ToValue() const;
};

struct Snapshot {
  CommonFields common{RoleType::kSnapshot};
  std::map<std::string, MetaFile, std::less<>> meta;  // "targets.json", "<role>.json"
  json::Object unknown;

  static Result<Snapshot> FromValue(const json::Value& signed_value);
  json::Value ToValue() const;
};

struct TargetFile {
  int64_t length = 0;
  std::vector<std::pair<std::string, std::string>> hashes;  // algorithm -> hex, sorted
  json::Value custom;  // null when absent
  json::Object unknown;

  // Same rules as MetaFile::VerifyLengthAndHashes; `what` names the target.
  Status VerifyLengthAndHashes(std::string_view what, std::string_view data) const;
  // The sha256 hex digest, if listed (needed for the consistent-snapshot file name).
  std::optional<std::string_view> Sha256() const;
};

struct DelegatedRole {
  std::string name;
  KeyRole keys;
  bool terminating = false;
  std::optional<std::vector<std::string>> paths;
  std::optional<std::vector<std::string>> path_hash_prefixes;
  json::Object unknown;

  // Spec: a target path matches a pattern when both have the same number of "/"-separated
  // segments and each segment matches with shell-style wildcards (*, ?, [seq]) within the
  // segment; or when the hex sha256 of the target path starts with one of the hash prefixes.
  bool IsDelegatedPath(std::string_view target_path) const;
};

// TAP 15: 2^bit_length bins named "<name_prefix>-<hex index, zero-padded>", all sharing keys.
struct SuccinctRoles {
  KeyRole keys;
  int bit_length = 1;  // 1..32
  std::string name_prefix;
  json::Object unknown;

  std::string RoleForTarget(std::string_view target_path) const;
  // All 2^bit_length names: up to 4 billion for bit_length 32, so only for tools that build
  // repositories with a known small bit_length; clients use RoleForTarget / IsDelegatedRole.
  std::vector<std::string> RoleNames() const;
  bool IsDelegatedRole(std::string_view role_name) const;
};

struct Delegations {
  KeyMap keys;
  std::optional<std::vector<DelegatedRole>> roles;  // exactly one of roles / succinct_roles
  std::optional<SuccinctRoles> succinct_roles;
  json::Object unknown;

  // The delegated roles responsible for `target_path`, in order, with their terminating flag:
  // for succinct roles exactly one bin (terminating).
  std::vector<std::pair<std::string, bool>> RolesForTarget(std::string_view target_path) const;
};

struct Targets {
  CommonFields common{RoleType::kTargets};
  std::map<std::string, TargetFile, std::less<>> targets;
  std::optional<Delegations> delegations;
  json::Object unknown;

  static Result<Targets> FromValue(const json::Value& signed_value);
  // Consumes `signed_value` (left in a valid but unspecified state): strings move into the
  // model and each entry's tree is freed as it is converted. What a client does with a large
  // role once its signature is verified.
  static Result<Targets> FromValue(json::Value&& signed_value);
  json::Value ToValue() const;

  // Verifies `envelope` of the delegated role `role_name` against this role's delegations.
  // kBadMetadata if this role delegates to no role named `role_name`.
  Status VerifyDelegate(std::string_view role_name, const Envelope& envelope) const;
  Status VerifyDelegate(std::string_view role_name, std::string_view canonical_signed,
                        std::span<const Signature> signatures) const;
};

// A parsed and typed metadata file. The envelope keeps the exact signed object for signature
// checks; `role` is its typed view.
template <class T>
struct Metadata {
  Envelope envelope;
  T role;
};

// Parses bytes into envelope and typed role; kBadMetadata if `_type` is not T's.
template <class T>
Result<Metadata<T>> ParseMetadata(std::string_view bytes, const json::ParseLimits& limits = {});

// Builds an unsigned envelope for a typed role (signatures empty).
template <class T>
Metadata<T> MakeMetadata(T role);

// Adds (or replaces, for the same key ID) the signature of `signer` over the canonical signed
// bytes. kCrypto if the signer fails.
Status Sign(Envelope& envelope, const crypto::Signer& signer);

// Target path validation for names we create or resolve: non-empty, no leading "/", no "\",
// no empty, "." or ".." segments, no NUL. kInvalidArgument naming the problem.
Status ValidateTargetPath(std::string_view path);

}  // namespace mdu::metadata

#endif  // MDU_CORE_METADATA_METADATA_H_
