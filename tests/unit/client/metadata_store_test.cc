// MetadataStore contract, run over every backend; FileMetadataStore's layout and path safety.
#include "core/client/metadata_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/sim/test_util.h"

namespace mdu::client {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mdu-store-XXXXXX");
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<MetadataStore>(const std::filesystem::path&)> make;
};

class MetadataStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { store_ = GetParam().make(dir_.path() / "metadata"); }
  TempDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_P(MetadataStoreTest, MissingRoleIsNotFound) {
  EXPECT_ERROR_KIND(store_->Load("timestamp", 100), ErrorKind::kNotFound);
}

TEST_P(MetadataStoreTest, StoresExactBytes) {
  const std::string bytes = std::string("{\"a\":\n 1}\0x", 11);
  ASSERT_OK(store_->Store("timestamp", bytes));
  auto loaded = store_->Load("timestamp", 100);
  ASSERT_OK(loaded);
  EXPECT_EQ(*loaded, bytes);
}

TEST_P(MetadataStoreTest, StoreReplaces) {
  ASSERT_OK(store_->Store("snapshot", "one"));
  ASSERT_OK(store_->Store("snapshot", "two"));
  EXPECT_EQ(*store_->Load("snapshot", 100), "two");
}

TEST_P(MetadataStoreTest, LoadIsBounded) {
  ASSERT_OK(store_->Store("targets", std::string(1000, 'x')));
  EXPECT_ERROR_KIND(store_->Load("targets", 999), ErrorKind::kLimitExceeded);
  EXPECT_OK(store_->Load("targets", 1000));
}

TEST_P(MetadataStoreTest, RemoveIsIdempotent) {
  ASSERT_OK(store_->Store("root", "r"));
  ASSERT_OK(store_->Remove("root"));
  EXPECT_ERROR_KIND(store_->Load("root", 100), ErrorKind::kNotFound);
  EXPECT_OK(store_->Remove("root"));
}

TEST_P(MetadataStoreTest, HostileRoleNamesAreDistinctRoles) {
  ASSERT_OK(store_->Store("../x", "escape"));
  ASSERT_OK(store_->Store("a/b", "slash"));
  ASSERT_OK(store_->Store("..", "dots"));
  EXPECT_EQ(*store_->Load("../x", 100), "escape");
  EXPECT_EQ(*store_->Load("a/b", 100), "slash");
  EXPECT_EQ(*store_->Load("..", 100), "dots");
  EXPECT_ERROR_KIND(store_->Load("x", 100), ErrorKind::kNotFound);
}

TEST_P(MetadataStoreTest, StagedRoleIsInvisibleUntilCommitted) {
  ASSERT_OK(store_->Store("snapshot", "old"));
  const std::string fresh(3 << 20, 's');  // large enough to be written while it is read
  std::unique_ptr<StagedRole> staged = store_->Stage("snapshot", HugePageString(fresh));
  EXPECT_EQ(staged->role_name(), "snapshot");
  EXPECT_EQ(staged->bytes(), fresh);
  EXPECT_EQ(*store_->Load("snapshot", fresh.size()), "old");
  std::vector<std::unique_ptr<StagedRole>> batch;
  batch.push_back(std::move(staged));
  ASSERT_OK(store_->Commit(std::move(batch)));
  EXPECT_EQ(*store_->Load("snapshot", fresh.size()), fresh);
}

TEST_P(MetadataStoreTest, DroppedStagedRoleChangesNothing) {
  ASSERT_OK(store_->Store("targets", "trusted"));
  store_->Stage("targets", "rejected by verification").reset();
  store_->Stage("timestamp", "never verified").reset();
  EXPECT_EQ(*store_->Load("targets", 100), "trusted");
  EXPECT_ERROR_KIND(store_->Load("timestamp", 100), ErrorKind::kNotFound);
}

TEST_P(MetadataStoreTest, CommitStoresEveryStagedRole) {
  std::vector<std::unique_ptr<StagedRole>> batch;
  batch.push_back(store_->Stage("timestamp", "t2"));
  batch.push_back(store_->Stage("snapshot", "s2"));
  batch.push_back(store_->Stage("targets", "g2"));
  ASSERT_OK(store_->Commit(std::move(batch)));
  EXPECT_EQ(*store_->Load("timestamp", 100), "t2");
  EXPECT_EQ(*store_->Load("snapshot", 100), "s2");
  EXPECT_EQ(*store_->Load("targets", 100), "g2");
  EXPECT_OK(store_->Commit({}));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, MetadataStoreTest,
    ::testing::Values(Backend{"Memory",
                              [](const std::filesystem::path&) -> std::unique_ptr<MetadataStore> {
                                return std::make_unique<MemoryMetadataStore>();
                              }},
                      Backend{
                          "File",
                          [](const std::filesystem::path& dir) -> std::unique_ptr<MetadataStore> {
                            auto store = FileMetadataStore::Open(dir);
                            if (!store) return nullptr;
                            return std::make_unique<FileMetadataStore>(std::move(store).value());
                          }}),
    [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

TEST(FileMetadataStoreTest, LayoutAndPercentEncoding) {
  TempDir dir;
  auto store = FileMetadataStore::Open(dir.path() / "m");
  ASSERT_OK(store);
  ASSERT_OK(store->Store("root", "r"));
  ASSERT_OK(store->Store("product-a", "a"));
  ASSERT_OK(store->Store("../x", "escape"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "m" / "root.json"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "m" / "product-a.json"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "m" / "..%2Fx.json"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x.json"));
  EXPECT_EQ(store->PathFor("a b/ü"), dir.path() / "m" / "a%20b%2F%C3%BC.json");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "m")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 3);  // no temporary files left behind
}

int CountEntries(const std::filesystem::path& dir) {
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++entries;
  }
  return entries;
}

TEST(FileMetadataStoreTest, DroppedStagedRoleLeavesNoTemporaryFile) {
  TempDir dir;
  auto store = FileMetadataStore::Open(dir.path() / "m");
  ASSERT_OK(store);
  ASSERT_OK(store->Store("targets", "trusted"));
  store->Stage("targets", HugePageString(1 << 20, 'x')).reset();
  EXPECT_EQ(CountEntries(dir.path() / "m"), 1);  // targets.json only
}

TEST(FileMetadataStoreTest, FailedStagedWriteFailsCommitNamingTheRole) {
  TempDir dir;
  auto store = FileMetadataStore::Open(dir.path() / "m");
  ASSERT_OK(store);
  std::filesystem::remove_all(dir.path() / "m");  // the write has nowhere to go
  std::vector<std::unique_ptr<StagedRole>> batch;
  batch.push_back(store->Stage("snapshot", "s2"));
  Status committed = store->Commit(std::move(batch));
  EXPECT_ERROR_KIND(committed, ErrorKind::kIo);
  EXPECT_NE(committed.error().message().find("storing role \"snapshot\""), std::string::npos)
      << committed.error().message();
}

TEST(FileMetadataStoreTest, CommitRenamesNothingWhenAnyStagedWriteFailed) {
  TempDir dir;
  auto store = FileMetadataStore::Open(dir.path() / "m");
  ASSERT_OK(store);
  ASSERT_OK(store->Store("timestamp", "t1"));
  std::vector<std::unique_ptr<StagedRole>> batch;
  batch.push_back(store->Stage("timestamp", "t2"));
  // A role staged by another store cannot be committed here: the whole batch is refused.
  MemoryMetadataStore other;
  batch.push_back(other.Stage("snapshot", "s2"));
  EXPECT_ERROR_KIND(store->Commit(std::move(batch)), ErrorKind::kInternal);
  EXPECT_EQ(*store->Load("timestamp", 100), "t1");
  EXPECT_EQ(CountEntries(dir.path() / "m"), 1);  // the staged timestamp's temporary is gone
}

TEST(PercentEncodeTest, KeepsUnreservedOnly) {
  EXPECT_EQ(PercentEncode("bins-0A_b.c~"), "bins-0A_b.c~");
  EXPECT_EQ(PercentEncode("../x"), "..%2Fx");
  EXPECT_EQ(PercentEncode(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(PercentEncode("%"), "%25");
}

}  // namespace
}  // namespace mdu::client
