// signer add-target | remove-target | withdraw: what devices may install.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/repo/targets_editor.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

struct AddOptions {
  std::vector<std::string> files;
  std::string name, dir, prefix, role = "targets", sbom;
  std::string version, min_installed_version, installer, end_of_support;
  std::vector<std::string> hardware_ids;
  std::optional<int64_t> security_version;
  bool replace = false;
  unsigned threads = 0;
};

struct RemoveOptions {
  std::string name;
  std::string reason, by;
};

// A one-line progress display on stderr, only when it is a terminal (and not --json/--quiet).
repo::ProgressCallback TerminalProgress(const Context& ctx) {
  if (ctx.options().json || ctx.options().quiet || ::isatty(STDERR_FILENO) == 0) return nullptr;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [last](const repo::IngestProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool done = p.files_done == p.files_total;
    if (!done && now - *last < std::chrono::milliseconds(100)) return;
    *last = now;
    std::fprintf(stderr, "\rhashing: %zu/%zu files, %.1f/%.1f MiB%s", p.files_done, p.files_total,
                 static_cast<double>(p.bytes_done) / (1 << 20),
                 static_cast<double>(p.bytes_total) / (1 << 20), done ? "\n" : "");
  };
}

Result<CommandOutput> RunAdd(Context& ctx, const AddOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  repo::AddTargetsSpec spec;
  if (!opts.dir.empty()) {
    if (!opts.files.empty() || !opts.name.empty()) {
      return MakeError(ErrorKind::kInvalidArgument, "--dir cannot be combined with FILE or --name");
    }
    MDU_ASSIGN_OR_RETURN(spec.sources, repo::SourcesForDirectory(opts.dir, opts.prefix));
  } else {
    if (opts.files.empty()) {
      return MakeError(ErrorKind::kInvalidArgument, "give one or more FILEs or --dir DIR");
    }
    if (!opts.name.empty() && opts.files.size() != 1) {
      return MakeError(ErrorKind::kInvalidArgument, "--name needs exactly one FILE");
    }
    for (const std::string& file : opts.files) {
      std::string name = opts.name;
      if (name.empty() && !opts.prefix.empty()) {
        name = opts.prefix + "/" + fs::path(file).filename().string();
      }
      MDU_ASSIGN_OR_RETURN(repo::TargetSource source, repo::SourceForFile(file, name));
      spec.sources.push_back(std::move(source));
    }
  }
  spec.release.version = opts.version;
  spec.release.hardware_ids = opts.hardware_ids;
  if (!opts.min_installed_version.empty()) {
    spec.release.min_installed_version = opts.min_installed_version;
  }
  spec.release.security_version = opts.security_version;
  if (!opts.installer.empty()) spec.release.installer = opts.installer;
  if (!opts.end_of_support.empty()) spec.release.end_of_support = opts.end_of_support;
  if (!opts.sbom.empty()) spec.sbom = fs::path(opts.sbom);
  spec.role = opts.role;
  spec.replace = opts.replace;
  spec.threads = opts.threads;
  spec.progress = TerminalProgress(ctx);
  spec.now = std::time(nullptr);
  MDU_ASSIGN_OR_RETURN(std::vector<repo::AddedTarget> added, repo::AddTargets(ws, spec));
  MDU_RETURN_IF_ERROR(ws.Save());

  CommandOutput output;
  json::Array list;
  size_t changed = 0;
  for (const repo::AddedTarget& target : added) {
    list.push_back(
        json::Value::MakeObject({{"name", json::Value(target.name)},
                                 {"role", json::Value(target.role)},
                                 {"length", json::Value(static_cast<int64_t>(target.length))},
                                 {"sha256", json::Value(target.sha256)},
                                 {"unchanged", json::Value(target.unchanged)}}));
    if (!target.unchanged) ++changed;
    if (added.size() <= 20) {
      output.text += (target.unchanged ? "  unchanged " : "  added     ") + target.name + " (" +
                     std::to_string(target.length) + " bytes, sha256 " +
                     target.sha256.substr(0, 16) + "...) to " + target.role + "\n";
    }
    output.quiet_text += target.sha256 + "  " + target.name + "\n";
  }
  output.text += std::to_string(changed) + " target(s) added or replaced, " +
                 std::to_string(added.size() - changed) +
                 " unchanged. Sign the changed role(s) "
                 "before publishing (signer status).\n";
  output.json = json::Value::MakeObject({{"targets", json::Value(std::move(list))}});
  return output;
}

Result<CommandOutput> RunRemove(Context& ctx, const RemoveOptions& opts, bool withdraw) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  const repo::UnixTime now = std::time(nullptr);
  std::string by = opts.by;
  if (by.empty()) {
    const char* user = std::getenv("USER");
    by = user != nullptr ? user : "unknown";
  }
  repo::RemovedTarget removed;
  if (withdraw) {
    MDU_ASSIGN_OR_RETURN(removed, repo::WithdrawTarget(ws, opts.name, opts.reason, by, now));
  } else {
    MDU_ASSIGN_OR_RETURN(removed, repo::RemoveTarget(ws, opts.name, now));
  }
  MDU_RETURN_IF_ERROR(ws.Save());
  const int64_t version = ws.TargetsRole(removed.role)->role.common.version;
  CommandOutput output;
  output.json = json::Value::MakeObject(
      {{"name", json::Value(removed.name)},
       {"role", json::Value(removed.role)},
       {"role_version", json::Value(version)},
       {"withdrawn", json::Value(withdraw)},
       {"sbom_removed",
        removed.sbom_removed.empty() ? json::Value() : json::Value(removed.sbom_removed)}});
  output.text = std::string(withdraw ? "Withdrew " : "Removed ") + removed.name + " from " +
                removed.role + " (now v" + std::to_string(version) + ", unsigned)" +
                (removed.sbom_removed.empty() ? std::string(".")
                                              : ", with its SBOM " + removed.sbom_removed + ".") +
                (withdraw ? " The reason is recorded in withdrawn.json." : "") + " Sign " +
                removed.role + " and publish so devices stop installing it.\n";
  output.quiet_text = removed.name + "\n";
  return output;
}

}  // namespace

void RegisterTargetCommands(CLI::App& app, Context& ctx) {
  auto add = std::make_shared<AddOptions>();
  CLI::App* cmd = app.add_subcommand(
      "add-target",
      "Add release files as targets: streams each file once for length, sha256 and sha512 "
      "(both cores for many files), stores it in the workspace and lists it with its release "
      "metadata in a targets role (unsigned until `signer sign`)");
  cmd->add_option("FILE", add->files, "Files to add (target name: the base name)");
  cmd->add_option("--name", add->name, "Target name for a single FILE (e.g. pump-x/fw-2.1.bin)");
  cmd->add_option("--dir", add->dir, "Add every file below DIR (names relative to DIR)")
      ->type_name("DIR");
  cmd->add_option("--prefix", add->prefix, "Prefix for target names: PREFIX/<name>");
  cmd->add_option("--version", add->version, "Release version (custom.version)")->required();
  cmd->add_option("--hardware-id", add->hardware_ids,
                  "Hardware ID the release fits; repeat for several")
      ->required();
  cmd->add_option("--min-installed-version", add->min_installed_version,
                  "Oldest installed version this release may update from");
  cmd->add_option("--security-version", add->security_version,
                  "Monotonic security version: devices refuse anything below the highest "
                  "installed one");
  cmd->add_option("--installer", add->installer, "Installer type (e.g. swupdate, rpm)");
  cmd->add_option("--end-of-support", add->end_of_support,
                  "Date security support ends (YYYY-MM-DD)");
  cmd->add_option("--sbom", add->sbom,
                  "CycloneDX or SPDX JSON SBOM, stored as target NAME.sbom.json and referenced "
                  "from the target");
  cmd->add_option("--role", add->role, "targets, a delegated role, or the name prefix of hash bins")
      ->capture_default_str();
  cmd->add_flag("--replace", add->replace,
                "Replace a target of the same name with different content or metadata");
  cmd->add_option("--threads", add->threads, "Hashing threads (default: all cores)");
  cmd->callback([&ctx, add] { ctx.Finish(RunAdd(ctx, *add)); });

  auto remove = std::make_shared<RemoveOptions>();
  CLI::App* rm = app.add_subcommand("remove-target",
                                    "Remove a target from the role listing it (no record kept; "
                                    "use withdraw to pull a release)");
  rm->add_option("NAME", remove->name, "Target name")->required();
  rm->callback([&ctx, remove] { ctx.Finish(RunRemove(ctx, *remove, false)); });

  auto withdraw = std::make_shared<RemoveOptions>();
  CLI::App* wd = app.add_subcommand(
      "withdraw",
      "Pull a release: remove the target so devices stop installing it, and record the reason, "
      "time and who in withdrawn.json");
  wd->add_option("NAME", withdraw->name, "Target name")->required();
  wd->add_option("--reason", withdraw->reason, "Why (recorded; e.g. a CVE or a field notice)")
      ->required();
  wd->add_option("--by", withdraw->by, "Who withdraws it (default: $USER)");
  wd->callback([&ctx, withdraw] { ctx.Finish(RunRemove(ctx, *withdraw, true)); });
}

}  // namespace mdu::signer
