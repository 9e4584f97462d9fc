// The `ab-dir` installer: two slot directories and an atomically switched link, for any Linux
// (the demo and the tests). Layout under the install root:
//
//   slot-a/          one installation: the payload file, named like the staged file
//   slot-b/
//   current -> slot-a    relative symlink; switched by creating ".current.tmp" and renaming it
//                        over "current" (rename(2) is atomic), then fsyncing the root
//
// Install writes the inactive slot through a temporary directory ".slot-X.new" that is renamed
// into place, so a slot is either the complete old or the complete new payload; a leftover
// temporary directory from a crash is removed by the next Install.
// See installer.h for the contract. Thread-safety: none.
#ifndef MDU_CLIENT_AGENT_INSTALL_AB_DIR_INSTALLER_H_
#define MDU_CLIENT_AGENT_INSTALL_AB_DIR_INSTALLER_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "client-agent/install/installer.h"

namespace mdu::agent::install {

class AbDirInstaller final : public Installer {
 public:
  // Creates `root` if needed; kIo on failure.
  static Result<AbDirInstaller> Open(std::filesystem::path root);

  Result<std::string> CurrentSlot() override;
  Status Install(const std::filesystem::path& staged_file, std::string_view slot) override;
  Status Activate(std::string_view slot) override;
  Status Commit(std::string_view slot) override;
  Status Rollback(std::string_view previous_slot) override;

  const std::filesystem::path& root() const { return root_; }
  // root/"slot-<slot>"; kInvalidArgument unless slot is "a" or "b".
  Result<std::filesystem::path> SlotDir(std::string_view slot) const;

 private:
  explicit AbDirInstaller(std::filesystem::path root) : root_(std::move(root)) {}
  Status SwitchCurrent(std::string_view slot);

  std::filesystem::path root_;
};

}  // namespace mdu::agent::install

#endif  // MDU_CLIENT_AGENT_INSTALL_AB_DIR_INSTALLER_H_
