#include "signer/repo/workspace.h"

#include <algorithm>
#include <cctype>
#include <system_error>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;
using json::Value;

constexpr int kMaxDelegationDepth = 8;

bool IsTopLevel(std::string_view name) {
  return name == "root" || name == "targets" || name == "snapshot" || name == "timestamp";
}

std::string MetadataFile(std::string_view role) {
  return "metadata/" + std::string(role) + ".json";
}

Result<Value> ReadJson(const fs::path& path) {
  MDU_ASSIGN_OR_RETURN(std::string text, io::ReadFileBounded(path, kMaxMetadataBytes));
  auto value = json::Parse(text);
  if (!value) return MakeError(value.error().WithContext(path.string()));
  return std::move(value).value();
}

template <class T>
Result<metadata::Metadata<T>> ReadMetadata(const fs::path& path) {
  MDU_ASSIGN_OR_RETURN(std::string text, io::ReadFileBounded(path, kMaxMetadataBytes));
  auto parsed = metadata::ParseMetadata<T>(text);
  if (!parsed) return MakeError(parsed.error().WithContext(path.string()));
  return std::move(parsed).value();
}

Status AddRole(metadata::Root& root, std::string_view name, const RoleKeys& spec) {
  if (spec.keys.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "role " + std::string(name) +
                                                      " needs at least one key (--" +
                                                      std::string(name) + "-key FILE.pub.json)");
  }
  metadata::KeyRole role;
  for (const crypto::PublicKey& key : spec.keys) {
    if (std::find(role.keyids.begin(), role.keyids.end(), key.KeyId()) != role.keyids.end()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "role " + std::string(name) + ": key " + key.KeyId() + " is given twice");
    }
    role.keyids.push_back(key.KeyId());
    root.keys.insert_or_assign(key.KeyId(), key);
  }
  if (spec.threshold < 1 || spec.threshold > static_cast<int64_t>(role.keyids.size())) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "role " + std::string(name) + ": threshold " + std::to_string(spec.threshold) +
                         " must be between 1 and its " + std::to_string(role.keyids.size()) +
                         " key(s)");
  }
  role.threshold = spec.threshold;
  root.roles.insert_or_assign(std::string(name), std::move(role));
  return {};
}

Status CheckPolicy(const ExpiryPolicy& policy) {
  for (int64_t days :
       {policy.root_days, policy.targets_days, policy.snapshot_days, policy.timestamp_days}) {
    if (days < 1 || days > 3650) {
      return MakeError(
          ErrorKind::kInvalidArgument,
          "expiry periods must be between 1 and 3650 days, got " + std::to_string(days));
    }
  }
  return {};
}

}  // namespace

int64_t ExpiryPolicy::DaysFor(std::string_view role) const {
  if (role == "root") return root_days;
  if (role == "snapshot") return snapshot_days;
  if (role == "timestamp") return timestamp_days;
  return targets_days;
}

Status ValidateRoleName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid role name \"" + std::string(name) + "\": " + std::string(why));
  };
  if (name.empty() || name.size() > 64) return bad("must be 1 to 64 characters");
  if (IsTopLevel(name)) return bad("is a top-level role name");
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) {
    return bad("must start with a letter or digit");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
  }
  return {};
}

Result<Workspace> Workspace::Init(const fs::path& dir, const InitSpec& spec, UnixTime now,
                                  LockMode lock) {
  std::error_code ec;
  auto already = [&] {
    return MakeError(ErrorKind::kInvalidArgument,
                     dir.string() +
                         " already holds a workspace; use another --workspace "
                         "directory or work in this one");
  };
  if (fs::exists(dir / "workspace.json", ec)) return already();
  MDU_RETURN_IF_ERROR(CheckPolicy(spec.expiry));
  metadata::Root root;
  root.common.version = 1;
  root.common.expires = now + spec.expiry.root_days * kSecondsPerDay;
  root.consistent_snapshot = spec.consistent_snapshot;
  MDU_RETURN_IF_ERROR(AddRole(root, "root", spec.root));
  MDU_RETURN_IF_ERROR(AddRole(root, "targets", spec.targets));
  MDU_RETURN_IF_ERROR(AddRole(root, "snapshot", spec.snapshot));
  MDU_RETURN_IF_ERROR(AddRole(root, "timestamp", spec.timestamp));

  metadata::Targets targets;
  targets.common.version = 1;
  targets.common.expires = now + spec.expiry.targets_days * kSecondsPerDay;

  Workspace ws;
  MDU_RETURN_IF_ERROR(io::CreateDirectories(dir));
  MDU_ASSIGN_OR_RETURN(ws.lock_, WorkspaceLock::Acquire(dir, lock));
  if (fs::exists(dir / "workspace.json", ec)) return already();  // another init won the race
  ws.dir_ = dir;
  ws.expiry_ = spec.expiry;
  ws.consistent_snapshot_ = spec.consistent_snapshot;
  ws.root_ = metadata::MakeMetadata(std::move(root));
  ws.targets_.emplace("targets", metadata::MakeMetadata(std::move(targets)));
  ws.dirty_roles_ = {"root", "targets"};
  ws.config_dirty_ = true;
  ws.withdrawn_dirty_ = true;
  ws.create_layout_ = true;
  return ws;
}

Result<Workspace> Workspace::Open(const fs::path& dir, LockMode lock) {
  std::error_code ec;
  if (!fs::exists(dir / "workspace.json", ec)) {
    return MakeError(ErrorKind::kNotFound,
                     "no signing workspace in " + dir.string() +
                         " (create one with `signer init`, or pass --workspace DIR)");
  }
  Workspace ws;
  MDU_ASSIGN_OR_RETURN(ws.lock_, WorkspaceLock::Acquire(dir, lock));
  if (lock == LockMode::kExclusive) {
    MDU_RETURN_IF_ERROR(RecoverFileTransaction(dir, /*remove_temporaries=*/true));
  } else if (HasInterruptedCommit(dir)) {
    // A reader sees a journal only if the writer died (it held the lock while saving).
    MDU_RETURN_IF_ERROR(ws.lock_.UpgradeToExclusive());
    MDU_RETURN_IF_ERROR(
        RecoverFileTransaction(dir, /*remove_temporaries=*/lock == LockMode::kShared));
    MDU_RETURN_IF_ERROR(ws.lock_.DowngradeToShared());
  }
  ws.dir_ = dir;
  MDU_ASSIGN_OR_RETURN(Value config, ReadJson(dir / "workspace.json"));
  const std::string where = (dir / "workspace.json").string();
  MDU_ASSIGN_OR_RETURN(std::string format, json::RequireString(config, "format", where));
  if (format != kWorkspaceFormat) {
    return MakeError(ErrorKind::kBadMetadata, where + ": not a signer workspace");
  }
  MDU_ASSIGN_OR_RETURN(const Value* days,
                       json::RequireField(config, "expiry_days", json::Type::kObject, where));
  MDU_ASSIGN_OR_RETURN(ws.expiry_.root_days, json::RequireInt(*days, "root", where));
  MDU_ASSIGN_OR_RETURN(ws.expiry_.targets_days, json::RequireInt(*days, "targets", where));
  MDU_ASSIGN_OR_RETURN(ws.expiry_.snapshot_days, json::RequireInt(*days, "snapshot", where));
  MDU_ASSIGN_OR_RETURN(ws.expiry_.timestamp_days, json::RequireInt(*days, "timestamp", where));
  MDU_ASSIGN_OR_RETURN(ws.consistent_snapshot_,
                       json::RequireBool(config, "consistent_snapshot", where));
  MDU_ASSIGN_OR_RETURN(const Value* published,
                       json::RequireField(config, "published", json::Type::kObject, where));
  MDU_ASSIGN_OR_RETURN(ws.published_.root, json::RequireInt(*published, "root", where));
  MDU_ASSIGN_OR_RETURN(ws.published_.targets, json::RequireInt(*published, "targets", where));
  MDU_ASSIGN_OR_RETURN(ws.published_.snapshot, json::RequireInt(*published, "snapshot", where));
  MDU_ASSIGN_OR_RETURN(ws.published_.timestamp, json::RequireInt(*published, "timestamp", where));
  MDU_ASSIGN_OR_RETURN(const Value* roles,
                       json::RequireField(*published, "roles", json::Type::kObject, where));
  for (const auto& [name, version] : roles->as_object()) {
    if (!version.is_int()) return MakeError(ErrorKind::kBadMetadata, where + ": bad version");
    ws.published_.roles.emplace(name, version.as_int());
  }

  MDU_ASSIGN_OR_RETURN(ws.root_, ReadMetadata<metadata::Root>(dir / MetadataFile("root")));
  MDU_RETURN_IF_ERROR(ws.LoadPreviousRoot());
  MDU_ASSIGN_OR_RETURN(auto targets,
                       ReadMetadata<metadata::Targets>(dir / MetadataFile("targets")));
  auto [it, inserted] = ws.targets_.emplace("targets", std::move(targets));
  static_cast<void>(inserted);
  ws.NoteDelegations("targets", it->second.role.delegations.has_value());
  MDU_RETURN_IF_ERROR(ws.LoadDelegatedRoles(it->second.role, 0));

  MDU_ASSIGN_OR_RETURN(Value withdrawn, ReadJson(dir / "withdrawn.json"));
  MDU_ASSIGN_OR_RETURN(
      const Value* records,
      json::RequireField(withdrawn, "withdrawn", json::Type::kArray, "withdrawn.json"));
  ws.withdrawn_ = records->as_array();
  return ws;
}

Status Workspace::LoadPreviousRoot() {
  if (previous_root_ || published_.root < 1 || root_.role.common.version <= published_.root) {
    return {};
  }
  MDU_ASSIGN_OR_RETURN(auto previous,
                       ReadMetadata<metadata::Root>(
                           dir_ / "history" / (std::to_string(published_.root) + ".root.json")));
  previous_root_ = std::make_unique<metadata::Root>(std::move(previous.role));
  return {};
}

Status Workspace::LoadDelegatedRoles(const metadata::Targets& delegator, int depth) {
  if (!delegator.delegations) return {};
  if (depth > kMaxDelegationDepth) {
    return MakeError(ErrorKind::kLimitExceeded, "delegations nested too deeply");
  }
  std::vector<std::string> names;
  if (delegator.delegations->roles) {
    for (const auto& role : *delegator.delegations->roles) names.push_back(role.name);
  }
  if (const auto& bins = delegator.delegations->succinct_roles) {
    if (bins->bit_length <= kMaxEagerBinBitLength) {
      names = bins->RoleNames();
    } else {
      // Only the bins created so far, i.e. those with a metadata file.
      std::error_code ec;
      for (fs::directory_iterator it(dir_ / "metadata", ec), end; !ec && it != end;
           it.increment(ec)) {
        std::string file = it->path().filename().string();
        if (!file.ends_with(".json")) continue;
        file.resize(file.size() - 5);
        if (bins->IsDelegatedRole(file)) names.push_back(std::move(file));
      }
      if (ec) return MakeError(ErrorKind::kIo, "listing " + (dir_ / "metadata").string());
    }
  }
  for (const std::string& name : names) {
    if (targets_.count(name) != 0) continue;
    MDU_RETURN_IF_ERROR(ValidateRoleName(name));
    MDU_ASSIGN_OR_RETURN(auto role, ReadMetadata<metadata::Targets>(dir_ / MetadataFile(name)));
    auto [it, inserted] = targets_.emplace(name, std::move(role));
    static_cast<void>(inserted);
    NoteDelegations(name, it->second.role.delegations.has_value());
    MDU_RETURN_IF_ERROR(LoadDelegatedRoles(it->second.role, depth + 1));
  }
  return {};
}

void Workspace::NoteDelegations(const std::string& role, bool delegates) {
  if (delegates) {
    delegating_.insert(role);
  } else {
    delegating_.erase(role);
  }
}

const metadata::SuccinctRoles* Workspace::FindBins(std::string_view prefix) const {
  for (const std::string& name : delegating_) {
    const auto& delegations = targets_.find(name)->second.role.delegations;
    if (delegations->succinct_roles && delegations->succinct_roles->name_prefix == prefix) {
      return &*delegations->succinct_roles;
    }
  }
  return nullptr;
}

std::vector<std::string> Workspace::ExistingBins(const metadata::SuccinctRoles& bins) const {
  std::vector<std::string> out;
  const std::string first = bins.name_prefix + "-";
  for (auto it = targets_.lower_bound(first); it != targets_.end() && it->first.starts_with(first);
       ++it) {
    if (bins.IsDelegatedRole(it->first)) out.push_back(it->first);
  }
  return out;
}

const metadata::Metadata<metadata::Targets>* Workspace::TargetsRole(std::string_view name) const {
  auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : &it->second;
}

std::vector<std::string> Workspace::TargetsRoleNames() const {
  std::vector<std::string> names{"targets"};
  for (const auto& [name, role] : targets_) {
    if (name != "targets") names.push_back(name);
  }
  return names;
}

std::string Workspace::DelegatorOf(std::string_view name) const {
  for (const std::string& delegator : delegating_) {
    const auto& delegations = targets_.find(delegator)->second.role.delegations;
    if (delegations->roles) {
      for (const auto& role : *delegations->roles) {
        if (role.name == name) return delegator;
      }
    }
    if (delegations->succinct_roles && delegations->succinct_roles->IsDelegatedRole(name)) {
      return delegator;
    }
  }
  return "";
}

Result<Authorization> Workspace::AuthorizationFor(std::string_view role) const {
  Authorization out;
  auto collect = [&](const metadata::KeyMap& keys, const metadata::KeyRole& key_role) {
    out.role = key_role;
    for (const std::string& keyid : key_role.keyids) {
      auto key = keys.find(keyid);
      if (key != keys.end()) out.keys.emplace(keyid, key->second);
    }
  };
  if (IsTopLevel(role)) {
    auto it = root_.role.roles.find(role);
    if (it == root_.role.roles.end()) {
      return MakeError(ErrorKind::kBadMetadata, "root lists no role " + std::string(role));
    }
    collect(root_.role.keys, it->second);
    return out;
  }
  const std::string delegator = DelegatorOf(role);
  if (delegator.empty()) {
    return MakeError(ErrorKind::kNotFound,
                     "no role \"" + std::string(role) +
                         "\": roles are root, targets, snapshot, timestamp and the delegated "
                         "roles `signer status` lists");
  }
  const auto& delegations = *targets_.find(delegator)->second.role.delegations;
  if (delegations.succinct_roles) {
    collect(delegations.keys, delegations.succinct_roles->keys);
    return out;
  }
  for (const auto& delegated : *delegations.roles) {
    if (delegated.name == role) collect(delegations.keys, delegated.keys);
  }
  return out;
}

int64_t Workspace::NextVersion(std::string_view role) const {
  if (role == "root") return published_.root + 1;
  if (role == "targets") return published_.targets + 1;
  auto it = published_.roles.find(role);
  return (it == published_.roles.end() ? 0 : it->second) + 1;
}

Status Workspace::Refresh(std::string_view role, UnixTime now, const Value& before,
                          metadata::Envelope* envelope, metadata::CommonFields* common,
                          Value after) {
  if (after == before) return {};
  common->version = NextVersion(role);
  common->expires = now + expiry_.DaysFor(role) * kSecondsPerDay;
  after.Set("version", Value(common->version));
  after.Set("expires", Value(metadata::FormatExpires(common->expires)));
  envelope->signed_value = std::move(after);
  envelope->signatures.clear();
  dirty_roles_.insert(std::string(role));
  return {};
}

Status Workspace::Renew(std::string_view role, UnixTime now) {
  metadata::Envelope* envelope = nullptr;
  metadata::CommonFields* common = nullptr;
  if (role == "root") {
    envelope = &root_.envelope;
    common = &root_.role.common;
  } else if (auto it = targets_.find(role); it != targets_.end()) {
    envelope = &it->second.envelope;
    common = &it->second.role.common;
  } else {
    return MakeError(ErrorKind::kNotFound, "no staged role \"" + std::string(role) +
                                               "\" (snapshot and timestamp are "
                                               "renewed by every publish)");
  }
  common->version = NextVersion(role);
  common->expires = now + expiry_.DaysFor(role) * kSecondsPerDay;
  envelope->signed_value.Set("version", Value(common->version));
  envelope->signed_value.Set("expires", Value(metadata::FormatExpires(common->expires)));
  envelope->signatures.clear();
  dirty_roles_.insert(std::string(role));
  if (role == "root") return LoadPreviousRoot();
  return {};
}

Status Workspace::CreateDelegatedRole(const std::string& name, UnixTime now) {
  MDU_RETURN_IF_ERROR(ValidateRoleName(name));
  if (targets_.count(name) != 0) return {};
  metadata::Targets role;
  role.common.version = NextVersion(name);
  role.common.expires = now + expiry_.targets_days * kSecondsPerDay;
  targets_.emplace(name, metadata::MakeMetadata(std::move(role)));
  dirty_roles_.insert(name);
  return {};
}

const metadata::Envelope* Workspace::EnvelopeOf(std::string_view role) const {
  if (role == "root") return &root_.envelope;
  auto it = targets_.find(role);
  return it == targets_.end() ? nullptr : &it->second.envelope;
}

Status Workspace::SetSignatures(std::string_view role,
                                std::vector<metadata::Signature> signatures) {
  metadata::Envelope* target = nullptr;
  if (role == "root") {
    target = &root_.envelope;
  } else if (auto it = targets_.find(role); it != targets_.end()) {
    target = &it->second.envelope;
  }
  if (target == nullptr) {
    return MakeError(ErrorKind::kNotFound, "no staged role \"" + std::string(role) + "\"");
  }
  target->signatures = std::move(signatures);
  dirty_roles_.insert(std::string(role));
  return {};
}

Workspace::~Workspace() {
  for (const auto& [sha256, temp] : blobs_) {
    std::error_code ec;
    fs::remove(temp, ec);
  }
}

void Workspace::AdoptBlob(const fs::path& temp, const std::string& sha256) {
  if (!blobs_.emplace(sha256, temp.string()).second) {
    std::error_code ec;  // the same content twice in one command: one copy is enough
    fs::remove(temp, ec);
  }
}

fs::path Workspace::BlobPath(std::string_view sha256) const {
  if (auto it = blobs_.find(sha256); it != blobs_.end()) return it->second;
  return dir_ / "targets" / std::string(sha256);
}

void Workspace::RecordPublish(PublishedVersions versions,
                              std::vector<std::pair<std::string, std::string>> history_files) {
  // Once published, the staged root is the trusted one; a later rotation compares against it.
  previous_root_.reset();
  published_ = std::move(versions);
  history_ = std::move(history_files);
  config_dirty_ = true;
}

Value Workspace::ConfigToValue() const {
  json::Object roles;
  for (const auto& [name, version] : published_.roles) roles.emplace_back(name, Value(version));
  return Value::MakeObject({
      {"format", Value(kWorkspaceFormat)},
      {"version", Value(1)},
      {"expiry_days", Value::MakeObject({{"root", Value(expiry_.root_days)},
                                         {"targets", Value(expiry_.targets_days)},
                                         {"snapshot", Value(expiry_.snapshot_days)},
                                         {"timestamp", Value(expiry_.timestamp_days)}})},
      {"consistent_snapshot", Value(consistent_snapshot_)},
      {"published", Value::MakeObject({{"root", Value(published_.root)},
                                       {"targets", Value(published_.targets)},
                                       {"snapshot", Value(published_.snapshot)},
                                       {"timestamp", Value(published_.timestamp)},
                                       {"roles", Value::MakeObject(std::move(roles))}})},
  });
}

Status Workspace::Save() {
  if (lock_.mode() == LockMode::kShared) {
    return MakeError(ErrorKind::kInternal, "the workspace was opened read-only (shared lock)");
  }
  FileTransaction txn(dir_);
  for (const auto& [sha256, temp] : blobs_) {
    txn.AdoptFile(temp, fs::path("targets") / sha256);
  }
  for (auto& [name, bytes] : history_) {
    txn.Put(fs::path("history") / name, std::move(bytes));
  }
  for (const std::string& role : dirty_roles_) {
    const metadata::Envelope* envelope = EnvelopeOf(role);
    if (envelope == nullptr) continue;
    txn.Put(MetadataFile(role), envelope->Serialize());
  }
  if (withdrawn_dirty_) {
    txn.Put("withdrawn.json",
            json::Serialize(Value::MakeObject({{"withdrawn", Value(withdrawn_)}}), 2) + "\n");
  }
  // The configuration goes last: a workspace.json only appears once everything else is there.
  if (config_dirty_) txn.Put("workspace.json", json::Serialize(ConfigToValue(), 2) + "\n");
  if (create_layout_) {
    MDU_RETURN_IF_ERROR(io::CreateDirectories(dir_ / "targets"));
    MDU_RETURN_IF_ERROR(io::CreateDirectories(dir_ / "history"));
  }
  MDU_RETURN_IF_ERROR(txn.Commit());
  create_layout_ = false;
  blobs_.clear();
  history_.clear();
  dirty_roles_.clear();
  config_dirty_ = withdrawn_dirty_ = false;
  return {};
}

}  // namespace mdu::signer::repo
