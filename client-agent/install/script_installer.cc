#include "client-agent/install/script_installer.h"

#include <utility>

#include "core/io/file.h"

namespace mdu::agent::install {
namespace {

Status CheckSlot(std::string_view slot, bool allow_empty) {
  if (slot == "a" || slot == "b" || (allow_empty && slot.empty())) return {};
  return MakeError(ErrorKind::kInvalidArgument, "unknown slot \"" + std::string(slot) + "\"");
}

}  // namespace

Result<ScriptInstaller> ScriptInstaller::Open(ScriptInstallerConfig config) {
  if (!config.script.is_absolute()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "installer script must be an absolute path: " + config.script.string());
  }
  MDU_RETURN_IF_ERROR(io::CreateDirectories(config.root));
  return ScriptInstaller(std::move(config));
}

Status ScriptInstaller::RunStage(std::string_view stage, std::string_view slot,
                                 const std::filesystem::path& payload) {
  update::ProcessSpec spec;
  spec.argv = {config_.script.string(), std::string(stage)};
  spec.env = {"MDU_STAGE=" + std::string(stage), "MDU_SLOT=" + std::string(slot),
              "MDU_PAYLOAD=" + payload.string(), "MDU_WORK_DIR=" + config_.root.string()};
  spec.timeout = config_.timeout;
  const update::HealthResult result = update::RunProcess(spec);
  if (result.status == update::HealthStatus::kPassed) return {};
  return MakeError(ErrorKind::kIo, "installer stage " + std::string(stage) + " (slot \"" +
                                       std::string(slot) + "\") failed: " + result.message);
}

Result<std::string> ScriptInstaller::CurrentSlot() {
  Result<std::string> bytes = io::ReadFileBounded(config_.root / kCurrentSlotFile, 16);
  if (!bytes && bytes.error().kind() == ErrorKind::kNotFound) return std::string();
  if (!bytes) return MakeError(bytes.error());
  std::string slot = *bytes;
  while (!slot.empty() && slot.back() == '\n') slot.pop_back();
  MDU_RETURN_IF_ERROR(CheckSlot(slot, /*allow_empty=*/true));
  return slot;
}

Status ScriptInstaller::RecordCurrent(std::string_view slot) {
  return io::WriteFileAtomically(config_.root / kCurrentSlotFile, std::string(slot) + "\n");
}

Status ScriptInstaller::Install(const std::filesystem::path& staged_file, std::string_view slot) {
  MDU_RETURN_IF_ERROR(CheckSlot(slot, false));
  MDU_ASSIGN_OR_RETURN(std::string current, CurrentSlot());
  if (current == slot) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "refusing to install into the active slot \"" + std::string(slot) + "\"");
  }
  MDU_RETURN_IF_ERROR(RunStage("download", slot, staged_file));
  return RunStage("install", slot, staged_file);
}

Status ScriptInstaller::Activate(std::string_view slot) {
  MDU_RETURN_IF_ERROR(CheckSlot(slot, false));
  MDU_RETURN_IF_ERROR(RunStage("activate", slot));
  return RecordCurrent(slot);
}

Status ScriptInstaller::Commit(std::string_view slot) {
  MDU_RETURN_IF_ERROR(CheckSlot(slot, false));
  return RunStage("commit", slot);
}

Status ScriptInstaller::Rollback(std::string_view previous_slot) {
  MDU_RETURN_IF_ERROR(CheckSlot(previous_slot, true));
  MDU_RETURN_IF_ERROR(RunStage("rollback", previous_slot));
  MDU_RETURN_IF_ERROR(RecordCurrent(previous_slot));
  (void)RunStage("failure", previous_slot);  // a notification: its status changes nothing
  return {};
}

update::HealthResult ScriptHealthChecker::Run(const std::string& slot) {
  Status checked = installer_.RunStage("health-check", slot);
  if (checked) return update::HealthResult{update::HealthStatus::kPassed, 0, 0, "passed"};
  return update::HealthResult{update::HealthStatus::kFailed, 1, 0, checked.error().message()};
}

}  // namespace mdu::agent::install
