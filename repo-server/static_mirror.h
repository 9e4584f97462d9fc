// StaticMirror: materializes the published repository as the standard TUF static tree, so nginx
// or a CDN can serve the same signed repository to any TUF client (DESIGN.md section 3, scale):
//
//   <dir>/current -> generations/<G>          symlink, replaced atomically by rename(2)
//   <dir>/generations/<G>/metadata/N.root.json, timestamp.json, N.snapshot.json,
//                                 N.targets.json, N.<delegated role>.json   (every stored version)
//   <dir>/generations/<G>/targets/<dir>/<sha256>.<base name>                (current targets)
//
// A reader following `current` sees one complete generation, never a mix. Target files that the
// previous generation already has are hard-linked, not copied, so a timestamp re-signing costs
// the metadata only. Only the current and the previous generation are kept (a client in the
// middle of an update may still read the previous one).
//
// Errors: kIo naming the path; kInvalidArgument if a target path is unsafe (cannot happen for
// verified metadata: ValidateTargetPath rejects "..", absolute paths, ...). A failed
// materialization leaves `current` pointing at the previous complete generation.
//
// Ownership: borrows `store`, which must outlive the mirror. Thread-safety: Materialize calls
// must be serialized (the Repository calls it under its publish lock).
#ifndef MDU_REPO_SERVER_STATIC_MIRROR_H_
#define MDU_REPO_SERVER_STATIC_MIRROR_H_

#include <cstdint>
#include <filesystem>

#include "core/common/error.h"
#include "repo-server/repository_view.h"
#include "repo-server/store.h"

namespace mdu::server {

class StaticMirror {
 public:
  StaticMirror(std::filesystem::path dir, const Store& store)
      : dir_(std::move(dir)), store_(store) {}

  // Writes `view` as a new generation and points `current` at it. Does nothing for an empty
  // (unpublished) view.
  Status Materialize(const RepositoryView& view);

 private:
  Status WriteTarget(const std::filesystem::path& generation, const std::filesystem::path& previous,
                     const std::string& path, const TargetLocation& target);

  std::filesystem::path dir_;
  const Store& store_;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_STATIC_MIRROR_H_
