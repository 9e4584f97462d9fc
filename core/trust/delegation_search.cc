#include "core/trust/delegation_search.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace mdu::trust {

Result<std::optional<TargetMatch>> FindTarget(std::string_view target_path,
                                              const RoleLoader& load_role,
                                              const SearchOptions& options) {
  MDU_RETURN_IF_ERROR(metadata::ValidateTargetPath(target_path));

  // Stack of (role, parent); the back is visited next, so children are pushed in reverse.
  std::vector<std::pair<std::string, std::string>> to_visit = {{"targets", "root"}};
  std::set<std::string, std::less<>> visited;
  int budget = options.max_roles_visited;

  while (budget > 0 && !to_visit.empty()) {
    auto [role_name, parent_name] = std::move(to_visit.back());
    to_visit.pop_back();
    // 5.6.7.1: skip roles already visited (cycles in the delegation graph).
    if (visited.contains(role_name)) {
      continue;
    }

    Result<const metadata::Targets*> loaded = load_role(role_name, parent_name);
    if (!loaded) {
      return MakeError(loaded.error().WithContext("looking up \"" + std::string(target_path) +
                                                  "\" in role \"" + role_name + "\""));
    }
    const metadata::Targets& role = **loaded;
    // 5.6.7.1: this role has metadata about the target: done.
    if (auto it = role.targets.find(target_path); it != role.targets.end()) {
      return std::optional<TargetMatch>(TargetMatch{it->first, it->second, role_name});
    }
    visited.insert(role_name);
    --budget;  // 5.6.7.1: application-specific maximum number of roles visited

    if (!role.delegations) {
      continue;
    }
    // 5.6.7.2: delegations in order of appearance; a matching terminating delegation
    // (5.6.7.2.2) means nothing after it, nor anything still pending, is searched.
    std::vector<std::pair<std::string, std::string>> children;
    for (auto& [child, terminating] : role.delegations->RolesForTarget(target_path)) {
      children.emplace_back(std::move(child), role_name);
      if (terminating) {
        to_visit.clear();
        break;
      }
    }
    std::reverse(children.begin(), children.end());
    for (auto& child : children) {
      to_visit.push_back(std::move(child));
    }
  }
  return std::optional<TargetMatch>();
}

}  // namespace mdu::trust
