// Adding, removing and withdrawing targets in a workspace's targets roles.
//
// Custom metadata written under each target's `custom`:
//   "version": "<release version>", "hardware_ids": ["..."],
//   "min_installed_version": "...", "security_version": N, "installer": "...",
//   "end_of_support": "YYYY-MM-DD", "sbom": {"name": "<name>.sbom.json", "sha256": "..."}
// An SBOM (CycloneDX or SPDX JSON) is a target of its own, `<name>.sbom.json`, with custom
// {"sbom_for": "<name>", "sbom_format": "CycloneDX"|"SPDX"}.
//
// Every function changes the Workspace in memory only; the caller saves it. On error nothing in
// the Workspace changed and no temporary blob is left behind.
#ifndef MDU_SIGNER_REPO_TARGETS_EDITOR_H_
#define MDU_SIGNER_REPO_TARGETS_EDITOR_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "signer/repo/ingest.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo {

struct TargetSource {
  std::filesystem::path file;
  std::string name;  // the TUF target path
};

struct ReleaseInfo {
  std::string version;                    // required
  std::vector<std::string> hardware_ids;  // at least one
  std::optional<std::string> min_installed_version;
  std::optional<int64_t> security_version;  // >= 0
  std::optional<std::string> installer;
  std::optional<std::string> end_of_support;  // YYYY-MM-DD
};

struct AddTargetsSpec {
  std::vector<TargetSource> sources;
  ReleaseInfo release;
  std::optional<std::filesystem::path> sbom;  // only with exactly one source
  // "targets", a delegated role, or the name prefix of hashed bins (each target then goes to
  // its bin).
  std::string role = "targets";
  bool replace = false;  // allow a name already listed with different content or metadata
  unsigned threads = 0;
  ProgressCallback progress;
  UnixTime now = 0;
};

struct AddedTarget {
  std::string name;
  std::string role;
  uint64_t length = 0;
  std::string sha256;
  bool unchanged = false;  // already listed exactly like this
};

// Targets named after a single file: `name` if given, else the file's base name.
Result<TargetSource> SourceForFile(const std::filesystem::path& file, const std::string& name);
// Every regular file below `dir`, named "<prefix>/<relative path>" (no prefix: relative path),
// in sorted order. Symbolic links are refused (a release must not depend on where they point).
Result<std::vector<TargetSource>> SourcesForDirectory(const std::filesystem::path& dir,
                                                      const std::string& prefix);

Result<std::vector<AddedTarget>> AddTargets(Workspace& ws, const AddTargetsSpec& spec);

struct RemovedTarget {
  std::string name;
  std::string role;
  metadata::TargetFile file;
  std::string sbom_removed;  // the SBOM target removed with it, if any
};
// Removes `name` from whichever targets role lists it. kNotFound if none does. Its SBOM target
// (custom.sbom.name) goes too unless another target still references it.
Result<RemovedTarget> RemoveTarget(Workspace& ws, const std::string& name, UnixTime now);
// Removes `name` (and its SBOM, as RemoveTarget) and appends a record (name, role, sha256,
// length, version, reason, sbom_removed, time, by) to withdrawn.json. `reason` must not be empty.
Result<RemovedTarget> WithdrawTarget(Workspace& ws, const std::string& name,
                                     const std::string& reason, const std::string& by,
                                     UnixTime now);

// "YYYY-MM-DD" with a valid month and day.
Status ValidateDate(std::string_view date);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_TARGETS_EDITOR_H_
