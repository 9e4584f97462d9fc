#include "signer/repo/file_transaction.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <set>
#include <system_error>

#include "core/io/file.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;

std::string RandomSuffix() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  uint64_t bits = engine();
  for (int i = 0; i < 12; ++i, bits >>= 4) out.push_back(kDigits[bits & 15]);
  return out;
}

}  // namespace

FileTransaction::~FileTransaction() {
  if (!committed_) {
    RemoveTemporaries();
    for (const Adopted& adopted : adopted_) {
      std::error_code ec;
      fs::remove(adopted.temp, ec);
    }
  }
}

void FileTransaction::Put(const fs::path& relative, std::string data, int mode) {
  writes_.push_back(Write{relative, std::move(data), mode});
}

void FileTransaction::AdoptFile(const fs::path& temp_absolute, const fs::path& relative,
                                bool keep_existing) {
  adopted_.push_back(Adopted{temp_absolute, relative, keep_existing});
}

void FileTransaction::RemoveTemporaries() {
  for (const fs::path& temp : staged_) {
    std::error_code ec;
    fs::remove(temp, ec);
  }
  staged_.clear();
}

Status FileTransaction::Commit() {
  // Phase 1: everything that can fail.
  std::set<fs::path> dirs;
  for (const Write& write : writes_) {
    const fs::path dest = root_ / write.relative;
    MDU_RETURN_IF_ERROR(io::CreateDirectories(dest.parent_path()));
    const fs::path temp =
        dest.parent_path() / (".txn-" + RandomSuffix() + "-" + dest.filename().string());
    staged_.push_back(temp);
    auto written = io::WriteFileAtomically(temp, write.data, write.mode);
    if (!written) {
      RemoveTemporaries();
      return MakeError(written.error().WithContext("writing " + dest.string()));
    }
    dirs.insert(dest.parent_path());
  }
  if (!adopted_.empty()) {
    for (const Adopted& adopted : adopted_) {
      auto made = io::CreateDirectories((root_ / adopted.relative).parent_path());
      if (!made) {
        RemoveTemporaries();
        return MakeError(made.error());
      }
    }
    auto synced = SyncFileSystem(root_);
    if (!synced) {
      RemoveTemporaries();
      return MakeError(synced.error());
    }
  }

  // Phase 2: renames.
  for (size_t i = 0; i < writes_.size(); ++i) {
    const fs::path dest = root_ / writes_[i].relative;
    if (::rename(staged_[i].c_str(), dest.c_str()) != 0) {
      const int err = errno;
      RemoveTemporaries();
      return MakeError(ErrorKind::kIo, "renaming into " + dest.string() + ": " +
                                           std::strerror(err) +
                                           " (the workspace may be "
                                           "partially updated; check `signer status`)");
    }
  }
  staged_.clear();
  for (const Adopted& adopted : adopted_) {
    const fs::path dest = root_ / adopted.relative;
    // A content-addressed blob that already exists has the same bytes: replacing it is as
    // good as keeping it and saves a stat per file.
    if (::rename(adopted.temp.c_str(), dest.c_str()) != 0) {
      const int err = errno;
      return MakeError(ErrorKind::kIo,
                       "renaming into " + dest.string() + ": " + std::strerror(err));
    }
    dirs.insert(dest.parent_path());
  }
  committed_ = true;
  for (const fs::path& dir : dirs) MDU_RETURN_IF_ERROR(io::SyncDirectory(dir));
  return {};
}

Status SyncFileSystem(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, "opening " + dir.string() + ": " + std::strerror(errno));
  }
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return MakeError(ErrorKind::kIo,
                     "syncing the file system of " + dir.string() + ": " + std::strerror(err));
  }
  return {};
}

}  // namespace mdu::signer::repo
