// Installer: how the update transaction puts a verified payload on the device. Backends:
//   AbDirInstaller  (ab_dir_installer.h) two slot directories and an atomically switched link.
//   script          (later) a vendor executable per stage, for bootloader A/B partitions.
//
// Slots are named "a" and "b". The transaction installs into the inactive slot, activates it,
// and either commits it or rolls back to the slot that was active before; the previous slot is
// kept untouched until the next install so a rollback (automatic or manual) can return to it.
//
// Contract: every method is idempotent (recovery after a crash may repeat any of them), and a
// method that fails leaves the active slot as it was (Activate/Rollback switch atomically or not
// at all). Install only ever receives a payload the update flow verified.
// Errors: kIo for file system failures, kInvalidArgument for an unknown slot name.
// Thread-safety: none; one transaction at a time.
#ifndef MDU_CLIENT_AGENT_INSTALL_INSTALLER_H_
#define MDU_CLIENT_AGENT_INSTALL_INSTALLER_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace mdu::agent::install {

class Installer {
 public:
  virtual ~Installer() = default;

  // The active slot, "" when nothing was ever activated.
  virtual Result<std::string> CurrentSlot() = 0;
  // Writes `staged_file` into `slot` (replacing what the slot held). `slot` must not be active.
  virtual Status Install(const std::filesystem::path& staged_file, std::string_view slot) = 0;
  // Makes `slot` the active one.
  virtual Status Activate(std::string_view slot) = 0;
  // Marks the active `slot` as good (e.g. bootloader "boot ok"); nothing to do for ab-dir.
  virtual Status Commit(std::string_view slot) = 0;
  // Makes `previous_slot` active again; "" (nothing was installed before) deactivates.
  virtual Status Rollback(std::string_view previous_slot) = 0;
};

// The other slot: "a" -> "b", "b" -> "a", "" -> "a".
std::string OtherSlot(std::string_view slot);

}  // namespace mdu::agent::install

#endif  // MDU_CLIENT_AGENT_INSTALL_INSTALLER_H_
