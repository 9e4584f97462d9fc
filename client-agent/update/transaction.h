// The update transaction (issue 5): staged -> install into the inactive slot -> activate ->
// health check -> commit, or roll back to the previous slot. Crash safe: each phase is persisted
// in the device state (atomically) before the work that follows it, every installer step is
// idempotent, and Recover() at agent start finishes what an interrupted transaction left:
//
//   pending phase       Recover()
//   staged, installing  roll back (the active slot may or may not have been switched yet;
//   activated           Rollback(from_slot) restores it either way), reason kInterrupted
//   rolling_back        finish the rollback with the recorded reason
//   committed           finish the commit (installer Commit, clear pending)
//
// So after any crash and Recover() the device is in exactly one of: old version committed, or
// new version committed. The security floor is raised in the same atomic write that makes the
// new version the installed one (phase committed), never earlier, so a rollback never leaves a
// floor that the installed version does not meet, and it is never lowered.
//
// Configuration backup (config_backup.h, optional): taken after the installing phase is
// persisted and before the installer writes anything; restored by every rollback of that
// transaction after the installer switched back, before the rollback is recorded as finished.
//
// Every install path (online, bundle, manual file) goes through Run(), which refuses a target
// whose security_version is below the floor (kSecurityFloor) and a staged file whose sha256 is
// not the target's (kHashMismatch): only verified data reaches the installer.
//
// Refusals and rollbacks are outcomes (TransactionResult, also stored as the state's
// last_result), not errors. Errors (kIo, ...) mean the state could not be read or written or an
// installer step failed while recovering; the state on disk then still describes a phase that
// the next Recover() handles.
//
// Ownership: borrows the store, installer and health checker; they must outlive it.
// Thread-safety: none; one transaction per state directory at a time.
#ifndef MDU_CLIENT_AGENT_UPDATE_TRANSACTION_H_
#define MDU_CLIENT_AGENT_UPDATE_TRANSACTION_H_

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "client-agent/install/installer.h"
#include "client-agent/update/config_backup.h"
#include "client-agent/update/device_state.h"
#include "client-agent/update/health_check.h"
#include "client-agent/update/reason.h"
#include "core/common/error.h"

namespace mdu::agent::update {

struct UpdateRequest {
  TargetRecord target;                // from the target's signed metadata
  std::filesystem::path staged_file;  // the downloaded, verified payload
};

// The points where the stop hook is asked whether to stop, in the order a transaction passes
// them. Stopping there models a crash (kill -9, power loss) at that point.
enum class StopPoint {
  kStagedPersisted,
  kInstallingPersisted,
  kSlotWritten,
  kSwitched,
  kActivatedPersisted,
  kHealthChecked,
  kRollingBackPersisted,
  kSwitchedBack,
  kCommittedPersisted,
  kInstallerCommitted,
};
std::string_view StopPointName(StopPoint point);

struct TransactionResult {
  Outcome outcome = Outcome::kRefused;
  Reason reason = Reason::kNone;
  std::string message;
  TargetRecord target;
  // The stop hook ended the transaction at this point (a simulated crash): nothing after it ran,
  // outcome/reason are meaningless; call Recover() on a new transaction.
  std::optional<StopPoint> stopped_at;
};

class UpdateTransaction {
 public:
  // Returns true to stop the transaction at that point. For tests only.
  using StopHook = std::function<bool(StopPoint)>;

  UpdateTransaction(StateStore& store, install::Installer& installer, HealthChecker& health)
      : store_(store), installer_(installer), health_(health) {}
  UpdateTransaction(const UpdateTransaction&) = delete;
  UpdateTransaction& operator=(const UpdateTransaction&) = delete;

  void set_stop_hook(StopHook hook) { stop_hook_ = std::move(hook); }
  // Configuration files to back up before an install and restore when it rolls back (also when
  // Recover() rolls back after a crash). Borrowed; null (the default) disables it.
  void set_config_backup(ConfigBackup* backup) { backup_ = backup; }

  // Installs request.target. Refused (nothing touched) with kTransactionPending when an
  // interrupted transaction awaits Recover(), kSecurityFloor, or kHashMismatch.
  Result<TransactionResult> Run(const UpdateRequest& request);

  // Finishes or rolls back an interrupted transaction (see the table above); empty when none
  // was pending.
  Result<std::optional<TransactionResult>> Recover();

  // Manual rollback to the previous installation kept in the other slot: activate it, run the
  // health check, commit (it becomes the installed version, the current one becomes previous)
  // or switch back. Refused with kNothingToRollBack without a previous installation,
  // kSecurityFloor if its security_version is below the floor, kTransactionPending as Run.
  Result<TransactionResult> RollbackToPrevious();

 private:
  bool Stop(StopPoint point) const { return stop_hook_ && stop_hook_(point); }
  Result<TransactionResult> Refuse(DeviceState state, const TargetRecord& target, Reason reason,
                                   std::string message);
  Result<TransactionResult> Activate(DeviceState state, bool install,
                                     const std::filesystem::path& staged_file);
  Result<TransactionResult> StartRollback(DeviceState state, Reason reason, std::string message);
  Result<TransactionResult> FinishRollback(DeviceState state);
  Result<TransactionResult> FinishCommit(DeviceState state);

  StateStore& store_;
  install::Installer& installer_;
  HealthChecker& health_;
  StopHook stop_hook_;
  ConfigBackup* backup_ = nullptr;
};

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_TRANSACTION_H_
