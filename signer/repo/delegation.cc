#include "signer/repo/delegation.h"

#include <algorithm>
#include <set>

namespace mdu::signer::repo {
namespace {

Result<metadata::KeyRole> KeyRoleFor(const std::vector<crypto::PublicKey>& keys, int64_t threshold,
                                     const std::string& what) {
  if (keys.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, what + " needs at least one --key");
  }
  metadata::KeyRole role;
  for (const crypto::PublicKey& key : keys) {
    if (std::find(role.keyids.begin(), role.keyids.end(), key.KeyId()) != role.keyids.end()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       what + ": key " + key.KeyId() + " is given twice");
    }
    role.keyids.push_back(key.KeyId());
  }
  if (threshold < 1 || threshold > static_cast<int64_t>(keys.size())) {
    return MakeError(ErrorKind::kInvalidArgument,
                     what + ": --threshold must be between 1 and the number of keys (" +
                         std::to_string(keys.size()) + ")");
  }
  role.threshold = threshold;
  return role;
}

Status CheckDelegator(const Workspace& ws, const std::string& from) {
  if (ws.TargetsRole(from) == nullptr) {
    return MakeError(ErrorKind::kNotFound, "--from: no targets role \"" + from + "\"");
  }
  return {};
}

}  // namespace

Status Delegate(Workspace& ws, const DelegationSpec& spec, UnixTime now) {
  MDU_RETURN_IF_ERROR(ValidateRoleName(spec.name));
  MDU_RETURN_IF_ERROR(CheckDelegator(ws, spec.from));
  if (spec.name == spec.from) {
    return MakeError(ErrorKind::kInvalidArgument, "a role cannot delegate to itself");
  }
  const std::string existing_delegator = ws.DelegatorOf(spec.name);
  if (!existing_delegator.empty() && existing_delegator != spec.from) {
    return MakeError(
        ErrorKind::kInvalidArgument,
        "role \"" + spec.name + "\" is already delegated by \"" + existing_delegator + "\"");
  }
  if (existing_delegator.empty() && ws.TargetsRole(spec.name) != nullptr) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "\"" + spec.name + "\" is already the name of a role");
  }
  if (spec.paths.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "at least one --path pattern is required (e.g. 'pump-x/*')");
  }
  for (const std::string& pattern : spec.paths) {
    if (pattern.empty() || pattern.front() == '/' || pattern.find('\\') != std::string::npos) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid --path pattern \"" + pattern +
                           "\": patterns are relative target paths with * ? [..] wildcards");
    }
  }
  MDU_ASSIGN_OR_RETURN(metadata::KeyRole key_role,
                       KeyRoleFor(spec.keys, spec.threshold, "role \"" + spec.name + "\""));
  auto edit = [&](metadata::Targets& targets) -> Status {
    if (!targets.delegations) {
      targets.delegations.emplace();
      targets.delegations->roles.emplace();
    }
    metadata::Delegations& delegations = *targets.delegations;
    if (delegations.succinct_roles) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "\"" + spec.from +
                           "\" delegates to hash bins; TUF allows either bins "
                           "or named roles in one role, not both");
    }
    for (const crypto::PublicKey& key : spec.keys)
      delegations.keys.insert_or_assign(key.KeyId(), key);
    auto& roles = *delegations.roles;
    auto it = std::find_if(roles.begin(), roles.end(),
                           [&](const metadata::DelegatedRole& r) { return r.name == spec.name; });
    if (it == roles.end()) it = roles.insert(roles.end(), metadata::DelegatedRole{});
    it->name = spec.name;
    it->keys = key_role;
    it->terminating = spec.terminating;
    it->paths = spec.paths;
    it->path_hash_prefixes.reset();
    // Drop keys no delegated role uses any more.
    std::set<std::string> used;
    for (const auto& role : roles) used.insert(role.keys.keyids.begin(), role.keys.keyids.end());
    std::erase_if(delegations.keys, [&](const auto& entry) { return !used.count(entry.first); });
    return {};
  };
  MDU_RETURN_IF_ERROR(ws.EditTargets(spec.from, now, edit));
  return ws.CreateDelegatedRole(spec.name, now);
}

Status DelegateBins(Workspace& ws, const BinsSpec& spec, UnixTime now) {
  MDU_RETURN_IF_ERROR(ValidateRoleName(spec.name_prefix));
  MDU_RETURN_IF_ERROR(CheckDelegator(ws, spec.from));
  if (spec.bit_length < 1 || spec.bit_length > kMaxBinBitLength) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--bit-length must be between 1 and " + std::to_string(kMaxBinBitLength));
  }
  if (ws.TargetsRole(spec.from)->role.delegations) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "\"" + spec.from +
                         "\" already has delegations; hash bins must be its only "
                         "delegation");
  }
  MDU_ASSIGN_OR_RETURN(metadata::KeyRole key_role,
                       KeyRoleFor(spec.keys, spec.threshold, "bins \"" + spec.name_prefix + "\""));
  metadata::SuccinctRoles bins;
  bins.keys = key_role;
  bins.bit_length = spec.bit_length;
  bins.name_prefix = spec.name_prefix;
  // The longest bin name must be a valid role name; no existing role may look like a bin.
  MDU_RETURN_IF_ERROR(ValidateRoleName(bins.RoleForTarget("")));
  for (const std::string& name : ws.TargetsRoleNames()) {
    if (bins.IsDelegatedRole(name)) {
      return MakeError(ErrorKind::kInvalidArgument, "bin name \"" + name + "\" is already a role");
    }
  }
  MDU_RETURN_IF_ERROR(ws.EditTargets(spec.from, now, [&](metadata::Targets& targets) -> Status {
    targets.delegations.emplace();
    for (const crypto::PublicKey& key : spec.keys) {
      targets.delegations->keys.insert_or_assign(key.KeyId(), key);
    }
    targets.delegations->succinct_roles = bins;
    return {};
  }));
  if (bins.bit_length <= kMaxEagerBinBitLength) {
    for (const std::string& name : bins.RoleNames()) {
      MDU_RETURN_IF_ERROR(ws.CreateDelegatedRole(name, now));
    }
  }
  return {};
}

}  // namespace mdu::signer::repo
