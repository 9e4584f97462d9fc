// Mutual exclusion between signer processes working on one workspace.
//
// Every command holds a flock(2) on <workspace>/.lock for its whole run: commands that change
// the workspace an exclusive lock, read-only ones (status) a shared lock. Without it two
// commands that both load, edit and save would silently lose one update (e.g. two add-target
// runs each writing targets.json with only their own files).
//
// A second command fails at once (no waiting: an engineer at a terminal wants to know now) and
// names the holder: the exclusive holder writes "pid <N>: <command line>" into the lock file.
// flock locks are released by the kernel when the process dies, so a crashed command never
// leaves a stale lock; the text it wrote is only informative.
//
// Ownership: a WorkspaceLock owns the open lock file descriptor; moving transfers it, the
// destructor releases the lock. Not thread-safe.
#ifndef MDU_SIGNER_REPO_WORKSPACE_LOCK_H_
#define MDU_SIGNER_REPO_WORKSPACE_LOCK_H_

#include <filesystem>
#include <string>

#include "core/common/error.h"

namespace mdu::signer::repo {

inline constexpr const char* kLockFileName = ".lock";

// kNone: no lock at all, for callers that guarantee exclusivity themselves (tests holding
// several Workspace objects of one directory, benchmarks). Programs never use it.
enum class LockMode { kNone, kShared, kExclusive };

class WorkspaceLock {
 public:
  WorkspaceLock() = default;
  WorkspaceLock(WorkspaceLock&& other) noexcept;
  WorkspaceLock& operator=(WorkspaceLock&& other) noexcept;
  WorkspaceLock(const WorkspaceLock&) = delete;
  WorkspaceLock& operator=(const WorkspaceLock&) = delete;
  ~WorkspaceLock();

  // Locks `dir` (which must exist). kPolicy error naming the holder when another process
  // holds a conflicting lock; kIo if the lock file cannot be opened.
  static Result<WorkspaceLock> Acquire(const std::filesystem::path& dir, LockMode mode);
  // The same on any lock file; `what` names the protected thing in the error ("the published
  // repository /srv/repo").
  static Result<WorkspaceLock> AcquireFile(const std::filesystem::path& lock_file,
                                           LockMode mode, const std::string& what);

  bool held() const { return fd_ >= 0; }
  LockMode mode() const { return mode_; }
  // Turns a shared lock into an exclusive one without waiting (fails if other readers hold it).
  // Note: flock conversion is not atomic; callers re-check what they saw under the shared lock.
  Status UpgradeToExclusive();
  // Back to shared (after a recovery done under the exclusive lock).
  Status DowngradeToShared();

 private:
  Status RecordHolder();

  int fd_ = -1;
  LockMode mode_ = LockMode::kNone;
  std::filesystem::path path_;
};

// "signer add-target fw.bin --version 2" from /proc/self/cmdline (program base name, then the
// arguments), at most 200 characters. Passphrases never appear on a signer command line.
std::string DescribeThisProcess();

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_WORKSPACE_LOCK_H_
