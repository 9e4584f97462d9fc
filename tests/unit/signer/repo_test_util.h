// Shared fixtures for the signer repository tests: a temporary directory, keys made in the
// test, and a workspace initialised with root 2-of-3 and one key for each other role.
#ifndef MDU_TESTS_UNIT_SIGNER_REPO_TEST_UTIL_H_
#define MDU_TESTS_UNIT_SIGNER_REPO_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/keys.h"
#include "signer/repo/workspace.h"

namespace mdu::signer::repo::testing {

// A fresh directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadAll(const std::filesystem::path& path);
void WriteAll(const std::filesystem::path& path, std::string_view data);
crypto::PrivateKey NewKey();

// Every file below `dir` with its content, for "left exactly as it was" checks.
std::map<std::string, std::string> Snapshot(const std::filesystem::path& dir);

inline constexpr UnixTime kNow = 1'800'000'000;  // 2027-01-15

class RepoTest : public ::testing::Test {
 protected:
  RepoTest();

  // root 2-of-3 (root_keys_[0..2]), targets/snapshot/timestamp 1-of-1.
  InitSpec DefaultSpec() const;
  Workspace Init(const std::filesystem::path& dir);
  Workspace Init() { return Init(ws_dir()); }
  Workspace Open() const;
  std::filesystem::path ws_dir() const { return tmp_.path() / "ws"; }
  std::filesystem::path out_dir() const { return tmp_.path() / "out"; }
  // Writes a file below tmp/files and returns its path.
  std::filesystem::path MakeFile(const std::string& name, std::string_view content) const;
  // Signs root with the first two root keys and targets with the targets key; saves.
  void SignAll(Workspace& ws);

  TempDir tmp_;
  std::vector<crypto::PrivateKey> root_keys_;
  crypto::PrivateKey targets_key_;
  crypto::PrivateKey snapshot_key_;
  crypto::PrivateKey timestamp_key_;
};

}  // namespace mdu::signer::repo::testing

#endif  // MDU_TESTS_UNIT_SIGNER_REPO_TEST_UTIL_H_
