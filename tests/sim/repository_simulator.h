// RepositorySimulator: an in-memory TUF repository for tests and benchmarks, in the spirit of
// python-tuf's tests/repository_simulator.py. It generates its own ed25519 keys, builds and
// signs metadata with the core metadata API, serves the files a real server would
// (N.root.json, timestamp.json, N.snapshot.json, N.targets.json, N.<role>.json and targets as
// <dir>/<sha256>.<name>) and is itself the client's Fetcher.
//
// Tests mutate the public state (versions, expiry, keys, thresholds, served bytes) and then
// republish: PublishRoot / BumpRoot for root, UpdateSnapshot (publishes every targets role at its
// current version, bumps snapshot, then timestamp) or UpdateTimestamp alone.
//
// Failure policy: this is test infrastructure; a failure of key generation or signing is a
// broken environment and aborts with a message (the code under test never runs here).
// Thread-safety: none.
#ifndef MDU_TESTS_SIM_REPOSITORY_SIMULATOR_H_
#define MDU_TESTS_SIM_REPOSITORY_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/client/fetcher.h"
#include "core/crypto/keys.h"
#include "core/metadata/metadata.h"

namespace mdu::sim {

// The simulated "now" (2025-01-01T00:00:00Z) and the default expiry a year later.
inline constexpr metadata::UnixTime kNow = 1735689600;
inline constexpr metadata::UnixTime kDefaultExpires = kNow + 365 * 86400;

using KeyList = std::vector<std::shared_ptr<crypto::PrivateKey>>;

class RepositorySimulator final : public client::Fetcher {
 public:
  static constexpr std::string_view kMetadataUrl = "https://sim.test/metadata";
  static constexpr std::string_view kTargetsUrl = "https://sim.test/targets";

  // Root v1 (consistent snapshots), timestamp v1, snapshot v1, targets v1, all published, each
  // role with one fresh ed25519 key and threshold 1.
  RepositorySimulator();

  // ---- state, freely mutable by tests ----
  metadata::Root root;
  metadata::Timestamp timestamp;
  metadata::Snapshot snapshot;
  std::map<std::string, metadata::Targets, std::less<>> roles;  // "targets" and delegated roles
  std::map<std::string, KeyList, std::less<>> signers;          // role name -> keys that sign it
  // Whether timestamp/snapshot meta carry length and sha256 (python-tuf's sim default: no).
  bool meta_with_hashes = true;
  // Served files by path below https://sim.test/ ("metadata/1.root.json", "targets/a/<h>.b").
  std::map<std::string, std::string, std::less<>> files;

  // The targets role `name`; aborts if there is none.
  metadata::Targets& Role(std::string_view name);
  const metadata::Targets& Role(std::string_view name) const;

  // ---- building ----
  // Adds a target file to `role` (length, sha256, sha512) and serves its content.
  void AddTarget(std::string_view role, std::string_view path, std::string_view content,
                 json::Value custom = {});
  // Delegates `name` from `parent` with a fresh key. Use paths or hash prefixes.
  void AddDelegation(std::string_view parent, std::string_view name, std::vector<std::string> paths,
                     bool terminating = false,
                     std::optional<std::vector<std::string>> path_hash_prefixes = std::nullopt);
  // TAP 15: delegates 2^bit_length bins "<prefix>-<hex>" from `parent`, one shared key.
  void AddSuccinctDelegation(std::string_view parent, int bit_length, std::string_view prefix);
  // Authorizes one more fresh key for `role` (in root for top-level roles, else in the parent's
  // delegation) and signs with it too. Returns the key.
  std::shared_ptr<crypto::PrivateKey> AddKey(std::string_view role);
  // Replaces all keys of `role` by one fresh key. For "root", the old root keys also sign the
  // next published root (5.3.3 needs both thresholds) and are then dropped.
  void RotateKeys(std::string_view role);
  // The next PublishRoot is signed by the new root keys only (after RotateKeys("root")): a root
  // that breaks 5.3.3 (1).
  void ForgetOldRootKeys() { old_root_signers_.clear(); }
  // A fresh key that nothing trusts (for "signed by the wrong key" attacks).
  static std::shared_ptr<crypto::PrivateKey> NewKey();

  // ---- publishing ----
  void PublishRoot();  // signs and serves root at its current version as N.root.json
  void BumpRoot();     // root version + 1, then PublishRoot
  // Serves every targets role at its current version, bumps snapshot's version, updates its
  // meta, serves it, then UpdateTimestamp().
  void UpdateSnapshot();
  // Bumps timestamp's version, points it at the last served snapshot, signs and serves it.
  void UpdateTimestamp();
  // Signs any role's typed metadata with the current signers of `role_name`, without serving.
  std::string SignRole(std::string_view role_name);

  // The served bytes of a metadata file, e.g. MetadataFile("1.root.json"); aborts if absent.
  const std::string& MetadataFile(std::string_view name) const;
  std::string& MutableMetadataFile(std::string_view name);
  // Download URL of a target as the updater builds it (consistent snapshot).
  std::string TargetPath(std::string_view role, std::string_view path) const;

  // ---- serving (client::Fetcher) ----
  // Fails every fetch of `path` with `kind` (kDownload, kSlowRetrieval, kNotFound, ...).
  void SetFetchError(std::string_view path, ErrorKind kind);
  // Serves `path` as an endless stream of bytes (endless-data attack).
  void SetEndless(std::string_view path);
  void ClearFetchOverrides();
  int FetchCount(std::string_view path) const;  // requests so far for path
  int TotalFetches() const;
  void ResetFetchCounts() { fetch_counts_.clear(); }

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override;

 private:
  std::shared_ptr<crypto::PrivateKey> AuthorizeNewKey(std::string_view role);
  std::string SignEnvelope(metadata::Envelope& envelope, std::string_view role_name);
  std::string PublishTargetsRole(const std::string& role_name);

  std::map<std::string, std::string, std::less<>> parents_;  // delegated role -> delegator
  KeyList old_root_signers_;
  std::map<std::string, ErrorKind, std::less<>> fetch_errors_;
  std::map<std::string, bool, std::less<>> endless_;
  std::map<std::string, int, std::less<>> fetch_counts_;
  std::string last_snapshot_bytes_;
};

// Aborts with the error message unless `result` holds a value; for test setup only.
[[noreturn]] void Die(std::string_view what, const Error& error);
template <class T>
T Must(Result<T> result, std::string_view what) {
  if (!result) Die(what, result.error());
  return std::move(result).value();
}
inline void Must(Status status, std::string_view what) {
  if (!status) Die(what, status.error());
}

}  // namespace mdu::sim

#endif  // MDU_TESTS_SIM_REPOSITORY_SIMULATOR_H_
