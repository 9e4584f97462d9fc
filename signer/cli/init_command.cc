// signer init: create a signing workspace with root version 1 and an empty targets role.
#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/repo/key_files.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

struct InitOptions {
  std::vector<std::string> root_keys, targets_keys, snapshot_keys, timestamp_keys;
  int64_t root_threshold = 1, targets_threshold = 1, snapshot_threshold = 1,
          timestamp_threshold = 1;
  repo::ExpiryPolicy expiry;
};

Result<repo::RoleKeys> RoleKeysFrom(const std::vector<std::string>& files, int64_t threshold) {
  std::vector<fs::path> paths(files.begin(), files.end());
  MDU_ASSIGN_OR_RETURN(auto keys, repo::LoadPublicKeys(paths));
  return repo::RoleKeys{std::move(keys), threshold};
}

Result<CommandOutput> RunInit(Context& ctx, const InitOptions& opts) {
  repo::InitSpec spec;
  MDU_ASSIGN_OR_RETURN(spec.root, RoleKeysFrom(opts.root_keys, opts.root_threshold));
  MDU_ASSIGN_OR_RETURN(spec.targets, RoleKeysFrom(opts.targets_keys, opts.targets_threshold));
  MDU_ASSIGN_OR_RETURN(spec.snapshot, RoleKeysFrom(opts.snapshot_keys, opts.snapshot_threshold));
  MDU_ASSIGN_OR_RETURN(spec.timestamp, RoleKeysFrom(opts.timestamp_keys, opts.timestamp_threshold));
  spec.expiry = opts.expiry;
  const repo::UnixTime now = std::time(nullptr);
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Init(ctx.workspace(), spec, now));
  MDU_RETURN_IF_ERROR(ws.Save());

  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"workspace", json::Value(ctx.workspace().string())},
      {"root_version", json::Value(1)},
      {"root_keyids",
       [&] {
         json::Array ids;
         for (const auto& id : ws.root().role.roles.at("root").keyids) ids.emplace_back(id);
         return json::Value(std::move(ids));
       }()},
  });
  output.text = "Created the signing workspace " + ctx.workspace().string() +
                ": root v1 (threshold " + std::to_string(opts.root_threshold) + " of " +
                std::to_string(opts.root_keys.size()) +
                "), empty targets v1.\n"
                "Next: signer add-target ..., then sign root and targets (signer sign ROLE "
                "--key FILE), then signer publish --out DIR.\n";
  output.quiet_text = ctx.workspace().string() + "\n";
  return output;
}

}  // namespace

void RegisterInitCommand(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<InitOptions>();
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Create a signing workspace (--workspace DIR): root v1 listing the keys and thresholds of "
      "every role, an empty targets role, the expiry policy and consistent snapshots on");
  for (auto [role, keys, threshold] :
       {std::tuple{"root", &opts->root_keys, &opts->root_threshold},
        std::tuple{"targets", &opts->targets_keys, &opts->targets_threshold},
        std::tuple{"snapshot", &opts->snapshot_keys, &opts->snapshot_threshold},
        std::tuple{"timestamp", &opts->timestamp_keys, &opts->timestamp_threshold}}) {
    const std::string name(role);
    cmd->add_option("--" + name + "-key", *keys,
                    "Public key file (NAME.pub.json) of a " + name + " key; repeat for each key")
        ->required()
        ->type_name("FILE");
    cmd->add_option("--" + name + "-threshold", *threshold,
                    "Signatures of distinct " + name + " keys required")
        ->capture_default_str();
  }
  cmd->add_option("--expires-root", opts->expiry.root_days, "Days root stays valid")
      ->capture_default_str();
  cmd->add_option("--expires-targets", opts->expiry.targets_days,
                  "Days targets and delegated roles stay valid")
      ->capture_default_str();
  cmd->add_option("--expires-snapshot", opts->expiry.snapshot_days, "Days snapshot stays valid")
      ->capture_default_str();
  cmd->add_option("--expires-timestamp", opts->expiry.timestamp_days, "Days timestamp stays valid")
      ->capture_default_str();
  cmd->footer(
      "Example: signer --workspace ws init --root-key keys/root-1.pub.json --root-key "
      "keys/root-2.pub.json --root-key keys/root-3.pub.json --root-threshold 2 --targets-key "
      "keys/targets.pub.json --snapshot-key keys/snapshot.pub.json --timestamp-key "
      "keys/timestamp.pub.json");
  cmd->callback([&ctx, opts] { ctx.Finish(RunInit(ctx, *opts)); });
}

}  // namespace mdu::signer
