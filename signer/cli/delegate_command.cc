// signer delegate | delegate-bins: delegated targets roles and hashed bins.
#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/repo/delegation.h"
#include "signer/repo/key_files.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

struct DelegateOptions {
  repo::DelegationSpec spec;
  std::vector<std::string> key_files;
};

struct BinsOptions {
  repo::BinsSpec spec;
  std::vector<std::string> key_files;
};

Result<std::vector<crypto::PublicKey>> Keys(const std::vector<std::string>& files) {
  return repo::LoadPublicKeys(std::vector<fs::path>(files.begin(), files.end()));
}

Result<CommandOutput> RunDelegate(Context& ctx, DelegateOptions opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(opts.spec.keys, Keys(opts.key_files));
  MDU_RETURN_IF_ERROR(repo::Delegate(ws, opts.spec, std::time(nullptr)));
  MDU_RETURN_IF_ERROR(ws.Save());
  CommandOutput output;
  json::Array paths;
  for (const auto& p : opts.spec.paths) paths.emplace_back(p);
  output.json = json::Value::MakeObject({{"role", json::Value(opts.spec.name)},
                                         {"from", json::Value(opts.spec.from)},
                                         {"threshold", json::Value(opts.spec.threshold)},
                                         {"paths", json::Value(std::move(paths))},
                                         {"terminating", json::Value(opts.spec.terminating)}});
  output.text = "Delegated \"" + opts.spec.name + "\" from " + opts.spec.from + " (threshold " +
                std::to_string(opts.spec.threshold) + " of " +
                std::to_string(opts.spec.keys.size()) + " key(s)" +
                (opts.spec.terminating ? ", terminating" : "") + "). Sign " + opts.spec.from +
                " and " + opts.spec.name + " before publishing.\n";
  output.quiet_text = opts.spec.name + "\n";
  return output;
}

Result<CommandOutput> RunBins(Context& ctx, BinsOptions opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(opts.spec.keys, Keys(opts.key_files));
  MDU_RETURN_IF_ERROR(repo::DelegateBins(ws, opts.spec, std::time(nullptr)));
  MDU_RETURN_IF_ERROR(ws.Save());
  const int64_t bins = int64_t{1} << opts.spec.bit_length;
  const bool eager = opts.spec.bit_length <= repo::kMaxEagerBinBitLength;
  CommandOutput output;
  output.json = json::Value::MakeObject({{"name_prefix", json::Value(opts.spec.name_prefix)},
                                         {"from", json::Value(opts.spec.from)},
                                         {"bit_length", json::Value(opts.spec.bit_length)},
                                         {"bins", json::Value(bins)},
                                         {"bins_created", json::Value(eager ? bins : 0)}});
  output.text = "Delegated all targets of " + opts.spec.from + " to " + std::to_string(bins) +
                " hash bins " + opts.spec.name_prefix + "-*" +
                (eager ? std::string(" (all created)")
                       : " (more than 2^" + std::to_string(repo::kMaxEagerBinBitLength) +
                             ": each bin is created when its first target is added; only "
                             "those are signed and published)") +
                ". Add targets with --role " + opts.spec.name_prefix +
                "; sign them all with `signer sign " + opts.spec.name_prefix + " --key ...`.\n";
  output.quiet_text = opts.spec.name_prefix + "\n";
  return output;
}

}  // namespace

void RegisterDelegateCommands(CLI::App& app, Context& ctx) {
  auto d = std::make_shared<DelegateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "delegate",
      "Delegate target paths to a role with its own keys and threshold (a product line or "
      "team); updates the role if it exists");
  cmd->add_option("--name", d->spec.name, "Delegated role name")->required();
  cmd->add_option("--from", d->spec.from, "Delegating role")->capture_default_str();
  cmd->add_option("--key", d->key_files, "Public key file of the role; repeat")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--threshold", d->spec.threshold, "Signatures required")->capture_default_str();
  cmd->add_option("--path", d->spec.paths, "Target path pattern (shell-style, per segment); repeat")
      ->required();
  cmd->add_flag("--terminating", d->spec.terminating,
                "Devices searching for a matching target stop at this role");
  cmd->callback([&ctx, d] { ctx.Finish(RunDelegate(ctx, *d)); });

  auto b = std::make_shared<BinsOptions>();
  CLI::App* bins = app.add_subcommand(
      "delegate-bins",
      "Delegate every target to 2^B succinct hash bins (TAP 15) sharing one key set, for very "
      "large repositories");
  bins->add_option("--prefix,--name", b->spec.name_prefix, "Bin name prefix")
      ->capture_default_str();
  bins->add_option("--from", b->spec.from, "Delegating role")->capture_default_str();
  bins->add_option("--bit-length", b->spec.bit_length,
                   "B: 2^B bins (1..32). Up to 16 every bin is created now; above, a bin is "
                   "created when its first target is added")
      ->capture_default_str();
  bins->add_option("--key", b->key_files, "Public key file of the bins; repeat")
      ->required()
      ->type_name("FILE");
  bins->add_option("--threshold", b->spec.threshold, "Signatures required")->capture_default_str();
  bins->callback([&ctx, b] { ctx.Finish(RunBins(ctx, *b)); });
}

}  // namespace mdu::signer
