#include "repo-server/repository_view.h"

#include <deque>
#include <set>
#include <utility>

#include "core/metadata/metadata.h"
#include "core/trust/delegation_search.h"

namespace mdu::server {

Result<std::shared_ptr<const RepositoryView>> RepositoryView::Build(
    const std::vector<MetadataEntry>& entries, const std::map<std::string, int64_t>& current) {
  auto view = std::make_shared<RepositoryView>();
  for (const MetadataEntry& entry : entries) {
    view->files_[entry.role][entry.version] = std::make_shared<const std::string>(entry.bytes);
  }
  for (const auto& [role, version] : current) view->current_[role].version = version;
  MDU_RETURN_IF_ERROR(view->Index());
  return std::shared_ptr<const RepositoryView>(std::move(view));
}

Result<std::shared_ptr<const RepositoryView>> RepositoryView::With(
    const PublishBatch& batch) const {
  auto view = std::make_shared<RepositoryView>(*this);
  for (const MetadataEntry& entry : batch.metadata) {
    view->files_[entry.role][entry.version] = std::make_shared<const std::string>(entry.bytes);
  }
  for (const auto& [role, version] : batch.current) view->current_[role].version = version;
  for (const auto& [role, version] : batch.removed_metadata) {
    auto role_it = view->files_.find(role);
    if (role_it != view->files_.end()) role_it->second.erase(version);
  }
  MDU_RETURN_IF_ERROR(view->Index());
  return std::shared_ptr<const RepositoryView>(std::move(view));
}

const SharedBytes* RepositoryView::Find(std::string_view role, int64_t version) const {
  auto role_it = files_.find(role);
  if (role_it == files_.end()) return nullptr;
  if (version == 0) {
    auto current_it = current_.find(role);
    if (current_it == current_.end()) return nullptr;
    version = current_it->second.version;
  }
  auto it = role_it->second.find(version);
  return it == role_it->second.end() ? nullptr : &it->second;
}

int64_t RepositoryView::CurrentVersion(std::string_view role) const {
  auto it = current_.find(role);
  return it == current_.end() ? 0 : it->second.version;
}

std::optional<TargetLocation> RepositoryView::FindTarget(std::string_view path) const {
  // Fast path: the search visits top-level targets first, so its listing always wins.
  auto it = targets_.find(path);
  if (it != targets_.end() && it->second.role == "targets") return it->second;
  auto found = trust::FindTarget(
      path, [this](std::string_view role, std::string_view) -> Result<const metadata::Targets*> {
        auto role_it = roles_.find(role);
        if (role_it == roles_.end()) {
          return MakeError(ErrorKind::kNotFound, "role " + std::string(role) + " is not published");
        }
        return role_it->second.get();
      });
  if (!found || !*found) return std::nullopt;
  auto sha = (*found)->file.Sha256();
  if (!sha) return std::nullopt;
  return TargetLocation{std::string(*sha), static_cast<uint64_t>((*found)->file.length),
                        (*found)->role};
}

Status RepositoryView::Index() {
  targets_.clear();
  roles_.clear();
  auto& roles = roles_;
  for (auto& [role, entry] : current_) {
    const SharedBytes* bytes = Find(role, entry.version);
    if (bytes == nullptr) {
      return MakeError(ErrorKind::kNotFound, "current " + role + " version " +
                                                 std::to_string(entry.version) + " is not stored");
    }
    auto envelope = metadata::Envelope::Parse(**bytes);
    if (!envelope) return MakeError(envelope.error().WithContext("stored " + role));
    const json::Value& signed_value = envelope->signed_value;
    if (role == "root") {
      MDU_ASSIGN_OR_RETURN(auto parsed, metadata::Root::FromValue(signed_value));
      entry.expires = parsed.common.expires;
    } else if (role == "timestamp") {
      MDU_ASSIGN_OR_RETURN(auto parsed, metadata::Timestamp::FromValue(signed_value));
      entry.expires = parsed.common.expires;
    } else if (role == "snapshot") {
      MDU_ASSIGN_OR_RETURN(auto parsed, metadata::Snapshot::FromValue(signed_value));
      entry.expires = parsed.common.expires;
    } else {
      MDU_ASSIGN_OR_RETURN(auto parsed, metadata::Targets::FromValue(signed_value));
      entry.expires = parsed.common.expires;
      roles.emplace(role, std::make_shared<const metadata::Targets>(std::move(parsed)));
    }
  }
  // Breadth-first from "targets"; the first role listing a path wins.
  std::deque<std::string> queue{"targets"};
  std::set<std::string, std::less<>> seen{"targets"};
  while (!queue.empty()) {
    std::string name = std::move(queue.front());
    queue.pop_front();
    auto it = roles.find(name);
    if (it == roles.end()) continue;
    const metadata::Targets& role = *it->second;
    for (const auto& [path, file] : role.targets) {
      auto sha = file.Sha256();
      if (!sha || targets_.contains(path)) continue;
      targets_.emplace(path,
                       TargetLocation{std::string(*sha), static_cast<uint64_t>(file.length), name});
    }
    if (!role.delegations) continue;
    for (const auto& [child, unused] : roles) {
      if (seen.contains(child)) continue;
      const auto& d = *role.delegations;
      bool delegated = d.succinct_roles ? d.succinct_roles->IsDelegatedRole(child) : false;
      if (d.roles) {
        for (const auto& delegated_role : *d.roles) delegated |= delegated_role.name == child;
      }
      if (delegated) {
        seen.insert(child);
        queue.push_back(child);
      }
    }
  }
  return {};
}

}  // namespace mdu::server
