#include "tests/sim/repository_simulator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/client/metadata_store.h"
#include "core/crypto/hash.h"

namespace mdu::sim {
namespace {

constexpr std::string_view kTopLevel[] = {"root", "timestamp", "snapshot", "targets"};

bool IsTopLevel(std::string_view role) {
  return std::find(std::begin(kTopLevel), std::end(kTopLevel), role) != std::end(kTopLevel);
}

metadata::MetaFile MetaFor(int64_t version, std::string_view bytes, bool with_hashes) {
  metadata::MetaFile meta;
  meta.version = version;
  if (with_hashes) {
    meta.length = static_cast<int64_t>(bytes.size());
    meta.hashes = {{"sha256", crypto::Sha256Hex(bytes)}};
  }
  return meta;
}

}  // namespace

void Die(std::string_view what, const Error& error) {
  std::fprintf(stderr, "RepositorySimulator: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), error.ToString().c_str());
  std::abort();
}

metadata::Targets& RepositorySimulator::Role(std::string_view name) {
  auto it = roles.find(name);
  if (it == roles.end()) {
    Die(name, Error(ErrorKind::kNotFound, "no such targets role"));
  }
  return it->second;
}

const metadata::Targets& RepositorySimulator::Role(std::string_view name) const {
  auto it = roles.find(name);
  if (it == roles.end()) {
    Die(name, Error(ErrorKind::kNotFound, "no such targets role"));
  }
  return it->second;
}

std::shared_ptr<crypto::PrivateKey> RepositorySimulator::NewKey() {
  return std::make_shared<crypto::PrivateKey>(
      Must(crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519), "generate key"));
}

RepositorySimulator::RepositorySimulator() {
  root.common.version = 1;
  root.common.expires = kDefaultExpires;
  root.consistent_snapshot = true;
  for (std::string_view role : kTopLevel) {
    root.roles[std::string(role)] = metadata::KeyRole{};
    AuthorizeNewKey(role);
  }
  timestamp.common.version = 0;  // UpdateSnapshot bumps to 1
  timestamp.common.expires = kDefaultExpires;
  snapshot.common.version = 0;
  snapshot.common.expires = kDefaultExpires;
  metadata::Targets targets;
  targets.common.version = 1;
  targets.common.expires = kDefaultExpires;
  roles.emplace("targets", std::move(targets));
  PublishRoot();
  UpdateSnapshot();
}

std::shared_ptr<crypto::PrivateKey> RepositorySimulator::AuthorizeNewKey(std::string_view role) {
  std::shared_ptr<crypto::PrivateKey> key = NewKey();
  const crypto::PublicKey& public_key = key->public_key();
  if (IsTopLevel(role)) {
    root.keys.insert_or_assign(public_key.KeyId(), public_key);
    root.roles[std::string(role)].keyids.push_back(public_key.KeyId());
  } else {
    metadata::Targets& parent = roles.at(parents_.at(std::string(role)));
    metadata::Delegations& delegations = *parent.delegations;
    delegations.keys.insert_or_assign(public_key.KeyId(), public_key);
    if (delegations.succinct_roles) {
      delegations.succinct_roles->keys.keyids.push_back(public_key.KeyId());
    } else {
      for (metadata::DelegatedRole& delegated : *delegations.roles) {
        if (delegated.name == role) {
          delegated.keys.keyids.push_back(public_key.KeyId());
        }
      }
    }
  }
  signers[std::string(role)].push_back(key);
  return key;
}

std::shared_ptr<crypto::PrivateKey> RepositorySimulator::AddKey(std::string_view role) {
  return AuthorizeNewKey(role);
}

void RepositorySimulator::RotateKeys(std::string_view role) {
  KeyList old = std::move(signers[std::string(role)]);
  signers[std::string(role)].clear();
  if (IsTopLevel(role)) {
    metadata::KeyRole& key_role = root.roles[std::string(role)];
    std::vector<std::string> old_ids = std::move(key_role.keyids);
    key_role.keyids.clear();
    for (const std::string& id : old_ids) {
      bool used = false;
      for (const auto& [name, other] : root.roles) {
        used |= std::find(other.keyids.begin(), other.keyids.end(), id) != other.keyids.end();
      }
      if (!used) {
        root.keys.erase(id);
      }
    }
    if (role == "root") {
      old_root_signers_ = std::move(old);
    }
  } else {
    metadata::Delegations& delegations = *roles.at(parents_.at(std::string(role))).delegations;
    for (metadata::DelegatedRole& delegated : *delegations.roles) {
      if (delegated.name == role) {
        delegated.keys.keyids.clear();
      }
    }
  }
  AuthorizeNewKey(role);
}

void RepositorySimulator::AddTarget(std::string_view role, std::string_view path,
                                    std::string_view content, json::Value custom) {
  metadata::TargetFile file;
  file.length = static_cast<int64_t>(content.size());
  file.hashes = {{"sha256", crypto::Sha256Hex(content)},
                 {"sha512", crypto::DigestHex(crypto::HashAlgorithm::kSha512, content)}};
  file.custom = std::move(custom);
  Role(role).targets.insert_or_assign(std::string(path), file);
  files.insert_or_assign(TargetPath(role, path), std::string(content));
}

std::string RepositorySimulator::TargetPath(std::string_view role, std::string_view path) const {
  const metadata::TargetFile& file = Role(role).targets.find(path)->second;
  const size_t slash = path.rfind('/');
  const std::string_view dir = slash == std::string_view::npos ? "" : path.substr(0, slash + 1);
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (!root.consistent_snapshot) {
    return "targets/" + std::string(path);
  }
  return "targets/" + std::string(dir) + std::string(*file.Sha256()) + "." + std::string(base);
}

void RepositorySimulator::AddDelegation(std::string_view parent, std::string_view name,
                                        std::vector<std::string> paths, bool terminating,
                                        std::optional<std::vector<std::string>> hash_prefixes) {
  metadata::Targets& delegator = Role(parent);
  if (!delegator.delegations) {
    delegator.delegations.emplace();
    delegator.delegations->roles.emplace();
  }
  metadata::DelegatedRole delegated;
  delegated.name = std::string(name);
  delegated.terminating = terminating;
  if (hash_prefixes) {
    delegated.path_hash_prefixes = std::move(hash_prefixes);
  } else {
    delegated.paths = std::move(paths);
  }
  delegator.delegations->roles->push_back(std::move(delegated));
  parents_[std::string(name)] = std::string(parent);
  metadata::Targets targets;
  targets.common.version = 1;
  targets.common.expires = kDefaultExpires;
  roles.insert_or_assign(std::string(name), std::move(targets));
  AuthorizeNewKey(name);
}

void RepositorySimulator::AddSuccinctDelegation(std::string_view parent, int bit_length,
                                                std::string_view prefix) {
  metadata::Targets& delegator = Role(parent);
  delegator.delegations.emplace();
  metadata::SuccinctRoles succinct;
  succinct.bit_length = bit_length;
  succinct.name_prefix = std::string(prefix);
  std::shared_ptr<crypto::PrivateKey> key = NewKey();
  succinct.keys.keyids.push_back(key->public_key().KeyId());
  delegator.delegations->keys.insert_or_assign(key->public_key().KeyId(), key->public_key());
  for (const std::string& bin : succinct.RoleNames()) {
    parents_[bin] = std::string(parent);
    metadata::Targets targets;
    targets.common.version = 1;
    targets.common.expires = kDefaultExpires;
    roles.insert_or_assign(bin, std::move(targets));
    signers[bin] = {key};
  }
  delegator.delegations->succinct_roles = std::move(succinct);
}

std::string RepositorySimulator::SignEnvelope(metadata::Envelope& envelope,
                                              std::string_view role_name) {
  for (const auto& key : signers[std::string(role_name)]) {
    Must(metadata::Sign(envelope, *key), "sign " + std::string(role_name));
  }
  if (role_name == "root") {
    for (const auto& key : old_root_signers_) {
      Must(metadata::Sign(envelope, *key), "sign root");
    }
  }
  return envelope.Serialize();
}

std::string RepositorySimulator::SignRole(std::string_view role_name) {
  if (role_name == "root") {
    auto md = metadata::MakeMetadata(root);
    return SignEnvelope(md.envelope, role_name);
  }
  if (role_name == "timestamp") {
    auto md = metadata::MakeMetadata(timestamp);
    return SignEnvelope(md.envelope, role_name);
  }
  if (role_name == "snapshot") {
    auto md = metadata::MakeMetadata(snapshot);
    return SignEnvelope(md.envelope, role_name);
  }
  auto md = metadata::MakeMetadata(Role(role_name));
  return SignEnvelope(md.envelope, role_name);
}

void RepositorySimulator::PublishRoot() {
  files.insert_or_assign("metadata/" + std::to_string(root.common.version) + ".root.json",
                         SignRole("root"));
  old_root_signers_.clear();
}

void RepositorySimulator::BumpRoot() {
  ++root.common.version;
  PublishRoot();
}

std::string RepositorySimulator::PublishTargetsRole(const std::string& role_name) {
  std::string bytes = SignRole(role_name);
  const std::string quoted = client::PercentEncode(role_name);
  const std::string version = std::to_string(Role(role_name).common.version);
  files.insert_or_assign("metadata/" + version + "." + quoted + ".json", bytes);
  files.insert_or_assign("metadata/" + quoted + ".json", bytes);
  return bytes;
}

void RepositorySimulator::UpdateSnapshot() {
  for (const auto& [name, targets] : roles) {
    std::string bytes = PublishTargetsRole(name);
    snapshot.meta.insert_or_assign(name + ".json",
                                   MetaFor(targets.common.version, bytes, meta_with_hashes));
  }
  ++snapshot.common.version;
  last_snapshot_bytes_ = SignRole("snapshot");
  files.insert_or_assign("metadata/" + std::to_string(snapshot.common.version) + ".snapshot.json",
                         last_snapshot_bytes_);
  files.insert_or_assign("metadata/snapshot.json", last_snapshot_bytes_);
  UpdateTimestamp();
}

void RepositorySimulator::UpdateTimestamp() {
  timestamp.snapshot_meta =
      MetaFor(snapshot.common.version, last_snapshot_bytes_, meta_with_hashes);
  ++timestamp.common.version;
  files.insert_or_assign("metadata/timestamp.json", SignRole("timestamp"));
}

const std::string& RepositorySimulator::MetadataFile(std::string_view name) const {
  auto it = files.find("metadata/" + std::string(name));
  if (it == files.end()) {
    Die(name, Error(ErrorKind::kNotFound, "not served"));
  }
  return it->second;
}

std::string& RepositorySimulator::MutableMetadataFile(std::string_view name) {
  auto it = files.find("metadata/" + std::string(name));
  if (it == files.end()) {
    Die(name, Error(ErrorKind::kNotFound, "not served"));
  }
  return it->second;
}

void RepositorySimulator::SetFetchError(std::string_view path, ErrorKind kind) {
  fetch_errors_.insert_or_assign(std::string(path), kind);
}

void RepositorySimulator::SetEndless(std::string_view path) {
  endless_.insert_or_assign(std::string(path), true);
}

void RepositorySimulator::ClearFetchOverrides() {
  fetch_errors_.clear();
  endless_.clear();
}

int RepositorySimulator::FetchCount(std::string_view path) const {
  auto it = fetch_counts_.find(path);
  return it == fetch_counts_.end() ? 0 : it->second;
}

int RepositorySimulator::TotalFetches() const {
  int total = 0;
  for (const auto& [path, count] : fetch_counts_) {
    total += count;
  }
  return total;
}

Status RepositorySimulator::Fetch(std::string_view url, uint64_t max_length,
                                  const client::ChunkSink& sink) {
  constexpr std::string_view kHost = "https://sim.test/";
  if (url.substr(0, kHost.size()) != kHost) {
    return MakeError(ErrorKind::kDownload, "unknown host in " + std::string(url));
  }
  const std::string path(url.substr(kHost.size()));
  ++fetch_counts_[path];
  if (auto it = fetch_errors_.find(path); it != fetch_errors_.end()) {
    return MakeError(it->second, "simulated failure fetching " + path);
  }
  if (endless_.contains(path)) {
    const std::string chunk(4096, 'x');
    uint64_t sent = 0;
    while (sent + chunk.size() <= max_length) {
      MDU_RETURN_IF_ERROR(sink(chunk));
      sent += chunk.size();
    }
    return MakeError(ErrorKind::kLimitExceeded,
                     path + " exceeded the limit of " + std::to_string(max_length) + " bytes");
  }
  auto it = files.find(path);
  if (it == files.end()) {
    return MakeError(ErrorKind::kNotFound, "404 " + path);
  }
  const std::string_view body = it->second;
  if (body.size() > max_length) {
    MDU_RETURN_IF_ERROR(sink(body.substr(0, max_length)));
    return MakeError(ErrorKind::kLimitExceeded, path + " is longer than the limit of " +
                                                    std::to_string(max_length) + " bytes");
  }
  // Deliver in chunks, like a network transport.
  constexpr size_t kChunk = 1 << 16;
  for (size_t offset = 0; offset < body.size(); offset += kChunk) {
    MDU_RETURN_IF_ERROR(sink(body.substr(offset, kChunk)));
  }
  return {};
}

}  // namespace mdu::sim
