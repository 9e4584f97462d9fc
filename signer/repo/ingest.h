// Reading target files into the workspace: one pass over each file computes its length, sha256
// and sha512 (crypto::MultiHasher) while copying it into a temporary blob file in the
// workspace's targets/ directory. Many files are processed by a small pool of threads (both
// cores by default); one big file streams in 1 MiB blocks, so memory stays flat.
//
// The temporary blob files are not fsynced one by one: Workspace::Save syncs the file system
// once before renaming them to targets/<sha256>. If the caller drops the results (an error
// later on), DiscardIngested removes them.
//
// Thread-safety: IngestFiles is reentrant; `progress` is called from worker threads, serialized
// by IngestFiles (never concurrently).
#ifndef MDU_SIGNER_REPO_INGEST_H_
#define MDU_SIGNER_REPO_INGEST_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/common/error.h"

namespace mdu::signer::repo {

struct IngestedFile {
  std::filesystem::path source;
  uint64_t length = 0;
  std::string sha256;
  std::string sha512;
  std::filesystem::path temp_blob;  // below the blob directory; empty if not copied
};

struct IngestProgress {
  size_t files_done = 0;
  size_t files_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
};
using ProgressCallback = std::function<void(const IngestProgress&)>;

struct IngestOptions {
  unsigned threads = 0;            // 0: std::thread::hardware_concurrency(), at most 8
  std::filesystem::path blob_dir;  // empty: only hash, copy nothing
  ProgressCallback progress;       // optional
};

// Hashes (and copies, if blob_dir is set) every file. On any error (the first one, naming the
// file) every temporary blob already written is removed.
Result<std::vector<IngestedFile>> IngestFiles(const std::vector<std::filesystem::path>& files,
                                              const IngestOptions& options);

void DiscardIngested(const std::vector<IngestedFile>& files);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_INGEST_H_
