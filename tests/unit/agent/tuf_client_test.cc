// The TUF client mode's library functions over core's FileFetcher (file:// URLs) against the
// python-tuf reference repository, with a pinned clock. The same paths through HTTP and the
// real binary are covered by tests/e2e.
#include "client-agent/tuf_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/client/clock.h"
#include "core/client/fetcher.h"
#include "core/io/file.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;

const fs::path kRepo = fs::path(MDU_TESTDATA_DIR) / "python-tuf-repo";
constexpr client::UnixTime k2030 = 1893456000;  // 2030-01-01T00:00:00Z
constexpr client::UnixTime k2037 = 2114380800;  // 2037-01-01T00:00:00Z, after every expiry

std::string Read(const fs::path& path) {
  Result<std::string> bytes = io::ReadFileBounded(path, 1 << 20);
  EXPECT_TRUE(bytes) << bytes.error().ToString();
  return bytes ? *bytes : std::string();
}

std::set<std::string> Files(const fs::path& dir) {
  std::set<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

class TufClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() /
           ("tuf_client_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(tmp_);
    location_.metadata_dir = tmp_ / "md";
    location_.metadata_url = "file://" + (kRepo / "metadata").string() + "/";
    location_.target_base_url = "file://" + (kRepo / "targets").string();
  }
  void TearDown() override { fs::remove_all(tmp_); }

  void Init() {
    Result<int64_t> version =
        InitTrustedRoot(location_.metadata_dir, kRepo / "metadata/1.root.json", clock_);
    ASSERT_TRUE(version) << version.error().ToString();
    EXPECT_EQ(*version, 1);
  }

  fs::path tmp_;
  RepositoryLocation location_;
  client::FakeClock clock_{k2030};
  client::FileFetcher fetcher_;
};

TEST(TargetFileNameTest, QuotesLikePythonUrllibWithNoSafeCharacters) {
  EXPECT_EQ(TargetFileName("manifest.txt"), "manifest.txt");
  EXPECT_EQ(TargetFileName("product-a/firmware-1.0.bin"), "product-a%2Ffirmware-1.0.bin");
  EXPECT_EQ(TargetFileName("a b+c~_"), "a%20b%2Bc~_");
  EXPECT_EQ(TargetFileName("\xC3\xBC"), "%C3%BC");
  EXPECT_EQ(TargetFileName("../x"), "..%2Fx");
}

TEST_F(TufClientTest, InitIsIdempotentForTheSameRootAndRefusesAnother) {
  Init();
  Init();
  Result<int64_t> other =
      InitTrustedRoot(location_.metadata_dir, kRepo / "metadata/2.root.json", clock_);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(Read(location_.metadata_dir / "root.json"), Read(kRepo / "metadata/1.root.json"));
}

TEST_F(TufClientTest, InitRejectsAMissingFile) {
  Result<int64_t> result = InitTrustedRoot(location_.metadata_dir, tmp_ / "nope.json", clock_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(Files(location_.metadata_dir), std::set<std::string>{});
}

TEST_F(TufClientTest, RefreshReachesTheReadmeState) {
  Init();
  Result<TrustedVersions> versions = RefreshMetadata(location_, fetcher_, clock_);
  ASSERT_TRUE(versions) << versions.error().ToString();
  EXPECT_EQ(versions->root, 2);
  EXPECT_EQ(versions->timestamp, 1);
  EXPECT_EQ(versions->snapshot, 1);
  EXPECT_EQ(versions->targets, 1);
  EXPECT_EQ(
      Files(location_.metadata_dir),
      (std::set<std::string>{"root.json", "snapshot.json", "targets.json", "timestamp.json"}));
}

TEST_F(TufClientTest, RefreshAfterEveryExpiryFailsAsExpired) {
  Init();
  clock_.Set(k2037);
  Result<TrustedVersions> versions = RefreshMetadata(location_, fetcher_, clock_);
  ASSERT_FALSE(versions);
  EXPECT_EQ(versions.error().kind(), ErrorKind::kExpired) << versions.error().ToString();
}

TEST_F(TufClientTest, DownloadsThroughDelegationsThenUsesTheLocalCopies) {
  Init();
  const std::vector<std::string> names = {"bulk/pkg-01.bin", "product-b/app-2.1.tar"};
  TrustedVersions versions;
  auto first = DownloadTargets(location_, names, tmp_ / "td", fetcher_, clock_, &versions);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(versions.root, 2);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].role, "bins-6");
  EXPECT_EQ((*first)[1].role, "product-b");
  EXPECT_TRUE((*first)[0].downloaded);
  EXPECT_EQ(
      Read(tmp_ / "td" / "bulk%2Fpkg-01.bin"),
      Read(kRepo / "targets/bulk/"
                   "0a15736597c57c0bbbe936a8d52b24deb4b5142bfdade4ab9df2660d72825aa9.pkg-01.bin"));
  // product-b does not match product-a/*: product-a is never loaded.
  EXPECT_EQ(Files(location_.metadata_dir),
            (std::set<std::string>{"root.json", "timestamp.json", "snapshot.json", "targets.json",
                                   "bulk.json", "bins-6.json", "product-b.json"}));

  auto second = DownloadTargets(location_, names, tmp_ / "td", fetcher_, clock_);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_FALSE((*second)[0].downloaded);
  EXPECT_FALSE((*second)[1].downloaded);
}

TEST_F(TufClientTest, UnknownTargetFailsBeforeAnythingIsWritten) {
  Init();
  const std::vector<std::string> names = {"manifest.txt", "product-a/missing.bin"};
  auto result = DownloadTargets(location_, names, tmp_ / "td", fetcher_, clock_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(result.error().message().find("product-a/missing.bin"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_ / "td"));
}

TEST_F(TufClientTest, RejectsUrlsWithoutScheme) {
  Init();
  location_.metadata_url = (kRepo / "metadata").string();
  auto result = RefreshMetadata(location_, fetcher_, clock_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mdu::agent
