#include "repo-server/static_mirror.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>

#include "core/io/file.h"
#include "core/metadata/metadata.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;

Unexpected<Error> IoError(const fs::path& path, std::string_view what, int error_number) {
  return MakeError(ErrorKind::kIo,
                   std::string(what) + " " + path.string() + ": " + std::strerror(error_number));
}

Unexpected<Error> FsError(const fs::path& path, std::string_view what,
                          const std::error_code& error) {
  return MakeError(ErrorKind::kIo,
                   std::string(what) + " " + path.string() + ": " + error.message());
}

// The consistent-snapshot file name of a target: "<dir>/<sha256>.<base>".
std::string TargetFileName(const std::string& path, const std::string& sha256) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return sha256 + "." + path;
  return path.substr(0, slash + 1) + sha256 + "." + path.substr(slash + 1);
}

// The generation `current` points at, if any.
std::optional<fs::path> CurrentGeneration(const fs::path& dir) {
  std::error_code error;
  fs::path target = fs::read_symlink(dir / "current", error);
  if (error) return std::nullopt;
  return dir / target;
}

uint64_t NextGenerationNumber(const fs::path& generations) {
  uint64_t next = 1;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(generations, error)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    unsigned long long number = std::strtoull(name.c_str(), &end, 10);
    if (end != nullptr && *end == '\0' && number >= next) next = number + 1;
  }
  return next;
}

}  // namespace

Status StaticMirror::Materialize(const RepositoryView& view) {
  if (!view.initialized()) return {};
  const fs::path generations = dir_ / "generations";
  MDU_RETURN_IF_ERROR(io::CreateDirectories(generations));
  const std::optional<fs::path> previous = CurrentGeneration(dir_);
  const std::string name = std::to_string(NextGenerationNumber(generations));
  const fs::path generation = generations / name;
  std::error_code error;
  fs::remove_all(generation, error);
  MDU_RETURN_IF_ERROR(io::CreateDirectories(generation / "metadata"));

  for (const auto& [role, versions] : view.files()) {
    for (const auto& [version, bytes] : versions) {
      if (role == "timestamp") continue;
      MDU_RETURN_IF_ERROR(io::WriteFileAtomically(
          generation / "metadata" / (std::to_string(version) + "." + role + ".json"), *bytes));
    }
  }
  if (const SharedBytes* timestamp = view.Find("timestamp", 0)) {
    MDU_RETURN_IF_ERROR(
        io::WriteFileAtomically(generation / "metadata" / "timestamp.json", **timestamp));
  }
  for (const auto& [path, target] : view.targets()) {
    MDU_RETURN_IF_ERROR(WriteTarget(generation, previous.value_or(fs::path()), path, target));
  }
  MDU_RETURN_IF_ERROR(io::SyncDirectory(generation));

  // Swap: a new symlink renamed over the old one is atomic for readers.
  const fs::path link = dir_ / "current.tmp";
  fs::remove(link, error);
  fs::create_symlink(fs::path("generations") / name, link, error);
  if (error) return FsError(link, "create symlink", error);
  if (::rename(link.c_str(), (dir_ / "current").c_str()) != 0) {
    return IoError(dir_ / "current", "rename", errno);
  }
  MDU_RETURN_IF_ERROR(io::SyncDirectory(dir_));

  // Keep the new and the previous generation only.
  for (const auto& entry : fs::directory_iterator(generations, error)) {
    if (entry.path() == generation || (previous && entry.path() == *previous)) continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  return {};
}

Status StaticMirror::WriteTarget(const fs::path& generation, const fs::path& previous,
                                 const std::string& path, const TargetLocation& target) {
  MDU_RETURN_IF_ERROR(metadata::ValidateTargetPath(path));
  const std::string relative = TargetFileName(path, target.sha256);
  const fs::path destination = generation / "targets" / relative;
  MDU_RETURN_IF_ERROR(io::CreateDirectories(destination.parent_path()));
  std::error_code error;
  if (!previous.empty() && fs::exists(previous / "targets" / relative, error)) {
    fs::create_hard_link(previous / "targets" / relative, destination, error);
    if (!error) return {};
  }
  MDU_ASSIGN_OR_RETURN(BlobInfo info, store_.GetTarget(target.sha256));
  int fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(destination, "open", errno);
  Status status;
  for (uint64_t index = 0; index * info.chunk_bytes < info.length && status; ++index) {
    auto chunk = store_.ReadBlobChunk(info.blob_id, index);
    if (!chunk) {
      status = MakeError(chunk.error());
      break;
    }
    for (size_t done = 0; done < chunk->size();) {
      ssize_t n = ::write(fd, chunk->data() + done, chunk->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = IoError(destination, "write", errno);
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  if (status && ::fsync(fd) != 0) status = IoError(destination, "fsync", errno);
  ::close(fd);
  return status;
}

}  // namespace mdu::server
