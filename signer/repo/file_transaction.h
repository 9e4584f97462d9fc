// A group of file replacements inside one directory tree that either all happen or none do
// (as far as errors are concerned).
//
// Put() and AdoptFile() only record what to write; Commit() first writes every new content to a
// temporary file beside its destination (io::WriteFileAtomically into ".txn-*" names, so each
// temporary file is complete and durable), then renames them all into place and syncs the
// directories. Every failure that can realistically happen (disk full, permissions, I/O errors)
// happens during the first phase, after which the temporary files are removed and the tree is
// exactly as it was. Renames within one file system do not fail in practice; a crash between
// two renames can leave some files new and some old (documented limitation: no journal).
//
// AdoptFile hands over a file already written by the caller (e.g. a target blob streamed while
// hashing): it is renamed into place on Commit and deleted if the transaction is dropped.
//
// Ownership: the transaction owns its pending temporary files and removes them in its
// destructor unless committed. Not thread-safe.
#ifndef MDU_SIGNER_REPO_FILE_TRANSACTION_H_
#define MDU_SIGNER_REPO_FILE_TRANSACTION_H_

#include <filesystem>
#include <string>
#include <vector>

#include "core/common/error.h"

namespace mdu::signer::repo {

class FileTransaction {
 public:
  explicit FileTransaction(std::filesystem::path root) : root_(std::move(root)) {}
  FileTransaction(const FileTransaction&) = delete;
  FileTransaction& operator=(const FileTransaction&) = delete;
  ~FileTransaction();

  // `relative` is below the root; parent directories are created at commit.
  void Put(const std::filesystem::path& relative, std::string data, int mode = 0644);
  // `temp_absolute` must be on the same file system as the root. If the destination already
  // exists with the same content (content-addressed blobs), the temporary file is discarded.
  void AdoptFile(const std::filesystem::path& temp_absolute, const std::filesystem::path& relative,
                 bool keep_existing);

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
    bool keep_existing;
  };
  void RemoveTemporaries();

  std::filesystem::path root_;
  std::vector<Write> writes_;
  std::vector<Adopted> adopted_;
  std::vector<std::filesystem::path> staged_;  // temporaries written by Commit's first phase
  bool committed_ = false;
};

// Flushes every dirty file of the file system holding `dir` to disk (syncfs), once, instead of
// one fsync per file: what makes adding 100,000 targets fast and still durable.
Status SyncFileSystem(const std::filesystem::path& dir);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_FILE_TRANSACTION_H_
