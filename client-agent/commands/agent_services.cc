#include "client-agent/commands/agent_services.h"

#include <utility>

#include "client-agent/install/ab_dir_installer.h"
#include "client-agent/install/script_installer.h"
#include "client-agent/policy/operator_auth.h"
#include "core/io/file.h"

namespace mdu::agent::commands {
namespace {

using events::EventType;
using events::SecurityEvent;

std::optional<EventType> EventForReason(update::Reason reason) {
  switch (reason) {
    case update::Reason::kSecurityFloor:
      return EventType::kRollbackAttempt;
    case update::Reason::kHashMismatch:
      return EventType::kHashMismatch;
    case update::Reason::kUnauthorized:
      return EventType::kUnauthorizedCommand;
    case update::Reason::kOutsideMaintenanceWindow:
    case update::Reason::kApprovalRequired:
    case update::Reason::kDeviceBusy:
    case update::Reason::kVetoedByDevice:
      return EventType::kPolicyRefused;
    default:
      return std::nullopt;
  }
}

}  // namespace

AgentServices::AgentServices(const client::Clock& clock, policy::AgentConfig config,
                             std::filesystem::path state_dir, update::StateStore store,
                             events::LogLimits event_log)
    : clock_(clock),
      config_(std::move(config)),
      state_dir_(std::move(state_dir)),
      store_(std::make_unique<update::StateStore>(std::move(store))),
      log_(std::make_unique<events::SecurityLog>(state_dir_, clock, event_log)),
      policy_(std::make_unique<policy::InstallPolicy>(config_, state_dir_, clock)),
      backup_(state_dir_, config_.config_backup) {}

Result<std::unique_ptr<AgentServices>> AgentServices::Open(const ServicesOptions& options,
                                                           const client::Clock& clock) {
  if (options.state_dir.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "a state directory is required");
  }
  MDU_ASSIGN_OR_RETURN(update::StateStore store, update::StateStore::Open(options.state_dir));
  std::unique_ptr<AgentServices> services(
      new AgentServices(clock, options.config, options.state_dir, std::move(store),
                        options.config.event_log));

  update::HealthCheckConfig health;
  if (!options.health_check.empty()) health.argv = {"/bin/sh", "-c", options.health_check};
  health.timeout = options.health_timeout;
  services->health_ = std::make_unique<update::CommandHealthChecker>(health);
  if (!options.install_root.empty()) {
    const policy::InstallerConfig& installer = services->config_.installer;
    if (installer.type == "script") {
      MDU_ASSIGN_OR_RETURN(install::ScriptInstaller script,
                           install::ScriptInstaller::Open({installer.path, options.install_root,
                                                           installer.timeout}));
      auto owned = std::make_unique<install::ScriptInstaller>(std::move(script));
      if (options.health_check.empty()) {
        services->health_ = std::make_unique<install::ScriptHealthChecker>(*owned);
      }
      services->installer_ = std::move(owned);
    } else {
      MDU_ASSIGN_OR_RETURN(install::AbDirInstaller ab_dir,
                           install::AbDirInstaller::Open(options.install_root));
      services->installer_ = std::make_unique<install::AbDirInstaller>(std::move(ab_dir));
    }
  }

  // A lowered floor in state.json is an attack (or a botched manual edit): log it once and save
  // the repaired state so the next start does not log it again.
  MDU_ASSIGN_OR_RETURN(update::DeviceState state, services->store_->Load());
  if (state.floor_restored) {
    (void)events::AppendIfConfigured(
        services->log_.get(),
        SecurityEvent{EventType::kFloorRestored, "state.json",
                      "state.json held a security floor below its second copy; restored " +
                          std::to_string(state.security_floor)});
    MDU_RETURN_IF_ERROR(services->store_->Save(state));
  }
  return services;
}

void AgentServices::Configure(update::OnlineUpdateOptions& options) {
  options.installer = installer_.get();
  options.config_backup = config_backup();
  options.admit = [this](const update::Selected& selected) -> std::optional<update::Rejection> {
    Result<policy::Verdict> verdict = policy_->Admit(selected.name, selected.record.version);
    if (!verdict) {
      return update::Rejection{selected.name, update::Reason::kDeviceBusy,
                               "policy check failed: " + verdict.error().ToString()};
    }
    if (verdict->allowed) return std::nullopt;
    return update::Rejection{selected.name, verdict->reason, verdict->message};
  };
  // Data a download attempt refused is logged at once, also when a later attempt recovers
  // (update/staging.h); RecordUpdate then skips a final failure of the same kind.
  options.on_refused_download = [this](std::string_view target, const Error& error) {
    std::optional<EventType> type = events::EventForErrorKind(error.kind());
    if (!type) return;
    Status logged = events::AppendIfConfigured(
        log_.get(), SecurityEvent{*type, std::string(target), "update: " + error.ToString()});
    if (!logged && !unlogged_) unlogged_ = logged.error();
  };
}

std::unique_ptr<update::UpdateTransaction> AgentServices::MakeTransaction() {
  auto transaction = std::make_unique<update::UpdateTransaction>(*store_, *installer_, *health_);
  transaction->set_config_backup(config_backup());
  return transaction;
}

Status AgentServices::RecordUpdate(const Result<update::OnlineUpdateResult>& result) {
  Status recorded = RecordOutcome(result);
  if (unlogged_) {  // the download hook of Configure could not write its event
    Error error = std::move(*unlogged_);
    unlogged_.reset();
    if (recorded) return MakeError(std::move(error));
  }
  return recorded;
}

Status AgentServices::RecordOutcome(const Result<update::OnlineUpdateResult>& result) {
  if (!result) {
    std::optional<EventType> type = events::EventForErrorKind(result.error().kind());
    if (!type) return {};
    return events::AppendIfConfigured(log_.get(),
                                      SecurityEvent{*type, "update", result.error().ToString()});
  }
  // Old releases still listed below the floor are normal (selection skips them); only an
  // install actually refused for the floor or a hash is an event.
  if (!result->transaction) return {};
  // A download refused for what the source sent (hash, length, more than listed, too slow) is
  // an attack on the transport as much as bad metadata is: logged by the attempt's error kind.
  if (result->download && result->download->failure) {
    const update::DownloadFailure& failure = *result->download->failure;
    if (failure.reported) return {};  // logged when the attempt refused it (Configure)
    std::optional<EventType> type = events::EventForErrorKind(failure.error.kind());
    if (!type) return {};
    return events::AppendIfConfigured(
        log_.get(), SecurityEvent{*type, result->transaction->target.name,
                                  "update: " + failure.error.ToString()});
  }
  return RecordTransaction(*result->transaction, "update");
}

Status AgentServices::RecordTransaction(const update::TransactionResult& result,
                                        std::string_view command) {
  if (result.outcome == update::Outcome::kCommitted && command == "update") {
    MDU_RETURN_IF_ERROR(policy_->ConsumeApproval(result.target.name));
  }
  if (result.outcome != update::Outcome::kRefused) return {};
  std::optional<EventType> type = EventForReason(result.reason);
  if (!type) return {};
  return events::AppendIfConfigured(
      log_.get(), SecurityEvent{*type, result.target.name,
                                std::string(command) + ": " +
                                    std::string(update::ReasonName(result.reason)) + ": " +
                                    result.message});
}

Status AgentServices::AuthorizeOperator(std::string_view action, std::string_view target,
                                        const std::filesystem::path& authorization_file) {
  if (!config_.operator_required()) return {};
  auto refuse = [&](const Error& error) -> Status {
    (void)events::AppendIfConfigured(
        log_.get(), SecurityEvent{EventType::kUnauthorizedCommand, std::string(action),
                                  error.message()});
    return MakeError(ErrorKind::kPolicy, error.message());
  };
  if (authorization_file.empty()) {
    return refuse(Error(ErrorKind::kPolicy, std::string(action) +
                                                " requires an operator authorization "
                                                "(--authorization FILE)"));
  }
  Result<std::string> bytes = io::ReadFileBounded(authorization_file, 64 * 1024);
  if (!bytes) return refuse(bytes.error().WithContext("operator authorization"));
  policy::AuthorizationRequest request{std::string(action), config_.device_id,
                                       std::string(target), clock_.Now(),
                                       config_.operator_auth_max_lifetime_s};
  Result<policy::Authorization> verified =
      policy::VerifyAuthorization(*bytes, config_.operator_keys, request);
  if (!verified) return refuse(verified.error());
  return {};
}

}  // namespace mdu::agent::commands
