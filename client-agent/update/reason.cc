#include "client-agent/update/reason.h"

#include <array>
#include <utility>

namespace mdu::agent::update {
namespace {

constexpr std::array<std::pair<Reason, std::string_view>, 24> kNames = {{
    {Reason::kNone, "none"},
    {Reason::kHardwareMismatch, "hardware_mismatch"},
    {Reason::kNotNewer, "not_newer"},
    {Reason::kDowngrade, "downgrade"},
    {Reason::kIncompatibleVersion, "incompatible_installed_version"},
    {Reason::kSecurityFloor, "security_floor"},
    {Reason::kBadCustomMetadata, "bad_custom_metadata"},
    {Reason::kHashMismatch, "hash_mismatch"},
    {Reason::kTransactionPending, "transaction_pending"},
    {Reason::kNothingToRollBack, "nothing_to_roll_back"},
    {Reason::kInstallFailed, "install_failed"},
    {Reason::kActivateFailed, "activate_failed"},
    {Reason::kHealthCheckFailed, "health_check_failed"},
    {Reason::kHealthCheckTimeout, "health_check_timeout"},
    {Reason::kHealthCheckError, "health_check_error"},
    {Reason::kInterrupted, "interrupted"},
    {Reason::kManualRollback, "manual_rollback"},
    {Reason::kDownloadFailed, "download_failed"},
    {Reason::kDownloadRejected, "download_rejected"},
    {Reason::kOutsideMaintenanceWindow, "outside_maintenance_window"},
    {Reason::kApprovalRequired, "approval_required"},
    {Reason::kDeviceBusy, "device_busy"},
    {Reason::kVetoedByDevice, "vetoed_by_device"},
    {Reason::kUnauthorized, "unauthorized"},
}};

}  // namespace

std::string_view ReasonName(Reason reason) {
  for (const auto& [value, name] : kNames) {
    if (value == reason) return name;
  }
  return "unknown";
}

std::optional<Reason> ReasonFromName(std::string_view name) {
  for (const auto& [value, text] : kNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

}  // namespace mdu::agent::update
