#include "client-agent/update/config_backup.h"

#include <sys/stat.h>

#include <system_error>
#include <utility>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::agent::update {
namespace {

namespace fs = std::filesystem;

Error FsError(const fs::path& path, std::string_view what, const std::error_code& ec) {
  return Error(ErrorKind::kIo, std::string(what) + " " + path.string() + ": " + ec.message());
}

Status RemoveTree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return MakeError(FsError(path, "removing", ec));
  return {};
}

}  // namespace

Status ConfigBackup::Backup(const BackupKey& key) {
  const fs::path fresh = dir_.string() + ".new";
  const fs::path old = dir_.string() + ".old";
  MDU_RETURN_IF_ERROR(RemoveTree(fresh));
  MDU_RETURN_IF_ERROR(io::CreateDirectories(fresh, 0700));
  json::Array entries;
  for (size_t i = 0; i < files_.size(); ++i) {
    const fs::path& path = files_[i];
    Result<std::string> bytes = io::ReadFileBounded(path, kMaxFileBytes);
    if (!bytes && bytes.error().kind() == ErrorKind::kNotFound) {
      entries.push_back(json::Value::MakeObject({{"path", path.string()}, {"present", false}}));
      continue;
    }
    if (!bytes) return MakeError(bytes.error().WithContext("backing up configuration"));
    struct stat info {};
    const int mode = ::stat(path.c_str(), &info) == 0 ? static_cast<int>(info.st_mode & 07777)
                                                      : 0600;
    const std::string copy = std::to_string(i);
    MDU_RETURN_IF_ERROR(io::WriteFileAtomically(fresh / copy, *bytes, 0600));
    entries.push_back(json::Value::MakeObject({{"path", path.string()},
                                               {"present", true},
                                               {"mode", mode},
                                               {"sha256", crypto::Sha256Hex(*bytes)},
                                               {"copy", copy}}));
  }
  const json::Value manifest = json::Value::MakeObject({{"from_slot", key.from_slot},
                                                        {"to_slot", key.to_slot},
                                                        {"target", key.target},
                                                        {"files", std::move(entries)}});
  MDU_RETURN_IF_ERROR(
      io::WriteFileAtomically(fresh / "manifest.json", json::Serialize(manifest, 1) + "\n", 0600));
  // Swap in: the previous backup is only removed once the new one is in place.
  MDU_RETURN_IF_ERROR(RemoveTree(old));
  std::error_code ec;
  if (fs::exists(dir_, ec)) {
    fs::rename(dir_, old, ec);
    if (ec) return MakeError(FsError(dir_, "moving aside", ec));
  }
  fs::rename(fresh, dir_, ec);
  if (ec) return MakeError(FsError(fresh, "renaming", ec));
  MDU_RETURN_IF_ERROR(io::SyncDirectory(dir_.parent_path()));
  return RemoveTree(old);
}

Result<bool> ConfigBackup::RestoreFor(const BackupKey& key) {
  Result<std::string> bytes = io::ReadFileBounded(dir_ / "manifest.json", 1u << 20);
  if (!bytes && bytes.error().kind() == ErrorKind::kNotFound) return false;
  if (!bytes) return MakeError(bytes.error());
  MDU_ASSIGN_OR_RETURN(json::Value manifest, json::Parse(*bytes));
  constexpr std::string_view kWhere = "config backup manifest";
  MDU_ASSIGN_OR_RETURN(std::string from_slot, json::RequireString(manifest, "from_slot", kWhere));
  MDU_ASSIGN_OR_RETURN(std::string to_slot, json::RequireString(manifest, "to_slot", kWhere));
  MDU_ASSIGN_OR_RETURN(std::string target, json::RequireString(manifest, "target", kWhere));
  if (from_slot != key.from_slot || to_slot != key.to_slot || target != key.target) return false;
  MDU_ASSIGN_OR_RETURN(const json::Value* files,
                       json::RequireField(manifest, "files", json::Type::kArray, kWhere));
  // Check every copy before writing anything: restore all or nothing.
  struct Planned {
    fs::path path;
    bool present = false;
    int mode = 0600;
    std::string content;
  };
  std::vector<Planned> plan;
  for (const json::Value& entry : files->as_array()) {
    Planned item;
    MDU_ASSIGN_OR_RETURN(std::string path, json::RequireString(entry, "path", kWhere));
    MDU_ASSIGN_OR_RETURN(item.present, json::RequireBool(entry, "present", kWhere));
    item.path = path;
    bool configured = false;  // never write a path the agent config does not name
    for (const fs::path& file : files_) configured = configured || file == item.path;
    if (!configured) {
      return MakeError(ErrorKind::kBadMetadata,
                       "config backup names " + path + ", which the agent config does not list");
    }
    if (item.present) {
      MDU_ASSIGN_OR_RETURN(int64_t mode, json::RequireInt(entry, "mode", kWhere));
      MDU_ASSIGN_OR_RETURN(std::string sha256, json::RequireString(entry, "sha256", kWhere));
      MDU_ASSIGN_OR_RETURN(std::string copy, json::RequireString(entry, "copy", kWhere));
      if (copy.empty() || copy.find('/') != std::string::npos || copy[0] == '.') {
        return MakeError(ErrorKind::kBadMetadata, "config backup: bad copy name");
      }
      MDU_ASSIGN_OR_RETURN(item.content, io::ReadFileBounded(dir_ / copy, kMaxFileBytes));
      if (crypto::Sha256Hex(item.content) != sha256) {
        return MakeError(ErrorKind::kHashMismatch,
                         "config backup of " + path + " is damaged (sha256 differs)");
      }
      item.mode = static_cast<int>(mode & 07777);
    }
    plan.push_back(std::move(item));
  }
  for (const Planned& item : plan) {
    if (item.present) {
      MDU_RETURN_IF_ERROR(io::WriteFileAtomically(item.path, item.content, item.mode));
    } else {
      MDU_RETURN_IF_ERROR(io::RemoveFileDurably(item.path));
    }
  }
  return true;
}

}  // namespace mdu::agent::update
