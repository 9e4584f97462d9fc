// The trusted set and delegation search against the repository signed by python-tuf 5.1.0
// (tests/testdata/python-tuf-repo, see its README.md for the expected results).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/trust/delegation_search.h"
#include "core/trust/trusted_set.h"
#include "tests/sim/test_util.h"

namespace mdu::trust {
namespace {

constexpr UnixTime kReferenceTime = 1767225600;  // 2026-01-01
constexpr UnixTime kAfterExpiry = 2082844800;    // 2036-01-01T00:00:00Z, the expiry itself

std::string ReadMetadata(const std::string& name) {
  std::ifstream in(std::string(MDU_TESTDATA_DIR) + "/python-tuf-repo/metadata/" + name,
                   std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> AllTargets() {
  std::vector<std::string> paths = {"manifest.txt", "product-a/firmware-1.0.bin",
                                    "product-b/app-2.1.tar"};
  for (int i = 0; i < 20; ++i) {
    paths.push_back("bulk/pkg-" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".bin");
  }
  return paths;
}

class PythonTufRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = TrustedSet::Create(ReadMetadata("1.root.json"), kReferenceTime);
    ASSERT_OK(set);
    set_.emplace(std::move(set).value());
    ASSERT_OK(set_->UpdateRoot(ReadMetadata("2.root.json")));
    ASSERT_OK(set_->UpdateTimestamp(ReadMetadata("timestamp.json")));
    ASSERT_OK(set_->UpdateSnapshot(ReadMetadata("1.snapshot.json")));
    ASSERT_OK(set_->UpdateTargets(ReadMetadata("1.targets.json")));
  }

  RoleLoader Loader() {
    return [this](std::string_view role,
                  std::string_view parent) -> Result<const metadata::Targets*> {
      if (const metadata::Targets* loaded = set_->TargetsRole(role)) return loaded;
      loaded_.insert(std::string(role));
      const int64_t version =
          set_->snapshot()->meta.find(std::string(role) + ".json")->second.version;
      return set_->UpdateDelegatedTargets(
          ReadMetadata(std::to_string(version) + "." + std::string(role) + ".json"), role, parent);
    };
  }

  std::optional<TrustedSet> set_;
  std::set<std::string> loaded_;
};

TEST_F(PythonTufRepoTest, RefreshReachesExpectedVersions) {
  EXPECT_EQ(set_->root().common.version, 2);
  EXPECT_EQ(set_->timestamp()->common.version, 1);
  EXPECT_EQ(set_->snapshot()->common.version, 1);
  EXPECT_EQ(set_->targets()->common.version, 1);
  EXPECT_TRUE(set_->root().consistent_snapshot);
}

TEST_F(PythonTufRepoTest, ResolvesEveryTargetThroughTheDocumentedRole) {
  const std::map<std::string, std::string> expected_role = {
      {"manifest.txt", "targets"},
      {"product-a/firmware-1.0.bin", "product-a"},
      {"product-b/app-2.1.tar", "product-b"},
      {"bulk/pkg-00.bin", "bins-d"},
      {"bulk/pkg-01.bin", "bins-6"},
      {"bulk/pkg-06.bin", "bins-0"},
      {"bulk/pkg-11.bin", "bins-f"},
      {"bulk/pkg-19.bin", "bins-2"},
  };
  for (const std::string& path : AllTargets()) {
    auto found = FindTarget(path, Loader());
    ASSERT_OK(found);
    ASSERT_TRUE(found->has_value()) << path;
    EXPECT_TRUE((*found)->file.Sha256().has_value());
    if (auto it = expected_role.find(path); it != expected_role.end()) {
      EXPECT_EQ((*found)->role, it->second) << path;
    }
    if ((*found)->role != "targets") {
      EXPECT_EQ(set_->TargetsRole((*found)->role)->common.version, 1);
    }
  }
  // targets + product-a, product-b, bulk and the 12 non-empty bins.
  EXPECT_EQ(set_->targets_role_count(), 16u);
  EXPECT_EQ(loaded_.size(), 15u);
  for (std::string empty : {"bins-1", "bins-9", "bins-b", "bins-e"}) {
    EXPECT_EQ(set_->TargetsRole(empty), nullptr) << empty;
  }
}

TEST_F(PythonTufRepoTest, ManifestCarriesCustomMetadata) {
  auto found = FindTarget("manifest.txt", Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  const json::Value* security_version = (*found)->file.custom.Find("security_version");
  ASSERT_NE(security_version, nullptr);
  EXPECT_EQ(security_version->as_int(), 3);
}

TEST_F(PythonTufRepoTest, ProductBLookupDoesNotLoadProductA) {
  auto found = FindTarget("product-b/app-2.1.tar", Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(loaded_, (std::set<std::string>{"product-b"}));
}

TEST_F(PythonTufRepoTest, BulkLookupLoadsBulkAndOneBin) {
  auto found = FindTarget("bulk/pkg-00.bin", Loader());
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(loaded_, (std::set<std::string>{"bulk", "bins-d"}));
}

TEST_F(PythonTufRepoTest, MissingTargetInTerminatingRoleEndsThere) {
  auto found = FindTarget("product-a/missing.bin", Loader());
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(loaded_, (std::set<std::string>{"product-a"}));
}

TEST(PythonTufRepoExpiryTest, ExpiredAfter2036) {
  auto set = TrustedSet::Create(ReadMetadata("1.root.json"), kAfterExpiry);
  ASSERT_OK(set);
  ASSERT_OK(set->UpdateRoot(ReadMetadata("2.root.json")));
  EXPECT_ERROR_KIND(set->UpdateTimestamp(ReadMetadata("timestamp.json")), ErrorKind::kExpired);
}

}  // namespace
}  // namespace mdu::trust
