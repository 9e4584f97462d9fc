// Shared helpers of agent_update_test: a per-test temporary directory.
#ifndef MDU_TESTS_UNIT_AGENT_UPDATE_TEST_UTIL_H_
#define MDU_TESTS_UNIT_AGENT_UPDATE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/io/file.h"

namespace mdu::agent::testing {

// A fresh directory named after the running test, removed at destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = std::filesystem::temp_directory_path() /
            ("agent_update_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Through core/io (iostreams inlined at -O2 trip g++ 12's -Wnull-dereference).
inline void WriteFile(const std::filesystem::path& path, const std::string& content) {
  Status written = io::WriteFileAtomically(path, content);
  ASSERT_TRUE(written) << written.error().ToString();
}

inline std::string ReadFile(const std::filesystem::path& path) {
  Result<std::string> bytes = io::ReadFileBounded(path, 1 << 20);
  EXPECT_TRUE(bytes) << bytes.error().ToString();
  return bytes ? *bytes : std::string();
}

}  // namespace mdu::agent::testing

#endif  // MDU_TESTS_UNIT_AGENT_UPDATE_TEST_UTIL_H_
