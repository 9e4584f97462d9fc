#include "signer/repo/rotation.h"

#include <algorithm>
#include <set>

#include "core/io/file.h"
#include "core/trust/trusted_set.h"

namespace mdu::signer::repo {
namespace {

bool IsTopLevel(std::string_view name) {
  return name == "root" || name == "targets" || name == "snapshot" || name == "timestamp";
}

Status CheckRole(const std::string& name, const metadata::KeyRole& role) {
  if (role.keyids.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "role " + name +
                         " would have no keys left; add a new key in the same "
                         "rotation (--add-key)");
  }
  if (role.threshold > static_cast<int64_t>(role.keyids.size())) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "role " + name + " would need " + std::to_string(role.threshold) +
                         " signatures but have only " + std::to_string(role.keyids.size()) +
                         " key(s); lower --threshold or add keys");
  }
  return {};
}

void DropUnusedKeys(metadata::Root& root) {
  std::set<std::string> used;
  for (const auto& [name, role] : root.roles) used.insert(role.keyids.begin(), role.keyids.end());
  std::erase_if(root.keys, [&](const auto& entry) { return used.count(entry.first) == 0; });
}

}  // namespace

Status RotateKeys(Workspace& ws, const RotationSpec& spec, UnixTime now) {
  if (!IsTopLevel(spec.role)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--role must be root, targets, snapshot or timestamp (delegated roles are "
                     "changed with `signer delegate`)");
  }
  if (spec.add.empty() && spec.remove.empty() && !spec.threshold) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "nothing to rotate: give --add-key, --remove-key and/or --threshold");
  }
  auto edit = [&](metadata::Root& root) -> Status {
    metadata::KeyRole& role = root.roles.at(spec.role);
    for (const std::string& keyid : spec.remove) {
      auto it = std::find(role.keyids.begin(), role.keyids.end(), keyid);
      if (it == role.keyids.end()) {
        return MakeError(ErrorKind::kNotFound,
                         "--remove-key " + keyid + ": not a key of role " + spec.role);
      }
      role.keyids.erase(it);
    }
    for (const crypto::PublicKey& key : spec.add) {
      if (std::find(role.keyids.begin(), role.keyids.end(), key.KeyId()) != role.keyids.end()) {
        return MakeError(ErrorKind::kInvalidArgument, "--add-key: key " + key.KeyId() +
                                                          " is already a key of role " + spec.role);
      }
      role.keyids.push_back(key.KeyId());
      root.keys.insert_or_assign(key.KeyId(), key);
    }
    if (spec.threshold) {
      if (*spec.threshold < 1) {
        return MakeError(ErrorKind::kInvalidArgument, "--threshold must be at least 1");
      }
      role.threshold = *spec.threshold;
    }
    MDU_RETURN_IF_ERROR(CheckRole(spec.role, role));
    DropUnusedKeys(root);
    return {};
  };
  MDU_RETURN_IF_ERROR(ws.EditRoot(now, edit));
  // Targets metadata signed by the old keys would no longer verify under the new root: it
  // needs a new version signed by the new keys (snapshot and timestamp are made at publish).
  if (spec.role == "targets") return ws.Renew("targets", now);
  return {};
}

Result<std::vector<std::string>> RevokeKey(Workspace& ws, const std::string& keyid, UnixTime now) {
  std::vector<std::string> changed;
  bool in_root = false;
  for (const auto& [name, role] : ws.root().role.roles) {
    if (std::find(role.keyids.begin(), role.keyids.end(), keyid) != role.keyids.end()) {
      in_root = true;
      changed.push_back(name);
    }
  }
  const bool in_targets = std::find(ws.root().role.roles.at("targets").keyids.begin(),
                                    ws.root().role.roles.at("targets").keyids.end(),
                                    keyid) != ws.root().role.roles.at("targets").keyids.end();
  if (in_root) {
    auto edit = [&](metadata::Root& root) -> Status {
      for (auto& [name, role] : root.roles) {
        std::erase(role.keyids, keyid);
        MDU_RETURN_IF_ERROR(CheckRole(name, role));
      }
      DropUnusedKeys(root);
      return {};
    };
    MDU_RETURN_IF_ERROR(ws.EditRoot(now, edit));
    if (in_targets) MDU_RETURN_IF_ERROR(ws.Renew("targets", now));
  }
  for (const std::string& delegator : ws.TargetsRoleNames()) {
    const auto& delegations = ws.TargetsRole(delegator)->role.delegations;
    if (!delegations || delegations->keys.count(keyid) == 0) continue;
    auto edit = [&](metadata::Targets& targets) -> Status {
      metadata::Delegations& d = *targets.delegations;
      d.keys.erase(keyid);
      if (d.roles) {
        for (auto& role : *d.roles) {
          std::erase(role.keys.keyids, keyid);
          MDU_RETURN_IF_ERROR(CheckRole("\"" + role.name + "\"", role.keys));
        }
      }
      if (d.succinct_roles) {
        std::erase(d.succinct_roles->keys.keyids, keyid);
        MDU_RETURN_IF_ERROR(CheckRole("bins", d.succinct_roles->keys));
      }
      return {};
    };
    MDU_RETURN_IF_ERROR(ws.EditTargets(delegator, now, edit));
    changed.push_back("delegations of " + delegator);
    // The roles it delegates must be signed again by their remaining keys, as a new version.
    for (const std::string& role : ws.TargetsRoleNames()) {
      if (ws.DelegatorOf(role) == delegator) MDU_RETURN_IF_ERROR(ws.Renew(role, now));
    }
  }
  if (changed.empty()) {
    return MakeError(ErrorKind::kNotFound, "key " + keyid + " is not used by any role");
  }
  return changed;
}

bool RehearsalReport::ok() const {
  return std::all_of(generations.begin(), generations.end(),
                     [](const GenerationResult& g) { return g.reaches_final; });
}

std::vector<int64_t> RehearsalReport::stranded() const {
  std::vector<int64_t> out;
  for (const GenerationResult& g : generations) {
    if (!g.reaches_final) out.push_back(g.trusted_version);
  }
  return out;
}

RehearsalReport RehearseRootChain(const std::vector<std::string>& chain, UnixTime reference_time) {
  RehearsalReport report;
  report.final_version = static_cast<int64_t>(chain.size());
  for (size_t start = 0; start < chain.size(); ++start) {
    GenerationResult generation;
    generation.trusted_version = static_cast<int64_t>(start) + 1;
    auto set = trust::TrustedSet::Create(chain[start], reference_time);
    if (!set) {
      generation.stuck_at = generation.trusted_version;
      generation.reason = set.error().ToString();
      report.generations.push_back(std::move(generation));
      continue;
    }
    generation.reaches_final = true;
    for (size_t next = start + 1; next < chain.size(); ++next) {
      auto updated = set->UpdateRoot(chain[next]);
      if (!updated) {
        generation.reaches_final = false;
        generation.stuck_at = static_cast<int64_t>(next) + 1;
        generation.reason = updated.error().ToString();
        break;
      }
    }
    report.generations.push_back(std::move(generation));
  }
  return report;
}

Result<std::vector<std::string>> WorkspaceRootChain(const Workspace& ws) {
  std::vector<std::string> chain;
  for (int64_t version = 1; version <= ws.published().root; ++version) {
    MDU_ASSIGN_OR_RETURN(
        std::string bytes,
        io::ReadFileBounded(ws.dir() / "history" / (std::to_string(version) + ".root.json"),
                            kMaxMetadataBytes));
    chain.push_back(std::move(bytes));
  }
  if (ws.root().role.common.version > ws.published().root)
    chain.push_back(ws.root().envelope.Serialize());
  return chain;
}

Result<RehearsalReport> RehearseWorkspace(const Workspace& ws, UnixTime reference_time) {
  MDU_ASSIGN_OR_RETURN(std::vector<std::string> chain, WorkspaceRootChain(ws));
  return RehearseRootChain(chain, reference_time);
}

std::string FormatRehearsal(const RehearsalReport& report) {
  std::string out;
  for (const GenerationResult& g : report.generations) {
    out += "  devices trusting root v" + std::to_string(g.trusted_version) + ": ";
    if (g.reaches_final) {
      out += "reach root v" + std::to_string(report.final_version) + "\n";
    } else {
      out += "STRANDED at root v" + std::to_string(g.stuck_at) + " (" + g.reason + ")\n";
    }
  }
  return out;
}

}  // namespace mdu::signer::repo
