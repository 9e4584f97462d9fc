// Delegation search (TUF 5.6.7) over hand-built roles: order, terminating delegations, cycles,
// the visit budget, path patterns, hash prefixes and succinct hash bins.
#include "core/trust/delegation_search.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/crypto/hash.h"
#include "tests/sim/test_util.h"

namespace mdu::trust {
namespace {

metadata::DelegatedRole Delegate(std::string name, std::vector<std::string> paths,
                                 bool terminating = false) {
  metadata::DelegatedRole role;
  role.name = std::move(name);
  role.keys.threshold = 1;
  role.terminating = terminating;
  role.paths = std::move(paths);
  return role;
}

class Graph {
 public:
  metadata::Targets& Role(const std::string& name) { return roles_[name]; }
  void AddTarget(const std::string& role, const std::string& path) {
    metadata::TargetFile file;
    file.length = static_cast<int64_t>(path.size());
    roles_[role].targets[path] = file;
  }
  void Delegate(const std::string& parent, metadata::DelegatedRole child) {
    auto& delegations = roles_[parent].delegations;
    if (!delegations) {
      delegations.emplace();
      delegations->roles.emplace();
    }
    roles_[child.name];
    delegations->roles->push_back(std::move(child));
  }
  RoleLoader Loader() {
    return
        [this](std::string_view role, std::string_view parent) -> Result<const metadata::Targets*> {
          loads_.push_back(std::string(role) + "<" + std::string(parent));
          auto it = roles_.find(std::string(role));
          if (it == roles_.end()) return MakeError(ErrorKind::kNotFound, "no role");
          return &it->second;
        };
  }
  const std::vector<std::string>& loads() const { return loads_; }

 private:
  std::map<std::string, metadata::Targets> roles_;
  std::vector<std::string> loads_;
};

TEST(DelegationSearchTest, FindsTargetInTopLevelRole) {
  Graph graph;
  graph.AddTarget("targets", "a.txt");
  auto found = FindTarget("a.txt", graph.Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->role, "targets");
  EXPECT_EQ((*found)->path, "a.txt");
  EXPECT_EQ((*found)->file.length, 5);
}

TEST(DelegationSearchTest, NotFoundIsAnEmptyResult) {
  Graph graph;
  graph.AddTarget("targets", "a.txt");
  auto found = FindTarget("b.txt", graph.Loader());
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
}

TEST(DelegationSearchTest, RejectsInvalidTargetPath) {
  Graph graph;
  EXPECT_ERROR_KIND(FindTarget("../etc/passwd", graph.Loader()), ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(FindTarget("/abs", graph.Loader()), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(graph.loads().empty());
}

TEST(DelegationSearchTest, VisitsInPreOrderAndOnlyMatchingPaths) {
  Graph graph;
  graph.Delegate("targets", Delegate("a", {"app/*"}));
  graph.Delegate("a", Delegate("a1", {"app/*"}));
  graph.Delegate("targets", Delegate("b", {"app/*"}));
  graph.Delegate("targets", Delegate("c", {"other/*"}));
  graph.AddTarget("b", "app/x.bin");
  auto found = FindTarget("app/x.bin", graph.Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->role, "b");
  EXPECT_EQ(graph.loads(),
            (std::vector<std::string>{"targets<root", "a<targets", "a1<a", "b<targets"}));
}

TEST(DelegationSearchTest, PathPatternsMatchPerSegment) {
  Graph graph;
  graph.Delegate("targets", Delegate("flat", {"app/*"}));
  graph.AddTarget("flat", "app/sub/x.bin");
  auto found = FindTarget("app/sub/x.bin", graph.Loader());
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());  // "*" does not cross "/"
  EXPECT_EQ(graph.loads(), std::vector<std::string>{"targets<root"});
}

TEST(DelegationSearchTest, TerminatingDelegationStopsTheSearch) {
  Graph graph;
  graph.Delegate("targets", Delegate("term", {"app/*"}, /*terminating=*/true));
  graph.Delegate("targets", Delegate("later", {"app/*"}));
  graph.AddTarget("later", "app/x.bin");
  auto found = FindTarget("app/x.bin", graph.Loader());
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(graph.loads(), (std::vector<std::string>{"targets<root", "term<targets"}));
}

TEST(DelegationSearchTest, TerminatingDelegationDropsPendingSiblingsOfAncestors) {
  Graph graph;
  graph.Delegate("targets", Delegate("a", {"app/*"}));
  graph.Delegate("a", Delegate("a-term", {"app/*"}, true));
  graph.Delegate("targets", Delegate("b", {"app/*"}));
  graph.AddTarget("b", "app/x.bin");
  auto found = FindTarget("app/x.bin", graph.Loader());
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(graph.loads(), (std::vector<std::string>{"targets<root", "a<targets", "a-term<a"}));
}

TEST(DelegationSearchTest, NonMatchingTerminatingDelegationDoesNotStop) {
  Graph graph;
  graph.Delegate("targets", Delegate("term", {"other/*"}, true));
  graph.Delegate("targets", Delegate("b", {"app/*"}));
  graph.AddTarget("b", "app/x.bin");
  auto found = FindTarget("app/x.bin", graph.Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->role, "b");
}

TEST(DelegationSearchTest, CyclesAreVisitedOnce) {
  Graph graph;
  graph.Delegate("targets", Delegate("a", {"*"}));
  graph.Delegate("a", Delegate("b", {"*"}));
  graph.Delegate("b", Delegate("a", {"*"}));
  graph.Delegate("b", Delegate("targets", {"*"}));
  auto found = FindTarget("x", graph.Loader());
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(graph.loads(), (std::vector<std::string>{"targets<root", "a<targets", "b<a"}));
}

TEST(DelegationSearchTest, StopsAfterMaximumRolesVisited) {
  Graph graph;
  for (int i = 0; i < 10; ++i) graph.Delegate("targets", Delegate("r" + std::to_string(i), {"*"}));
  graph.AddTarget("r9", "x");
  auto limited = FindTarget("x", graph.Loader(), SearchOptions{.max_roles_visited = 5});
  ASSERT_OK(limited);
  EXPECT_FALSE(limited->has_value());
  EXPECT_EQ(graph.loads().size(), 5u);

  Graph unlimited_graph;
  for (int i = 0; i < 10; ++i) {
    unlimited_graph.Delegate("targets", Delegate("r" + std::to_string(i), {"*"}));
  }
  unlimited_graph.AddTarget("r9", "x");
  auto found = FindTarget("x", unlimited_graph.Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->role, "r9");
}

TEST(DelegationSearchTest, PathHashPrefixes) {
  const std::string prefix = crypto::Sha256Hex("pkg/a.bin").substr(0, 2);
  Graph graph;
  metadata::DelegatedRole role;
  role.name = "hashed";
  role.path_hash_prefixes = std::vector<std::string>{prefix};
  graph.Delegate("targets", role);
  graph.AddTarget("hashed", "pkg/a.bin");
  auto found = FindTarget("pkg/a.bin", graph.Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->role, "hashed");
}

TEST(DelegationSearchTest, SuccinctHashBinsLoadExactlyOneBin) {
  Graph graph;
  metadata::Delegations delegations;
  metadata::SuccinctRoles bins;
  bins.bit_length = 4;
  bins.name_prefix = "bins";
  delegations.succinct_roles = bins;
  graph.Role("targets").delegations = delegations;
  const std::string bin = bins.RoleForTarget("bulk/pkg-00.bin");
  EXPECT_EQ(bin, "bins-d");  // python-tuf reference: sha256("bulk/pkg-00.bin") starts with d
  graph.AddTarget(bin, "bulk/pkg-00.bin");
  auto found = FindTarget("bulk/pkg-00.bin", graph.Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->role, "bins-d");
  EXPECT_EQ(graph.loads(), (std::vector<std::string>{"targets<root", "bins-d<targets"}));
}

TEST(DelegationSearchTest, LoaderErrorEndsTheSearch) {
  Graph graph;
  graph.Delegate("targets", Delegate("a", {"*"}));
  RoleLoader failing = [&](std::string_view role,
                           std::string_view parent) -> Result<const metadata::Targets*> {
    if (role == "a") return MakeError(ErrorKind::kUnsignedMetadata, "bad signature");
    return graph.Loader()(role, parent);
  };
  EXPECT_ERROR_KIND(FindTarget("x", failing), ErrorKind::kUnsignedMetadata);
}

}  // namespace
}  // namespace mdu::trust
