// What the update, rollback, check, run, approve, events and sbom commands share: the agent
// config (policy/agent_config.h), the installer it selects (ab-dir or script), the configuration
// backup, the install policy, the security event log, and the operator authorization check.
// Keeps cli.cc's edits small: the commands ask AgentServices and report through it.
//
// Ownership: AgentServices owns everything it builds; the clock is borrowed and must outlive it.
// Not copyable or movable (the policy and hooks point into it). Thread-safety: none.
#ifndef MDU_CLIENT_AGENT_COMMANDS_AGENT_SERVICES_H_
#define MDU_CLIENT_AGENT_COMMANDS_AGENT_SERVICES_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client-agent/events/security_log.h"
#include "client-agent/install/installer.h"
#include "client-agent/policy/agent_config.h"
#include "client-agent/policy/install_policy.h"
#include "client-agent/update/config_backup.h"
#include "client-agent/update/health_check.h"
#include "client-agent/update/online_update.h"
#include "client-agent/update/transaction.h"
#include "core/client/clock.h"
#include "core/common/error.h"

namespace mdu::agent::commands {

struct ServicesOptions {
  // The agent config, read once by the caller with the command line applied over it (default:
  // no policies, ab-dir); its event_log caps the security event log.
  policy::AgentConfig config;
  std::filesystem::path state_dir;     // required
  std::filesystem::path install_root;  // "" : no installer (read-only commands)
  std::string health_check;            // /bin/sh -c; "" : none (or the script's health-check)
  std::chrono::seconds health_timeout{60};
};

class AgentServices {
 public:
  // Keeps a copy of the config; opens the state directory, the event log and (with install_root)
  // the installer. Records a floor_restored security event (once: the repaired state is saved)
  // when state.json held a lower floor than its second copy.
  static Result<std::unique_ptr<AgentServices>> Open(const ServicesOptions& options,
                                                     const client::Clock& clock);
  AgentServices(const AgentServices&) = delete;
  AgentServices& operator=(const AgentServices&) = delete;

  const policy::AgentConfig& config() const { return config_; }
  policy::InstallPolicy& policy() { return *policy_; }
  events::SecurityLog& log() { return *log_; }
  update::StateStore& store() { return *store_; }
  install::Installer* installer() { return installer_.get(); }
  update::HealthChecker& health() { return *health_; }
  update::ConfigBackup* config_backup() { return backup_.empty() ? nullptr : &backup_; }

  // Fills the policy hooks of an online update (installer, backup, admission).
  void Configure(update::OnlineUpdateOptions& options);
  // A transaction over the configured installer, health check and backup.
  std::unique_ptr<update::UpdateTransaction> MakeTransaction();

  // Records the security events an update produced: the error kind of a failed refresh or
  // download (EventForErrorKind), an install refused for the security floor, a hash mismatch,
  // or a device policy. (Data a download attempt refused is logged during the download by the
  // hook Configure installs, once per kind, even when a retry recovers.) Consumes the approval after a committed install. Problems writing the log are
  // returned for the caller to warn about; they never change the update's outcome.
  Status RecordUpdate(const Result<update::OnlineUpdateResult>& result);
  Status RecordTransaction(const update::TransactionResult& result, std::string_view command);

  // For manual commands: with operator keys configured, `authorization_file` must hold a valid
  // authorization for `action` (and `target`, if it names one). A refusal is logged as an
  // unauthorized_command event and returned as kPolicy.
  Status AuthorizeOperator(std::string_view action, std::string_view target,
                           const std::filesystem::path& authorization_file);

 private:
  AgentServices(const client::Clock& clock, policy::AgentConfig config,
                std::filesystem::path state_dir, update::StateStore store,
                events::LogLimits event_log);
  Status RecordOutcome(const Result<update::OnlineUpdateResult>& result);

  const client::Clock& clock_;
  policy::AgentConfig config_;
  std::filesystem::path state_dir_;
  std::unique_ptr<update::StateStore> store_;
  std::unique_ptr<events::SecurityLog> log_;
  std::unique_ptr<policy::InstallPolicy> policy_;
  std::unique_ptr<install::Installer> installer_;
  std::unique_ptr<update::HealthChecker> health_;
  update::ConfigBackup backup_;
  std::optional<Error> unlogged_;  // an event Configure's download hook could not write
};

}  // namespace mdu::agent::commands

#endif  // MDU_CLIENT_AGENT_COMMANDS_AGENT_SERVICES_H_
