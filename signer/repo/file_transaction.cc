#include "signer/repo/file_transaction.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>
#include <utility>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxJournalBytes = 64u << 20;

std::function<void(std::string_view)>& StepHook() {
  static std::function<void(std::string_view)> hook;
  return hook;
}

void Step(std::string_view what) {
  if (StepHook()) StepHook()(what);
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  uint64_t bits = engine();
  for (int i = 0; i < 16; ++i, bits >>= 4) out.push_back(kDigits[bits & 15]);
  return out;
}

Error IoError(const std::string& what, int err) {
  return Error(ErrorKind::kIo, what + ": " + std::strerror(err));
}

// Creates `path` (which must not exist) with exactly `data` and `mode`; no fsync (the commit
// syncs the whole file system once).
Status WriteNew(const fs::path& path, std::string_view data, int mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(IoError("creating " + path.string(), errno));
  Status status;
  if (::fchmod(fd, static_cast<mode_t>(mode) & 07777) != 0) {
    status = MakeError(IoError("fchmod of " + path.string(), errno));
  }
  size_t done = 0;
  while (status && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = MakeError(IoError("writing " + path.string(), errno));
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (::close(fd) != 0 && status) status = MakeError(IoError("closing " + path.string(), errno));
  return status;
}

// A journal entry must stay inside the tree: "tmp/<name>" -> a relative path without "..".
bool SafeRelative(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
  for (const auto& part : fs::path(path)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

bool IsTempPath(const std::string& path) {
  const std::string prefix = std::string(kTempDirName) + "/";
  return path.starts_with(prefix) && path.find('/', prefix.size()) == std::string::npos &&
         path.size() > prefix.size() && SafeRelative(path);
}

}  // namespace

void SetCommitStepHookForTesting(std::function<void(std::string_view step)> hook) {
  StepHook() = std::move(hook);
}

FileTransaction::~FileTransaction() {
  if (!committed_) {
    RemoveTemporaries();
    for (const Adopted& adopted : adopted_) {
      std::error_code ec;
      fs::remove(adopted.temp, ec);
    }
  }
}

void FileTransaction::Put(const fs::path& relative, std::string data, int mode) {
  writes_.push_back(Write{relative, std::move(data), mode});
}

void FileTransaction::AdoptFile(const fs::path& temp_absolute, const fs::path& relative) {
  adopted_.push_back(Adopted{temp_absolute, relative});
}

void FileTransaction::RemoveTemporaries() {
  for (const fs::path& temp : staged_) {
    std::error_code ec;
    fs::remove(temp, ec);
  }
  staged_.clear();
}

Status FileTransaction::Commit() {
  if (empty()) return {};
  // 1. Every new content into tmp/.
  const fs::path temp_dir = root_ / kTempDirName;
  MDU_RETURN_IF_ERROR(io::CreateDirectories(temp_dir));
  json::Array renames;
  auto fail = [this](Error error) -> Status {
    RemoveTemporaries();
    return MakeError(std::move(error));
  };
  for (const Write& write : writes_) {
    const fs::path dest = root_ / write.relative;
    auto made = io::CreateDirectories(dest.parent_path());
    if (!made) return fail(made.error());
    const std::string name = RandomSuffix() + "-" + dest.filename().string();
    const fs::path temp = temp_dir / name;
    Step("write " + write.relative.generic_string());
    staged_.push_back(temp);
    auto written = WriteNew(temp, write.data, write.mode);
    if (!written) return fail(written.error().WithContext("writing " + dest.string()));
    renames.push_back(json::Value(json::Array{json::Value(std::string(kTempDirName) + "/" + name),
                                              json::Value(write.relative.generic_string())}));
  }
  // 2. Content-addressed blobs: new names, so placing them early changes nothing visible.
  for (const Adopted& adopted : adopted_) {
    const fs::path dest = root_ / adopted.relative;
    auto made = io::CreateDirectories(dest.parent_path());
    if (!made) return fail(made.error());
  }
  if (!adopted_.empty()) Step("rename blobs");
  for (const Adopted& adopted : adopted_) {
    const fs::path dest = root_ / adopted.relative;
    if (::rename(adopted.temp.c_str(), dest.c_str()) != 0) {
      return fail(IoError("renaming into " + dest.string(), errno));
    }
  }
  adopted_.clear();
  // 3. Durable before the commit point.
  Step("sync");
  auto synced = SyncFileSystem(root_);
  if (!synced) return fail(synced.error());
  // 4. The commit point.
  Step("journal");
  const std::string journal =
      json::Serialize(json::Value::MakeObject({{"format", json::Value("mdu-signer-journal")},
                                               {"renames", json::Value(std::move(renames))}}),
                      1) +
      "\n";
  auto logged = io::WriteFileAtomically(root_ / kJournalFileName, journal);
  if (!logged) {
    std::error_code ec;
    fs::remove(root_ / kJournalFileName, ec);
    return fail(logged.error().WithContext("writing the workspace journal"));
  }
  staged_.clear();  // from here on the journal owns the temporaries
  committed_ = true;
  // 5. Apply; a crash from here on is completed by RecoverFileTransaction.
  return ApplyJournal(root_);
}

bool HasInterruptedCommit(const fs::path& root) {
  std::error_code ec;
  return fs::exists(root / kJournalFileName, ec);
}

Status RecoverFileTransaction(const fs::path& root, bool remove_temporaries) {
  MDU_RETURN_IF_ERROR(ApplyJournal(root));
  if (!remove_temporaries) return {};
  // Without a journal every temporary is garbage of a save that never reached its commit
  // point (or of an add-target that never saved).
  std::error_code ec;
  const fs::path temp_dir = root / kTempDirName;
  if (fs::is_directory(temp_dir, ec)) {
    for (fs::directory_iterator it(temp_dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code remove_ec;
      fs::remove_all(it->path(), remove_ec);
    }
  }
  return {};
}

Status ApplyJournal(const fs::path& root) {
  const fs::path journal_path = root / kJournalFileName;
  if (HasInterruptedCommit(root)) {
    auto fail = [&](const std::string& why) {
      return MakeError(ErrorKind::kBadMetadata,
                       "cannot complete the interrupted save recorded in " + journal_path.string() +
                           ": " + why + " (restore the workspace from a backup)");
    };
    MDU_ASSIGN_OR_RETURN(std::string text, io::ReadFileBounded(journal_path, kMaxJournalBytes));
    auto parsed = json::Parse(text);
    if (!parsed) return fail(parsed.error().message());
    const json::Value* renames = parsed->Find("renames");
    if (renames == nullptr || !renames->is_array()) return fail("no \"renames\" list");
    for (const json::Value& entry : renames->as_array()) {
      if (!entry.is_array() || entry.as_array().size() != 2 || !entry.as_array()[0].is_string() ||
          !entry.as_array()[1].is_string()) {
        return fail("malformed entry");
      }
      const std::string& from = entry.as_array()[0].as_string();
      const std::string& to = entry.as_array()[1].as_string();
      if (!IsTempPath(from) || !SafeRelative(to) || IsTempPath(to)) {
        return fail("entry leaves the workspace: " + from + " -> " + to);
      }
      std::error_code ec;
      if (!fs::exists(root / from, ec)) continue;  // already renamed before the crash
      Step("rename " + to);
      if (::rename((root / from).c_str(), (root / to).c_str()) != 0) {
        return MakeError(IoError(
            "completing the interrupted save: renaming into " + (root / to).string(), errno));
      }
    }
    Step("sync applied");
    MDU_RETURN_IF_ERROR(SyncFileSystem(root));
    Step("remove journal");
    MDU_RETURN_IF_ERROR(io::RemoveFileDurably(journal_path));
  }
  return {};
}

Status SyncFileSystem(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, "opening " + dir.string() + ": " + std::strerror(errno));
  }
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return MakeError(ErrorKind::kIo,
                     "syncing the file system of " + dir.string() + ": " + std::strerror(err));
  }
  return {};
}

}  // namespace mdu::signer::repo
