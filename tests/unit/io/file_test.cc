#include "core/io/file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mdu::io {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "mdu_io_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Names in `dir`, sorted: shows leftover temporary files, which start with a dot.
  static std::vector<std::string> Entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Independent of ReadFileBounded, so a bug there cannot hide one in the writer.
  static std::string Slurp(const fs::path& path) {
    std::string out;
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      return "<missing>";
    }
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
      out.append(buffer, n);
    }
    std::fclose(file);
    return out;
  }

  static int ModeOf(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return static_cast<int>(st.st_mode & 07777);
  }

  fs::path dir_;
};

TEST_F(FileTest, WritesNewFileAndLeavesNoTemporary) {
  const fs::path path = dir_ / "root.json";
  ASSERT_TRUE(WriteFileAtomically(path, "hello"));
  EXPECT_EQ(Slurp(path), "hello");
  EXPECT_THAT(Entries(dir_), ElementsAre("root.json"));
}

TEST_F(FileTest, ReplacesLongerContentCompletely) {
  const fs::path path = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(path, std::string(100000, 'a')));
  ASSERT_TRUE(WriteFileAtomically(path, "short"));
  EXPECT_EQ(Slurp(path), "short");
  ASSERT_TRUE(WriteFileAtomically(path, ""));
  EXPECT_EQ(Slurp(path), "");
  EXPECT_THAT(Entries(dir_), ElementsAre("f"));
}

TEST_F(FileTest, WritesBinaryData) {
  std::string data;
  for (uint32_t i = 0; i < (1u << 20); ++i) {
    data.push_back(static_cast<char>(i * 7919u % 251u));
  }
  const fs::path path = dir_ / "blob";
  ASSERT_TRUE(WriteFileAtomically(path, data));
  auto read = ReadFileBounded(path, data.size());
  ASSERT_TRUE(read) << read.error().ToString();
  // Compared as a bool: gtest's diff of two megabyte strings is far too slow to print.
  EXPECT_TRUE(*read == data) << "sizes " << read->size() << " vs " << data.size();
}

TEST_F(FileTest, HonoursModeExactly) {
  const fs::path path = dir_ / "secret";
  ASSERT_TRUE(WriteFileAtomically(path, "k", 0600));
  EXPECT_EQ(ModeOf(path), 0600);
  ASSERT_TRUE(WriteFileAtomically(path, "k", 0644));
  EXPECT_EQ(ModeOf(path), 0644);
  // Bits the umask would normally strip are kept: the caller asked for them.
  const mode_t old_umask = ::umask(022);
  ASSERT_TRUE(WriteFileAtomically(dir_ / "shared", "k", 0664));
  ::umask(old_umask);
  EXPECT_EQ(ModeOf(dir_ / "shared"), 0664);
}

TEST_F(FileTest, MissingDirectoryFailsWithPathAndLeavesNothing) {
  const fs::path path = dir_ / "missing" / "f";
  auto status = WriteFileAtomically(path, "x");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kIo);
  EXPECT_THAT(status.error().message(), HasSubstr(path.string()));
  EXPECT_THAT(Entries(dir_), IsEmpty());
}

TEST_F(FileTest, ParentThatIsARegularFileFails) {
  // Tests run as root, so an unwritable directory would still be writable: ENOTDIR is the
  // reliable way to make the temporary file's creation fail.
  ASSERT_TRUE(WriteFileAtomically(dir_ / "plain", "p"));
  auto status = WriteFileAtomically(dir_ / "plain" / "f", "x");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kIo);
  EXPECT_THAT(status.error().message(), HasSubstr("Not a directory"));
  EXPECT_THAT(Entries(dir_), ElementsAre("plain"));
  EXPECT_EQ(Slurp(dir_ / "plain"), "p");
}

TEST_F(FileTest, FailedRenameRemovesTheTemporaryFile) {
  // The temporary file is created and written, then rename(2) fails because the target is a
  // non-empty directory: the failure path after the temporary exists must clean it up.
  fs::create_directory(dir_ / "target");
  ASSERT_TRUE(WriteFileAtomically(dir_ / "target" / "inside", "i"));
  auto status = WriteFileAtomically(dir_ / "target", "x");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kIo);
  EXPECT_THAT(status.error().message(), HasSubstr("renaming"));
  EXPECT_THAT(Entries(dir_), ElementsAre("target"));
  EXPECT_THAT(Entries(dir_ / "target"), ElementsAre("inside"));
}

TEST_F(FileTest, RejectsPathWithoutFileName) {
  auto status = WriteFileAtomically("", "x");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument);
  status = WriteFileAtomically(dir_.string() + "/", "x");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(FileTest, LongFileNameStillGetsATemporary) {
  const fs::path path = dir_ / std::string(250, 'n');
  ASSERT_TRUE(WriteFileAtomically(path, "long"));
  EXPECT_EQ(Slurp(path), "long");
  EXPECT_EQ(Entries(dir_).size(), 1u);
}

TEST_F(FileTest, PreparedFileIsInvisibleUntilPublished) {
  const fs::path path = dir_ / "targets.json";
  ASSERT_TRUE(WriteFileAtomically(path, "old"));
  auto prepared = PreparedFile::Write(path, "new content", 0640);
  ASSERT_TRUE(prepared) << prepared.error().ToString();
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_EQ(Entries(dir_).size(), 2u);  // targets.json and the hidden temporary
  ASSERT_TRUE(prepared->Publish());
  ASSERT_TRUE(SyncDirectory(dir_));
  EXPECT_EQ(Slurp(path), "new content");
  EXPECT_EQ(ModeOf(path), 0640);
  EXPECT_THAT(Entries(dir_), ElementsAre("targets.json"));
  EXPECT_FALSE(prepared->Publish());  // nothing left to publish
}

TEST_F(FileTest, UnpublishedPreparedFileIsRemoved) {
  const fs::path path = dir_ / "snapshot.json";
  ASSERT_TRUE(WriteFileAtomically(path, "old"));
  {
    auto prepared = PreparedFile::Write(path, "rejected");
    ASSERT_TRUE(prepared);
    PreparedFile moved = std::move(prepared).value();  // ownership moves with it
    EXPECT_EQ(moved.path(), path);
  }
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_THAT(Entries(dir_), ElementsAre("snapshot.json"));
}

TEST_F(FileTest, PreparedFileInAMissingDirectoryFails) {
  auto prepared = PreparedFile::Write(dir_ / "gone" / "x.json", "data");
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind(), ErrorKind::kIo);
  EXPECT_THAT(prepared.error().message(), HasSubstr("gone"));
}

TEST_F(FileTest, ReadWithinAndAtTheLimit) {
  const fs::path path = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(path, "0123456789"));
  auto at_limit = ReadFileBounded(path, 10);
  ASSERT_TRUE(at_limit) << at_limit.error().ToString();
  EXPECT_EQ(*at_limit, "0123456789");
  auto under = ReadFileBounded(path, 1000);
  ASSERT_TRUE(under);
  EXPECT_EQ(*under, "0123456789");
}

TEST_F(FileTest, ReadOverTheLimitFails) {
  const fs::path path = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(path, "0123456789"));
  auto over = ReadFileBounded(path, 9);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind(), ErrorKind::kLimitExceeded);
  EXPECT_THAT(over.error().message(), HasSubstr(path.string()));
  auto zero = ReadFileBounded(path, 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().kind(), ErrorKind::kLimitExceeded);
}

TEST_F(FileTest, ReadWithTheLargestLimit) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "f", "data"));
  auto read = ReadFileBounded(dir_ / "f", UINT64_MAX);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*read, "data");
}

TEST_F(FileTest, ReadOfEmptyFileWithZeroLimit) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "empty", ""));
  auto read = ReadFileBounded(dir_ / "empty", 0);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "");
}

TEST_F(FileTest, EndlessDataStopsAtTheLimit) {
  // /dev/zero never ends: returning at all shows the read stops once past the limit instead
  // of reading everything first (the endless-data attack against a local file or pipe).
  auto read = ReadFileBounded("/dev/zero", 1 << 20);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind(), ErrorKind::kLimitExceeded);
}

TEST_F(FileTest, ReadOfMissingFileIsNotFound) {
  auto read = ReadFileBounded(dir_ / "nope", 100);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind(), ErrorKind::kNotFound);
  EXPECT_THAT(read.error().message(), HasSubstr("nope"));
}

TEST_F(FileTest, ReadOfDirectoryIsIo) {
  auto read = ReadFileBounded(dir_, 100);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind(), ErrorKind::kIo);
}

TEST_F(FileTest, RemoveFileDurably) {
  const fs::path path = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(path, "x"));
  ASSERT_TRUE(RemoveFileDurably(path));
  EXPECT_FALSE(fs::exists(path));
  // Already gone, and never existed in a directory that does not exist: both fine.
  EXPECT_TRUE(RemoveFileDurably(path));
  EXPECT_TRUE(RemoveFileDurably(dir_ / "no_dir" / "f"));
}

TEST_F(FileTest, RemoveFileDurablyReportsRealErrors) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "plain", "p"));
  auto status = RemoveFileDurably(dir_ / "plain" / "f");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kIo);
}

TEST_F(FileTest, CreateDirectoriesMakesParentsAndIsIdempotent) {
  const fs::path nested = dir_ / "a" / "b" / "c";
  ASSERT_TRUE(CreateDirectories(nested));
  EXPECT_TRUE(fs::is_directory(nested));
  ASSERT_TRUE(CreateDirectories(nested));
  ASSERT_TRUE(CreateDirectories(dir_ / "a" / "b" / "c" / ""));
  ASSERT_TRUE(WriteFileAtomically(nested / "f", "x"));
  EXPECT_EQ(Slurp(nested / "f"), "x");
}

TEST_F(FileTest, CreateDirectoriesThroughAFileFails) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "plain", "p"));
  auto status = CreateDirectories(dir_ / "plain" / "sub");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kIo);
  auto same = CreateDirectories(dir_ / "plain");
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().kind(), ErrorKind::kIo);
  EXPECT_FALSE(CreateDirectories(""));
}

TEST_F(FileTest, SyncDirectory) {
  EXPECT_TRUE(SyncDirectory(dir_));
  auto missing = SyncDirectory(dir_ / "missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kIo);
}

TEST_F(FileTest, ConcurrentWritersEndWithOneCompleteContent) {
  const fs::path path = dir_ / "contested";
  constexpr int kWriters = 8;
  constexpr int kRounds = 10;
  constexpr size_t kSize = size_t{256} * 1024;
  std::vector<std::string> contents;
  contents.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    contents.push_back(std::string(kSize, static_cast<char>('A' + w)));
  }

  std::atomic<int> failures{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      while (!go.load()) {
        std::this_thread::yield();
      }
      for (int r = 0; r < kRounds; ++r) {
        if (!WriteFileAtomically(path, contents[static_cast<size_t>(w)])) {
          ++failures;
        }
        // Readers in between must always see a complete file from one writer.
        auto seen = ReadFileBounded(path, kSize);
        if (!seen || seen->size() != kSize ||
            seen->find_first_not_of(seen->front()) != std::string::npos) {
          ++failures;
        }
      }
    });
  }
  go = true;
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  const std::string final_content = Slurp(path);
  EXPECT_NE(std::find(contents.begin(), contents.end(), final_content), contents.end());
  EXPECT_THAT(Entries(dir_), ElementsAre("contested"));
}

}  // namespace
}  // namespace mdu::io
