// Pre-order depth-first search of the delegation graph for a target path (specification
// 1.0.x, step 5.6.7), starting at the top-level targets role. Pure: roles are obtained through
// a callback, so the caller decides where they come from (trusted set, local store, network).
//
// Rules (5.6.7.1, 5.6.7.2): a role already visited is skipped (cycles); at most
// `max_roles_visited` roles are loaded, after which the search stops without a result; the
// first role listing the path wins; children are visited in the order the delegator lists them,
// and a terminating delegation that matches the path stops the search after its subtree. Only
// roles whose paths / path_hash_prefixes / succinct bin match are visited.
//
// Errors: kInvalidArgument for an invalid target path (metadata::ValidateTargetPath); any error
// from `load_role` ends the search and is returned with context. "Not found" is not an error:
// the result is an empty optional.
// Thread-safety: reentrant; `load_role` is called on the calling thread.
#ifndef MDU_CORE_TRUST_DELEGATION_SEARCH_H_
#define MDU_CORE_TRUST_DELEGATION_SEARCH_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/metadata/metadata.h"

namespace mdu::trust {

// A target found by the search: its path, its metadata (copied out, so it stays valid after the
// role that listed it is gone) and the role that signed it.
struct TargetMatch {
  std::string path;
  metadata::TargetFile file;
  std::string role;
};

// Returns the verified role `role_name` as delegated by `parent_role_name` ("root" for
// "targets"). The returned pointer must stay valid for the rest of the search.
using RoleLoader = std::function<Result<const metadata::Targets*>(
    std::string_view role_name, std::string_view parent_role_name)>;

struct SearchOptions {
  int max_roles_visited = 32;
};

Result<std::optional<TargetMatch>> FindTarget(std::string_view target_path,
                                              const RoleLoader& load_role,
                                              const SearchOptions& options = {});

}  // namespace mdu::trust

#endif  // MDU_CORE_TRUST_DELEGATION_SEARCH_H_
