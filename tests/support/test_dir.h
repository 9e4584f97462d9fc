// Small helpers every process-level test needs: a fresh directory per test and the wall clock
// (metadata expiry is checked by real programs against the real time).
#ifndef MDU_TESTS_SUPPORT_TEST_DIR_H_
#define MDU_TESTS_SUPPORT_TEST_DIR_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mdu::testing {

// <gtest temp dir>/<prefix>_<pid>_<test name>, emptied and created: tests running in parallel
// (ctest -j) or again after a crash never see each other's files.
inline std::filesystem::path FreshTestDir(std::string_view prefix) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      (std::string(prefix) + "_" + std::to_string(::getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Seconds since the Unix epoch.
inline int64_t WallNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mdu::testing

#endif  // MDU_TESTS_SUPPORT_TEST_DIR_H_
