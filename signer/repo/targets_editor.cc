#include "signer/repo/targets_editor.h"

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

#include "core/io/file.h"
#include "core/json/parser.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using json::Value;

constexpr uint64_t kMaxSbomBytes = 64u << 20;

// The role that will list `target`: the requested role, or its hash bin.
Result<std::string> ResolveRole(const Workspace& ws, const std::string& role,
                                const std::string& target) {
  if (const metadata::SuccinctRoles* bins = ws.FindBins(role)) {
    return bins->RoleForTarget(target);
  }
  if (ws.TargetsRole(role) == nullptr) {
    return MakeError(ErrorKind::kNotFound,
                     "no targets role \"" + role + "\" (create it with `signer delegate`)");
  }
  if (role == "targets") return role;
  const std::string delegator = ws.DelegatorOf(role);
  const auto& delegations = *ws.TargetsRole(delegator)->role.delegations;
  if (delegations.roles) {
    for (const auto& delegated : *delegations.roles) {
      if (delegated.name == role && !delegated.IsDelegatedPath(target)) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "target \"" + target + "\" is outside the paths delegated to role \"" +
                             role +
                             "\"; devices would never look for it there. Pick a name "
                             "matching the role's path patterns or another --role");
      }
    }
  }
  return role;
}

Value ReleaseCustom(const ReleaseInfo& release) {
  json::Object members;
  members.emplace_back("version", Value(release.version));
  json::Array ids;
  for (const std::string& id : release.hardware_ids) ids.emplace_back(id);
  members.emplace_back("hardware_ids", Value(std::move(ids)));
  if (release.min_installed_version) {
    members.emplace_back("min_installed_version", Value(*release.min_installed_version));
  }
  if (release.security_version) {
    members.emplace_back("security_version", Value(*release.security_version));
  }
  if (release.installer) members.emplace_back("installer", Value(*release.installer));
  if (release.end_of_support) {
    members.emplace_back("end_of_support", Value(*release.end_of_support));
  }
  return Value::MakeObject(std::move(members));
}

Status ValidateRelease(const ReleaseInfo& release) {
  if (release.version.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "--version must not be empty");
  }
  if (release.hardware_ids.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "at least one --hardware-id is required: devices install only releases "
                     "made for their hardware");
  }
  for (const std::string& id : release.hardware_ids) {
    if (id.empty()) return MakeError(ErrorKind::kInvalidArgument, "empty --hardware-id");
  }
  if (release.security_version && *release.security_version < 0) {
    return MakeError(ErrorKind::kInvalidArgument, "--security-version must be >= 0");
  }
  if (release.end_of_support) MDU_RETURN_IF_ERROR(ValidateDate(*release.end_of_support));
  return {};
}

// Reads and classifies an SBOM: CycloneDX ("bomFormat": "CycloneDX") or SPDX ("spdxVersion").
Result<std::string> SbomFormat(const fs::path& path) {
  MDU_ASSIGN_OR_RETURN(std::string text, io::ReadFileBounded(path, kMaxSbomBytes));
  auto parsed = json::Parse(text);
  if (!parsed) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "SBOM " + path.string() + " is not valid JSON: " + parsed.error().message());
  }
  const Value* format = parsed->Find("bomFormat");
  if (format != nullptr && format->is_string() && format->as_string() == "CycloneDX") {
    return std::string("CycloneDX");
  }
  const Value* spdx = parsed->Find("spdxVersion");
  if (spdx != nullptr && spdx->is_string()) return std::string("SPDX");
  return MakeError(ErrorKind::kInvalidArgument,
                   "SBOM " + path.string() +
                       " is neither CycloneDX JSON (\"bomFormat\": \"CycloneDX\") nor SPDX JSON "
                       "(\"spdxVersion\")");
}

metadata::TargetFile MakeTargetFile(const IngestedFile& file, Value custom) {
  metadata::TargetFile target;
  target.length = static_cast<int64_t>(file.length);
  target.hashes = {{"sha256", file.sha256}, {"sha512", file.sha512}};
  target.custom = std::move(custom);
  return target;
}

bool SameTarget(const metadata::TargetFile& a, const metadata::TargetFile& b) {
  return a.length == b.length && a.hashes == b.hashes && a.custom == b.custom;
}

struct Located {
  std::string role;
  metadata::TargetFile file;
};

std::optional<Located> FindTarget(const Workspace& ws, const std::string& name) {
  for (const std::string& role : ws.TargetsRoleNames()) {
    const auto& targets = ws.TargetsRole(role)->role.targets;
    if (auto it = targets.find(name); it != targets.end()) return Located{role, it->second};
  }
  return std::nullopt;
}

std::string SbomNameOf(const metadata::TargetFile& file) {
  if (!file.custom.is_object()) return "";
  const Value* sbom = file.custom.Find("sbom");
  if (sbom == nullptr || !sbom->is_object()) return "";
  const Value* name = sbom->Find("name");
  return name != nullptr && name->is_string() ? name->as_string() : "";
}

bool IsSbomTarget(const metadata::TargetFile& file) {
  return file.custom.is_object() && file.custom.Find("sbom_for") != nullptr;
}

}  // namespace

Status ValidateDate(std::string_view date) {
  auto bad = [&] {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid date \"" + std::string(date) + "\": use YYYY-MM-DD");
  };
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return bad();
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (date[i] < '0' || date[i] > '9') return bad();
  }
  const int month = (date[5] - '0') * 10 + (date[6] - '0');
  const int day = (date[8] - '0') * 10 + (date[9] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31) return bad();
  return {};
}

Result<TargetSource> SourceForFile(const fs::path& file, const std::string& name) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return MakeError(ErrorKind::kNotFound,
                     "target file " + file.string() + " does not exist or is not a regular file");
  }
  TargetSource source{file, name.empty() ? file.filename().string() : name};
  auto valid = metadata::ValidateTargetPath(source.name);
  if (!valid) return MakeError(valid.error().WithContext("target name \"" + source.name + "\""));
  return source;
}

Result<std::vector<TargetSource>> SourcesForDirectory(const fs::path& dir,
                                                      const std::string& prefix) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return MakeError(ErrorKind::kNotFound, "--dir " + dir.string() + " is not a directory");
  }
  std::vector<TargetSource> out;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    if (entry.is_symlink(ec)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       entry.path().string() + " is a symbolic link; copy the file in instead");
    }
    if (!entry.is_regular_file(ec)) continue;
    const std::string relative = entry.path().lexically_relative(dir).generic_string();
    std::string name = prefix.empty() ? relative : prefix + "/" + relative;
    auto valid = metadata::ValidateTargetPath(name);
    if (!valid) return MakeError(valid.error().WithContext("target name \"" + name + "\""));
    out.push_back(TargetSource{entry.path(), std::move(name)});
  }
  if (ec) return MakeError(ErrorKind::kIo, "reading " + dir.string() + ": " + ec.message());
  if (out.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "--dir " + dir.string() + " holds no files");
  }
  std::sort(out.begin(), out.end(),
            [](const TargetSource& a, const TargetSource& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<AddedTarget>> AddTargets(Workspace& ws, const AddTargetsSpec& spec) {
  if (spec.sources.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "no target files given");
  }
  MDU_RETURN_IF_ERROR(ValidateRelease(spec.release));
  if (spec.sbom && spec.sources.size() != 1) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--sbom describes one target: add the other files separately");
  }
  std::set<std::string, std::less<>> names;
  std::vector<std::string> roles;
  std::vector<fs::path> files;
  for (const TargetSource& source : spec.sources) {
    auto valid = metadata::ValidateTargetPath(source.name);
    if (!valid) {
      return MakeError(valid.error().WithContext("target name \"" + source.name + "\""));
    }
    if (!names.insert(source.name).second) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "target name \"" + source.name + "\" is given twice");
    }
    MDU_ASSIGN_OR_RETURN(std::string role, ResolveRole(ws, spec.role, source.name));
    roles.push_back(std::move(role));
    files.push_back(source.file);
  }
  std::string sbom_format, sbom_name, sbom_role;
  if (spec.sbom) {
    MDU_ASSIGN_OR_RETURN(sbom_format, SbomFormat(*spec.sbom));
    sbom_name = spec.sources[0].name + ".sbom.json";
    MDU_RETURN_IF_ERROR(metadata::ValidateTargetPath(sbom_name));
    if (names.count(sbom_name) != 0) {
      return MakeError(ErrorKind::kInvalidArgument, "target name \"" + sbom_name +
                                                        "\" is "
                                                        "reserved for the SBOM");
    }
    MDU_ASSIGN_OR_RETURN(sbom_role, ResolveRole(ws, spec.role, sbom_name));
    files.push_back(*spec.sbom);
  }

  // Blobs stream into tmp/ (emptied by the next command if this one dies before saving).
  MDU_RETURN_IF_ERROR(io::CreateDirectories(ws.dir() / kTempDirName));
  IngestOptions ingest{spec.threads, ws.dir() / kTempDirName, spec.progress};
  MDU_ASSIGN_OR_RETURN(std::vector<IngestedFile> ingested, IngestFiles(files, ingest));

  // Everything below only builds the new state; the first error discards the blobs.
  std::vector<AddedTarget> added;
  std::map<std::string, std::vector<std::pair<std::string, metadata::TargetFile>>> by_role;
  auto stage = [&](const std::string& name, const std::string& role, const IngestedFile& file,
                   Value custom) -> Status {
    metadata::TargetFile target = MakeTargetFile(file, std::move(custom));
    AddedTarget report{name, role, file.length, file.sha256, false};
    if (std::optional<Located> existing = FindTarget(ws, name)) {
      if (existing->role == role && SameTarget(existing->file, target)) {
        report.unchanged = true;
      } else if (!spec.replace) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "target \"" + name + "\" already exists in role \"" + existing->role +
                             "\" with different content or metadata; pass --replace to "
                             "replace it, or choose another --name");
      } else if (existing->role != role) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "target \"" + name + "\" is listed by role \"" + existing->role +
                             "\"; remove it there first");
      }
    }
    added.push_back(report);
    if (!report.unchanged) by_role[role].emplace_back(name, std::move(target));
    return {};
  };
  Status staged;
  if (spec.sbom) {
    const IngestedFile& sbom = ingested.back();
    staged = stage(sbom_name, sbom_role, sbom,
                   Value::MakeObject({{"sbom_for", Value(spec.sources[0].name)},
                                      {"sbom_format", Value(sbom_format)}}));
  }
  for (size_t i = 0; staged && i < spec.sources.size(); ++i) {
    Value custom = ReleaseCustom(spec.release);
    if (spec.sbom) {
      custom.Set("sbom", Value::MakeObject({{"name", Value(sbom_name)},
                                            {"sha256", Value(ingested.back().sha256)}}));
    }
    staged = stage(spec.sources[i].name, roles[i], ingested[i], std::move(custom));
  }
  if (!staged) {
    DiscardIngested(ingested);
    return MakeError(std::move(staged).error());
  }
  for (auto& [role, entries] : by_role) {
    // A bin of a large bin delegation is created with its first target.
    if (ws.TargetsRole(role) == nullptr) {
      auto created = ws.CreateDelegatedRole(role, spec.now);
      if (!created) {
        DiscardIngested(ingested);
        return MakeError(std::move(created).error());
      }
    }
    auto edited = ws.EditTargets(role, spec.now, [&](metadata::Targets& targets) -> Status {
      for (auto& [name, file] : entries) targets.targets.insert_or_assign(name, std::move(file));
      return {};
    });
    if (!edited) {  // cannot happen after ResolveRole, but never leave blobs behind
      DiscardIngested(ingested);
      return MakeError(std::move(edited).error());
    }
  }
  for (const IngestedFile& file : ingested) ws.AdoptBlob(file.temp_blob, file.sha256);
  return added;
}

Result<RemovedTarget> RemoveTarget(Workspace& ws, const std::string& name, UnixTime now) {
  std::optional<Located> found = FindTarget(ws, name);
  if (!found) {
    return MakeError(ErrorKind::kNotFound,
                     "no target \"" + name + "\" in any role (see `signer status --targets`)");
  }
  // The SBOM this target references, if no other target references it too.
  std::string sbom = SbomNameOf(found->file);
  std::optional<Located> sbom_target;
  if (!sbom.empty()) sbom_target = FindTarget(ws, sbom);
  if (sbom_target && !IsSbomTarget(sbom_target->file)) sbom_target.reset();
  if (sbom_target) {
    for (const std::string& role : ws.TargetsRoleNames()) {
      for (const auto& [other, file] : ws.TargetsRole(role)->role.targets) {
        if (other != name && SbomNameOf(file) == sbom) sbom_target.reset();
      }
      if (!sbom_target) break;
    }
  }
  // Both removals are checked first, so an error leaves the workspace unchanged.
  auto erase = [&](metadata::Targets& targets) -> Status {
    targets.targets.erase(name);
    if (sbom_target && sbom_target->role == found->role) targets.targets.erase(sbom);
    return {};
  };
  MDU_RETURN_IF_ERROR(ws.EditTargets(found->role, now, erase));
  if (sbom_target && sbom_target->role != found->role) {
    MDU_RETURN_IF_ERROR(ws.EditTargets(sbom_target->role, now, [&](metadata::Targets& targets) {
      targets.targets.erase(sbom);
      return Status{};
    }));
  }
  return RemovedTarget{name, found->role, std::move(found->file), sbom_target ? sbom : ""};
}

Result<RemovedTarget> WithdrawTarget(Workspace& ws, const std::string& name,
                                     const std::string& reason, const std::string& by,
                                     UnixTime now) {
  if (reason.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--reason is required: say why the release is withdrawn (it is recorded)");
  }
  MDU_ASSIGN_OR_RETURN(RemovedTarget removed, RemoveTarget(ws, name, now));
  const Value* version =
      removed.file.custom.is_object() ? removed.file.custom.Find("version") : nullptr;
  auto sha256 = removed.file.Sha256();
  ws.withdrawn().push_back(Value::MakeObject({
      {"name", Value(name)},
      {"role", Value(removed.role)},
      {"sha256", Value(sha256 ? std::string(*sha256) : std::string())},
      {"length", Value(removed.file.length)},
      {"version", version != nullptr ? *version : Value()},
      {"reason", Value(reason)},
      {"sbom_removed", removed.sbom_removed.empty() ? Value() : Value(removed.sbom_removed)},
      {"time", Value(metadata::FormatExpires(now))},
      {"by", Value(by)},
  }));
  return removed;
}

}  // namespace mdu::signer::repo
