// signer status: every role's version, expiry, signatures and what is missing before publish.
#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>

#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/repo/status.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

Result<CommandOutput> RunStatus(Context& ctx, bool targets) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws,
                       repo::Workspace::Open(ctx.workspace(), repo::LockMode::kShared));
  const repo::UnixTime now = std::time(nullptr);
  MDU_ASSIGN_OR_RETURN(repo::WorkspaceStatus status, repo::ComputeStatus(ws, now));
  CommandOutput output;
  output.json = repo::StatusToJson(status);
  output.text = "Workspace " + ctx.workspace().string() + "\n" + repo::FormatStatus(status, now);
  if (targets) {
    output.text += "Targets:\n";
    for (const std::string& role : ws.TargetsRoleNames()) {
      for (const auto& [name, file] : ws.TargetsRole(role)->role.targets) {
        output.text += "  " + name + " (" + role + ", " + std::to_string(file.length) + " bytes)\n";
      }
    }
  }
  output.quiet_text = status.ready() ? "ready\n" : "incomplete\n";
  return output;
}

}  // namespace

void RegisterStatusCommand(CLI::App& app, Context& ctx) {
  auto targets = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "status",
      "Show every role: version, expiry (warns when close), signatures present vs threshold, "
      "the root rotation rehearsal, and what is missing before publishing (--json for "
      "programs)");
  cmd->add_flag("--targets", *targets, "Also list every target");
  cmd->callback([&ctx, targets] { ctx.Finish(RunStatus(ctx, *targets)); });
}

}  // namespace mdu::signer
