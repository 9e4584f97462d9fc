// One online update (the `update` command): recover an interrupted transaction, refresh the
// trusted metadata, select a target for this device, download it verified into the staging
// area, and run the update transaction. Uses core's Updater directly (metadata directory as in
// the TUF client mode), the ab-dir installer and the health checker given.
//
// Candidates: the targets named in `target_names` (each resolved through the delegations), or,
// when none is named, every target the top-level targets role lists. Delegated roles are not
// enumerated (a later slice: the inventory of delegated roles per product line).
//
// Errors: the Updater's kinds (refresh), kIo from the state directory or installer,
// kNotFound for a named target no trusted role lists. A refused or rolled-back update is a
// result, not an error.
// Ownership: borrows fetcher, clock and health checker for the duration of the call.
#ifndef MDU_CLIENT_AGENT_UPDATE_ONLINE_UPDATE_H_
#define MDU_CLIENT_AGENT_UPDATE_ONLINE_UPDATE_H_

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client-agent/update/health_check.h"
#include "client-agent/update/selection.h"
#include "client-agent/update/staging.h"
#include "client-agent/update/transaction.h"
#include "core/client/clock.h"
#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent::update {

struct OnlineUpdateOptions {
  std::filesystem::path metadata_dir;  // initialized (holds a trusted root.json)
  std::string metadata_url;            // no trailing slash needed
  std::string target_base_url;
  std::filesystem::path state_dir;     // device state; staging/ inside it
  std::filesystem::path install_root;  // ab-dir installer root
  std::string hardware_id;
  std::vector<std::string> target_names;  // empty: every top-level target
  // Device policy hooks (client-agent/policy, issue 5); the defaults keep the plain flow.
  install::Installer* installer = nullptr;  // borrowed; null: ab-dir at install_root
  ConfigBackup* config_backup = nullptr;    // borrowed; see UpdateTransaction
  // Asked right before the verified download is installed; a Rejection ends the update as a
  // refused transaction with that reason (nothing installed, last_result untouched).
  std::function<std::optional<Rejection>(const Selected&)> admit;
  // Download: retries, backoff, progress (client-agent/update/staging.h).
  StageOptions staging;
  // Data the source sent that the signed metadata does not allow, as soon as an attempt refuses
  // it (StageOptions::on_refused; takes its place when set). Kept apart from `staging` so that
  // the security log hook (AgentServices::Configure) survives callers replacing `staging`.
  RefusedDataSink on_refused_download;
};

struct OnlineUpdateResult {
  std::optional<TransactionResult> recovered;    // an interrupted transaction finished first
  SelectionResult selection;                     // what was chosen and what was not, and why
  std::optional<TransactionResult> transaction;  // empty when nothing was eligible
  // The download of the selected target (attempts, resume); a failed one makes `transaction`
  // a refusal with reason kDownloadFailed or kDownloadRejected.
  std::optional<StageResult> download;
};

Result<OnlineUpdateResult> UpdateOnce(const OnlineUpdateOptions& options, client::Fetcher& fetcher,
                                      const client::Clock& clock, HealthChecker& health);

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_ONLINE_UPDATE_H_
