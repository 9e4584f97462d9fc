// interop_tool: our side of the tuf-js interop tests.
//
//   interop_tool verify <repo_dir> [--expect-error <kind>]
//     Verifies a static consistent-snapshot TUF tree (<repo_dir>/metadata, <repo_dir>/targets)
//     with core/trust: root chain from 1.root.json, timestamp, snapshot, targets, delegated
//     roles found by the pre-order delegation search, and every target's bytes. The tree's
//     expected.json (written by its maker) says which targets must be found, through which
//     role, with which custom metadata, which key IDs the maker assigned and, optionally, the
//     sha256 of the maker's canonical form of each file's `signed` object. With --expect-error
//     the command succeeds only if verification fails with exactly that error kind
//     (ErrorKindName, e.g. "unsigned_metadata"). If MDU_SKIP_INTEROP=1 and <repo_dir> does
//     not exist (its node maker was skipped), exits 77, which ctest reports as skipped.
//
//   interop_tool make <out_dir>
//     Builds repositories with our core (fresh keys of all three schemes, root v1 -> v2
//     rotation, delegations by path and by hash prefix, custom metadata) into
//     <out_dir>/good, and tampered variants into <out_dir>/tampered-target (one byte of a
//     target file flipped) and <out_dir>/tampered-metadata (a target hash changed in
//     targets.json without its key, snapshot and timestamp re-signed by their online keys, as
//     a compromised server would). Each has an expected.json in the format above.
//
// Exit status: 0 on success, 1 on a failed check, 2 on bad usage, 77 skipped (see above).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/hash.h"
#include "core/crypto/keys.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"
#include "core/metadata/metadata.h"
#include "core/trust/delegation_search.h"
#include "core/trust/trusted_set.h"

namespace mdu::interop {
namespace {

namespace fs = std::filesystem;
using metadata::UnixTime;

constexpr uint64_t kMaxFileBytes = 16u << 20;
constexpr int kExitSkipped = 77;  // ctest SKIP_RETURN_CODE

Unexpected<Error> Fail(std::string message) {
  return MakeError(ErrorKind::kInternal, "interop check failed: " + std::move(message));
}

Result<std::string> ReadFile(const fs::path& path) {
  return io::ReadFileBounded(path, kMaxFileBytes);
}

// ------------------------------------------------------------------------------------------
// verify

struct ExpectedTarget {
  std::string role;
  json::Value custom;
};

struct Expected {
  std::set<std::string> keyids;
  std::map<std::string, ExpectedTarget> targets;
  std::map<std::string, std::string> canonical_sha256;  // file name -> hex; may be empty
};

Result<Expected> LoadExpected(const fs::path& repo) {
  MDU_ASSIGN_OR_RETURN(std::string text, ReadFile(repo / "expected.json"));
  MDU_ASSIGN_OR_RETURN(json::Value doc, json::Parse(text));
  Expected out;
  MDU_ASSIGN_OR_RETURN(const json::Value* keyids,
                       json::RequireField(doc, "keyids", json::Type::kArray, "expected.json"));
  for (const json::Value& id : keyids->as_array()) {
    if (!id.is_string()) {
      return Fail("expected.json: keyids must be strings");
    }
    out.keyids.insert(id.as_string());
  }
  MDU_ASSIGN_OR_RETURN(const json::Value* targets,
                       json::RequireField(doc, "targets", json::Type::kObject, "expected.json"));
  for (const auto& [path, entry] : targets->as_object()) {
    MDU_ASSIGN_OR_RETURN(std::string role, json::RequireString(entry, "role", path));
    const json::Value* custom = entry.Find("custom");
    out.targets[path] = ExpectedTarget{std::move(role), custom ? *custom : json::Value()};
  }
  if (const json::Value* canonical = doc.Find("canonical_sha256"); canonical != nullptr) {
    if (!canonical->is_object()) {
      return Fail("expected.json: canonical_sha256 must be an object");
    }
    for (const auto& [file, hex] : canonical->as_object()) {
      if (!hex.is_string()) {
        return Fail("expected.json: canonical_sha256 values are strings");
      }
      out.canonical_sha256[file] = hex.as_string();
    }
  }
  return out;
}

// Checks that do not depend on trust: our canonical form of `signed` is byte-identical to the
// maker's (when it told us its hash), and the typed model reproduces the object exactly
// (unknown fields kept), so re-serializing never changes what was signed.
template <class T>
Status CheckFileForm(const std::string& file_name, std::string_view bytes,
                     const Expected& expected) {
  auto parsed = metadata::ParseMetadata<T>(bytes);
  if (!parsed) {
    return MakeError(parsed.error().WithContext(file_name));
  }
  if (auto it = expected.canonical_sha256.find(file_name); it != expected.canonical_sha256.end()) {
    std::string ours = crypto::Sha256Hex(parsed->envelope.CanonicalSigned());
    if (ours != it->second) {
      return Fail(file_name + ": canonical JSON differs from the maker's (sha256 " + ours + " vs " +
                  it->second + ")");
    }
  }
  if (!(parsed->role.ToValue() == parsed->envelope.signed_value)) {
    return Fail(file_name + ": typed model does not round-trip the signed object");
  }
  return {};
}

Status CheckKeyIds(const metadata::KeyMap& keys, const std::string& where,
                   std::set<std::string>* seen) {
  for (const auto& [keyid, key] : keys) {
    if (key.KeyId() != keyid) {
      return Fail(where + ": key listed as " + keyid + " has our key ID " + key.KeyId());
    }
    seen->insert(keyid);
  }
  return {};
}

class RepositoryVerifier {
 public:
  RepositoryVerifier(fs::path repo, Expected expected, UnixTime now)
      : repo_(std::move(repo)), expected_(std::move(expected)), now_(now) {}

  Status Run() {
    MDU_RETURN_IF_ERROR(LoadTopLevel());
    for (const auto& [path, want] : expected_.targets) {
      MDU_RETURN_IF_ERROR(VerifyTarget(path, want));
    }
    if (seen_keyids_ != expected_.keyids) {
      return Fail("key IDs found in verified metadata (" + std::to_string(seen_keyids_.size()) +
                  ") differ from the maker's (" + std::to_string(expected_.keyids.size()) + ")");
    }
    std::printf("verified %zu root versions, %zu targets roles, %zu targets, %zu key IDs\n",
                root_versions_, trusted_->targets_role_count(), expected_.targets.size(),
                seen_keyids_.size());
    return {};
  }

 private:
  Result<std::string> ReadMetadata(const std::string& name) {
    return ReadFile(repo_ / "metadata" / name);
  }

  Status LoadTopLevel() {
    // 5.2: the trust anchor is version 1 of root, shipped with the client.
    MDU_ASSIGN_OR_RETURN(std::string root_bytes, ReadMetadata("1.root.json"));
    MDU_RETURN_IF_ERROR(CheckFileForm<metadata::Root>("1.root.json", root_bytes, expected_));
    MDU_ASSIGN_OR_RETURN(trust::TrustedSet set, trust::TrustedSet::Create(root_bytes, now_));
    trusted_.emplace(std::move(set));
    MDU_RETURN_IF_ERROR(CheckKeyIds(trusted_->root().keys, "root v1", &seen_keyids_));
    root_versions_ = 1;
    // 5.3: walk the root chain until the next version does not exist.
    for (int64_t version = 2;; ++version) {
      const std::string name = std::to_string(version) + ".root.json";
      Result<std::string> bytes = ReadMetadata(name);
      if (!bytes && bytes.error().kind() == ErrorKind::kNotFound) {
        break;
      }
      if (!bytes) {
        return MakeError(bytes.error());
      }
      MDU_RETURN_IF_ERROR(CheckFileForm<metadata::Root>(name, *bytes, expected_));
      auto root = trusted_->UpdateRoot(*bytes);
      if (!root) {
        return MakeError(root.error().WithContext(name));
      }
      MDU_RETURN_IF_ERROR(CheckKeyIds((*root)->keys, name, &seen_keyids_));
      ++root_versions_;
    }
    // 5.4 - 5.6 for the top-level roles.
    MDU_ASSIGN_OR_RETURN(std::string ts_bytes, ReadMetadata("timestamp.json"));
    MDU_RETURN_IF_ERROR(CheckFileForm<metadata::Timestamp>("timestamp.json", ts_bytes, expected_));
    auto timestamp = trusted_->UpdateTimestamp(ts_bytes);
    if (!timestamp) {
      return MakeError(timestamp.error().WithContext("timestamp.json"));
    }

    const std::string snapshot_name =
        std::to_string((*timestamp)->snapshot_meta.version) + ".snapshot.json";
    MDU_ASSIGN_OR_RETURN(std::string snapshot_bytes, ReadMetadata(snapshot_name));
    MDU_RETURN_IF_ERROR(
        CheckFileForm<metadata::Snapshot>(snapshot_name, snapshot_bytes, expected_));
    auto snapshot = trusted_->UpdateSnapshot(snapshot_bytes);
    if (!snapshot) {
      return MakeError(snapshot.error().WithContext(snapshot_name));
    }

    auto targets = LoadRole("targets", "root");
    if (!targets) {
      return MakeError(targets.error());
    }
    return {};
  }

  // The delegation search's loader: each role is read once, at the version snapshot lists,
  // and verified by the trusted set against its delegator.
  Result<const metadata::Targets*> LoadRole(std::string_view role, std::string_view parent) {
    if (const metadata::Targets* loaded = trusted_->TargetsRole(role)) {
      return loaded;
    }
    const metadata::Snapshot& snapshot = *trusted_->snapshot();
    auto meta = snapshot.meta.find(std::string(role) + ".json");
    if (meta == snapshot.meta.end()) {
      return MakeError(ErrorKind::kBadMetadata, "snapshot does not list " + std::string(role));
    }
    const std::string name =
        std::to_string(meta->second.version) + "." + std::string(role) + ".json";
    MDU_ASSIGN_OR_RETURN(std::string bytes, ReadMetadata(name));
    MDU_RETURN_IF_ERROR(CheckFileForm<metadata::Targets>(name, bytes, expected_));
    auto verified = trusted_->UpdateDelegatedTargets(bytes, role, parent);
    if (!verified) {
      return MakeError(verified.error().WithContext(name));
    }
    if ((*verified)->delegations) {
      MDU_RETURN_IF_ERROR(CheckKeyIds((*verified)->delegations->keys,
                                      "delegations of " + std::string(role), &seen_keyids_));
    }
    return verified;
  }

  Status VerifyTarget(const std::string& path, const ExpectedTarget& want) {
    auto found = trust::FindTarget(path, [this](std::string_view role, std::string_view parent) {
      return LoadRole(role, parent);
    });
    if (!found) {
      return MakeError(found.error());
    }
    if (!found->has_value()) {
      return Fail("target " + path + " not found by the delegation search");
    }
    const trust::TargetMatch& match = **found;
    if (match.role != want.role) {
      return Fail("target " + path + " found in role " + match.role + ", expected " + want.role);
    }
    if (!(match.file.custom == want.custom)) {
      return Fail("target " + path + ": custom metadata differs: " +
                  json::Canonical(match.file.custom) + " vs " + json::Canonical(want.custom));
    }
    std::optional<std::string_view> sha256 = match.file.Sha256();
    if (!sha256) {
      return Fail("target " + path + " has no sha256");
    }
    // Consistent snapshot: targets are stored as <dir>/<sha256>.<name>.
    const fs::path relative(path);
    const fs::path stored = repo_ / "targets" / relative.parent_path() /
                            (std::string(*sha256) + "." + relative.filename().string());
    MDU_ASSIGN_OR_RETURN(std::string data, ReadFile(stored));
    return match.file.VerifyLengthAndHashes("target " + path, data);
  }

  fs::path repo_;
  Expected expected_;
  UnixTime now_;
  std::optional<trust::TrustedSet> trusted_;
  std::set<std::string> seen_keyids_;
  size_t root_versions_ = 0;
};

int Verify(const fs::path& repo, const std::string& expect_error) {
  // A tree made by node is absent when the node steps were skipped on purpose: skip as well.
  const char* skip = std::getenv("MDU_SKIP_INTEROP");
  std::error_code ec;
  if (skip != nullptr && std::string_view(skip) == "1" && !fs::exists(repo, ec)) {
    std::printf("MDU_SKIP_INTEROP=1 and %s does not exist: skipping\n", repo.c_str());
    return kExitSkipped;
  }
  Status status = [&]() -> Status {
    MDU_ASSIGN_OR_RETURN(Expected expected, LoadExpected(repo));
    RepositoryVerifier verifier(repo, std::move(expected), std::time(nullptr));
    return verifier.Run();
  }();
  if (expect_error.empty()) {
    if (status) {
      return 0;
    }
    std::fprintf(stderr, "verify %s: %s\n", repo.c_str(), status.error().ToString().c_str());
    return 1;
  }
  if (status) {
    std::fprintf(stderr, "verify %s: accepted, but expected an error of kind %s\n", repo.c_str(),
                 expect_error.c_str());
    return 1;
  }
  if (ErrorKindName(status.error().kind()) != expect_error) {
    std::fprintf(stderr, "verify %s: expected kind %s, got %s\n", repo.c_str(),
                 expect_error.c_str(), status.error().ToString().c_str());
    return 1;
  }
  std::printf("rejected as expected: %s\n", status.error().ToString().c_str());
  return 0;
}

// ------------------------------------------------------------------------------------------
// make

enum class Tamper { kNone, kTargetBytes, kTargetsMetadata };

struct Keys {
  crypto::PrivateKey root_a, root_b, root_c, timestamp, snapshot, targets, product_b, bins;
};

Result<Keys> GenerateKeys() {
  using crypto::KeyScheme;
  using crypto::PrivateKey;
  MDU_ASSIGN_OR_RETURN(PrivateKey root_a, PrivateKey::Generate(KeyScheme::kEd25519));
  MDU_ASSIGN_OR_RETURN(PrivateKey root_b, PrivateKey::Generate(KeyScheme::kEcdsaP256));
  MDU_ASSIGN_OR_RETURN(PrivateKey root_c, PrivateKey::Generate(KeyScheme::kRsaPssSha256));
  MDU_ASSIGN_OR_RETURN(PrivateKey timestamp, PrivateKey::Generate(KeyScheme::kEd25519));
  MDU_ASSIGN_OR_RETURN(PrivateKey snapshot, PrivateKey::Generate(KeyScheme::kEcdsaP256));
  MDU_ASSIGN_OR_RETURN(PrivateKey targets, PrivateKey::Generate(KeyScheme::kEd25519));
  MDU_ASSIGN_OR_RETURN(PrivateKey product_b, PrivateKey::Generate(KeyScheme::kEd25519));
  MDU_ASSIGN_OR_RETURN(PrivateKey bins, PrivateKey::Generate(KeyScheme::kRsaPssSha256));
  return Keys{std::move(root_a),   std::move(root_b),  std::move(root_c),    std::move(timestamp),
              std::move(snapshot), std::move(targets), std::move(product_b), std::move(bins)};
}

struct TargetSpec {
  std::string role;
  std::string path;
  std::string content;
  json::Value custom;
};

std::vector<TargetSpec> TargetSpecs() {
  using json::Value;
  return {
      {"targets", "pump/firmware-3.0.0.bin", "infusion pump firmware 3.0.0\n",
       Value::MakeObject({{"version", "3.0.0"},
                          {"hardware_ids", json::Array{"pump-x1", "pump-x2"}},
                          {"min_installed_version", "2.4.0"},
                          {"installer", "a-b-partition"},
                          {"sbom", "pump/sbom-3.0.0.spdx.json"},
                          {"end_of_support", "2032-06-30"},
                          {"security_version", 7}})},
      {"targets", "pump/sbom-3.0.0.spdx.json", "{\"spdxVersion\":\"SPDX-2.3\"}\n",
       Value::MakeObject({{"sbom_for", "pump/firmware-3.0.0.bin"}})},
      {"targets", "notes.txt", "release notes without custom metadata\n", Value()},
      {"product-b", "product-b/monitor-1.1.0.bin", "patient monitor 1.1.0\n",
       Value::MakeObject({{"version", "1.1.0"}, {"hardware_ids", json::Array{"mon-b"}}})},
      {"bins", "imaging/console-8.0.0.tar", "imaging console 8\n",
       Value::MakeObject({{"version", "8.0.0"}})},
  };
}

metadata::TargetFile MakeTargetFile(const TargetSpec& spec) {
  metadata::TargetFile file;
  file.length = static_cast<int64_t>(spec.content.size());
  file.hashes = {{"sha256", crypto::DigestHex(crypto::HashAlgorithm::kSha256, spec.content)},
                 {"sha512", crypto::DigestHex(crypto::HashAlgorithm::kSha512, spec.content)}};
  file.custom = spec.custom;
  return file;
}

metadata::KeyRole RoleOf(std::initializer_list<const crypto::PrivateKey*> keys, int64_t threshold) {
  metadata::KeyRole role;
  for (const crypto::PrivateKey* key : keys) {
    role.keyids.push_back(key->public_key().KeyId());
  }
  role.threshold = threshold;
  return role;
}

void AddKeys(metadata::KeyMap* map, std::initializer_list<const crypto::PrivateKey*> keys) {
  for (const crypto::PrivateKey* key : keys) {
    map->emplace(key->public_key().KeyId(), key->public_key());
  }
}

template <class T>
Result<std::string> SignAll(metadata::Metadata<T>& md,
                            std::initializer_list<const crypto::PrivateKey*> signers) {
  for (const crypto::PrivateKey* key : signers) {
    MDU_RETURN_IF_ERROR(metadata::Sign(md.envelope, *key));
  }
  return md.envelope.Serialize();
}

metadata::MetaFile MetaFor(int64_t version, std::string_view bytes) {
  metadata::MetaFile meta;
  meta.version = version;
  meta.length = static_cast<int64_t>(bytes.size());
  meta.hashes = {{"sha256", crypto::Sha256Hex(bytes)}};
  return meta;
}

class RepositoryWriter {
 public:
  explicit RepositoryWriter(fs::path repo) : repo_(std::move(repo)) {}

  Status WriteMetadata(const std::string& name, std::string_view bytes) {
    MDU_RETURN_IF_ERROR(io::CreateDirectories(repo_ / "metadata"));
    return io::WriteFileAtomically(repo_ / "metadata" / name, bytes);
  }

  Status WriteTarget(const std::string& path, std::string_view sha256, std::string_view content) {
    const fs::path relative(path);
    const fs::path dir = repo_ / "targets" / relative.parent_path();
    MDU_RETURN_IF_ERROR(io::CreateDirectories(dir));
    return io::WriteFileAtomically(dir / (std::string(sha256) + "." + relative.filename().string()),
                                   content);
  }

 private:
  fs::path repo_;
};

Status MakeRepository(const Keys& keys, const fs::path& repo, Tamper tamper) {
  RepositoryWriter writer(repo);
  const UnixTime expires = std::time(nullptr) + int64_t{365} * 24 * 3600;
  const std::vector<TargetSpec> specs = TargetSpecs();

  // Root v1 (one ed25519 key) and v2 (ecdsa + rsa, threshold 2), v2 signed by old and new.
  auto make_root = [&](int64_t version, metadata::KeyRole root_role,
                       std::initializer_list<const crypto::PrivateKey*> root_keys) {
    metadata::Root root;
    root.common.version = version;
    root.common.expires = expires;
    root.consistent_snapshot = true;
    AddKeys(&root.keys, root_keys);
    AddKeys(&root.keys, {&keys.timestamp, &keys.snapshot, &keys.targets});
    root.roles["root"] = std::move(root_role);
    root.roles["timestamp"] = RoleOf({&keys.timestamp}, 1);
    root.roles["snapshot"] = RoleOf({&keys.snapshot}, 1);
    root.roles["targets"] = RoleOf({&keys.targets}, 1);
    root.unknown.emplace_back("x-mdu-note", "made by mdu interop_tool");
    return metadata::MakeMetadata(std::move(root));
  };
  auto root1 = make_root(1, RoleOf({&keys.root_a}, 1), {&keys.root_a});
  MDU_ASSIGN_OR_RETURN(std::string root1_bytes, SignAll(root1, {&keys.root_a}));
  MDU_RETURN_IF_ERROR(writer.WriteMetadata("1.root.json", root1_bytes));
  auto root2 = make_root(2, RoleOf({&keys.root_b, &keys.root_c}, 2), {&keys.root_b, &keys.root_c});
  MDU_ASSIGN_OR_RETURN(std::string root2_bytes,
                       SignAll(root2, {&keys.root_a, &keys.root_b, &keys.root_c}));
  MDU_RETURN_IF_ERROR(writer.WriteMetadata("2.root.json", root2_bytes));

  // Targets roles.
  std::map<std::string, metadata::Targets> roles;
  for (const std::string name : {"targets", "product-b", "bins"}) {
    metadata::Targets role;
    role.common.expires = expires;
    roles[name] = std::move(role);
  }
  for (const TargetSpec& spec : specs) {
    metadata::TargetFile file = MakeTargetFile(spec);
    std::string content = spec.content;
    if (tamper == Tamper::kTargetBytes && spec.path == "pump/firmware-3.0.0.bin") {
      content[0] = static_cast<char>(content[0] ^ 0x01);
    }
    MDU_RETURN_IF_ERROR(writer.WriteTarget(spec.path, *file.Sha256(), content));
    roles[spec.role].targets.emplace(spec.path, std::move(file));
  }
  metadata::Delegations delegations;
  AddKeys(&delegations.keys, {&keys.product_b, &keys.bins});
  metadata::DelegatedRole product_b;
  product_b.name = "product-b";
  product_b.keys = RoleOf({&keys.product_b}, 1);
  product_b.terminating = true;
  product_b.paths = std::vector<std::string>{"product-b/*"};
  metadata::DelegatedRole bins;
  bins.name = "bins";
  bins.keys = RoleOf({&keys.bins}, 1);
  const std::string prefix = crypto::Sha256Hex("imaging/console-8.0.0.tar").substr(0, 2);
  bins.path_hash_prefixes = std::vector<std::string>{prefix};
  delegations.roles = std::vector<metadata::DelegatedRole>{product_b, bins};
  roles["targets"].delegations = std::move(delegations);

  metadata::Snapshot snapshot;
  snapshot.common.expires = expires;
  const std::map<std::string, const crypto::PrivateKey*> signer_of = {
      {"targets", &keys.targets}, {"product-b", &keys.product_b}, {"bins", &keys.bins}};
  for (auto& [name, role] : roles) {
    auto md = metadata::MakeMetadata(role);
    MDU_ASSIGN_OR_RETURN(std::string bytes, SignAll(md, {signer_of.at(name)}));
    if (tamper == Tamper::kTargetsMetadata && name == "targets") {
      // Change one hex digit of a listed hash but keep the targets key's signature.
      auto& hashes = role.targets.at("pump/firmware-3.0.0.bin").hashes;
      std::string& digest = hashes.front().second;
      digest[0] = digest[0] == '0' ? '1' : '0';
      md.envelope.signed_value = role.ToValue();
      bytes = md.envelope.Serialize();
    }
    MDU_RETURN_IF_ERROR(writer.WriteMetadata("1." + name + ".json", bytes));
    snapshot.meta.emplace(name + ".json", MetaFor(1, bytes));
  }
  auto snapshot_md = metadata::MakeMetadata(std::move(snapshot));
  MDU_ASSIGN_OR_RETURN(std::string snapshot_bytes, SignAll(snapshot_md, {&keys.snapshot}));
  MDU_RETURN_IF_ERROR(writer.WriteMetadata("1.snapshot.json", snapshot_bytes));

  metadata::Timestamp timestamp;
  timestamp.common.expires = expires;
  timestamp.snapshot_meta = MetaFor(1, snapshot_bytes);
  auto timestamp_md = metadata::MakeMetadata(std::move(timestamp));
  MDU_ASSIGN_OR_RETURN(std::string timestamp_bytes, SignAll(timestamp_md, {&keys.timestamp}));
  MDU_RETURN_IF_ERROR(writer.WriteMetadata("timestamp.json", timestamp_bytes));

  // expected.json, in the format tufjs_make_repo.js writes.
  json::Array keyids;
  for (const crypto::PrivateKey* key :
       {&keys.root_a, &keys.root_b, &keys.root_c, &keys.timestamp, &keys.snapshot, &keys.targets,
        &keys.product_b, &keys.bins}) {
    keyids.emplace_back(key->public_key().KeyId());
  }
  json::Object targets;
  for (const TargetSpec& spec : specs) {
    metadata::TargetFile file = MakeTargetFile(spec);
    targets.emplace_back(spec.path, json::Value::MakeObject({
                                        {"role", spec.role},
                                        {"length", file.length},
                                        {"sha256", std::string(*file.Sha256())},
                                        {"custom", spec.custom},
                                    }));
  }
  json::Value expected = json::Value::MakeObject(
      {{"keyids", std::move(keyids)}, {"targets", json::Value::MakeObject(std::move(targets))}});
  return io::WriteFileAtomically(repo / "expected.json", json::Serialize(expected, 2));
}

int Make(const fs::path& out) {
  Status status = [&]() -> Status {
    std::error_code ec;
    fs::remove_all(out, ec);
    if (ec) {
      return MakeError(ErrorKind::kIo, out.string() + ": " + ec.message());
    }
    MDU_ASSIGN_OR_RETURN(Keys keys, GenerateKeys());
    MDU_RETURN_IF_ERROR(MakeRepository(keys, out / "good", Tamper::kNone));
    MDU_RETURN_IF_ERROR(MakeRepository(keys, out / "tampered-target", Tamper::kTargetBytes));
    return MakeRepository(keys, out / "tampered-metadata", Tamper::kTargetsMetadata);
  }();
  if (!status) {
    std::fprintf(stderr, "make %s: %s\n", out.c_str(), status.error().ToString().c_str());
    return 1;
  }
  std::printf("repositories written to %s\n", out.c_str());
  return 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: interop_tool verify <repo_dir> [--expect-error <kind>]\n"
               "       interop_tool make <out_dir>\n");
  return 2;
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "make") {
    return Make(fs::path(args[1]));
  }
  if (args.size() == 2 && args[0] == "verify") {
    return Verify(fs::path(args[1]), "");
  }
  if (args.size() == 4 && args[0] == "verify" && args[2] == "--expect-error") {
    return Verify(fs::path(args[1]), std::string(args[3]));
  }
  return Usage();
}

}  // namespace mdu::interop

int main(int argc, char** argv) { return mdu::interop::Main(argc, argv); }
