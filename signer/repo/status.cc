#include "signer/repo/status.h"

#include <algorithm>

#include "core/io/file.h"

namespace mdu::signer::repo {
namespace {

using json::Value;

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id.substr(0, 16);
  return out;
}

void SetExpiry(RoleStatus& status, UnixTime expires, int64_t period_days, UnixTime now) {
  status.expires = expires;
  status.expired = now >= expires;
  const int64_t window = std::min<int64_t>(period_days * kSecondsPerDay / 4, 30 * kSecondsPerDay);
  status.expires_soon = !status.expired && expires - now <= window;
}

void NoteSignatures(const std::string& what, const SignatureCount& count,
                    std::vector<std::string>& missing) {
  if (count.met()) return;
  const int64_t needed = count.threshold - static_cast<int64_t>(count.signed_by.size());
  missing.push_back(what + ": " + std::to_string(count.signed_by.size()) + " of " +
                    std::to_string(count.threshold) + " signatures; needs " +
                    std::to_string(needed) + " more from keys " + JoinIds(count.missing_keyids));
}

Value CountToJson(const SignatureCount& count) {
  json::Array signed_by, missing;
  for (const auto& id : count.signed_by) signed_by.emplace_back(id);
  for (const auto& id : count.missing_keyids) missing.emplace_back(id);
  return Value::MakeObject({{"threshold", Value(count.threshold)},
                            {"valid", Value(static_cast<int64_t>(count.signed_by.size()))},
                            {"signed_by", Value(std::move(signed_by))},
                            {"missing_keyids", Value(std::move(missing))},
                            {"met", Value(count.met())}});
}

std::string ExpiryText(const RoleStatus& role, UnixTime now) {
  if (!role.expires) return "-";
  std::string text = metadata::FormatExpires(*role.expires);
  const int64_t days = (*role.expires - now) / kSecondsPerDay;
  if (role.expired) return text + " (EXPIRED)";
  if (role.expires_soon) return text + " (WARNING: expires in " + std::to_string(days) + " d)";
  return text;
}

}  // namespace

Result<WorkspaceStatus> ComputeStatus(const Workspace& ws, UnixTime now) {
  WorkspaceStatus status;
  const PublishedVersions& published = ws.published();

  // Root.
  {
    RoleStatus root;
    root.name = "root";
    root.version = ws.root().role.common.version;
    root.published_version = published.root;
    root.changed = root.version > published.root;
    SetExpiry(root, ws.root().role.common.expires, ws.expiry().root_days, now);
    MDU_ASSIGN_OR_RETURN(Authorization auth, ws.AuthorizationFor("root"));
    root.signatures = CountSignatures(ws.root().envelope, auth);
    NoteSignatures("root v" + std::to_string(root.version), root.signatures, status.missing);
    if (const metadata::Root* previous = ws.PreviousRoot()) {
      Authorization old_auth;
      old_auth.role = previous->roles.at("root");
      for (const std::string& id : old_auth.role.keyids) {
        if (auto key = previous->keys.find(id); key != previous->keys.end()) {
          old_auth.keys.emplace(id, key->second);
        }
      }
      root.previous_root_signatures = CountSignatures(ws.root().envelope, old_auth);
      NoteSignatures("root v" + std::to_string(root.version) + " (keys of the previous root v" +
                         std::to_string(published.root) + ")",
                     *root.previous_root_signatures, status.missing);
    }
    if (root.changed && published.root >= 1) {
      MDU_ASSIGN_OR_RETURN(RehearsalReport rehearsal, RehearseWorkspace(ws, now));
      for (int64_t version : rehearsal.stranded()) {
        status.missing.push_back("devices trusting root v" + std::to_string(version) +
                                 " would be stranded (see the rehearsal)");
      }
      status.rehearsal = std::move(rehearsal);
    }
    status.roles.push_back(std::move(root));
  }

  // Targets roles.
  for (const std::string& name : ws.TargetsRoleNames()) {
    const auto& md = *ws.TargetsRole(name);
    RoleStatus role;
    role.name = name;
    role.version = md.role.common.version;
    if (name == "targets") {
      role.published_version = published.targets;
    } else if (auto it = published.roles.find(name); it != published.roles.end()) {
      role.published_version = it->second;
    }
    role.changed = role.version > role.published_version;
    role.target_count = md.role.targets.size();
    SetExpiry(role, md.role.common.expires, ws.expiry().targets_days, now);
    MDU_ASSIGN_OR_RETURN(Authorization auth, ws.AuthorizationFor(name));
    role.signatures = CountSignatures(md.envelope, auth);
    NoteSignatures(name + " v" + std::to_string(role.version), role.signatures, status.missing);
    status.roles.push_back(std::move(role));
  }

  // Snapshot and timestamp: generated at publish with keys the root authorizes.
  for (const std::string name : {"snapshot", "timestamp"}) {
    RoleStatus role;
    role.name = name;
    role.generated_at_publish = true;
    role.published_version = name == "snapshot" ? published.snapshot : published.timestamp;
    role.version = role.published_version;
    MDU_ASSIGN_OR_RETURN(Authorization auth, ws.AuthorizationFor(name));
    role.signatures.threshold = auth.role.threshold;
    role.signatures.missing_keyids = auth.role.keyids;
    if (role.published_version > 0) {
      const std::string file = name == "snapshot"
                                   ? std::to_string(role.published_version) + ".snapshot.json"
                                   : "timestamp.json";
      auto bytes = io::ReadFileBounded(ws.dir() / "history" / file, kMaxMetadataBytes);
      if (bytes) {
        auto envelope = metadata::Envelope::Parse(*bytes);
        const Value* expires = envelope ? envelope->signed_value.Find("expires") : nullptr;
        if (expires != nullptr && expires->is_string()) {
          if (auto time = metadata::ParseExpires(expires->as_string())) {
            SetExpiry(role, *time, ws.expiry().DaysFor(name), now);
          }
        }
      }
    }
    status.roles.push_back(std::move(role));
  }

  for (const RoleStatus& role : status.roles) {
    if (role.generated_at_publish) {
      if (role.expired || role.expires_soon) {
        status.warnings.push_back("the published " + role.name + " " +
                                  (role.expired ? "has expired" : "expires soon") +
                                  ": publish again to renew it");
      }
    } else if (role.expired) {
      status.missing.push_back(role.name + " v" + std::to_string(role.version) +
                               " has expired; change it or re-stage it before publishing");
    } else if (role.expires_soon) {
      status.warnings.push_back(role.name + " expires soon (" +
                                metadata::FormatExpires(*role.expires) + ")");
    }
  }
  return status;
}

Value StatusToJson(const WorkspaceStatus& status) {
  json::Array roles;
  for (const RoleStatus& role : status.roles) {
    json::Object members{
        {"name", Value(role.name)},
        {"version", Value(role.version)},
        {"published_version", Value(role.published_version)},
        {"changed", Value(role.changed)},
        {"expires", role.expires ? Value(metadata::FormatExpires(*role.expires)) : Value()},
        {"expired", Value(role.expired)},
        {"expires_soon", Value(role.expires_soon)},
        {"generated_at_publish", Value(role.generated_at_publish)},
        {"signatures", CountToJson(role.signatures)},
    };
    if (role.previous_root_signatures) {
      members.emplace_back("previous_root_signatures", CountToJson(*role.previous_root_signatures));
    }
    if (role.name != "root" && !role.generated_at_publish) {
      members.emplace_back("targets", Value(static_cast<int64_t>(role.target_count)));
    }
    roles.push_back(Value::MakeObject(std::move(members)));
  }
  json::Array missing, warnings;
  for (const auto& m : status.missing) missing.emplace_back(m);
  for (const auto& w : status.warnings) warnings.emplace_back(w);
  json::Object out{{"roles", Value(std::move(roles))},
                   {"missing", Value(std::move(missing))},
                   {"warnings", Value(std::move(warnings))},
                   {"ready_to_publish", Value(status.ready())}};
  if (status.rehearsal) {
    json::Array generations;
    for (const GenerationResult& g : status.rehearsal->generations) {
      generations.push_back(Value::MakeObject({{"trusted_version", Value(g.trusted_version)},
                                               {"reaches_final", Value(g.reaches_final)},
                                               {"stuck_at", Value(g.stuck_at)},
                                               {"reason", Value(g.reason)}}));
    }
    out.emplace_back("rehearsal",
                     Value::MakeObject({{"final_version", Value(status.rehearsal->final_version)},
                                        {"generations", Value(std::move(generations))}}));
  }
  return Value::MakeObject(std::move(out));
}

std::string FormatStatus(const WorkspaceStatus& status, UnixTime now) {
  std::string out;
  for (const RoleStatus& role : status.roles) {
    std::string line = "  " + role.name;
    line.resize(std::max<size_t>(line.size() + 1, 14), ' ');
    if (role.generated_at_publish) {
      line += "published v" + std::to_string(role.published_version) + ", expires " +
              ExpiryText(role, now) + "; generated and signed at publish (threshold " +
              std::to_string(role.signatures.threshold) + ")";
    } else {
      line +=
          "v" + std::to_string(role.version) +
          (role.changed ? " (changed; published v" + std::to_string(role.published_version) + ")"
                        : " (published)") +
          ", expires " + ExpiryText(role, now) + ", signatures " +
          std::to_string(role.signatures.signed_by.size()) + "/" +
          std::to_string(role.signatures.threshold);
      if (role.previous_root_signatures) {
        line += ", previous root's keys " +
                std::to_string(role.previous_root_signatures->signed_by.size()) + "/" +
                std::to_string(role.previous_root_signatures->threshold);
      }
      if (role.name != "root") line += ", " + std::to_string(role.target_count) + " targets";
    }
    out += line + "\n";
  }
  if (status.rehearsal) {
    out += "Root rotation rehearsal (a client trusting each earlier root walks to v" +
           std::to_string(status.rehearsal->final_version) + "):\n" +
           FormatRehearsal(*status.rehearsal);
  }
  for (const auto& w : status.warnings) out += "warning: " + w + "\n";
  if (status.ready()) {
    out += "Ready to publish.\n";
  } else {
    out += "Missing before publish:\n";
    for (const auto& m : status.missing) out += "  - " + m + "\n";
  }
  return out;
}

}  // namespace mdu::signer::repo
