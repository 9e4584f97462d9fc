#include "signer/repo/workspace_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/io/file.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxDescription = 200;

std::string ReadHolder(int fd) {
  char buffer[kMaxDescription + 64];
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return "";
  std::string text(buffer, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

}  // namespace

std::string DescribeThisProcess() {
  auto cmdline = io::ReadFileBounded("/proc/self/cmdline", 4096);
  std::string out;
  if (cmdline) {
    bool first = true;
    size_t start = 0;
    const std::string& raw = *cmdline;
    while (start < raw.size()) {
      size_t end = raw.find('\0', start);
      if (end == std::string::npos) end = raw.size();
      std::string arg = raw.substr(start, end - start);
      if (first) arg = fs::path(arg).filename().string();
      if (!first) out += ' ';
      out += arg;
      first = false;
      start = end + 1;
    }
  }
  if (out.empty()) out = "signer";
  if (out.size() > kMaxDescription) out = out.substr(0, kMaxDescription - 3) + "...";
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

WorkspaceLock::WorkspaceLock(WorkspaceLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), mode_(other.mode_), path_(std::move(other.path_)) {}

WorkspaceLock& WorkspaceLock::operator=(WorkspaceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    mode_ = other.mode_;
    path_ = std::move(other.path_);
  }
  return *this;
}

WorkspaceLock::~WorkspaceLock() {
  if (fd_ < 0) return;
  // The holder text only describes a live exclusive holder.
  if (mode_ == LockMode::kExclusive) static_cast<void>(::ftruncate(fd_, 0));
  ::close(fd_);  // closing the last descriptor releases the flock
}

Result<WorkspaceLock> WorkspaceLock::Acquire(const fs::path& dir, LockMode mode) {
  return AcquireFile(dir / kLockFileName, mode, "the workspace " + dir.string());
}

Result<WorkspaceLock> WorkspaceLock::AcquireFile(const fs::path& lock_file, LockMode mode,
                                                 const std::string& what) {
  WorkspaceLock lock;
  if (mode == LockMode::kNone) return lock;
  lock.path_ = lock_file;
  lock.fd_ = ::open(lock.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) {
    return MakeError(ErrorKind::kIo, "cannot open the lock " + lock.path_.string() + " of " +
                                         what + ": " + std::strerror(errno));
  }
  const int op = (mode == LockMode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  while (::flock(lock.fd_, op) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      return MakeError(ErrorKind::kIo,
                       "cannot lock " + lock.path_.string() + ": " + std::strerror(errno));
    }
    const std::string holder = ReadHolder(lock.fd_);
    return MakeError(ErrorKind::kPolicy,
                     what + " is in use by another signer command (" +
                         (holder.empty() ? std::string("a command that only reads it") : holder) +
                         "); wait for it to finish, then run this command again");
  }
  lock.mode_ = mode;  // only now: the destructor clears the holder text of an exclusive lock
  if (mode == LockMode::kExclusive) {
    MDU_RETURN_IF_ERROR(lock.RecordHolder());
  } else {
    // No exclusive holder can exist now: any text is left by a crashed one.
    static_cast<void>(::ftruncate(lock.fd_, 0));
  }
  return lock;
}

Status WorkspaceLock::RecordHolder() {
  // Only the exclusive holder writes: shared holders would overwrite each other.
  const std::string text =
      "pid " + std::to_string(::getpid()) + ": " + DescribeThisProcess() + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return MakeError(ErrorKind::kIo, "cannot write the workspace lock " + path_.string() + ": " +
                                         std::strerror(errno));
  }
  return {};
}

Status WorkspaceLock::UpgradeToExclusive() {
  if (mode_ != LockMode::kShared) return {};
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    return MakeError(ErrorKind::kPolicy,
                     "the workspace is in use by another signer command; wait for it to "
                     "finish, then run this command again");
  }
  mode_ = LockMode::kExclusive;
  return RecordHolder();
}

Status WorkspaceLock::DowngradeToShared() {
  if (mode_ != LockMode::kExclusive) return {};
  if (::ftruncate(fd_, 0) != 0) {  // no longer the exclusive holder
    return MakeError(ErrorKind::kIo, "cannot write the workspace lock " + path_.string());
  }
  while (::flock(fd_, LOCK_SH) != 0) {
    if (errno == EINTR) continue;
    return MakeError(ErrorKind::kIo, "cannot lock " + path_.string() + ": " + std::strerror(errno));
  }
  mode_ = LockMode::kShared;
  return {};
}

}  // namespace mdu::signer::repo
