// Durable file writes and bounded reads.
//
// WriteFileAtomically: writes to a unique temporary file in the same directory, fsyncs it,
// renames it over `path` and fsyncs the directory, so after a crash or power loss `path` holds
// either the complete old content or the complete new content, never a mix. On any error the
// temporary file is removed and `path` is untouched. kIo with the path and strerror;
// kInvalidArgument if `path` has no file name. `mode` is applied exactly (the umask does not
// apply). The temporary file is ".<name>.tmp-XXXXXX" beside `path`. If only the final directory
// fsync fails, `path` already holds the new content but the error is still returned.
//
// PreparedFile: the first half of WriteFileAtomically, for several files made durable together:
// Write puts the content in a fsynced temporary file beside `path`; Publish renames it over
// `path`; the caller then fsyncs the directory once for all of them (SyncDirectory). Until
// Publish, `path` is untouched and a crash leaves at most a stray ".<name>.tmp-XXXXXX" file; a
// PreparedFile destroyed unpublished removes its temporary file.
//
// ReadFileBounded: reads a whole file, failing with kLimitExceeded (before reading it all) if it
// is larger than `max_bytes`, kNotFound if it does not exist, kIo otherwise.
//
// Thread-safety: functions are reentrant; concurrent writers of the same path end with one of
// the contents (last rename wins).
#ifndef MDU_CORE_IO_FILE_H_
#define MDU_CORE_IO_FILE_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace mdu::io {

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data,
                           int mode = 0644);

class PreparedFile {
 public:
  // Same errors as WriteFileAtomically's first steps (kIo, kInvalidArgument).
  static Result<PreparedFile> Write(const std::filesystem::path& path, std::string_view data,
                                    int mode = 0644);

  PreparedFile(PreparedFile&& other) noexcept;
  PreparedFile& operator=(PreparedFile&& other) noexcept;
  PreparedFile(const PreparedFile&) = delete;
  PreparedFile& operator=(const PreparedFile&) = delete;
  ~PreparedFile();

  // Renames the temporary file over path() (kIo on failure; then the temporary file stays owned
  // and is removed by the destructor). Durable only after the directory is fsynced.
  Status Publish();

  const std::filesystem::path& path() const { return path_; }

 private:
  PreparedFile(std::filesystem::path path, std::string temp_path)
      : path_(std::move(path)), temp_path_(std::move(temp_path)) {}

  std::filesystem::path path_;
  std::string temp_path_;  // empty once published or moved from
};

Result<std::string> ReadFileBounded(const std::filesystem::path& path, uint64_t max_bytes);

// Creates `dir` and missing parents (0755 by default, minus the umask) and fsyncs the parent of
// each directory it creates; kIo on failure (including a component that is not a directory).
Status CreateDirectories(const std::filesystem::path& dir, int mode = 0755);

// Fsyncs a directory so that renames and creations inside it are durable.
Status SyncDirectory(const std::filesystem::path& dir);

// Removes a file if present (a missing file is not an error), then fsyncs its directory.
Status RemoveFileDurably(const std::filesystem::path& path);

}  // namespace mdu::io

#endif  // MDU_CORE_IO_FILE_H_
