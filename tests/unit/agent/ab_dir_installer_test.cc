// The ab-dir installer: slots, the atomically switched `current` link, the kept previous slot.
#include "client-agent/install/ab_dir_installer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::install {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::TempDir;
using agent::testing::WriteFile;

class AbDirInstallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<AbDirInstaller> opened = AbDirInstaller::Open(tmp_.path() / "root");
    ASSERT_TRUE(opened) << opened.error().ToString();
    installer_.emplace(std::move(*opened));
    fs::create_directories(tmp_.path() / "staging");
  }
  fs::path Stage(const std::string& name, const std::string& content) {
    const fs::path path = tmp_.path() / "staging" / name;
    WriteFile(path, content);
    return path;
  }
  std::string Current() {
    Result<std::string> slot = installer_->CurrentSlot();
    EXPECT_TRUE(slot) << slot.error().ToString();
    return slot ? *slot : "?";
  }
  fs::path Root() const { return tmp_.path() / "root"; }

  TempDir tmp_;
  std::optional<AbDirInstaller> installer_;
};

TEST_F(AbDirInstallerTest, FreshRootHasNoCurrentSlot) {
  EXPECT_EQ(Current(), "");
  EXPECT_EQ(OtherSlot(""), "a");
  EXPECT_EQ(OtherSlot("a"), "b");
  EXPECT_EQ(OtherSlot("b"), "a");
}

TEST_F(AbDirInstallerTest, InstallActivateSwitchesTheLinkAndKeepsThePreviousSlot) {
  ASSERT_TRUE(installer_->Install(Stage("fw.bin", "v1"), "a"));
  EXPECT_EQ(Current(), "");  // installed, not active
  ASSERT_TRUE(installer_->Activate("a"));
  EXPECT_EQ(Current(), "a");
  EXPECT_EQ(fs::read_symlink(Root() / "current"), "slot-a");  // relative link
  EXPECT_EQ(ReadFile(Root() / "current" / "fw.bin"), "v1");
  ASSERT_TRUE(installer_->Commit("a"));

  ASSERT_TRUE(installer_->Install(Stage("fw.bin", "v2"), "b"));
  ASSERT_TRUE(installer_->Activate("b"));
  EXPECT_EQ(ReadFile(Root() / "current" / "fw.bin"), "v2");
  EXPECT_EQ(ReadFile(Root() / "slot-a" / "fw.bin"), "v1");  // kept for rollback

  ASSERT_TRUE(installer_->Rollback("a"));
  EXPECT_EQ(Current(), "a");
  EXPECT_EQ(ReadFile(Root() / "current" / "fw.bin"), "v1");
  // No temporary link or slot directory is left behind.
  for (const auto& entry : fs::directory_iterator(Root())) {
    const std::string name = entry.path().filename();
    EXPECT_TRUE(name == "slot-a" || name == "slot-b" || name == "current") << name;
  }
}

TEST_F(AbDirInstallerTest, InstallReplacesTheWholeSlot) {
  ASSERT_TRUE(installer_->Install(Stage("old.bin", "x"), "b"));
  ASSERT_TRUE(installer_->Install(Stage("new.bin", "y"), "b"));
  EXPECT_FALSE(fs::exists(Root() / "slot-b" / "old.bin"));
  EXPECT_EQ(ReadFile(Root() / "slot-b" / "new.bin"), "y");
}

TEST_F(AbDirInstallerTest, LeftoverFromACrashedInstallIsReplaced) {
  fs::create_directories(Root() / ".slot-a.new");
  WriteFile(Root() / ".slot-a.new" / "partial", "half");
  ASSERT_TRUE(installer_->Install(Stage("fw.bin", "v1"), "a"));
  EXPECT_FALSE(fs::exists(Root() / ".slot-a.new"));
  EXPECT_FALSE(fs::exists(Root() / "slot-a" / "partial"));
}

TEST_F(AbDirInstallerTest, RefusesToInstallIntoTheActiveSlot) {
  ASSERT_TRUE(installer_->Install(Stage("fw.bin", "v1"), "a"));
  ASSERT_TRUE(installer_->Activate("a"));
  Status status = installer_->Install(Stage("fw.bin", "v2"), "a");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ReadFile(Root() / "current" / "fw.bin"), "v1");
}

TEST_F(AbDirInstallerTest, RejectsUnknownSlotsAndMissingFiles) {
  EXPECT_EQ(installer_->Install(Stage("fw.bin", "v1"), "../c").error().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(installer_->Activate("c").error().kind(), ErrorKind::kInvalidArgument);
  // Activating a slot that was never installed fails and changes nothing.
  Status empty = installer_->Activate("b");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind(), ErrorKind::kIo);
  EXPECT_EQ(Current(), "");
  Status missing = installer_->Install(tmp_.path() / "staging" / "nope.bin", "a");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kIo);
  EXPECT_FALSE(fs::exists(Root() / "slot-a"));
}

TEST_F(AbDirInstallerTest, RollbackToNothingRemovesTheLink) {
  ASSERT_TRUE(installer_->Install(Stage("fw.bin", "v1"), "a"));
  ASSERT_TRUE(installer_->Activate("a"));
  ASSERT_TRUE(installer_->Rollback(""));
  EXPECT_EQ(Current(), "");
  ASSERT_TRUE(installer_->Rollback(""));  // idempotent
}

TEST_F(AbDirInstallerTest, ActivateAndCommitAreIdempotent) {
  ASSERT_TRUE(installer_->Install(Stage("fw.bin", "v1"), "a"));
  ASSERT_TRUE(installer_->Activate("a"));
  ASSERT_TRUE(installer_->Activate("a"));
  ASSERT_TRUE(installer_->Commit("a"));
  ASSERT_TRUE(installer_->Commit("a"));
  EXPECT_FALSE(installer_->Commit("b"));  // not the active slot
}

TEST_F(AbDirInstallerTest, ForeignCurrentLinkIsAnError) {
  fs::create_directory_symlink("/etc", Root() / "current");
  Result<std::string> slot = installer_->CurrentSlot();
  ASSERT_FALSE(slot);
  EXPECT_EQ(slot.error().kind(), ErrorKind::kIo);
}

}  // namespace
}  // namespace mdu::agent::install
