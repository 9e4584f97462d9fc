// Install admission (issue 5, policies: medical devices cannot update during therapy). Before
// the update flow touches the device it asks, in this order:
//
//   1. maintenance window   inside one of the configured windows (local time)?
//                           no -> kOutsideMaintenanceWindow
//   2. operator approval    with require_approval: an unexpired approval for this very target
//                           (`client-agent approve TARGET`)? no -> kApprovalRequired
//   3. "device busy" hook   the configured command, run last because it may be costly, with
//                           MDU_TARGET and MDU_VERSION set. Exit status:
//                             0   proceed
//                             10  postpone (therapy running; try again later) -> kDeviceBusy
//                             20  veto this target                            -> kVetoedByDevice
//                           anything else, a timeout or a spawn failure counts as postpone:
//                           when unsure, a medical device must not install.
//
// Approvals live in <state-dir>/approval.json: {"target", "approved", "expires"} (Unix seconds),
// written atomically and 0600. There is one approval at a time (the latest replaces it), it binds
// the target name (whose content the signed metadata fixes), it expires (approval_ttl_s), and a
// committed install consumes it, so it cannot approve a later release.
//
// Refusals are results (Verdict), not errors; errors are kIo from the state directory.
// Ownership: borrows config and clock; they must outlive the object. Thread-safety: none.
#ifndef MDU_CLIENT_AGENT_POLICY_INSTALL_POLICY_H_
#define MDU_CLIENT_AGENT_POLICY_INSTALL_POLICY_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "client-agent/policy/agent_config.h"
#include "client-agent/update/reason.h"
#include "core/client/clock.h"
#include "core/common/error.h"

namespace mdu::agent::policy {

inline constexpr int kBusyExitPostpone = 10;
inline constexpr int kBusyExitVeto = 20;

struct Verdict {
  bool allowed = true;
  update::Reason reason = update::Reason::kNone;
  std::string message;
};

struct Approval {
  std::string target;
  metadata::UnixTime approved = 0;
  metadata::UnixTime expires = 0;
};

class InstallPolicy {
 public:
  static constexpr std::string_view kApprovalFile = "approval.json";

  InstallPolicy(const AgentConfig& config, std::filesystem::path state_dir,
                const client::Clock& clock)
      : config_(config), state_dir_(std::move(state_dir)), clock_(clock) {}

  // Step 1 only (cheap; the daemon checks it before contacting the server).
  Verdict CheckWindow() const;
  // Steps 1 and 2 (no side effect): what `check` reports.
  Result<Verdict> CheckWithoutHook(std::string_view target) const;
  // Steps 1 to 3, right before installing `target` (version for the hook's environment).
  Result<Verdict> Admit(std::string_view target, std::string_view version) const;

  // Records an approval for `target` valid for approval_ttl from now.
  Result<Approval> Approve(std::string_view target);
  // The stored approval, if any (expired ones too).
  Result<std::optional<Approval>> LoadApproval() const;
  // Removes the approval if it is for `target` (after a committed install).
  Status ConsumeApproval(std::string_view target);

 private:
  Verdict RunBusyHook(std::string_view target, std::string_view version) const;

  const AgentConfig& config_;
  std::filesystem::path state_dir_;
  const client::Clock& clock_;
};

}  // namespace mdu::agent::policy

#endif  // MDU_CLIENT_AGENT_POLICY_INSTALL_POLICY_H_
