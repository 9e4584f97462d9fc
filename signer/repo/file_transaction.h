// A group of file replacements inside one directory tree (the workspace) that either all happen
// or none do, even across a crash (kill -9, power loss) at any point.
//
// Put() and AdoptFile() only record what to write; Commit() then:
//   1. writes every new content to a temporary file in <root>/tmp/ (no fsync yet);
//   2. renames adopted files (content-addressed target blobs) into place: they are new names
//      the old state never refers to (or the same bytes under the same name), so this does not
//      change what the old state means; a crash leaves at most unreferenced blobs;
//   3. syncs the file system once (syncfs) so every temporary and blob is durable;
//   4. writes the journal <root>/journal.json ({"renames": [[tmp, destination], ...]})
//      atomically and durably: THE COMMIT POINT;
//   5. renames each temporary onto its destination, syncs the file system, removes the journal.
// Errors before step 4 (disk full, permissions, I/O) remove the temporaries and leave the tree
// as it was. RecoverFileTransaction(), run by whoever next opens the tree with the exclusive
// lock, completes an interrupted step 5 from the journal (roll forward) and otherwise empties
// tmp/ (a crash before step 4 leaves the old state).
//
// Ownership: the transaction owns its pending temporary files and removes them in its
// destructor unless committed. Callers hold the workspace's exclusive lock. Not thread-safe.
#ifndef MDU_SIGNER_REPO_FILE_TRANSACTION_H_
#define MDU_SIGNER_REPO_FILE_TRANSACTION_H_

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace mdu::signer::repo {

inline constexpr std::string_view kJournalFileName = "journal.json";
// Where temporaries live (same file system as the tree, so renames are atomic).
inline constexpr std::string_view kTempDirName = "tmp";

class FileTransaction {
 public:
  explicit FileTransaction(std::filesystem::path root) : root_(std::move(root)) {}
  FileTransaction(const FileTransaction&) = delete;
  FileTransaction& operator=(const FileTransaction&) = delete;
  ~FileTransaction();

  // `relative` is below the root; parent directories are created at commit.
  void Put(const std::filesystem::path& relative, std::string data, int mode = 0644);
  // `temp_absolute` must be on the same file system as the root. Used for content-addressed
  // files: an existing destination has the same bytes and is simply replaced.
  void AdoptFile(const std::filesystem::path& temp_absolute, const std::filesystem::path& relative);

  bool empty() const { return writes_.empty() && adopted_.empty(); }
  Status Commit();

 private:
  struct Write {
    std::filesystem::path relative;
    std::string data;
    int mode;
  };
  struct Adopted {
    std::filesystem::path temp;
    std::filesystem::path relative;
  };
  void RemoveTemporaries();

  std::filesystem::path root_;
  std::vector<Write> writes_;
  std::vector<Adopted> adopted_;
  std::vector<std::filesystem::path> staged_;  // temporaries written by Commit's first phase
  bool committed_ = false;
};

// True when `root` holds the journal of a commit that was interrupted after its commit point.
bool HasInterruptedCommit(const std::filesystem::path& root);

// Completes an interrupted commit from the journal, if any (idempotent: safe to crash in the
// middle and run again), then, if `remove_temporaries`, deletes every leftover temporary in
// <root>/tmp (only under the exclusive lock: another command's pending files live there).
// Runs before the tree is read.
Status RecoverFileTransaction(const std::filesystem::path& root, bool remove_temporaries);
// The first half of the above: completes the journal's renames and removes it.
Status ApplyJournal(const std::filesystem::path& root);

// Flushes every dirty file of the file system holding `dir` to disk (syncfs), once, instead of
// one fsync per file: what makes adding 100,000 targets fast and still durable.
Status SyncFileSystem(const std::filesystem::path& dir);

// Tests only: called with a short description before every step of Commit and of the
// recovery that changes the disk, so a test can end the process there (simulated crash).
// Pass nullptr to remove. Not thread-safe.
void SetCommitStepHookForTesting(std::function<void(std::string_view step)> hook);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_FILE_TRANSACTION_H_
