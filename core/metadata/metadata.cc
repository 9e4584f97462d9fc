#include "core/metadata/metadata.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <utility>

#include "core/common/hex.h"
#include "core/crypto/hash.h"
#include "core/json/writer.h"

namespace mdu::metadata {
namespace {

using json::Array;
using json::Member;
using json::Object;
using json::Type;
using json::Value;

// Spec section "Document formats" / "Role names": the four top-level role names.
constexpr std::array<std::string_view, 4> kTopLevelRoleNames = {"root", "snapshot", "targets",
                                                                "timestamp"};

bool IsTopLevelRoleName(std::string_view name) {
  return std::find(kTopLevelRoleNames.begin(), kTopLevelRoleNames.end(), name) !=
         kTopLevelRoleNames.end();
}

// ---------------------------------------------------------------------------------------------
// Error locations. A Loc names a field inside a role's `signed` object; it is a chain of
// stack-allocated nodes and only becomes a string when an error is reported, so validating
// 100,000 targets allocates no path strings.

class Loc {
 public:
  explicit Loc(std::string_view role) : parent_(nullptr), name_(role), kind_(kRoot) {}

  Loc Field(std::string_view name) const { return Loc(this, name, kField, 0); }
  Loc Key(std::string_view key) const { return Loc(this, key, kKey, 0); }
  Loc Index(size_t index) const { return Loc(this, {}, kIndex, index); }

  // `targets version 3: delegations.roles[0].threshold`.
  std::string ToString() const {
    if (parent_ == nullptr) return std::string(name_) + ": signed";
    std::string out;
    AppendPath(&out);
    return out;
  }

 private:
  enum Kind { kRoot, kField, kKey, kIndex };
  Loc(const Loc* parent, std::string_view name, Kind kind, size_t index)
      : parent_(parent), name_(name), kind_(kind), index_(index) {}

  void AppendPath(std::string* out) const {
    if (parent_ == nullptr) {
      out->append(name_).append(": ");
      return;
    }
    parent_->AppendPath(out);
    switch (kind_) {
      case kField:
        if (parent_->parent_ != nullptr) out->push_back('.');
        out->append(name_);
        break;
      case kKey:
        out->append("[\"").append(name_).append("\"]");
        break;
      case kIndex:
        out->append("[").append(std::to_string(index_)).append("]");
        break;
      case kRoot:
        break;
    }
  }

  const Loc* parent_;
  std::string_view name_;
  Kind kind_;
  size_t index_ = 0;
};

Unexpected<Error> Bad(const Loc& loc, std::string_view what) {
  std::string message = loc.ToString();
  message.push_back(' ');
  message.append(what);
  return MakeError(ErrorKind::kBadMetadata, std::move(message));
}

std::string Quote(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  out.append(text.substr(0, kMax));
  if (text.size() > kMax) out.append("...");
  out.push_back('"');
  return out;
}

// Describes a value for "got ..." in messages.
std::string Got(const Value& value) {
  switch (value.type()) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return value.as_bool() ? "true" : "false";
    case Type::kInt:
      return std::to_string(value.as_int());
    case Type::kString:
      return Quote(value.as_string());
    case Type::kArray:
      return "an array";
    case Type::kObject:
      return "an object";
  }
  return "a value";
}

Result<const Value*> Need(const Value* value, const Loc& loc, Type type) {
  if (value == nullptr) return Bad(loc, "is missing");
  if (value->type() != type) {
    return Bad(loc, "must be " + std::string(json::TypeNameWithArticle(type)) + ", got " + Got(*value));
  }
  return value;
}

// Splits the members of `object` (an object) into the named fields and the rest. Input members
// are sorted, so `unknown` comes out sorted too.
template <size_t N>
Object SplitFields(const Value& object, const std::array<std::string_view, N>& names,
                   std::array<const Value*, N>* found) {
  Object unknown;
  for (const Member& member : object.as_object()) {
    size_t i = 0;
    while (i < N && names[i] != member.first) ++i;
    if (i < N) {
      (*found)[i] = &member.second;
    } else {
      unknown.push_back(member);
    }
  }
  return unknown;
}

// A table, not comparisons: 100,000 targets carry about 20 MB of hex digests to check.
constexpr std::array<bool, 256> kIsHexDigit = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'f'; ++c) table[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'F'; ++c) table[static_cast<size_t>(c)] = true;
  return table;
}();

bool IsHex(std::string_view text) {
  if (text.empty() || text.size() % 2 != 0) return false;
  bool ok = true;
  for (char c : text) ok &= kIsHexDigit[static_cast<unsigned char>(c)];
  return ok;
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Field parsers shared by the roles.

Result<int64_t> ParseAtLeast(const Value* value, const Loc& loc, int64_t minimum) {
  MDU_ASSIGN_OR_RETURN(const Value* v, Need(value, loc, Type::kInt));
  if (v->as_int() < minimum) {
    return Bad(loc, "must be an integer >= " + std::to_string(minimum) + ", got " + Got(*v));
  }
  return v->as_int();
}

// Spec "Document formats": SPEC_VERSION is "1.x" or "1.x.y"; a client MUST reject a major
// version it does not support (like python-tuf, any 1.x is accepted).
bool IsSupportedSpecVersion(std::string_view version) {
  size_t parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = version.find('.', start);
    std::string_view part =
        version.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    if (parts == 0 && part != "1") return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 2 || parts == 3;
}

Result<std::vector<std::string>> ParseStringArray(const Value* value, const Loc& loc) {
  MDU_ASSIGN_OR_RETURN(const Value* array, Need(value, loc, Type::kArray));
  std::vector<std::string> out;
  out.reserve(array->as_array().size());
  for (size_t i = 0; i < array->as_array().size(); ++i) {
    MDU_ASSIGN_OR_RETURN(const Value* item,
                         Need(&array->as_array()[i], loc.Index(i), Type::kString));
    out.push_back(item->as_string());
  }
  return out;
}

// Spec "Document formats" (root "roles", delegations "roles", TAP 15 "succinct_roles"): KEYIDS is
// a list of unique key IDs and THRESHOLD an integer >= 1.
Status ParseKeyRole(const Value* keyids, const Value* threshold, const Loc& loc, KeyRole* out) {
  const Loc keyids_loc = loc.Field("keyids");
  MDU_ASSIGN_OR_RETURN(out->keyids, ParseStringArray(keyids, keyids_loc));
  std::vector<std::string_view> sorted(out->keyids.begin(), out->keyids.end());
  std::sort(sorted.begin(), sorted.end());
  auto duplicate = std::adjacent_find(sorted.begin(), sorted.end());
  if (duplicate != sorted.end()) {
    return Bad(keyids_loc, "must be unique, " + Quote(*duplicate) + " is listed twice");
  }
  MDU_ASSIGN_OR_RETURN(out->threshold, ParseAtLeast(threshold, loc.Field("threshold"), 1));
  return {};
}

void AppendKeyRole(const KeyRole& role, Object* members) {
  Array keyids;
  keyids.reserve(role.keyids.size());
  for (const std::string& keyid : role.keyids) keyids.emplace_back(keyid);
  members->emplace_back("keyids", Value(std::move(keyids)));
  members->emplace_back("threshold", Value(role.threshold));
  for (const Member& member : role.unknown) members->push_back(member);
}

// Spec "Document formats": KEYS maps KEYID to a public key object. Like python-tuf we do not
// require KEYID to equal the key's computed ID (keys are looked up by the listed ID).
Result<KeyMap> ParseKeys(const Value* value, const Loc& loc) {
  MDU_ASSIGN_OR_RETURN(const Value* keys, Need(value, loc, Type::kObject));
  KeyMap out;
  for (const Member& member : keys->as_object()) {
    const Loc key_loc = loc.Key(member.first);
    MDU_RETURN_IF_ERROR(Need(&member.second, key_loc, Type::kObject));
    auto key = crypto::PublicKey::FromTuf(member.second);
    if (!key && key.error().kind() == ErrorKind::kInvalidArgument) {
      // An unknown keytype/scheme: kept (and never counted) like python-tuf does, so metadata
      // that also lists keys for schemes we lack still verifies with the keys we have.
      out.emplace_hint(out.end(), member.first, crypto::PublicKey::Unsupported(member.second));
      continue;
    }
    if (!key) return Bad(key_loc, "is not a usable key: " + key.error().message());
    out.emplace_hint(out.end(), member.first, std::move(key).value());
  }
  return out;
}

Value KeysToValue(const KeyMap& keys) {
  Object members;
  members.reserve(keys.size());
  for (const auto& [keyid, key] : keys) members.emplace_back(keyid, key.ToTuf());
  return Value::MakeObject(std::move(members));
}

// Converters read a document (copying what the model keeps) or, when the caller hands over a
// document it owns (Targets::FromValue(Value&&)), consume it: strings are moved out. The
// const_cast is sound there because the Value is the caller's non-const rvalue.
template <bool kConsume>
std::string AdoptString(const Value& value) {
  if constexpr (kConsume) {
    return const_cast<Value&>(value).TakeString();
  } else {
    return value.as_string();
  }
}

template <bool kConsume>
Value AdoptValue(const Value& value) {
  if constexpr (kConsume) {
    return std::move(const_cast<Value&>(value));
  } else {
    return value;
  }
}

// Spec "Document formats": HASHES maps a hash algorithm name to a hex digest; we require at
// least one entry (as python-tuf does) and hex digests.
template <bool kConsume = false>
Result<std::vector<std::pair<std::string, std::string>>> ParseHashes(const Value* value,
                                                                     const Loc& loc) {
  MDU_ASSIGN_OR_RETURN(const Value* hashes, Need(value, loc, Type::kObject));
  if (hashes->as_object().empty()) return Bad(loc, "must not be empty");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(hashes->as_object().size());
  for (const Member& member : hashes->as_object()) {
    const Loc hash_loc = loc.Key(member.first);
    MDU_ASSIGN_OR_RETURN(const Value* digest, Need(&member.second, hash_loc, Type::kString));
    if (!IsHex(digest->as_string())) {
      return Bad(hash_loc, "must be a hex digest, got " + Got(*digest));
    }
    out.emplace_back(member.first, AdoptString<kConsume>(*digest));
  }
  return out;
}

Value HashesToValue(const std::vector<std::pair<std::string, std::string>>& hashes) {
  Object members;
  members.reserve(hashes.size());
  for (const auto& [algorithm, digest] : hashes) members.emplace_back(algorithm, Value(digest));
  return Value::MakeObject(std::move(members));
}

// Checks `data` against an optional length and a list of hashes: spec 5.5.2 (snapshot against
// timestamp), 5.6.2 (targets against snapshot), 5.7.3 (target files against targets). Unknown
// algorithms are skipped; every known one must match, and at least one must be known.
Status VerifyLengthAndHashesImpl(std::string_view what, std::string_view data,
                                 std::optional<int64_t> length,
                                 const std::vector<std::pair<std::string, std::string>>& hashes) {
  if (length.has_value() && static_cast<uint64_t>(*length) != data.size()) {
    return MakeError(ErrorKind::kLengthMismatch, std::string(what) + ": expected length " +
                                                     std::to_string(*length) + ", got " +
                                                     std::to_string(data.size()));
  }
  if (hashes.empty()) return {};
  bool any_known = false;
  for (const auto& [name, expected] : hashes) {
    std::optional<crypto::HashAlgorithm> algorithm = crypto::HashAlgorithmFromName(name);
    if (!algorithm.has_value()) continue;
    any_known = true;
    std::string actual = crypto::DigestHex(*algorithm, data);
    if (!EqualsIgnoringCase(actual, expected)) {
      return MakeError(ErrorKind::kHashMismatch, std::string(what) + ": " + name + " is " + actual +
                                                     ", expected " + expected);
    }
  }
  if (!any_known) {
    return MakeError(ErrorKind::kHashMismatch,
                     std::string(what) + ": no supported hash algorithm among the hashes listed");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Common fields: _type, spec_version, version, expires (spec "Document formats", the fields
// every role's `signed` object has).

constexpr std::array<std::string_view, 4> kCommonNames = {"_type", "spec_version", "version",
                                                          "expires"};

// `found` holds the four common fields first. On success `label` becomes "<type> version <n>"
// so later messages name the version too.
Status ParseCommon(const Value* const* found, RoleType type, std::string* label,
                   CommonFields* out) {
  const Loc loc(*label);
  out->type = type;
  MDU_ASSIGN_OR_RETURN(const Value* type_value, Need(found[0], loc.Field("_type"), Type::kString));
  if (type_value->as_string() != RoleTypeName(type)) {
    return Bad(loc.Field("_type"),
               "must be " + Quote(RoleTypeName(type)) + ", got " + Got(*type_value));
  }
  // Spec "Document formats": VERSION is an integer greater than 0.
  MDU_ASSIGN_OR_RETURN(out->version, ParseAtLeast(found[2], loc.Field("version"), 1));
  label->append(" version ").append(std::to_string(out->version));
  const Loc versioned(*label);
  MDU_ASSIGN_OR_RETURN(const Value* spec,
                       Need(found[1], versioned.Field("spec_version"), Type::kString));
  if (!IsSupportedSpecVersion(spec->as_string())) {
    return Bad(versioned.Field("spec_version"),
               "must be \"1.x\" or \"1.x.y\" (major version 1), got " + Got(*spec));
  }
  out->spec_version = spec->as_string();
  // Spec "Document formats": EXPIRES is "YYYY-MM-DDTHH:MM:SSZ".
  MDU_ASSIGN_OR_RETURN(const Value* expires,
                       Need(found[3], versioned.Field("expires"), Type::kString));
  auto time = ParseExpires(expires->as_string());
  if (!time) {
    return Bad(versioned.Field("expires"),
               "must be \"YYYY-MM-DDTHH:MM:SSZ\", got " + Got(*expires));
  }
  out->expires = *time;
  return {};
}

void AppendCommon(const CommonFields& common, Object* members) {
  members->emplace_back("_type", Value(RoleTypeName(common.type)));
  members->emplace_back("spec_version", Value(common.spec_version));
  members->emplace_back("version", Value(common.version));
  members->emplace_back("expires", Value(FormatExpires(common.expires)));
}

Result<const Value*> NeedSignedObject(const Value& signed_value, RoleType type) {
  return Need(&signed_value, Loc(RoleTypeName(type)), Type::kObject);
}

// Builds an object from known members plus unknown ones (MakeObject sorts them).
Value FinishObject(Object members, const Object& unknown) {
  members.insert(members.end(), unknown.begin(), unknown.end());
  return Value::MakeObject(std::move(members));
}

// ---------------------------------------------------------------------------------------------
// MetaFile (timestamp and snapshot "meta" entries) and TargetFile.

// Spec "Document formats" (snapshot METAFILES): {"version": V, "length": L?, "hashes": H?}.
Result<MetaFile> ParseMetaFile(const Value& value, const Loc& loc) {
  MDU_RETURN_IF_ERROR(Need(&value, loc, Type::kObject));
  static constexpr std::array<std::string_view, 3> kNames = {"version", "length", "hashes"};
  std::array<const Value*, 3> found{};
  MetaFile out;
  out.unknown = SplitFields(value, kNames, &found);
  MDU_ASSIGN_OR_RETURN(out.version, ParseAtLeast(found[0], loc.Field("version"), 1));
  if (found[1] != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.length, ParseAtLeast(found[1], loc.Field("length"), 0));
  }
  if (found[2] != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.hashes, ParseHashes(found[2], loc.Field("hashes")));
  }
  return out;
}

Value MetaFileToValue(const MetaFile& meta) {
  Object members;
  members.emplace_back("version", Value(meta.version));
  if (meta.length.has_value()) members.emplace_back("length", Value(*meta.length));
  if (!meta.hashes.empty()) members.emplace_back("hashes", HashesToValue(meta.hashes));
  return FinishObject(std::move(members), meta.unknown);
}

// Spec "Document formats" (targets TARGETS): {"length": L, "hashes": H, "custom": C?}.
// Fills `out` in place (it is a fresh map node: no temporary TargetFile is moved around).
template <bool kConsume>
Status ParseTargetFile(const Value& value, const Loc& loc, TargetFile& out) {
  MDU_RETURN_IF_ERROR(Need(&value, loc, Type::kObject));
  static constexpr std::array<std::string_view, 3> kNames = {"length", "hashes", "custom"};
  std::array<const Value*, 3> found{};
  out.unknown = SplitFields(value, kNames, &found);
  MDU_ASSIGN_OR_RETURN(out.length, ParseAtLeast(found[0], loc.Field("length"), 0));
  MDU_ASSIGN_OR_RETURN(out.hashes, ParseHashes<kConsume>(found[1], loc.Field("hashes")));
  if (found[2] != nullptr) {
    if (found[2]->is_null()) {
      // An explicit `"custom": null` is kept verbatim so it round-trips.
      out.unknown.emplace_back("custom", Value());
      std::sort(out.unknown.begin(), out.unknown.end(),
                [](const Member& a, const Member& b) { return a.first < b.first; });
    } else {
      out.custom = AdoptValue<kConsume>(*found[2]);
    }
  }
  return {};
}

Value TargetFileToValue(const TargetFile& target) {
  Object members;
  members.reserve(3 + target.unknown.size());
  members.emplace_back("length", Value(target.length));
  members.emplace_back("hashes", HashesToValue(target.hashes));
  if (!target.custom.is_null()) members.emplace_back("custom", target.custom);
  return FinishObject(std::move(members), target.unknown);
}

// ---------------------------------------------------------------------------------------------
// Delegations.

// Spec "Document formats" (delegations ROLES): name, keyids, threshold, terminating and exactly
// one of paths / path_hash_prefixes.
Result<DelegatedRole> ParseDelegatedRole(const Value& value, const Loc& loc) {
  MDU_RETURN_IF_ERROR(Need(&value, loc, Type::kObject));
  static constexpr std::array<std::string_view, 6> kNames = {
      "name", "keyids", "threshold", "terminating", "paths", "path_hash_prefixes"};
  std::array<const Value*, 6> found{};
  DelegatedRole out;
  out.unknown = SplitFields(value, kNames, &found);
  MDU_ASSIGN_OR_RETURN(const Value* name, Need(found[0], loc.Field("name"), Type::kString));
  out.name = name->as_string();
  if (out.name.empty()) return Bad(loc.Field("name"), "must not be empty");
  // A delegated role may not take the name of a top-level role (python-tuf rejects it too): its
  // metadata file name would collide with the top-level role's.
  if (IsTopLevelRoleName(out.name)) {
    return Bad(loc.Field("name"), "must not be a top-level role name, got " + Got(*name));
  }
  MDU_RETURN_IF_ERROR(ParseKeyRole(found[1], found[2], loc, &out.keys));
  MDU_ASSIGN_OR_RETURN(const Value* terminating,
                       Need(found[3], loc.Field("terminating"), Type::kBool));
  out.terminating = terminating->as_bool();
  if ((found[4] == nullptr) == (found[5] == nullptr)) {
    return Bad(loc, "must have exactly one of \"paths\" and \"path_hash_prefixes\"");
  }
  if (found[4] != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.paths, ParseStringArray(found[4], loc.Field("paths")));
  } else {
    MDU_ASSIGN_OR_RETURN(out.path_hash_prefixes,
                         ParseStringArray(found[5], loc.Field("path_hash_prefixes")));
  }
  return out;
}

Value StringArray(const std::vector<std::string>& strings) {
  Array array;
  array.reserve(strings.size());
  for (const std::string& s : strings) array.emplace_back(s);
  return Value(std::move(array));
}

Value DelegatedRoleToValue(const DelegatedRole& role) {
  Object members;
  members.emplace_back("name", Value(role.name));
  AppendKeyRole(role.keys, &members);
  members.emplace_back("terminating", Value(role.terminating));
  if (role.paths.has_value()) members.emplace_back("paths", StringArray(*role.paths));
  if (role.path_hash_prefixes.has_value()) {
    members.emplace_back("path_hash_prefixes", StringArray(*role.path_hash_prefixes));
  }
  return FinishObject(std::move(members), role.unknown);
}

// TAP 15: succinct_roles {"keyids", "threshold", "bit_length" (1..32), "name_prefix"}.
Result<SuccinctRoles> ParseSuccinctRoles(const Value& value, const Loc& loc) {
  MDU_RETURN_IF_ERROR(Need(&value, loc, Type::kObject));
  static constexpr std::array<std::string_view, 4> kNames = {"keyids", "threshold", "bit_length",
                                                             "name_prefix"};
  std::array<const Value*, 4> found{};
  SuccinctRoles out;
  out.unknown = SplitFields(value, kNames, &found);
  MDU_RETURN_IF_ERROR(ParseKeyRole(found[0], found[1], loc, &out.keys));
  MDU_ASSIGN_OR_RETURN(int64_t bit_length, ParseAtLeast(found[2], loc.Field("bit_length"), 1));
  if (bit_length > 32) {
    return Bad(loc.Field("bit_length"),
               "must be an integer in 1..32, got " + std::to_string(bit_length));
  }
  out.bit_length = static_cast<int>(bit_length);
  MDU_ASSIGN_OR_RETURN(const Value* prefix,
                       Need(found[3], loc.Field("name_prefix"), Type::kString));
  out.name_prefix = prefix->as_string();
  return out;
}

Value SuccinctRolesToValue(const SuccinctRoles& roles) {
  Object members;
  AppendKeyRole(roles.keys, &members);
  members.emplace_back("bit_length", Value(roles.bit_length));
  members.emplace_back("name_prefix", Value(roles.name_prefix));
  return FinishObject(std::move(members), roles.unknown);
}

// Spec "Document formats" (targets DELEGATIONS) and TAP 15: keys plus exactly one of roles and
// succinct_roles; role names unique.
Result<Delegations> ParseDelegations(const Value& value, const Loc& loc) {
  MDU_RETURN_IF_ERROR(Need(&value, loc, Type::kObject));
  static constexpr std::array<std::string_view, 3> kNames = {"keys", "roles", "succinct_roles"};
  std::array<const Value*, 3> found{};
  Delegations out;
  out.unknown = SplitFields(value, kNames, &found);
  MDU_ASSIGN_OR_RETURN(out.keys, ParseKeys(found[0], loc.Field("keys")));
  if ((found[1] == nullptr) == (found[2] == nullptr)) {
    return Bad(loc, "must have exactly one of \"roles\" and \"succinct_roles\"");
  }
  if (found[1] != nullptr) {
    const Loc roles_loc = loc.Field("roles");
    MDU_ASSIGN_OR_RETURN(const Value* roles, Need(found[1], roles_loc, Type::kArray));
    std::vector<DelegatedRole> parsed;
    parsed.reserve(roles->as_array().size());
    for (size_t i = 0; i < roles->as_array().size(); ++i) {
      MDU_ASSIGN_OR_RETURN(DelegatedRole role,
                           ParseDelegatedRole(roles->as_array()[i], roles_loc.Index(i)));
      parsed.push_back(std::move(role));
    }
    // Role names are unique: the delegation order decides which role is trusted for a path,
    // and a second role of the same name would be ambiguous.
    std::vector<std::string_view> names;
    names.reserve(parsed.size());
    for (const DelegatedRole& role : parsed) names.push_back(role.name);
    std::sort(names.begin(), names.end());
    auto duplicate = std::adjacent_find(names.begin(), names.end());
    if (duplicate != names.end()) {
      return Bad(roles_loc, "must have unique names, " + Quote(*duplicate) + " is listed twice");
    }
    out.roles = std::move(parsed);
  } else {
    MDU_ASSIGN_OR_RETURN(out.succinct_roles,
                         ParseSuccinctRoles(*found[2], loc.Field("succinct_roles")));
  }
  return out;
}

Value DelegationsToValue(const Delegations& delegations) {
  Object members;
  members.emplace_back("keys", KeysToValue(delegations.keys));
  if (delegations.roles.has_value()) {
    Array roles;
    roles.reserve(delegations.roles->size());
    for (const DelegatedRole& role : *delegations.roles) {
      roles.push_back(DelegatedRoleToValue(role));
    }
    members.emplace_back("roles", Value(std::move(roles)));
  }
  if (delegations.succinct_roles.has_value()) {
    members.emplace_back("succinct_roles", SuccinctRolesToValue(*delegations.succinct_roles));
  }
  return FinishObject(std::move(members), delegations.unknown);
}

// ---------------------------------------------------------------------------------------------
// Shell-style matching of one path segment, as python's fnmatch (which python-tuf uses per
// segment): `*` any run, `?` one character, `[seq]` / `[!seq]` one character in / not in seq
// (with ranges a-z); a `[` without a closing `]` is literal. Works on code points, so `?`
// matches one non-ASCII character as in python; invalid UTF-8 bytes each count as one character.

std::u32string DecodeUtf8Lossy(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = lead < 0x80           ? 1
                    : (lead >> 5) == 0x6  ? 2
                    : (lead >> 4) == 0xe  ? 3
                    : (lead >> 3) == 0x1e ? 4
                                          : 0;
    bool valid = length > 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (!valid) {
      out.push_back(0xdc00 + lead);  // python's surrogateescape: one character per bad byte
      ++i;
      continue;
    }
    char32_t code = length == 1 ? lead : lead & (0xff >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    }
    out.push_back(code);
    i += length;
  }
  return out;
}

// Index of the `]` closing the class opened at `open`, or npos when it is not a class.
size_t ClassEnd(std::u32string_view pattern, size_t open) {
  size_t j = open + 1;
  if (j < pattern.size() && pattern[j] == U'!') ++j;
  if (j < pattern.size() && pattern[j] == U']') ++j;
  while (j < pattern.size() && pattern[j] != U']') ++j;
  return j < pattern.size() ? j : std::u32string_view::npos;
}

bool ClassMatches(std::u32string_view body, char32_t c) {
  bool negate = false;
  size_t k = 0;
  if (!body.empty() && body[0] == U'!') {
    negate = true;
    k = 1;
  }
  bool hit = false;
  while (k < body.size()) {
    if (k + 2 < body.size() && body[k + 1] == U'-') {
      hit = hit || (body[k] <= c && c <= body[k + 2]);
      k += 3;
    } else {
      hit = hit || body[k] == c;
      ++k;
    }
  }
  return hit != negate;
}

// Linear-time glob: every token but `*` consumes exactly one character, so remembering only the
// last `*` and retrying from one character further is enough.
bool GlobMatch(std::u32string_view pattern, std::u32string_view name) {
  constexpr size_t kNone = std::u32string_view::npos;
  size_t p = 0;
  size_t n = 0;
  size_t star = kNone;
  size_t star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size()) {
      if (pattern[p] == U'*') {
        star = p++;
        star_n = n;
        continue;
      }
      bool ok;
      size_t next = p + 1;
      size_t end = pattern[p] == U'[' ? ClassEnd(pattern, p) : kNone;
      if (pattern[p] == U'?') {
        ok = true;
      } else if (end != kNone) {
        ok = ClassMatches(pattern.substr(p + 1, end - p - 1), name[n]);
        next = end + 1;
      } else {
        ok = pattern[p] == name[n];
      }
      if (ok) {
        p = next;
        ++n;
        continue;
      }
    }
    if (star == kNone) return false;
    p = star + 1;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == U'*') ++p;
  return p == pattern.size();
}

// Spec "Document formats" (delegations PATHS): the pattern and the path have the same number of
// "/"-separated segments, and each segment matches.
bool PathMatchesPattern(std::string_view path, std::string_view pattern) {
  if (std::count(path.begin(), path.end(), '/') !=
      std::count(pattern.begin(), pattern.end(), '/')) {
    return false;
  }
  size_t path_start = 0;
  size_t pattern_start = 0;
  while (true) {
    size_t path_end = path.find('/', path_start);
    size_t pattern_end = pattern.find('/', pattern_start);
    std::string_view path_segment = path.substr(
        path_start, path_end == std::string_view::npos ? path_end : path_end - path_start);
    std::string_view pattern_segment = pattern.substr(
        pattern_start,
        pattern_end == std::string_view::npos ? pattern_end : pattern_end - pattern_start);
    if (!GlobMatch(DecodeUtf8Lossy(pattern_segment), DecodeUtf8Lossy(path_segment))) {
      return false;
    }
    if (path_end == std::string_view::npos) return true;
    path_start = path_end + 1;
    pattern_start = pattern_end + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Calendar arithmetic (Howard Hinnant's days_from_civil / civil_from_days): proleptic Gregorian,
// no time zone database, no locale.

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  *day = day_of_year - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(year_of_era) + era * 400 + (*month <= 2 ? 1 : 0);
}

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Reads `count` ASCII digits at `pos`; -1 if any is not a digit.
int64_t Digits(std::string_view text, size_t pos, size_t count) {
  int64_t value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

Status CheckSignedByTypeName(std::string_view role_name,
                             const std::map<std::string, KeyRole, std::less<>>& roles) {
  if (roles.find(role_name) == roles.end()) {
    return MakeError(ErrorKind::kBadMetadata,
                     "root: no top-level role named " + Quote(role_name) + " to verify");
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string_view RoleTypeName(RoleType type) {
  switch (type) {
    case RoleType::kRoot:
      return "root";
    case RoleType::kTimestamp:
      return "timestamp";
    case RoleType::kSnapshot:
      return "snapshot";
    case RoleType::kTargets:
      return "targets";
  }
  return "unknown";
}

// Spec "Document formats": EXPIRES "determines when metadata should be considered expired ...
// in the format YYYY-MM-DDTHH:MM:SSZ". Exactly that: 20 characters, UTC, a real calendar date.
Result<UnixTime> ParseExpires(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorKind::kBadMetadata,
                     "expires must be \"YYYY-MM-DDTHH:MM:SSZ\", got " + Quote(text));
  };
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return bad();
  }
  const int64_t year = Digits(text, 0, 4);
  const int64_t month = Digits(text, 5, 2);
  const int64_t day = Digits(text, 8, 2);
  const int64_t hour = Digits(text, 11, 2);
  const int64_t minute = Digits(text, 14, 2);
  const int64_t second = Digits(text, 17, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 59) {
    return bad();
  }
  if (day > DaysInMonth(year, static_cast<unsigned>(month))) return bad();
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

std::string FormatExpires(UnixTime time) {
  int64_t days = time / 86400;
  int64_t seconds = time % 86400;
  if (seconds < 0) {
    seconds += 86400;
    --days;
  }
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  CivilFromDays(days, &year, &month, &day);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04" PRId64 "-%02u-%02uT%02d:%02d:%02dZ", year, month, day,
                static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60 % 60),
                static_cast<int>(seconds % 60));
  return buffer;
}

// ---------------------------------------------------------------------------------------------
// Envelope.

Result<Envelope> Envelope::Parse(std::string_view bytes, const json::ParseLimits& limits) {
  MDU_ASSIGN_OR_RETURN(Value document, json::Parse(bytes, limits));
  return FromValue(std::move(document));
}

// Spec "Document formats": {"signed": ROLE, "signatures": [{"keyid": KEYID, "sig": SIGNATURE}]}.
Result<Envelope> Envelope::FromValue(Value document) {
  const Loc loc("metadata");
  if (!document.is_object()) {
    return MakeError(ErrorKind::kBadMetadata, "metadata must be an object, got " + Got(document));
  }
  Envelope out;
  static constexpr std::array<std::string_view, 2> kNames = {"signatures", "signed"};
  std::array<const Value*, 2> found{};
  out.unknown = SplitFields(document, kNames, &found);
  const Loc signatures_loc = loc.Field("signatures");
  MDU_ASSIGN_OR_RETURN(const Value* signatures, Need(found[0], signatures_loc, Type::kArray));
  MDU_RETURN_IF_ERROR(Need(found[1], loc.Field("signed"), Type::kObject));
  out.signatures.reserve(signatures->as_array().size());
  for (size_t i = 0; i < signatures->as_array().size(); ++i) {
    const Value& item = signatures->as_array()[i];
    const Loc sig_loc = signatures_loc.Index(i);
    MDU_RETURN_IF_ERROR(Need(&item, sig_loc, Type::kObject));
    static constexpr std::array<std::string_view, 2> kSigNames = {"keyid", "sig"};
    std::array<const Value*, 2> sig_found{};
    Signature signature;
    signature.unknown = SplitFields(item, kSigNames, &sig_found);
    MDU_ASSIGN_OR_RETURN(const Value* keyid,
                         Need(sig_found[0], sig_loc.Field("keyid"), Type::kString));
    MDU_ASSIGN_OR_RETURN(const Value* sig, Need(sig_found[1], sig_loc.Field("sig"), Type::kString));
    signature.keyid = keyid->as_string();
    signature.sig = sig->as_string();
    out.signatures.push_back(std::move(signature));
  }
  // The signed object is moved, not copied: for a large targets role it is most of the file.
  out.signed_value = std::move(*document.Find("signed"));
  return out;
}

std::string Envelope::CanonicalSigned() const { return json::Canonical(signed_value); }

json::Value Envelope::ToValue() const {
  Array signature_values;
  signature_values.reserve(signatures.size());
  for (const Signature& signature : signatures) {
    Object members;
    members.emplace_back("keyid", Value(signature.keyid));
    members.emplace_back("sig", Value(signature.sig));
    signature_values.push_back(FinishObject(std::move(members), signature.unknown));
  }
  Object members;
  members.emplace_back("signatures", Value(std::move(signature_values)));
  members.emplace_back("signed", signed_value);
  return FinishObject(std::move(members), unknown);
}

std::string Envelope::Serialize() const { return json::Serialize(ToValue(), 1); }

// ---------------------------------------------------------------------------------------------
// Signatures.

// Spec 5.3.4 (root, by the old and by the new root), 5.4.2 (timestamp), 5.5.3 (snapshot), 5.6.3
// (targets) and 5.6.7 (delegated targets, by their delegator's keys): metadata is trusted only if
// signed by a threshold of the keys the delegating role lists. Each key counts once: duplicates of
// a keyid, and distinct keyids naming the same key object, are counted as one key.
Status VerifyThreshold(std::string_view role_name, std::string_view canonical_signed,
                       std::span<const Signature> signatures, const KeyMap& keys,
                       const KeyRole& role) {
  std::vector<std::string_view> counted_keyids;
  std::vector<std::string_view> counted_key_objects;
  const std::span<const uint8_t> message = AsBytes(canonical_signed);
  for (const Signature& signature : signatures) {
    if (std::find(role.keyids.begin(), role.keyids.end(), signature.keyid) == role.keyids.end()) {
      continue;  // not a key of this role
    }
    if (std::find(counted_keyids.begin(), counted_keyids.end(), signature.keyid) !=
        counted_keyids.end()) {
      continue;  // this keyid already counted
    }
    auto key = keys.find(signature.keyid);
    if (key == keys.end()) continue;
    // Two keyids could list the same key; count the key, not the ID.
    if (std::find(counted_key_objects.begin(), counted_key_objects.end(), key->second.KeyId()) !=
        counted_key_objects.end()) {
      continue;
    }
    auto sig_bytes = HexDecode(signature.sig);
    if (!sig_bytes) continue;  // malformed signature: ignored, never counted
    if (!key->second.Verify(message, *sig_bytes)) continue;
    counted_keyids.push_back(signature.keyid);
    counted_key_objects.push_back(key->second.KeyId());
  }
  const auto valid = static_cast<int64_t>(counted_keyids.size());
  if (valid < role.threshold) {
    return MakeError(ErrorKind::kUnsignedMetadata, Quote(role_name) + ": " + std::to_string(valid) +
                                                       " of " + std::to_string(role.threshold) +
                                                       " required signatures are valid");
  }
  return {};
}

Status Sign(Envelope& envelope, const crypto::Signer& signer) {
  const std::string canonical = envelope.CanonicalSigned();
  auto signature = signer.Sign(AsBytes(canonical));
  if (!signature) {
    return MakeError(ErrorKind::kCrypto, "signing failed: " + signature.error().message());
  }
  const std::string& keyid = signer.public_key().KeyId();
  std::string sig_hex = HexEncode(*signature);
  for (Signature& existing : envelope.signatures) {
    if (existing.keyid == keyid) {
      existing.sig = std::move(sig_hex);
      existing.unknown.clear();
      return {};
    }
  }
  envelope.signatures.push_back(Signature{keyid, std::move(sig_hex), {}});
  return {};
}

// ---------------------------------------------------------------------------------------------
// Root.

// Spec "Document formats" (root.json): consistent_snapshot, keys, roles with exactly the four
// top-level roles.
Result<Root> Root::FromValue(const json::Value& signed_value) {
  MDU_RETURN_IF_ERROR(NeedSignedObject(signed_value, RoleType::kRoot));
  static constexpr std::array<std::string_view, 7> kNames = {
      "_type", "spec_version", "version", "expires", "consistent_snapshot", "keys", "roles"};
  std::array<const Value*, 7> found{};
  Root out;
  out.unknown = SplitFields(signed_value, kNames, &found);
  std::string label = "root";
  MDU_RETURN_IF_ERROR(ParseCommon(found.data(), RoleType::kRoot, &label, &out.common));
  const Loc loc(label);
  // Spec "Consistent snapshots": when they are not used the attribute "MAY either be left
  // unspecified or be set to the false value".
  if (found[4] == nullptr) {
    out.consistent_snapshot = false;
    out.consistent_snapshot_present = false;
  } else {
    MDU_ASSIGN_OR_RETURN(const Value* consistent,
                         Need(found[4], loc.Field("consistent_snapshot"), Type::kBool));
    out.consistent_snapshot = consistent->as_bool();
  }
  MDU_ASSIGN_OR_RETURN(out.keys, ParseKeys(found[5], loc.Field("keys")));
  const Loc roles_loc = loc.Field("roles");
  MDU_ASSIGN_OR_RETURN(const Value* roles_value, Need(found[6], roles_loc, Type::kObject));
  for (const Member& member : roles_value->as_object()) {
    const Loc role_loc = roles_loc.Field(member.first);
    if (!IsTopLevelRoleName(member.first)) {
      return Bad(roles_loc, "must list only root, snapshot, targets and timestamp, got " +
                                Quote(member.first));
    }
    MDU_RETURN_IF_ERROR(Need(&member.second, role_loc, Type::kObject));
    static constexpr std::array<std::string_view, 2> kRoleNames = {"keyids", "threshold"};
    std::array<const Value*, 2> role_found{};
    KeyRole role;
    role.unknown = SplitFields(member.second, kRoleNames, &role_found);
    MDU_RETURN_IF_ERROR(ParseKeyRole(role_found[0], role_found[1], role_loc, &role));
    out.roles.emplace_hint(out.roles.end(), member.first, std::move(role));
  }
  for (std::string_view name : kTopLevelRoleNames) {
    if (out.roles.find(name) == out.roles.end()) {
      return Bad(roles_loc.Field(name), "is missing");
    }
  }
  return out;
}

json::Value Root::ToValue() const {
  Object members;
  AppendCommon(common, &members);
  if (consistent_snapshot || consistent_snapshot_present) {
    members.emplace_back("consistent_snapshot", Value(consistent_snapshot));
  }
  members.emplace_back("keys", KeysToValue(keys));
  Object role_members;
  for (const auto& [name, role] : roles) {
    Object role_fields;
    AppendKeyRole(role, &role_fields);
    role_members.emplace_back(name, Value::MakeObject(std::move(role_fields)));
  }
  members.emplace_back("roles", Value::MakeObject(std::move(role_members)));
  return FinishObject(std::move(members), unknown);
}

Status Root::VerifyDelegate(std::string_view role_name, const Envelope& envelope) const {
  return VerifyDelegate(role_name, envelope.CanonicalSigned(), envelope.signatures);
}

Status Root::VerifyDelegate(std::string_view role_name, std::string_view canonical_signed,
                            std::span<const Signature> signatures) const {
  MDU_RETURN_IF_ERROR(CheckSignedByTypeName(role_name, roles));
  return VerifyThreshold(role_name, canonical_signed, signatures, keys,
                         roles.find(role_name)->second);
}

// ---------------------------------------------------------------------------------------------
// Timestamp and snapshot.

Status MetaFile::VerifyLengthAndHashes(std::string_view what, std::string_view data) const {
  return VerifyLengthAndHashesImpl(what, data, length, hashes);
}

// Spec "Document formats" (timestamp.json): METAFILES "MUST only include a description of the
// snapshot.json file".
Result<Timestamp> Timestamp::FromValue(const json::Value& signed_value) {
  MDU_RETURN_IF_ERROR(NeedSignedObject(signed_value, RoleType::kTimestamp));
  static constexpr std::array<std::string_view, 5> kNames = {"_type", "spec_version", "version",
                                                             "expires", "meta"};
  std::array<const Value*, 5> found{};
  Timestamp out;
  out.unknown = SplitFields(signed_value, kNames, &found);
  std::string label = "timestamp";
  MDU_RETURN_IF_ERROR(ParseCommon(found.data(), RoleType::kTimestamp, &label, &out.common));
  const Loc loc(label);
  const Loc meta_loc = loc.Field("meta");
  MDU_ASSIGN_OR_RETURN(const Value* meta_value, Need(found[4], meta_loc, Type::kObject));
  const Value* snapshot = meta_value->Find("snapshot.json");
  if (meta_value->as_object().size() != 1 || snapshot == nullptr) {
    return Bad(meta_loc, "must contain exactly one entry, \"snapshot.json\"");
  }
  MDU_ASSIGN_OR_RETURN(out.snapshot_meta, ParseMetaFile(*snapshot, meta_loc.Key("snapshot.json")));
  return out;
}

json::Value Timestamp::ToValue() const {
  Object members;
  AppendCommon(common, &members);
  Object meta;
  meta.emplace_back("snapshot.json", MetaFileToValue(snapshot_meta));
  members.emplace_back("meta", Value::MakeObject(std::move(meta)));
  return FinishObject(std::move(members), unknown);
}

// Spec "Document formats" (snapshot.json): METAFILES maps METAPATH ("targets.json",
// "<role>.json") to {version, length?, hashes?}.
Result<Snapshot> Snapshot::FromValue(const json::Value& signed_value) {
  MDU_RETURN_IF_ERROR(NeedSignedObject(signed_value, RoleType::kSnapshot));
  static constexpr std::array<std::string_view, 5> kNames = {"_type", "spec_version", "version",
                                                             "expires", "meta"};
  std::array<const Value*, 5> found{};
  Snapshot out;
  out.unknown = SplitFields(signed_value, kNames, &found);
  std::string label = "snapshot";
  MDU_RETURN_IF_ERROR(ParseCommon(found.data(), RoleType::kSnapshot, &label, &out.common));
  const Loc loc(label);
  const Loc meta_loc = loc.Field("meta");
  MDU_ASSIGN_OR_RETURN(const Value* meta_value, Need(found[4], meta_loc, Type::kObject));
  for (const Member& member : meta_value->as_object()) {
    const Loc entry_loc = meta_loc.Key(member.first);
    constexpr std::string_view kSuffix = ".json";
    if (member.first.size() <= kSuffix.size() ||
        member.first.compare(member.first.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return Bad(entry_loc, "must name a metadata file \"<role>.json\"");
    }
    MDU_ASSIGN_OR_RETURN(MetaFile file, ParseMetaFile(member.second, entry_loc));
    out.meta.emplace_hint(out.meta.end(), member.first, std::move(file));
  }
  return out;
}

json::Value Snapshot::ToValue() const {
  Object members;
  AppendCommon(common, &members);
  Object meta_members;
  meta_members.reserve(meta.size());
  for (const auto& [path, file] : meta) meta_members.emplace_back(path, MetaFileToValue(file));
  members.emplace_back("meta", Value::MakeObject(std::move(meta_members)));
  return FinishObject(std::move(members), unknown);
}

// ---------------------------------------------------------------------------------------------
// Targets.

Status TargetFile::VerifyLengthAndHashes(std::string_view what, std::string_view data) const {
  return VerifyLengthAndHashesImpl(what, data, length, hashes);
}

std::optional<std::string_view> TargetFile::Sha256() const {
  for (const auto& [algorithm, digest] : hashes) {
    if (algorithm == "sha256") return std::string_view(digest);
  }
  return std::nullopt;
}

bool DelegatedRole::IsDelegatedPath(std::string_view target_path) const {
  if (paths.has_value()) {
    for (const std::string& pattern : *paths) {
      if (PathMatchesPattern(target_path, pattern)) return true;
    }
  }
  // Spec "Document formats" (PATH_HASH_PREFIXES): the hex sha256 of the target path starts
  // with one of the prefixes.
  if (path_hash_prefixes.has_value()) {
    const std::string digest = crypto::Sha256Hex(target_path);
    for (const std::string& prefix : *path_hash_prefixes) {
      if (std::string_view(digest).starts_with(prefix)) return true;
    }
  }
  return false;
}

namespace {

// FromValue guarantees 1..32; a hand-built SuccinctRoles outside it is clamped rather than
// shifting out of range (undefined behaviour).
int ClampBitLength(int bit_length) { return std::clamp(bit_length, 1, 32); }

// Hex digits of the largest bin index, 2^bit_length - 1.
int SuffixLength(int bit_length) { return (ClampBitLength(bit_length) + 3) / 4; }

std::string BinName(std::string_view prefix, uint64_t index, int suffix_length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(prefix);
  out.push_back('-');
  std::string suffix(static_cast<size_t>(suffix_length), '0');
  for (int i = suffix_length - 1; i >= 0; --i) {
    suffix[static_cast<size_t>(i)] = kDigits[index & 0xf];
    index >>= 4;
  }
  return out + suffix;
}

}  // namespace

// TAP 15: the bin is the first bit_length bits of sha256(target path), big-endian.
std::string SuccinctRoles::RoleForTarget(std::string_view target_path) const {
  const std::vector<uint8_t> digest =
      crypto::Digest(crypto::HashAlgorithm::kSha256, AsBytes(target_path));
  const uint32_t first_four =
      static_cast<uint32_t>(digest[0]) << 24 | static_cast<uint32_t>(digest[1]) << 16 |
      static_cast<uint32_t>(digest[2]) << 8 | static_cast<uint32_t>(digest[3]);
  const uint32_t index = first_four >> (32 - ClampBitLength(bit_length));
  return BinName(name_prefix, index, SuffixLength(bit_length));
}

std::vector<std::string> SuccinctRoles::RoleNames() const {
  const uint64_t count = uint64_t{1} << ClampBitLength(bit_length);
  std::vector<std::string> names;
  names.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    names.push_back(BinName(name_prefix, i, SuffixLength(bit_length)));
  }
  return names;
}

// TAP 15: "<prefix>-<suffix>" with a lowercase hex suffix of exactly the padded length and a
// value below 2^bit_length.
bool SuccinctRoles::IsDelegatedRole(std::string_view role_name) const {
  if (role_name.size() <= name_prefix.size() || !role_name.starts_with(name_prefix) ||
      role_name[name_prefix.size()] != '-') {
    return false;
  }
  std::string_view suffix = role_name.substr(name_prefix.size() + 1);
  if (suffix.size() != static_cast<size_t>(SuffixLength(bit_length))) return false;
  uint64_t index = 0;
  for (char c : suffix) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return false;
    }
    index = index << 4 | static_cast<uint64_t>(digit);
  }
  return index < (uint64_t{1} << ClampBitLength(bit_length));
}

// Spec 5.6.7.2 (pre-order depth-first search of delegations in order of appearance): the roles
// whose paths match, in listed order; TAP 15: with succinct roles exactly one bin is responsible
// (terminating).
std::vector<std::pair<std::string, bool>> Delegations::RolesForTarget(
    std::string_view target_path) const {
  std::vector<std::pair<std::string, bool>> out;
  if (succinct_roles.has_value()) {
    out.emplace_back(succinct_roles->RoleForTarget(target_path), true);
    return out;
  }
  if (roles.has_value()) {
    for (const DelegatedRole& role : *roles) {
      if (role.IsDelegatedPath(target_path)) out.emplace_back(role.name, role.terminating);
    }
  }
  return out;
}

// Spec "Document formats" (targets.json): TARGETS maps a target path to {length, hashes,
// custom?}; DELEGATIONS is optional.
template <bool kConsume>
Result<Targets> TargetsFromValue(const json::Value& signed_value) {
  MDU_RETURN_IF_ERROR(NeedSignedObject(signed_value, RoleType::kTargets));
  static constexpr std::array<std::string_view, 6> kNames = {
      "_type", "spec_version", "version", "expires", "targets", "delegations"};
  std::array<const Value*, 6> found{};
  Targets out;
  out.unknown = SplitFields(signed_value, kNames, &found);
  std::string label = "targets";
  MDU_RETURN_IF_ERROR(ParseCommon(found.data(), RoleType::kTargets, &label, &out.common));
  const Loc loc(label);
  const Loc targets_loc = loc.Field("targets");
  MDU_ASSIGN_OR_RETURN(const Value* targets_value, Need(found[4], targets_loc, Type::kObject));
  // Object members arrive sorted by key bytes, the map's order: appending at the end with a
  // hint is O(1) per target. Paths are only type-checked here; ValidateTargetPath guards use.
  if constexpr (kConsume) {
    // Each entry's tree is freed as soon as it is converted, so the model's allocations reuse
    // its memory instead of touching fresh pages: 100,000 targets then peak one tree lower.
    Object entries = const_cast<Value*>(targets_value)->TakeObject();
    for (Member& member : entries) {
      auto node = out.targets.emplace_hint(out.targets.end(), std::move(member.first), TargetFile{});
      MDU_RETURN_IF_ERROR(
          ParseTargetFile<true>(member.second, targets_loc.Key(node->first), node->second));
      member.second = Value();
    }
  } else {
    for (const Member& member : targets_value->as_object()) {
      auto node = out.targets.emplace_hint(out.targets.end(), member.first, TargetFile{});
      MDU_RETURN_IF_ERROR(
          ParseTargetFile<false>(member.second, targets_loc.Key(member.first), node->second));
    }
  }
  if (found[5] != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.delegations, ParseDelegations(*found[5], loc.Field("delegations")));
  }
  return out;
}

Result<Targets> Targets::FromValue(const json::Value& signed_value) {
  return TargetsFromValue<false>(signed_value);
}

Result<Targets> Targets::FromValue(json::Value&& signed_value) {
  return TargetsFromValue<true>(signed_value);
}

json::Value Targets::ToValue() const {
  Object members;
  AppendCommon(common, &members);
  Object target_members;
  target_members.reserve(targets.size());
  for (const auto& [path, file] : targets) {
    target_members.emplace_back(path, TargetFileToValue(file));
  }
  members.emplace_back("targets", Value::MakeObject(std::move(target_members)));
  if (delegations.has_value())
    members.emplace_back("delegations", DelegationsToValue(*delegations));
  return FinishObject(std::move(members), unknown);
}

Status Targets::VerifyDelegate(std::string_view role_name, const Envelope& envelope) const {
  return VerifyDelegate(role_name, envelope.CanonicalSigned(), envelope.signatures);
}

// Spec 5.6.7 (with 5.6.3's check): a delegated role's metadata is verified with the keys and
// threshold its delegator lists for it.
Status Targets::VerifyDelegate(std::string_view role_name, std::string_view canonical_signed,
                               std::span<const Signature> signatures) const {
  if (delegations.has_value()) {
    if (delegations->roles.has_value()) {
      for (const DelegatedRole& role : *delegations->roles) {
        if (role.name == role_name) {
          return VerifyThreshold(role_name, canonical_signed, signatures, delegations->keys,
                                 role.keys);
        }
      }
    }
    if (delegations->succinct_roles.has_value() &&
        delegations->succinct_roles->IsDelegatedRole(role_name)) {
      return VerifyThreshold(role_name, canonical_signed, signatures, delegations->keys,
                             delegations->succinct_roles->keys);
    }
  }
  return MakeError(ErrorKind::kBadMetadata, "targets version " + std::to_string(common.version) +
                                                ": no delegation to " + Quote(role_name));
}

// ---------------------------------------------------------------------------------------------

template <class T>
Result<Metadata<T>> ParseMetadata(std::string_view bytes, const json::ParseLimits& limits) {
  MDU_ASSIGN_OR_RETURN(Envelope envelope, Envelope::Parse(bytes, limits));
  MDU_ASSIGN_OR_RETURN(T role, T::FromValue(envelope.signed_value));
  return Metadata<T>{std::move(envelope), std::move(role)};
}

template <class T>
Metadata<T> MakeMetadata(T role) {
  Envelope envelope;
  envelope.signed_value = role.ToValue();
  return Metadata<T>{std::move(envelope), std::move(role)};
}

template Result<Metadata<Root>> ParseMetadata<Root>(std::string_view, const json::ParseLimits&);
template Result<Metadata<Timestamp>> ParseMetadata<Timestamp>(std::string_view,
                                                              const json::ParseLimits&);
template Result<Metadata<Snapshot>> ParseMetadata<Snapshot>(std::string_view,
                                                            const json::ParseLimits&);
template Result<Metadata<Targets>> ParseMetadata<Targets>(std::string_view,
                                                          const json::ParseLimits&);
template Metadata<Root> MakeMetadata<Root>(Root);
template Metadata<Timestamp> MakeMetadata<Timestamp>(Timestamp);
template Metadata<Snapshot> MakeMetadata<Snapshot>(Snapshot);
template Metadata<Targets> MakeMetadata<Targets>(Targets);

// Target paths we resolve or create become file names (spec 5.7.3 downloads by target path),
// so anything that could escape the targets directory or alias another path is refused.
Status ValidateTargetPath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "target path " + Quote(path) + " " + std::string(why));
  };
  if (path.empty()) return bad("is empty");
  if (path.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (path.find('\\') != std::string_view::npos) return bad("contains a backslash");
  if (path.front() == '/') return bad("is absolute");
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string_view segment =
        path.substr(start, end == std::string_view::npos ? end : end - start);
    if (segment.empty()) return bad("has an empty segment");
    if (segment == "." || segment == "..") return bad("has a \".\" or \"..\" segment");
    if (end == std::string_view::npos) return {};
    start = end + 1;
  }
}

}  // namespace mdu::metadata
