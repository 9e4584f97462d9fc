#include "repo-server/publish_verifier.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include "core/trust/trusted_set.h"

namespace mdu::server {
namespace {

using metadata::ParseMetadata;

Unexpected<Error> Reject(ErrorKind kind, std::string message) {
  return MakeError(kind, std::move(message));
}

std::string FileName(std::string_view role, int64_t version) {
  if (role == "timestamp") return "timestamp.json";
  return std::to_string(version) + "." + std::string(role) + ".json";
}

// One publish check: the steps run in the order a client would walk the repository, each a
// short method; the first failure rejects the publish.
class Verification {
 public:
  Verification(const RepositoryView& current, std::string_view bootstrap_root,
               const PublishInput& input, metadata::UnixTime now,
               const StoredTargetLookup& stored_target)
      : current_(current),
        bootstrap_root_(bootstrap_root),
        input_(input),
        now_(now),
        stored_target_(stored_target) {}

  Result<PublishPlan> Run() {
    MDU_RETURN_IF_ERROR(IndexUploads());
    MDU_RETURN_IF_ERROR(LoadRootChain());
    MDU_RETURN_IF_ERROR(LoadTimestamp());
    MDU_RETURN_IF_ERROR(LoadSnapshot());
    MDU_RETURN_IF_ERROR(LoadTargetsRoles());
    MDU_RETURN_IF_ERROR(CheckNothingExtraneous());
    MDU_RETURN_IF_ERROR(CheckTargetContent());
    return std::move(plan_);
  }

 private:
  struct Upload {
    const std::string* bytes = nullptr;
    bool used = false;
    bool already_stored = false;
  };

  // Names parse, and a (role, version) already published keeps its bytes: changing content
  // without a new version would let two devices see different files under one name.
  Status IndexUploads() {
    for (const auto& [name, bytes] : input_.metadata) {
      MDU_ASSIGN_OR_RETURN(MetadataName parsed, ParseMetadataName(name));
      Upload upload{&bytes};
      if (parsed.version != 0) {
        if (const SharedBytes* existing = current_.Find(parsed.role, parsed.version)) {
          if (**existing != bytes) {
            return Reject(ErrorKind::kBadVersion,
                          name + " is already published with different content; a changed " +
                              parsed.role + " needs a new version");
          }
          upload.already_stored = true;
        }
      }
      uploads_[parsed.role][parsed.version] = upload;
    }
    return {};
  }

  Upload* FindUpload(std::string_view role, int64_t version) {
    auto role_it = uploads_.find(role);
    if (role_it == uploads_.end()) return nullptr;
    auto it = role_it->second.find(version);
    return it == role_it->second.end() ? nullptr : &it->second;
  }

  // The bytes of (role, version) in the candidate repository: uploaded, else published.
  Result<std::string_view> Candidate(std::string_view role, int64_t version,
                                     std::string_view needed_by) {
    if (Upload* upload = FindUpload(role, version)) {
      upload->used = true;
      return std::string_view(*upload->bytes);
    }
    if (const SharedBytes* existing = current_.Find(role, version)) {
      return std::string_view(**existing);
    }
    return Reject(ErrorKind::kNotFound, std::string(needed_by) + " names " +
                                            FileName(role, version) +
                                            ", which is neither uploaded nor published");
  }

  void Record(std::string_view role, int64_t version, std::string_view bytes) {
    Upload* upload = FindUpload(role, role == "timestamp" ? 0 : version);
    if (upload != nullptr && !upload->already_stored) {
      plan_.batch.metadata.push_back(MetadataEntry{std::string(role), version, std::string(bytes)});
    }
    plan_.batch.current[std::string(role)] = version;
  }

  // 5.3: the trusted root is the current one, or the configured one on an empty server (never
  // one that arrives over the network). Uploaded roots must continue the chain without a gap.
  Status LoadRootChain() {
    std::string_view trusted = bootstrap_root_;
    if (const SharedBytes* current_root = current_.Find("root", 0)) trusted = **current_root;
    auto set = trust::TrustedSet::Create(trusted, now_);
    if (!set) return MakeError(set.error().WithContext("trusted root"));
    set_.emplace(std::move(*set));
    int64_t trusted_version = set_->root().common.version;
    if (!current_.initialized()) {
      plan_.batch.metadata.push_back(MetadataEntry{"root", trusted_version, std::string(trusted)});
      if (Upload* same = FindUpload("root", trusted_version)) {
        if (*same->bytes != trusted) {
          return Reject(ErrorKind::kBadVersion,
                        FileName("root", trusted_version) +
                            " differs from the root trusted by configuration");
        }
        same->used = true;
        same->already_stored = true;
      }
    }
    int64_t version = trusted_version;
    for (auto& [uploaded_version, upload] : uploads_["root"]) {
      if (uploaded_version <= trusted_version) {
        if (!upload.already_stored) {
          return Reject(ErrorKind::kBadVersion, FileName("root", uploaded_version) +
                                                    " is older than the trusted root " +
                                                    "version " + std::to_string(trusted_version));
        }
        upload.used = true;
        continue;
      }
      if (uploaded_version != version + 1) {
        return Reject(ErrorKind::kBadVersion,
                      "root chain broken: " + FileName("root", uploaded_version) +
                          " uploaded but " + FileName("root", version + 1) + " is missing");
      }
      auto root = set_->UpdateRoot(*upload.bytes);
      if (!root) return MakeError(root.error().WithContext(FileName("root", uploaded_version)));
      upload.used = true;
      version = uploaded_version;
      plan_.batch.metadata.push_back(MetadataEntry{"root", version, *upload.bytes});
    }
    plan_.batch.current["root"] = version;
    return {};
  }

  // 5.4, plus the server's rollback check against the published timestamp.
  Status LoadTimestamp() {
    int64_t current_version = current_.CurrentVersion("timestamp");
    std::string_view bytes;
    if (Upload* upload = FindUpload("timestamp", 0)) {
      upload->used = true;
      bytes = *upload->bytes;
    } else if (const SharedBytes* published = current_.Find("timestamp", 0)) {
      bytes = **published;
    } else {
      return Reject(ErrorKind::kNotFound, "timestamp.json is missing from the first publish");
    }
    auto timestamp = set_->UpdateTimestamp(bytes);
    if (!timestamp) return MakeError(timestamp.error().WithContext("timestamp.json"));
    int64_t version = (*timestamp)->common.version;
    if (version < current_version) {
      return Reject(ErrorKind::kBadVersion, "timestamp.json version " + std::to_string(version) +
                                                " is older than the published version " +
                                                std::to_string(current_version));
    }
    if (version == current_version && bytes != **current_.Find("timestamp", 0)) {
      return Reject(ErrorKind::kBadVersion, "timestamp.json version " + std::to_string(version) +
                                                " is already published with different content");
    }
    int64_t snapshot_version = (*timestamp)->snapshot_meta.version;
    int64_t current_snapshot = current_.CurrentVersion("snapshot");
    if (snapshot_version < current_snapshot) {
      return Reject(ErrorKind::kBadVersion,
                    "timestamp.json names snapshot version " + std::to_string(snapshot_version) +
                        ", older than the published version " + std::to_string(current_snapshot));
    }
    Record("timestamp", version, bytes);
    return {};
  }

  // 5.5, plus 5.5.5 against the published snapshot: no targets role goes backwards or vanishes.
  Status LoadSnapshot() {
    int64_t version = set_->timestamp()->snapshot_meta.version;
    MDU_ASSIGN_OR_RETURN(std::string_view bytes, Candidate("snapshot", version, "timestamp.json"));
    auto snapshot = set_->UpdateSnapshot(bytes);
    if (!snapshot) return MakeError(snapshot.error().WithContext(FileName("snapshot", version)));
    if (const SharedBytes* published = current_.Find("snapshot", 0)) {
      auto old = ParseMetadata<metadata::Snapshot>(**published);
      if (!old) return MakeError(old.error().WithContext("published snapshot"));
      for (const auto& [name, meta] : old->role.meta) {
        auto it = (*snapshot)->meta.find(name);
        if (it == (*snapshot)->meta.end()) {
          return Reject(ErrorKind::kBadVersion,
                        FileName("snapshot", version) + " drops " + name + ", published before");
        }
        if (it->second.version < meta.version) {
          return Reject(ErrorKind::kBadVersion,
                        FileName("snapshot", version) + " names " + name + " version " +
                            std::to_string(it->second.version) + ", older than the published " +
                            std::to_string(meta.version));
        }
      }
    }
    Record("snapshot", version, bytes);
    return {};
  }

  // 5.6: every targets role snapshot lists, each verified by the role that delegates it.
  Status LoadTargetsRoles() {
    const auto& meta = set_->snapshot()->meta;
    auto top = meta.find("targets.json");
    if (top == meta.end()) {
      return Reject(ErrorKind::kBadMetadata, "snapshot does not list targets.json");
    }
    MDU_RETURN_IF_ERROR(LoadTargetsRole("targets", "root", top->second.version));
    std::vector<std::pair<std::string, int64_t>> pending;
    for (const auto& [name, file] : meta) {
      if (name == "targets.json") continue;
      if (!name.ends_with(".json")) {
        return Reject(ErrorKind::kBadMetadata, "snapshot lists " + name + ", not a .json file");
      }
      pending.emplace_back(name.substr(0, name.size() - 5), file.version);
    }
    bool progress = true;
    while (!pending.empty() && progress) {
      progress = false;
      for (auto it = pending.begin(); it != pending.end();) {
        std::optional<std::string> parent = DelegatorOf(it->first);
        if (!parent) {
          ++it;
          continue;
        }
        MDU_RETURN_IF_ERROR(LoadTargetsRole(it->first, *parent, it->second));
        it = pending.erase(it);
        progress = true;
      }
    }
    if (!pending.empty()) {
      return Reject(ErrorKind::kBadMetadata, "snapshot lists " + pending.front().first +
                                                 ".json, which no targets role delegates");
    }
    return {};
  }

  std::optional<std::string> DelegatorOf(std::string_view role) const {
    for (const std::string& name : loaded_roles_) {
      const metadata::Targets* parent = set_->TargetsRole(name);
      if (parent == nullptr || !parent->delegations) continue;
      const auto& d = *parent->delegations;
      if (d.succinct_roles && d.succinct_roles->IsDelegatedRole(role)) return name;
      if (d.roles && std::any_of(d.roles->begin(), d.roles->end(),
                                 [&](const auto& r) { return r.name == role; })) {
        return name;
      }
    }
    return std::nullopt;
  }

  Status LoadTargetsRole(const std::string& role, const std::string& parent, int64_t version) {
    MDU_ASSIGN_OR_RETURN(
        std::string_view bytes,
        Candidate(role, version, FileName("snapshot", set_->snapshot()->common.version)));
    auto loaded = set_->UpdateDelegatedTargets(bytes, role, parent);
    if (!loaded) return MakeError(loaded.error().WithContext(FileName(role, version)));
    loaded_roles_.push_back(role);
    Record(role, version, bytes);
    return {};
  }

  Status CheckNothingExtraneous() const {
    for (const auto& [role, versions] : uploads_) {
      for (const auto& [version, upload] : versions) {
        if (!upload.used) {
          return Reject(ErrorKind::kInvalidArgument,
                        FileName(role, version) +
                            " was uploaded but is not part of the repository timestamp.json " +
                            "describes");
        }
      }
    }
    return {};
  }

  // Every target of the verified repository has content, and uploaded content is exactly what
  // the signed metadata lists (length and every hash we can compute).
  Status CheckTargetContent() {
    std::map<std::string, const StagedTarget*, std::less<>> uploaded;
    for (const StagedTarget& target : input_.targets) {
      if (!uploaded.emplace(target.sha256, &target).second) {
        plan_.unused_blob_ids.push_back(target.blob_id);
      }
    }
    std::set<std::string, std::less<>> referenced;
    std::map<std::string, std::pair<std::string, const metadata::TargetFile*>, std::less<>> needed;
    for (const std::string& role : loaded_roles_) {
      for (const auto& [path, file] : set_->TargetsRole(role)->targets) {
        auto sha = file.Sha256();
        if (!sha) {
          return Reject(ErrorKind::kInvalidArgument,
                        "target " + path + " in " + role + " lists no sha256 hash");
        }
        needed.emplace(std::string(*sha), std::make_pair(path, &file));
        auto blob = uploaded.find(*sha);
        if (blob != uploaded.end()) {
          MDU_RETURN_IF_ERROR(MatchesMetadata(path, file, *blob->second));
          referenced.insert(blob->first);
        }
      }
    }
    for (const auto& [sha, blob] : uploaded) {
      if (!referenced.contains(sha)) {
        return Reject(ErrorKind::kHashMismatch, "uploaded target content with sha256 " + sha +
                                                    " (" + std::to_string(blob->length) +
                                                    " bytes) matches no target the " +
                                                    "metadata lists");
      }
    }
    // A claim ("the server has this blob, I did not upload it") must name a listed target the
    // server really stores with that length: a client cannot make the server vouch for content
    // it does not hold.
    for (const auto& [sha, length] : input_.claimed) {
      if (!needed.contains(sha)) {
        return Reject(ErrorKind::kInvalidArgument,
                      "target content with sha256 " + sha +
                          " named as stored matches no target the metadata lists");
      }
      MDU_ASSIGN_OR_RETURN(std::optional<StoredTargetInfo> stored, stored_target_(sha, false));
      if (!stored || stored->length != length) {
        return Reject(ErrorKind::kNotFound, "target content with sha256 " + sha + " (" +
                                                std::to_string(length) +
                                                " bytes) named as stored is not stored");
      }
    }
    for (const auto& [sha, entry] : needed) {
      const auto& [path, file] = entry;
      const std::string* listed_sha512 = nullptr;
      for (const auto& [algorithm, hex] : file->hashes) {
        if (algorithm == "sha512") listed_sha512 = &hex;
      }
      MDU_ASSIGN_OR_RETURN(std::optional<StoredTargetInfo> stored,
                           stored_target_(sha, listed_sha512 != nullptr));
      auto blob = uploaded.find(sha);
      if (stored) {
        if (stored->length != static_cast<uint64_t>(file->length)) {
          return Reject(ErrorKind::kLengthMismatch,
                        "target " + path + ": metadata says " + std::to_string(file->length) +
                            " bytes, the stored content with that sha256 has " +
                            std::to_string(stored->length));
        }
        // Same sha256, so the same content: a different sha512 in the metadata is a metadata
        // error that every client would hit on download.
        if (listed_sha512 != nullptr && *listed_sha512 != stored->sha512) {
          return Reject(ErrorKind::kHashMismatch,
                        "target " + path + ": metadata says sha512 " + *listed_sha512 +
                            ", the stored content with that sha256 has " + stored->sha512);
        }
        if (blob != uploaded.end()) plan_.unused_blob_ids.push_back(blob->second->blob_id);
        continue;
      }
      if (blob == uploaded.end()) {
        return Reject(ErrorKind::kNotFound, "target " + path + " (sha256 " + sha +
                                                ") was neither uploaded nor published before");
      }
      plan_.batch.targets.push_back(TargetRef{sha, blob->second->blob_id, blob->second->length});
      plan_.batch.target_sha512[sha] = blob->second->sha512;
    }
    return {};
  }

  static Status MatchesMetadata(const std::string& path, const metadata::TargetFile& file,
                                const StagedTarget& blob) {
    if (blob.length != static_cast<uint64_t>(file.length)) {
      return Reject(ErrorKind::kLengthMismatch,
                    "target " + path + ": metadata says " + std::to_string(file.length) +
                        " bytes, uploaded " + std::to_string(blob.length));
    }
    for (const auto& [algorithm, hex] : file.hashes) {
      const std::string* computed = algorithm == "sha256"   ? &blob.sha256
                                    : algorithm == "sha512" ? &blob.sha512
                                                            : nullptr;
      if (computed != nullptr && *computed != hex) {
        return Reject(ErrorKind::kHashMismatch, "target " + path + ": uploaded content's " +
                                                    algorithm + " is " + *computed +
                                                    ", metadata says " + hex);
      }
    }
    return {};
  }

  const RepositoryView& current_;
  std::string_view bootstrap_root_;
  const PublishInput& input_;
  metadata::UnixTime now_;
  const StoredTargetLookup& stored_target_;

  std::map<std::string, std::map<int64_t, Upload>, std::less<>> uploads_;
  std::optional<trust::TrustedSet> set_;
  std::vector<std::string> loaded_roles_;
  PublishPlan plan_;
};

}  // namespace

bool IsValidIdentifier(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

Result<MetadataName> ParseMetadataName(std::string_view name) {
  if (name == "timestamp.json") return MetadataName{"timestamp", 0};
  auto bad = [&](std::string_view why) {
    return Reject(ErrorKind::kInvalidArgument,
                  "metadata file name \"" + std::string(name.substr(0, 200)) +
                      "\": " + std::string(why) + " (expected timestamp.json or N.<role>.json)");
  };
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || !name.ends_with(".json") ||
      name.size() < dot + 7) {
    return bad("not of the form N.<role>.json");
  }
  MetadataName parsed;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + dot, parsed.version);
  if (ec != std::errc() || ptr != name.data() + dot || parsed.version < 1 || name[0] == '0') {
    return bad("version must be an integer >= 1");
  }
  parsed.role = std::string(name.substr(dot + 1, name.size() - dot - 6));
  if (!IsValidIdentifier(parsed.role)) return bad("invalid role name");
  if (parsed.role == "timestamp") return bad("timestamp is published unversioned");
  return parsed;
}

Result<PublishPlan> VerifyPublish(const RepositoryView& current, std::string_view bootstrap_root,
                                  const PublishInput& input, metadata::UnixTime now,
                                  const StoredTargetLookup& stored_target) {
  return Verification(current, bootstrap_root, input, now, stored_target).Run();
}

}  // namespace mdu::server
