#include "core/io/file.h"

#include "core/io/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace mdu::io {
namespace {

namespace fs = std::filesystem;

// std::error_code's message is thread-safe, unlike strerror().
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Unexpected<Error> IoError(const fs::path& path, std::string_view what, int err) {
  std::string message = path.string();
  message += ": ";
  message += what;
  message += ": ";
  message += ErrnoText(err);
  return MakeError(ErrorKind::kIo, std::move(message));
}

int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int FsyncRetrying(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

fs::path DirectoryOf(const fs::path& path) {
  fs::path dir = path.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// ".<name>.tmp-XXXXXX" in the same directory, so rename(2) stays within one file system. The
// name part is shortened so the result stays under NAME_MAX (255) even for long names.
std::string TempTemplate(const fs::path& path) {
  std::string name = path.filename().string();
  constexpr size_t kMaxNamePart = 200;
  if (name.size() > kMaxNamePart) {
    name.resize(kMaxNamePart);
  }
  return (DirectoryOf(path) / ("." + name + ".tmp-XXXXXX")).string();
}

}  // namespace

Result<PreparedFile> PreparedFile::Write(const fs::path& path, std::string_view data, int mode) {
  if (path.empty() || !path.has_filename()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "'" + path.string() + "': not a file path (empty or ends in '/')");
  }
  std::string temp_template = TempTemplate(path);
  std::vector<char> temp_name(temp_template.begin(), temp_template.end());
  temp_name.push_back('\0');
  UniqueFd fd(::mkostemp(temp_name.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return IoError(path, "creating a temporary file", errno);
  }
  PreparedFile prepared(path, std::string(temp_name.data()));  // removes the file on error

  // mkostemp creates 0600; set the requested mode exactly (the umask does not apply).
  if (::fchmod(fd.get(), static_cast<mode_t>(mode) & 07777) != 0) {
    return IoError(path, "fchmod of the temporary file", errno);
  }
  if (int err = WriteAll(fd.get(), data); err != 0) {
    return IoError(path, "writing the temporary file", err);
  }
  if (int err = FsyncRetrying(fd.get()); err != 0) {
    return IoError(path, "fsync of the temporary file", err);
  }
  if (int err = fd.Close(); err != 0) {
    return IoError(path, "closing the temporary file", err);
  }
  return prepared;
}

PreparedFile::PreparedFile(PreparedFile&& other) noexcept
    : path_(std::move(other.path_)), temp_path_(std::exchange(other.temp_path_, {})) {}

PreparedFile& PreparedFile::operator=(PreparedFile&& other) noexcept {
  if (this != &other) {
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
    path_ = std::move(other.path_);
    temp_path_ = std::exchange(other.temp_path_, {});
  }
  return *this;
}

PreparedFile::~PreparedFile() {
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status PreparedFile::Publish() {
  if (temp_path_.empty()) {
    return MakeError(ErrorKind::kInternal, path_.string() + ": nothing prepared to publish");
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return IoError(path_, "renaming the temporary file over it", errno);
  }
  temp_path_.clear();
  return {};
}

Status WriteFileAtomically(const fs::path& path, std::string_view data, int mode) {
  MDU_ASSIGN_OR_RETURN(PreparedFile prepared, PreparedFile::Write(path, data, mode));
  MDU_RETURN_IF_ERROR(prepared.Publish());
  // The new content is in place; the error below only says it may not survive a power loss.
  return SyncDirectory(DirectoryOf(path));
}

Result<std::string> ReadFileBounded(const fs::path& path, uint64_t max_bytes) {
  int raw_fd;
  do {
    raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (raw_fd < 0 && errno == EINTR);
  if (raw_fd < 0) {
    if (errno == ENOENT) {
      return MakeError(ErrorKind::kNotFound, path.string() + ": no such file");
    }
    return IoError(path, "open", errno);
  }
  UniqueFd fd(raw_fd);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return IoError(path, "fstat", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    return IoError(path, "read", EISDIR);
  }
  auto too_large = [&] {
    return MakeError(ErrorKind::kLimitExceeded, path.string() + ": larger than the limit of " +
                                                    std::to_string(max_bytes) + " bytes");
  };
  // Regular files tell their size up front; anything else (pipes, files that grow while we
  // read) is caught by the read loop below, which never reads more than max_bytes + 1.
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    return too_large();
  }

  std::string out;
  if (S_ISREG(st.st_mode)) {
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buffer[64 * 1024];
  for (;;) {
    // Ask for at most one byte past the limit: that byte, if it comes, proves the overflow.
    // (Written without max_bytes + 1, which wraps for UINT64_MAX.)
    const uint64_t left = max_bytes - out.size();
    const size_t want = left < sizeof(buffer) ? static_cast<size_t>(left) + 1 : sizeof(buffer);
    ssize_t n = ::read(fd.get(), buffer, want);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return IoError(path, "read", errno);
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return too_large();
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

Status CreateDirectories(const fs::path& dir, int mode) {
  if (dir.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "empty directory path");
  }
  fs::path prefix;
  for (const fs::path& part : dir.lexically_normal()) {
    prefix /= part;
    if (part.empty() || part == "/" || part == "." || part == "..") {
      continue;
    }
    if (::mkdir(prefix.c_str(), static_cast<mode_t>(mode)) == 0) {
      // Make the new entry durable, or files later written inside may vanish with it.
      MDU_RETURN_IF_ERROR(SyncDirectory(DirectoryOf(prefix)));
      continue;
    }
    int err = errno;
    if (err != EEXIST) {
      return IoError(prefix, "mkdir", err);
    }
    struct stat st {};
    if (::stat(prefix.c_str(), &st) != 0) {
      return IoError(prefix, "stat", errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return IoError(prefix, "mkdir", ENOTDIR);
    }
  }
  return {};
}

Status SyncDirectory(const fs::path& dir) {
  int raw_fd;
  do {
    raw_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (raw_fd < 0 && errno == EINTR);
  if (raw_fd < 0) {
    return IoError(dir, "opening the directory to fsync it", errno);
  }
  UniqueFd fd(raw_fd);
  if (int err = FsyncRetrying(fd.get()); err != 0) {
    return IoError(dir, "fsync", err);
  }
  if (int err = fd.Close(); err != 0) {
    return IoError(dir, "close", err);
  }
  return {};
}

Status RemoveFileDurably(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return IoError(path, "unlink", errno);
  }
  return SyncDirectory(DirectoryOf(path));
}

}  // namespace mdu::io
