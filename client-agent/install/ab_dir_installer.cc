#include "client-agent/install/ab_dir_installer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "core/io/file.h"
#include "core/io/unique_fd.h"

namespace mdu::agent::install {
namespace {

namespace fs = std::filesystem;

Unexpected<Error> IoError(std::string what, const fs::path& path, int err) {
  return MakeError(ErrorKind::kIo, what + " " + path.string() + ": " + std::strerror(err));
}
Unexpected<Error> IoError(std::string what, const fs::path& path, const std::error_code& ec) {
  return MakeError(ErrorKind::kIo, what + " " + path.string() + ": " + ec.message());
}

using io::UniqueFd;

// Streams `from` into a new file `to` (bounded memory) and fsyncs it.
Status CopyFileDurably(const fs::path& from, const fs::path& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return IoError("open", from, errno);
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) return IoError("create", to, errno);
  std::vector<char> buffer(1 << 16);
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read", from, errno);
    }
    if (n == 0) break;
    ssize_t done = 0;
    while (done < n) {
      const ssize_t w = ::write(out.get(), buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return IoError("write", to, errno);
      }
      done += w;
    }
  }
  if (::fsync(out.get()) != 0) return IoError("fsync", to, errno);
  if (::close(out.Release()) != 0) return IoError("close", to, errno);
  return {};
}

}  // namespace

std::string OtherSlot(std::string_view slot) { return slot == "a" ? "b" : "a"; }

Result<AbDirInstaller> AbDirInstaller::Open(fs::path root) {
  if (root.empty()) return MakeError(ErrorKind::kInvalidArgument, "empty install root");
  MDU_RETURN_IF_ERROR(io::CreateDirectories(root));
  return AbDirInstaller(std::move(root));
}

Result<fs::path> AbDirInstaller::SlotDir(std::string_view slot) const {
  if (slot != "a" && slot != "b") {
    return MakeError(ErrorKind::kInvalidArgument,
                     "unknown slot \"" + std::string(slot) + "\" (expected a or b)");
  }
  return root_ / ("slot-" + std::string(slot));
}

Result<std::string> AbDirInstaller::CurrentSlot() {
  const fs::path link = root_ / "current";
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(link, ec);
  if (ec || status.type() == fs::file_type::not_found) {
    if (status.type() == fs::file_type::not_found) return std::string();
    return IoError("stat", link, ec);
  }
  if (status.type() != fs::file_type::symlink) {
    return MakeError(ErrorKind::kIo, link.string() + " is not a symlink");
  }
  const fs::path target = fs::read_symlink(link, ec);
  if (ec) return IoError("readlink", link, ec);
  if (target == "slot-a") return std::string("a");
  if (target == "slot-b") return std::string("b");
  return MakeError(ErrorKind::kIo,
                   link.string() + " points to unexpected \"" + target.string() + "\"");
}

Status AbDirInstaller::Install(const fs::path& staged_file, std::string_view slot) {
  MDU_ASSIGN_OR_RETURN(fs::path slot_dir, SlotDir(slot));
  MDU_ASSIGN_OR_RETURN(std::string current, CurrentSlot());
  if (current == slot) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "refusing to install into the active slot " + std::string(slot));
  }
  if (!staged_file.has_filename()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "staged file has no name: " + staged_file.string());
  }
  const fs::path temp = root_ / (".slot-" + std::string(slot) + ".new");
  std::error_code ec;
  fs::remove_all(temp, ec);
  if (ec) return IoError("remove", temp, ec);
  fs::create_directory(temp, ec);
  if (ec) return IoError("mkdir", temp, ec);
  MDU_RETURN_IF_ERROR(CopyFileDurably(staged_file, temp / staged_file.filename()));
  MDU_RETURN_IF_ERROR(io::SyncDirectory(temp));
  fs::remove_all(slot_dir, ec);
  if (ec) return IoError("remove", slot_dir, ec);
  fs::rename(temp, slot_dir, ec);
  if (ec) return IoError("rename into", slot_dir, ec);
  return io::SyncDirectory(root_);
}

Status AbDirInstaller::SwitchCurrent(std::string_view slot) {
  MDU_ASSIGN_OR_RETURN(fs::path slot_dir, SlotDir(slot));
  std::error_code ec;
  if (!fs::is_directory(slot_dir, ec)) {
    return MakeError(ErrorKind::kIo, "slot " + slot_dir.string() + " is not installed");
  }
  const fs::path temp = root_ / ".current.tmp";
  fs::remove(temp, ec);
  if (ec) return IoError("remove", temp, ec);
  fs::create_symlink(slot_dir.filename(), temp, ec);
  if (ec) return IoError("symlink", temp, ec);
  fs::rename(temp, root_ / "current", ec);  // atomic replace of the link
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    return IoError("rename over", root_ / "current", ec);
  }
  return io::SyncDirectory(root_);
}

Status AbDirInstaller::Activate(std::string_view slot) { return SwitchCurrent(slot); }

Status AbDirInstaller::Commit(std::string_view slot) {
  // Nothing to mark for directories; only check the slot is the active one.
  MDU_ASSIGN_OR_RETURN(std::string current, CurrentSlot());
  if (current != slot) {
    return MakeError(ErrorKind::kIo, "cannot commit slot " + std::string(slot) +
                                         ": active slot is \"" + current + "\"");
  }
  return {};
}

Status AbDirInstaller::Rollback(std::string_view previous_slot) {
  if (previous_slot.empty()) return io::RemoveFileDurably(root_ / "current");
  return SwitchCurrent(previous_slot);
}

}  // namespace mdu::agent::install
