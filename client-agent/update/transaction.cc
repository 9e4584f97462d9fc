#include "client-agent/update/transaction.h"

#include <algorithm>
#include <array>
#include <utility>

#include "core/crypto/hash.h"

namespace mdu::agent::update {
namespace {

TransactionResult Stopped(StopPoint point, const TargetRecord& target) {
  TransactionResult result;
  result.target = target;
  result.stopped_at = point;
  return result;
}

Reason ReasonFor(HealthStatus status) {
  switch (status) {
    case HealthStatus::kPassed:
      return Reason::kNone;
    case HealthStatus::kFailed:
      return Reason::kHealthCheckFailed;
    case HealthStatus::kTimedOut:
      return Reason::kHealthCheckTimeout;
    case HealthStatus::kError:
      return Reason::kHealthCheckError;
  }
  return Reason::kHealthCheckError;
}

// Only verified data reaches the installer: the staged file must be the target the signed
// metadata describes (it may have been altered in the staging area since the download).
Result<bool> StagedFileMatches(const std::filesystem::path& file, const TargetRecord& target,
                               std::string* message) {
  if (target.sha256.empty()) {
    *message = "target \"" + target.name + "\" has no sha256 to check the staged file against";
    return false;
  }
  constexpr std::array<crypto::HashAlgorithm, 1> kSha256 = {crypto::HashAlgorithm::kSha256};
  Result<crypto::FileDigests> digests = crypto::HashFile(file.string(), kSha256);
  if (!digests) return MakeError(digests.error().WithContext("staged file"));
  const std::string& actual = digests->hex.front().second;
  if (actual != target.sha256) {
    *message = "staged file " + file.string() + " has sha256 " + actual + ", target \"" +
               target.name + "\" lists " + target.sha256;
    return false;
  }
  return true;
}

}  // namespace

std::string_view StopPointName(StopPoint point) {
  switch (point) {
    case StopPoint::kStagedPersisted:
      return "staged_persisted";
    case StopPoint::kInstallingPersisted:
      return "installing_persisted";
    case StopPoint::kSlotWritten:
      return "slot_written";
    case StopPoint::kSwitched:
      return "switched";
    case StopPoint::kActivatedPersisted:
      return "activated_persisted";
    case StopPoint::kHealthChecked:
      return "health_checked";
    case StopPoint::kRollingBackPersisted:
      return "rolling_back_persisted";
    case StopPoint::kSwitchedBack:
      return "switched_back";
    case StopPoint::kCommittedPersisted:
      return "committed_persisted";
    case StopPoint::kInstallerCommitted:
      return "installer_committed";
  }
  return "unknown";
}

Result<TransactionResult> UpdateTransaction::Refuse(DeviceState state, const TargetRecord& target,
                                                    Reason reason, std::string message) {
  TransactionResult result{Outcome::kRefused, reason, std::move(message), target, std::nullopt};
  if (reason !=
      Reason::kTransactionPending) {  // never overwrite an interrupted transaction's story
    state.last_result = LastResult{result.outcome, reason, result.message, target};
    MDU_RETURN_IF_ERROR(store_.Save(state));
  }
  return result;
}

Result<TransactionResult> UpdateTransaction::Run(const UpdateRequest& request) {
  MDU_ASSIGN_OR_RETURN(DeviceState state, store_.Load());
  const TargetRecord& target = request.target;
  if (state.pending) {
    std::string message = "an interrupted transaction (phase " +
                          std::string(PhaseName(state.pending->phase)) +
                          ") must be recovered first";
    return Refuse(std::move(state), target, Reason::kTransactionPending, std::move(message));
  }
  // Rollback protection for every install path, manual ones included.
  if (target.security_version < state.security_floor) {
    const int64_t floor = state.security_floor;
    return Refuse(std::move(state), target, Reason::kSecurityFloor,
                  "target \"" + target.name + "\" has security_version " +
                      std::to_string(target.security_version) + ", below the device's floor " +
                      std::to_string(floor));
  }
  std::string mismatch;
  MDU_ASSIGN_OR_RETURN(bool matches, StagedFileMatches(request.staged_file, target, &mismatch));
  if (!matches) return Refuse(std::move(state), target, Reason::kHashMismatch, mismatch);

  MDU_ASSIGN_OR_RETURN(std::string from_slot, installer_.CurrentSlot());
  state.pending = PendingInstall{.phase = Phase::kStaged,
                                 .target = target,
                                 .from_slot = from_slot,
                                 .to_slot = install::OtherSlot(from_slot),
                                 .reason = Reason::kNone,
                                 .message = {}};
  MDU_RETURN_IF_ERROR(store_.Save(state));
  if (Stop(StopPoint::kStagedPersisted)) return Stopped(StopPoint::kStagedPersisted, target);
  return Activate(std::move(state), /*install=*/true, request.staged_file);
}

Result<TransactionResult> UpdateTransaction::RollbackToPrevious() {
  MDU_ASSIGN_OR_RETURN(DeviceState state, store_.Load());
  const TargetRecord target = state.previous ? state.previous->target : TargetRecord{};
  if (state.pending) {
    return Refuse(std::move(state), target, Reason::kTransactionPending,
                  "an interrupted transaction must be recovered first");
  }
  if (!state.previous || !state.installed) {
    return Refuse(std::move(state), target, Reason::kNothingToRollBack,
                  "no previous installation is kept");
  }
  if (target.security_version < state.security_floor) {
    const int64_t floor = state.security_floor;
    return Refuse(std::move(state), target, Reason::kSecurityFloor,
                  "previous version " + target.version + " has security_version " +
                      std::to_string(target.security_version) + ", below the device's floor " +
                      std::to_string(floor));
  }
  MDU_ASSIGN_OR_RETURN(std::string from_slot, installer_.CurrentSlot());
  state.pending = PendingInstall{.phase = Phase::kStaged,
                                 .target = target,
                                 .from_slot = from_slot,
                                 .to_slot = state.previous->slot,
                                 .reason = Reason::kNone,
                                 .message = {}};
  MDU_RETURN_IF_ERROR(store_.Save(state));
  if (Stop(StopPoint::kStagedPersisted)) return Stopped(StopPoint::kStagedPersisted, target);
  return Activate(std::move(state), /*install=*/false, {});
}

Result<TransactionResult> UpdateTransaction::Activate(DeviceState state, bool install,
                                                      const std::filesystem::path& staged_file) {
  PendingInstall& pending = *state.pending;
  const TargetRecord target = pending.target;
  const std::string to_slot = pending.to_slot;

  pending.phase = Phase::kInstalling;
  // The inactive slot is about to be overwritten: it no longer holds a previous installation.
  if (install && state.previous && state.previous->slot == to_slot) state.previous.reset();
  MDU_RETURN_IF_ERROR(store_.Save(state));
  if (Stop(StopPoint::kInstallingPersisted))
    return Stopped(StopPoint::kInstallingPersisted, target);

  if (install && backup_ != nullptr && !backup_->empty()) {
    Status saved = backup_->Backup({pending.from_slot, to_slot, target.name});
    if (!saved) {
      return StartRollback(std::move(state), Reason::kInstallFailed,
                           "configuration backup failed: " + saved.error().ToString());
    }
  }
  if (install) {
    Status installed = installer_.Install(staged_file, to_slot);
    if (!installed) {
      return StartRollback(std::move(state), Reason::kInstallFailed, installed.error().ToString());
    }
  }
  if (Stop(StopPoint::kSlotWritten)) return Stopped(StopPoint::kSlotWritten, target);

  Status activated = installer_.Activate(to_slot);
  if (!activated) {
    return StartRollback(std::move(state), Reason::kActivateFailed, activated.error().ToString());
  }
  if (Stop(StopPoint::kSwitched)) return Stopped(StopPoint::kSwitched, target);

  state.pending->phase = Phase::kActivated;
  MDU_RETURN_IF_ERROR(store_.Save(state));
  if (Stop(StopPoint::kActivatedPersisted)) return Stopped(StopPoint::kActivatedPersisted, target);

  const HealthResult health = health_.Run(to_slot);
  if (Stop(StopPoint::kHealthChecked)) return Stopped(StopPoint::kHealthChecked, target);
  if (health.status != HealthStatus::kPassed) {
    return StartRollback(std::move(state), ReasonFor(health.status), health.message);
  }

  // One atomic write makes the new version the installed one and raises the floor.
  const std::string from_slot = state.pending->from_slot;
  if (state.installed) state.previous = Installation{state.installed->target, from_slot};
  state.installed = Installation{target, to_slot};
  state.security_floor = std::max(state.security_floor, target.security_version);
  state.pending->phase = Phase::kCommitted;
  MDU_RETURN_IF_ERROR(store_.Save(state));
  if (Stop(StopPoint::kCommittedPersisted)) return Stopped(StopPoint::kCommittedPersisted, target);
  return FinishCommit(std::move(state));
}

Result<TransactionResult> UpdateTransaction::StartRollback(DeviceState state, Reason reason,
                                                           std::string message) {
  state.pending->phase = Phase::kRollingBack;
  state.pending->reason = reason;
  state.pending->message = std::move(message);
  MDU_RETURN_IF_ERROR(store_.Save(state));
  if (Stop(StopPoint::kRollingBackPersisted)) {
    return Stopped(StopPoint::kRollingBackPersisted, state.pending->target);
  }
  return FinishRollback(std::move(state));
}

Result<TransactionResult> UpdateTransaction::FinishRollback(DeviceState state) {
  const PendingInstall pending = *state.pending;
  Status switched = installer_.Rollback(pending.from_slot);
  if (!switched) {
    return MakeError(
        switched.error().WithContext("rolling back to slot \"" + pending.from_slot + "\""));
  }
  if (backup_ != nullptr && !backup_->empty()) {
    Result<bool> restored =
        backup_->RestoreFor({pending.from_slot, pending.to_slot, pending.target.name});
    if (!restored) {
      return MakeError(restored.error().WithContext("restoring the configuration backup"));
    }
  }
  if (Stop(StopPoint::kSwitchedBack)) return Stopped(StopPoint::kSwitchedBack, pending.target);
  TransactionResult result{Outcome::kRolledBack, pending.reason, pending.message, pending.target,
                           std::nullopt};
  state.pending.reset();
  state.last_result = LastResult{result.outcome, result.reason, result.message, result.target};
  MDU_RETURN_IF_ERROR(store_.Save(state));
  return result;
}

Result<TransactionResult> UpdateTransaction::FinishCommit(DeviceState state) {
  const PendingInstall pending = *state.pending;
  Status committed = installer_.Commit(pending.to_slot);
  if (!committed) {
    return MakeError(committed.error().WithContext("committing slot \"" + pending.to_slot + "\""));
  }
  if (Stop(StopPoint::kInstallerCommitted)) {
    return Stopped(StopPoint::kInstallerCommitted, pending.target);
  }
  TransactionResult result{Outcome::kCommitted, Reason::kNone, "", pending.target, std::nullopt};
  state.pending.reset();
  state.last_result = LastResult{result.outcome, result.reason, result.message, result.target};
  MDU_RETURN_IF_ERROR(store_.Save(state));
  return result;
}

Result<std::optional<TransactionResult>> UpdateTransaction::Recover() {
  MDU_ASSIGN_OR_RETURN(DeviceState state, store_.Load());
  if (!state.pending) return std::optional<TransactionResult>();
  Result<TransactionResult> result = [&]() -> Result<TransactionResult> {
    switch (state.pending->phase) {
      case Phase::kStaged:
      case Phase::kInstalling:
      case Phase::kActivated: {
        const std::string phase(PhaseName(state.pending->phase));
        return StartRollback(std::move(state), Reason::kInterrupted,
                             "the agent stopped in phase " + phase + " before commit");
      }
      case Phase::kRollingBack:
        return FinishRollback(std::move(state));
      case Phase::kCommitted:
        return FinishCommit(std::move(state));
    }
    return MakeError(ErrorKind::kInternal, "unknown phase");
  }();
  if (!result) return MakeError(result.error().WithContext("recovering the update transaction"));
  return std::optional<TransactionResult>(std::move(*result));
}

}  // namespace mdu::agent::update
