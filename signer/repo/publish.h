// Publishing: turns a fully signed workspace into the standard static TUF tree.
//
//   <out>/metadata/N.root.json        every root version (the chain devices walk)
//   <out>/metadata/N.targets.json     every published version of targets,
//   <out>/metadata/N.<role>.json      of each delegated role,
//   <out>/metadata/N.snapshot.json    and of snapshot
//   <out>/metadata/timestamp.json     the latest timestamp only
//   <out>/targets/<dir>/<sha256>.<basename>   every target currently listed
//
// Steps: refuse unless every staged role meets its threshold (root: the previous root's too)
// and every earlier root generation reaches the staged root (rehearsal), listing what is
// missing; generate and sign snapshot (version + 1, meta of every targets role with length and
// sha256) and timestamp (version + 1); write the whole tree into a temporary sibling directory
// (metadata and blobs hard-linked from the workspace's history and targets where possible);
// verify it as a device would (core trust::TrustedSet from 1.root.json through the chain,
// timestamp, snapshot, every targets role, each target's blob and length); sync; then swap it
// into place atomically (renameat2 RENAME_EXCHANGE; plain rename when <out> does not exist)
// and delete the old tree. Only then the workspace records the published versions and keeps
// the new metadata in history/. Any failure before the swap leaves <out> and the workspace
// untouched.
#ifndef MDU_SIGNER_REPO_PUBLISH_H_
#define MDU_SIGNER_REPO_PUBLISH_H_

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo {

// Progress of the long steps of a publish: `stage` ("linking targets", "verifying targets"),
// `done` of `total` items. Called from the publishing thread.
using PublishProgressCallback =
    std::function<void(std::string_view stage, size_t done, size_t total)>;

struct PublishOptions {
  std::filesystem::path out;
  // At least the role's threshold of distinct keys, each authorized by the root being
  // published; snapshot and timestamp are signed by all of them.
  std::vector<const crypto::Signer*> snapshot_signers;
  std::vector<const crypto::Signer*> timestamp_signers;
  UnixTime now = 0;
  PublishProgressCallback progress;  // optional
};

struct PublishReport {
  PublishedVersions versions;
  std::vector<std::string> new_files;  // metadata file names written by this publish
  size_t target_count = 0;
};

// kUnsignedMetadata listing everything missing; kPolicy for an unauthorized snapshot/timestamp
// key or stranded root generations; kIo for file system errors. Saves the workspace on success.
Result<PublishReport> Publish(Workspace& ws, const PublishOptions& options);

// Verifies a published tree as a device trusting `trusted_root_bytes` would: root chain,
// timestamp, snapshot, targets and every delegated role the snapshot lists, and that each
// listed target's file exists with the listed length. Returns the number of targets.
Result<size_t> VerifyPublishedTree(const std::filesystem::path& tree,
                                   std::string_view trusted_root_bytes, UnixTime now,
                                   const PublishProgressCallback& progress = nullptr);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_PUBLISH_H_
