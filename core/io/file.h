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
