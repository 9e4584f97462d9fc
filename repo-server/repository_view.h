// RepositoryView: an immutable, in-memory picture of the published repository, built after each
// commit and shared by every request handler through a shared_ptr that the Repository swaps
// atomically (repo-server/repository.h). Handlers never lock and never copy metadata bytes: they
// hold the view (or one file's shared bytes) for as long as they need it.
//
// Holds every stored metadata version (root chains, versioned snapshot and targets), the current
// version per role with its expiry, and an index of the current targets by path.
//
// Thread-safety: immutable after Build; any number of threads may read it.
#ifndef MDU_REPO_SERVER_REPOSITORY_VIEW_H_
#define MDU_REPO_SERVER_REPOSITORY_VIEW_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/metadata/metadata.h"
#include "repo-server/store.h"

namespace mdu::server {

using SharedBytes = std::shared_ptr<const std::string>;

struct CurrentRole {
  int64_t version = 0;
  int64_t expires = 0;  // seconds since the Unix epoch
};

struct TargetLocation {
  std::string sha256;  // lowercase hex
  uint64_t length = 0;
  std::string role;  // the targets role listing it
};

class RepositoryView {
 public:
  // An empty repository (nothing published yet).
  RepositoryView() = default;

  // Builds a view from stored metadata and current pointers. kBadMetadata if a current role's
  // file does not parse (the store was written only with verified metadata, so this means
  // corruption), kNotFound if a current pointer names a missing version.
  static Result<std::shared_ptr<const RepositoryView>> Build(
      const std::vector<MetadataEntry>& entries, const std::map<std::string, int64_t>& current);

  // A new view: this one plus a committed batch (shares the unchanged bytes).
  Result<std::shared_ptr<const RepositoryView>> With(const PublishBatch& batch) const;

  bool initialized() const { return !current_.empty(); }
  // The bytes of (role, version); version 0 means current. Null if absent.
  const SharedBytes* Find(std::string_view role, int64_t version) const;
  const std::map<std::string, CurrentRole, std::less<>>& current() const { return current_; }
  // The current version of a role, 0 if none.
  int64_t CurrentVersion(std::string_view role) const;
  // The current target at `path` as a client finds it: core's pre-order delegation search
  // (trust::FindTarget, 5.6.7: delegations in order, only roles whose paths match, terminating
  // delegations stop the search). Nullopt if not found or a role on the way is not published.
  std::optional<TargetLocation> FindTarget(std::string_view path) const;
  size_t target_count() const { return targets_.size(); }
  // Every current target by path (the first listing in a breadth-first walk; for the static
  // mirror and counts; FindTarget answers which one a client gets).
  const std::map<std::string, TargetLocation, std::less<>>& targets() const { return targets_; }
  // Every stored metadata version: role -> version -> bytes.
  const std::map<std::string, std::map<int64_t, SharedBytes>, std::less<>>& files() const {
    return files_;
  }

 private:
  Status Index();

  std::map<std::string, std::map<int64_t, SharedBytes>, std::less<>> files_;
  std::map<std::string, CurrentRole, std::less<>> current_;
  std::map<std::string, TargetLocation, std::less<>> targets_;
  // The current targets roles, parsed (shared between views).
  std::map<std::string, std::shared_ptr<const metadata::Targets>, std::less<>> roles_;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_REPOSITORY_VIEW_H_
