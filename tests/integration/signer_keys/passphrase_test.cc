// Passphrase sources: environment variable, file descriptor, file.
// (The terminal prompt is exercised through the real program in cli_test.cc.)
#include "signer/keystore/passphrase.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/integration/signer_keys/test_util.h"

namespace mdu::signer {
namespace {

using testing::TempDir;
using testing::WriteAll;

// A pipe whose write end has been filled and closed; the read end is closed on destruction.
class FilledPipe {
 public:
  explicit FilledPipe(std::string_view data) {
    int fds[2];
    if (::pipe(fds) != 0) {
      std::abort();
    }
    read_fd_ = fds[0];
    EXPECT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fds[1]);
  }
  FilledPipe(const FilledPipe&) = delete;
  FilledPipe& operator=(const FilledPipe&) = delete;
  ~FilledPipe() { ::close(read_fd_); }
  int fd() const { return read_fd_; }

 private:
  int read_fd_ = -1;
};

TEST(PassphraseTest, FromEnvironmentVariable) {
  ASSERT_EQ(::setenv("MDU_TEST_PASSPHRASE", "env secret", 1), 0);
  auto pass = PassphraseFromEnv("MDU_TEST_PASSPHRASE");
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->view(), "env secret");
  ::unsetenv("MDU_TEST_PASSPHRASE");

  auto unset = PassphraseFromEnv("MDU_TEST_PASSPHRASE");
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(unset.error().message().find("MDU_TEST_PASSPHRASE"), std::string::npos);
}

TEST(PassphraseTest, FromFdReadsOneLineAtATime) {
  FilledPipe pipe("first secret\r\nsecond\nthird-no-newline");
  auto first = PassphraseFromFd(pipe.fd());
  auto second = PassphraseFromFd(pipe.fd());
  auto third = PassphraseFromFd(pipe.fd());
  auto fourth = PassphraseFromFd(pipe.fd());
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->view(), "first secret");
  EXPECT_EQ(second->view(), "second");
  EXPECT_EQ(third->view(), "third-no-newline");
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(PassphraseTest, FromFdRejectsClosedDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  ::close(fds[1]);
  auto pass = PassphraseFromFd(fds[0]);
  ASSERT_FALSE(pass);
  EXPECT_EQ(pass.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(pass.error().message().find("not open"), std::string::npos);
}

TEST(PassphraseTest, FromFileReadsTheFirstLine) {
  TempDir dir;
  WriteAll(dir.path() / "pass.txt", "file secret\nignored second line\n");
  auto pass = PassphraseFromFile(dir.path() / "pass.txt");
  ASSERT_TRUE(pass) << pass.error().ToString();
  EXPECT_EQ(pass->view(), "file secret");

  auto missing = PassphraseFromFile(dir.path() / "absent.txt");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);

  WriteAll(dir.path() / "empty.txt", "");
  auto empty = PassphraseFromFile(dir.path() / "empty.txt");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind(), ErrorKind::kInvalidArgument);

  WriteAll(dir.path() / "long.txt", std::string(kMaxPassphraseBytes + 1, 'x') + "\n");
  auto too_long = PassphraseFromFile(dir.path() / "long.txt");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().kind(), ErrorKind::kInvalidArgument);

  WriteAll(dir.path() / "max.txt", std::string(kMaxPassphraseBytes, 'y'));
  auto longest = PassphraseFromFile(dir.path() / "max.txt");
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->size(), kMaxPassphraseBytes);
}

TEST(PassphraseTest, ObtainDispatchesAndRefusesEmptyForNewKeys) {
  ASSERT_EQ(::setenv("MDU_TEST_EMPTY", "", 1), 0);
  PassphraseSource env;
  env.env_var = "MDU_TEST_EMPTY";
  auto create = ObtainPassphrase(env, PassphraseUse::kCreate, "test");
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(create.error().message().find("empty passphrase"), std::string::npos);
  auto unlock = ObtainPassphrase(env, PassphraseUse::kUnlock, "test");
  ASSERT_TRUE(unlock);  // a wrong (empty) passphrase is the keystore's to reject
  EXPECT_TRUE(unlock->empty());
  ::unsetenv("MDU_TEST_EMPTY");

  FilledPipe pipe("from fd\n");
  PassphraseSource fd;
  fd.fd = pipe.fd();
  auto from_fd = ObtainPassphrase(fd, PassphraseUse::kCreate, "test");
  ASSERT_TRUE(from_fd);
  EXPECT_EQ(from_fd->view(), "from fd");

  TempDir dir;
  WriteAll(dir.path() / "p", "from file\n");
  PassphraseSource file;
  file.file = dir.path() / "p";
  auto from_file = ObtainPassphrase(file, PassphraseUse::kUnlock, "test");
  ASSERT_TRUE(from_file);
  EXPECT_EQ(from_file->view(), "from file");
  EXPECT_FALSE(file.interactive());
  EXPECT_TRUE(PassphraseSource{}.interactive());
}

}  // namespace
}  // namespace mdu::signer
