// Helpers shared by the signer tests: a temporary directory and whole-file reads and writes.
#ifndef MDU_TESTS_INTEGRATION_SIGNER_KEYS_TEST_UTIL_H_
#define MDU_TESTS_INTEGRATION_SIGNER_KEYS_TEST_UTIL_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace mdu::signer::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
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

std::string ReadAll(const std::filesystem::path& path);  // aborts the test on failure
void WriteAll(const std::filesystem::path& path, std::string_view data);
int FileMode(const std::filesystem::path& path);  // permission bits, -1 if absent

}  // namespace mdu::signer::testing

#endif  // MDU_TESTS_INTEGRATION_SIGNER_KEYS_TEST_UTIL_H_
