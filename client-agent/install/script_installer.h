// The `script` installer: a vendor-supplied executable does the device-specific work (bootloader
// A/B partitions, firmware flashing, a co-processor), one call per stage, behind the same
// Installer interface as ab-dir. Selected in the agent config:
//   "installer": {"type": "script", "path": "/usr/libexec/vendor/mdu-install", "timeout_s": 600}
//
// Invocation: `<path> <stage>` (no shell), in its own process group, killed with SIGKILL at the
// timeout. Environment (added to the agent's):
//   MDU_STAGE     the stage again
//   MDU_SLOT      the slot the stage is about ("a" or "b"; "" for rollback to nothing)
//   MDU_PAYLOAD   download, install: the verified, staged payload file
//   MDU_WORK_DIR  a directory the script may use (the installer root)
// Stages, in the order of an update:
//   download      the payload is downloaded and verified; last chance to refuse it
//   install       write MDU_PAYLOAD into the inactive slot MDU_SLOT (never the active one)
//   activate      make MDU_SLOT the one that runs (e.g. set the bootloader's next slot)
//   health-check  (only through ScriptHealthChecker) is the activated MDU_SLOT good?
//   commit        MDU_SLOT passed its checks: make it permanent ("boot ok")
//   rollback      make MDU_SLOT (the previous slot) active again
//   failure       after a rollback: the update failed; clean up, notify (exit status ignored)
// Exit status 0 means done; any other status, a signal or the timeout fails the stage (kIo with
// the stage and status), which the transaction turns into a rollback. Every stage must be
// idempotent: after a crash the agent repeats the stage it was in.
//
// The active slot is the installer's own record, <root>/current-slot (written atomically after
// activate and rollback succeed), because the transaction needs it before any script runs.
// Thread-safety: none.
#ifndef MDU_CLIENT_AGENT_INSTALL_SCRIPT_INSTALLER_H_
#define MDU_CLIENT_AGENT_INSTALL_SCRIPT_INSTALLER_H_

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "client-agent/install/installer.h"
#include "client-agent/update/health_check.h"

namespace mdu::agent::install {

struct ScriptInstallerConfig {
  std::filesystem::path script;
  std::filesystem::path root;  // work directory and current-slot record
  std::chrono::milliseconds timeout{600000};
};

class ScriptInstaller final : public Installer {
 public:
  static constexpr std::string_view kCurrentSlotFile = "current-slot";

  // Creates `root` if needed; kIo on failure, kInvalidArgument for a relative script path.
  static Result<ScriptInstaller> Open(ScriptInstallerConfig config);

  Result<std::string> CurrentSlot() override;
  Status Install(const std::filesystem::path& staged_file, std::string_view slot) override;
  Status Activate(std::string_view slot) override;
  Status Commit(std::string_view slot) override;
  Status Rollback(std::string_view previous_slot) override;

  // Runs one stage; kIo unless it exits 0.
  Status RunStage(std::string_view stage, std::string_view slot,
                  const std::filesystem::path& payload = {});

 private:
  explicit ScriptInstaller(ScriptInstallerConfig config) : config_(std::move(config)) {}
  Status RecordCurrent(std::string_view slot);

  ScriptInstallerConfig config_;
};

// Runs the script's health-check stage (for `--health-check` left empty with the script
// installer).
class ScriptHealthChecker final : public update::HealthChecker {
 public:
  explicit ScriptHealthChecker(ScriptInstaller& installer) : installer_(installer) {}
  update::HealthResult Run(const std::string& slot) override;

 private:
  ScriptInstaller& installer_;
};

}  // namespace mdu::agent::install

#endif  // MDU_CLIENT_AGENT_INSTALL_SCRIPT_INSTALLER_H_
