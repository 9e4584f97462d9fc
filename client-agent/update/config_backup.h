// Backup and restore of the device's configuration files around an update (issue 5): before the
// transaction writes anything, the files named in the agent config ("config_backup") are copied
// into <state-dir>/config-backup/; when that transaction rolls back (health check failed,
// install failed, or an interrupted transaction found by Recover() after a crash), they are put
// back byte for byte with their modes, and files that did not exist are removed again.
//
// Layout: config-backup/manifest.json {"from_slot", "to_slot", "target", "files": [{"path",
// "present", "mode", "sha256", "copy"}]} and one copy per present file. A backup is built in
// config-backup.new/ and renamed into place only when complete (manifest last, everything
// fsynced), so a crash mid-backup leaves either the previous backup or the new complete one.
// Restore only uses a backup made for the same transaction (from_slot, to_slot and target
// match), checks each copy's sha256 first (kHashMismatch, nothing restored) and writes each file
// atomically; it is idempotent, so a crash during restore is finished by the next Recover().
//
// A manual rollback (RollbackToPrevious) does not touch configuration files.
// Errors: kIo, kHashMismatch (damaged backup), kBadMetadata (damaged manifest).
// Thread-safety: none.
#ifndef MDU_CLIENT_AGENT_UPDATE_CONFIG_BACKUP_H_
#define MDU_CLIENT_AGENT_UPDATE_CONFIG_BACKUP_H_

#include <filesystem>
#include <string>
#include <vector>

#include "core/common/error.h"

namespace mdu::agent::update {

struct BackupKey {
  std::string from_slot;
  std::string to_slot;
  std::string target;
};

class ConfigBackup {
 public:
  static constexpr uint64_t kMaxFileBytes = 16u << 20;

  ConfigBackup(std::filesystem::path state_dir, std::vector<std::filesystem::path> files)
      : dir_(state_dir / "config-backup"), files_(std::move(files)) {}

  bool empty() const { return files_.empty(); }

  // Replaces the backup with the current content of the configured files.
  Status Backup(const BackupKey& key);
  // Restores the backup if it was made for `key`; returns whether it restored anything.
  Result<bool> RestoreFor(const BackupKey& key);

 private:
  std::filesystem::path dir_;
  std::vector<std::filesystem::path> files_;
};

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_CONFIG_BACKUP_H_
