// Machine-readable reason codes of the update flow: why a target was not selected, why an
// install was refused, why a transaction rolled back. They are stored in the device state and
// will travel in device reports, so their names (ReasonName) are stable once released; branch on
// the enum, never on a message.
//
// Thread-safety: plain values and pure functions.
#ifndef MDU_CLIENT_AGENT_UPDATE_REASON_H_
#define MDU_CLIENT_AGENT_UPDATE_REASON_H_

#include <optional>
#include <string_view>

namespace mdu::agent::update {

enum class Reason {
  kNone,  // success
  // Selection and admission (nothing was touched).
  kHardwareMismatch,     // the target does not list this device's hardware id
  kNotNewer,             // same version as installed
  kDowngrade,            // older than installed and the signed metadata does not allow it
  kIncompatibleVersion,  // installed version below the target's min_installed_version
  kSecurityFloor,        // security_version below the highest ever installed (rollback attack)
  kBadCustomMetadata,    // custom metadata missing or malformed (version, hardware_ids, ...)
  kHashMismatch,         // the staged file is not the target the metadata describes
  kTransactionPending,   // an interrupted transaction must be recovered first
  kNothingToRollBack,    // manual rollback without a previous installation
  // Transaction failures (the device went back to the previous slot).
  kInstallFailed,
  kActivateFailed,
  kHealthCheckFailed,   // the health check exited non-zero or died from a signal
  kHealthCheckTimeout,  // the health check did not finish in time and was killed
  kHealthCheckError,    // the health check could not be started
  kInterrupted,         // the agent stopped (crash, power loss) before commit
  kManualRollback,      // an operator asked for the rollback
  // Download (client-agent/update/staging.h): nothing was touched.
  kDownloadFailed,    // no verified download after the bounded retries (server down, too slow)
  kDownloadRejected,  // the source sent data the signed metadata does not allow (hash, length)
  // Device policies (client-agent/policy/): nothing was touched; try again later.
  kOutsideMaintenanceWindow,  // not inside any configured maintenance window
  kApprovalRequired,          // no valid local operator approval for this target
  kDeviceBusy,                // the "device busy" hook said postpone (therapy running)
  kVetoedByDevice,            // the "device busy" hook vetoed this target
  kUnauthorized,              // a manual command without a valid operator authorization
};

// Stable snake_case name, e.g. "health_check_timeout".
std::string_view ReasonName(Reason reason);
// Inverse of ReasonName; empty for an unknown name.
std::optional<Reason> ReasonFromName(std::string_view name);

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_REASON_H_
