// The signing workspace: the directory in which a release engineer prepares a TUF repository.
//
// Layout (all JSON written with io::WriteFileAtomically through a FileTransaction):
//   workspace.json     policy and bookkeeping: {"format": "mdu-signer-workspace", "version": 1,
//                      "expiry_days": {"root", "targets", "snapshot", "timestamp"},
//                      "consistent_snapshot": true, "published": {"root": N, "targets": N,
//                      "snapshot": N, "timestamp": N, "roles": {"<delegated>": N}}}
//   metadata/root.json, metadata/targets.json, metadata/<delegated role>.json
//                      the staged envelope of each role (signed or waiting for signatures)
//   targets/<sha256>   content-addressed blobs of every target ever added
//   history/           every published metadata file (N.root.json, N.targets.json,
//                      N.<role>.json, N.snapshot.json) and the last timestamp.json. The root
//                      chain is never deleted: it is what old devices walk to reach today's root.
//   withdrawn.json     {"withdrawn": [{"name", "role", "sha256", "version", "reason", "time",
//                      "by"}]}
//   .lock              flock(2) target serializing signer commands (workspace_lock.h)
//   tmp/               temporaries of a save or add-target in progress; journal.json while a
//                      save is being applied (file_transaction.h)
//
// Versions: a role changed after it was last published gets version published + 1 and a fresh
// expiry at the moment of the change (before signing, since the version is part of what is
// signed); further changes before the next publish keep that version. Any change to a role's
// signed content drops its signatures. Snapshot and timestamp only exist at publish time.
//
// Every command loads a Workspace, changes it in memory and calls Save(), which writes all
// changed files in one FileTransaction: any error before Save (bad input, wrong passphrase,
// unauthorized key) or inside Save leaves the directory exactly as it was, and a crash inside
// Save leaves it as it was or fully saved (the next Open completes the save from its journal).
//
// Ownership: a Workspace owns its in-memory state; pointers returned by accessors stay valid
// until the next mutating call. Not thread-safe.
#ifndef MDU_SIGNER_REPO_WORKSPACE_H_
#define MDU_SIGNER_REPO_WORKSPACE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "core/json/value.h"
#include "core/metadata/metadata.h"
#include "signer/repo/file_transaction.h"
#include "signer/repo/workspace_lock.h"

namespace mdu::signer::repo {

using metadata::UnixTime;

inline constexpr std::string_view kWorkspaceFormat = "mdu-signer-workspace";
inline constexpr int64_t kSecondsPerDay = 86400;
// Metadata files we read back from our own workspace (a 100,000-target role is ~40 MiB).
inline constexpr uint64_t kMaxMetadataBytes = 512u << 20;

struct ExpiryPolicy {
  int64_t root_days = 365;
  int64_t targets_days = 90;  // also delegated roles
  int64_t snapshot_days = 7;
  int64_t timestamp_days = 1;

  // Days for a role name ("root", "targets", "snapshot", "timestamp" or a delegated role).
  int64_t DaysFor(std::string_view role) const;
};

// Keys and threshold of one top-level role, for `init`.
struct RoleKeys {
  std::vector<crypto::PublicKey> keys;
  int64_t threshold = 1;
};

struct InitSpec {
  RoleKeys root, targets, snapshot, timestamp;
  ExpiryPolicy expiry;
  bool consistent_snapshot = true;
};

// Versions last published, 0 when never published.
struct PublishedVersions {
  int64_t root = 0;
  int64_t targets = 0;
  int64_t snapshot = 0;
  int64_t timestamp = 0;
  std::map<std::string, int64_t, std::less<>> roles;  // delegated roles
};

// The keys and threshold that must sign a role, as its delegator lists them.
struct Authorization {
  metadata::KeyMap keys;  // only the authorized keys
  metadata::KeyRole role;
};

// Hash bins (TAP 15 succinct delegation): up to 2^16 bins are all created (and published) when
// delegated; with a larger bit_length (up to TUF's 32) only the bins that receive a target are
// created, so a repository never holds millions of empty roles (see delegation.h).
inline constexpr int kMaxEagerBinBitLength = 16;

// Delegated role names become file names: 1 to 64 of [A-Za-z0-9._-], starting with a letter or
// digit, and none of the four top-level names.
Status ValidateRoleName(std::string_view name);

class Workspace {
 public:
  // Creates a new workspace in `dir` (created if missing; refused if it already holds a
  // workspace.json): root version 1 with the given keys, an empty targets role version 1.
  // Holds the exclusive workspace lock (see workspace_lock.h) until destroyed.
  static Result<Workspace> Init(const std::filesystem::path& dir, const InitSpec& spec,
                                UnixTime now, LockMode lock = LockMode::kExclusive);
  // Loads the workspace in `dir`; kNotFound (saying to run `signer init`) if there is none.
  // Takes the workspace lock first (kExclusive for commands that Save, kShared for read-only
  // ones; kPolicy naming the holder if another command has it) and keeps it until destroyed;
  // then completes a save interrupted by a crash (file_transaction.h) before reading anything.
  static Result<Workspace> Open(const std::filesystem::path& dir,
                                LockMode lock = LockMode::kExclusive);

  Workspace(Workspace&&) noexcept = default;
  Workspace& operator=(Workspace&&) noexcept = default;
  // Deletes the temporary files of blobs adopted but never saved.
  ~Workspace();

  const std::filesystem::path& dir() const { return dir_; }
  const ExpiryPolicy& expiry() const { return expiry_; }
  const PublishedVersions& published() const { return published_; }

  const metadata::Metadata<metadata::Root>& root() const { return root_; }
  // "targets" or a delegated role; nullptr if there is no such role.
  const metadata::Metadata<metadata::Targets>* TargetsRole(std::string_view name) const;
  // Every targets role: "targets" first, then delegated roles by name.
  std::vector<std::string> TargetsRoleNames() const;
  // The targets role that delegates `name` ("targets" or a delegated role); empty if none.
  std::string DelegatorOf(std::string_view name) const;
  // The hash bins named `prefix`, nullptr if no role delegates to such bins.
  const metadata::SuccinctRoles* FindBins(std::string_view prefix) const;
  // The bins of `bins` that exist in this workspace, by name.
  std::vector<std::string> ExistingBins(const metadata::SuccinctRoles& bins) const;

  // Who must sign `role`: "root", "targets", "snapshot", "timestamp" from the staged root; a
  // delegated role from its delegator. For root during a rotation, see PreviousRoot().
  Result<Authorization> AuthorizationFor(std::string_view role) const;
  // The last published root, when the staged root is a new version (rotation): its root keys
  // and threshold must also sign the staged root. nullptr otherwise.
  const metadata::Root* PreviousRoot() const { return previous_root_.get(); }

  // Mutations. The callback edits a copy of the typed role; if the result differs, the role
  // gets its next version and a fresh expiry, its signatures are dropped and it is marked for
  // Save. The callback's error aborts the edit and nothing changes.
  template <class Fn>
  Status EditTargets(std::string_view role, UnixTime now, Fn&& edit);
  template <class Fn>
  Status EditRoot(UnixTime now, Fn&& edit);
  // Gives a role its next version and a fresh expiry even though its content did not change
  // (signatures dropped): after its keys were rotated, or to renew an expiring role. A role
  // already changed since the last publish only gets the fresh expiry.
  Status Renew(std::string_view role, UnixTime now);
  // Adds an empty delegated role (version 1, or published + 1 if it was published before).
  Status CreateDelegatedRole(const std::string& name, UnixTime now);
  // Replaces the signatures of a role's staged envelope (signing, merging); the signed content
  // cannot change this way.
  Status SetSignatures(std::string_view role, std::vector<metadata::Signature> signatures);
  const metadata::Envelope* EnvelopeOf(std::string_view role) const;

  json::Array& withdrawn() {
    withdrawn_dirty_ = true;
    return withdrawn_;
  }
  const json::Array& withdrawn_records() const { return withdrawn_; }

  // A target blob streamed by the caller into a temporary file below dir()/tmp; renamed to
  // targets/<sha256> on Save (or deleted if Save is never reached).
  void AdoptBlob(const std::filesystem::path& temp, const std::string& sha256);
  // Where the bytes of blob `sha256` are now: its temporary file until Save, then
  // targets/<sha256>.
  std::filesystem::path BlobPath(std::string_view sha256) const;

  // Records a successful publish: the published versions and the new history files.
  void RecordPublish(PublishedVersions versions,
                     std::vector<std::pair<std::string, std::string>> history_files);

  // Writes every change since Open/Init in one transaction (crash-atomic). Refused for a
  // workspace opened with a shared lock.
  Status Save();

 private:
  Workspace() = default;
  // Loads the last published root when the staged root is newer (a rotation in progress).
  Status LoadPreviousRoot();
  Status LoadDelegatedRoles(const metadata::Targets& delegator, int depth);
  Status Refresh(std::string_view role, UnixTime now, const json::Value& before,
                 metadata::Envelope* envelope, metadata::CommonFields* common, json::Value after);
  int64_t NextVersion(std::string_view role) const;
  json::Value ConfigToValue() const;
  void NoteDelegations(const std::string& role, bool delegates);

  WorkspaceLock lock_;  // first member: released last
  std::filesystem::path dir_;
  ExpiryPolicy expiry_;
  bool consistent_snapshot_ = true;
  PublishedVersions published_;
  metadata::Metadata<metadata::Root> root_;
  std::unique_ptr<metadata::Root> previous_root_;
  std::map<std::string, metadata::Metadata<metadata::Targets>, std::less<>> targets_;
  std::set<std::string, std::less<>> delegating_;  // roles with delegations (lookup index)
  json::Array withdrawn_;

  std::set<std::string, std::less<>> dirty_roles_;
  bool config_dirty_ = false;
  bool withdrawn_dirty_ = false;
  bool create_layout_ = false;  // Init: targets/ and history/ exist from the start
  std::map<std::string, std::string, std::less<>> blobs_;     // sha256 -> temp path (unsaved)
  std::vector<std::pair<std::string, std::string>> history_;  // file name, bytes
};

// ---- template implementations --------------------------------------------------------------

template <class Fn>
Status Workspace::EditTargets(std::string_view role, UnixTime now, Fn&& edit) {
  auto it = targets_.find(role);
  if (it == targets_.end()) {
    return MakeError(ErrorKind::kNotFound, "no targets role \"" + std::string(role) +
                                               "\" in this workspace (see `signer status`)");
  }
  metadata::Targets copy = it->second.role;
  MDU_RETURN_IF_ERROR(edit(copy));
  json::Value after = copy.ToValue();
  MDU_RETURN_IF_ERROR(Refresh(role, now, it->second.envelope.signed_value, &it->second.envelope,
                              &copy.common, std::move(after)));
  it->second.role = std::move(copy);
  NoteDelegations(it->first, it->second.role.delegations.has_value());
  return {};
}

template <class Fn>
Status Workspace::EditRoot(UnixTime now, Fn&& edit) {
  metadata::Root copy = root_.role;
  MDU_RETURN_IF_ERROR(edit(copy));
  json::Value after = copy.ToValue();
  MDU_RETURN_IF_ERROR(Refresh("root", now, root_.envelope.signed_value, &root_.envelope,
                              &copy.common, std::move(after)));
  root_.role = std::move(copy);
  return LoadPreviousRoot();
}

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_WORKSPACE_H_
