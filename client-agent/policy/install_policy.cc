#include "client-agent/policy/install_policy.h"

#include <utility>

#include "client-agent/update/health_check.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::agent::policy {
namespace {

Verdict Refuse(update::Reason reason, std::string message) {
  return Verdict{false, reason, std::move(message)};
}

}  // namespace

Verdict InstallPolicy::CheckWindow() const {
  const LocalTime now = ToLocalTime(clock_.Now());
  if (InsideAnyWindow(config_.maintenance_windows, now)) return Verdict{};
  std::string windows;
  for (const MaintenanceWindow& window : config_.maintenance_windows) {
    windows += (windows.empty() ? "\"" : ", \"") + window.text + "\"";
  }
  const std::optional<int> wait = MinutesUntilNextWindow(config_.maintenance_windows, now);
  return Refuse(update::Reason::kOutsideMaintenanceWindow,
                "outside the maintenance windows (" + windows + ", local time)" +
                    (wait ? "; the next opens in " + std::to_string(*wait) + " min" : ""));
}

Result<Verdict> InstallPolicy::CheckWithoutHook(std::string_view target) const {
  if (Verdict window = CheckWindow(); !window.allowed) return window;
  if (!config_.require_approval) return Verdict{};
  MDU_ASSIGN_OR_RETURN(std::optional<Approval> approval, LoadApproval());
  if (!approval || approval->target != target) {
    return Refuse(update::Reason::kApprovalRequired,
                  "no operator approval for \"" + std::string(target) +
                      "\" (client-agent approve " + std::string(target) + ")");
  }
  if (clock_.Now() >= approval->expires) {
    return Refuse(update::Reason::kApprovalRequired,
                  "the approval for \"" + std::string(target) + "\" expired at " +
                      metadata::FormatExpires(approval->expires));
  }
  return Verdict{};
}

Result<Verdict> InstallPolicy::Admit(std::string_view target, std::string_view version) const {
  MDU_ASSIGN_OR_RETURN(Verdict verdict, CheckWithoutHook(target));
  if (!verdict.allowed) return verdict;
  return RunBusyHook(target, version);
}

Verdict InstallPolicy::RunBusyHook(std::string_view target, std::string_view version) const {
  if (config_.busy_hook.command.empty()) return Verdict{};
  update::ProcessSpec spec;
  spec.argv = config_.busy_hook.command;
  spec.env = {"MDU_TARGET=" + std::string(target), "MDU_VERSION=" + std::string(version)};
  spec.timeout = config_.busy_hook.timeout;
  const update::HealthResult run = update::RunProcess(spec);
  if (run.status == update::HealthStatus::kPassed) return Verdict{};
  if (run.status == update::HealthStatus::kFailed && run.exit_code == kBusyExitVeto) {
    return Refuse(update::Reason::kVetoedByDevice, "the device busy hook vetoed the install");
  }
  if (run.status == update::HealthStatus::kFailed && run.exit_code == kBusyExitPostpone) {
    return Refuse(update::Reason::kDeviceBusy, "the device is busy (busy hook said postpone)");
  }
  return Refuse(update::Reason::kDeviceBusy,
                "the device busy hook gave no clear answer, postponing: " + run.message);
}

Result<Approval> InstallPolicy::Approve(std::string_view target) {
  Approval approval{std::string(target), clock_.Now(),
                    clock_.Now() + static_cast<int64_t>(config_.approval_ttl.count())};
  const json::Value value = json::Value::MakeObject({{"target", approval.target},
                                                     {"approved", approval.approved},
                                                     {"expires", approval.expires}});
  MDU_RETURN_IF_ERROR(io::CreateDirectories(state_dir_, 0700));
  MDU_RETURN_IF_ERROR(
      io::WriteFileAtomically(state_dir_ / kApprovalFile, json::Serialize(value, 1) + "\n", 0600));
  return approval;
}

Result<std::optional<Approval>> InstallPolicy::LoadApproval() const {
  Result<std::string> bytes = io::ReadFileBounded(state_dir_ / kApprovalFile, 64 * 1024);
  if (!bytes && bytes.error().kind() == ErrorKind::kNotFound) return std::optional<Approval>();
  if (!bytes) return MakeError(bytes.error());
  MDU_ASSIGN_OR_RETURN(json::Value value, json::Parse(*bytes));
  constexpr std::string_view kWhere = "approval.json";
  Approval approval;
  MDU_ASSIGN_OR_RETURN(approval.target, json::RequireString(value, "target", kWhere));
  MDU_ASSIGN_OR_RETURN(approval.approved, json::RequireInt(value, "approved", kWhere));
  MDU_ASSIGN_OR_RETURN(approval.expires, json::RequireInt(value, "expires", kWhere));
  return std::optional<Approval>(std::move(approval));
}

Status InstallPolicy::ConsumeApproval(std::string_view target) {
  MDU_ASSIGN_OR_RETURN(std::optional<Approval> approval, LoadApproval());
  if (!approval || approval->target != target) return {};
  return io::RemoveFileDurably(state_dir_ / kApprovalFile);
}

}  // namespace mdu::agent::policy
