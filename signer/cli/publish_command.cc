// signer publish | export-online-key: the static TUF tree, and the online keys for the
// repository server.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <ctime>
#include <memory>
#include <string>

#include "core/io/file.h"
#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/cli/options.h"
#include "signer/keystore/keystore.h"
#include "signer/repo/key_files.h"
#include "signer/repo/publish.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

struct PublishCliOptions {
  std::string out;
  std::string snapshot_key, timestamp_key;
  PassphraseSource snapshot_passphrase, timestamp_passphrase;
};

struct ExportKeyOptions {
  std::string role;
  std::string key;
  std::string out;
  PassphraseSource passphrase;
};

Result<CommandOutput> RunPublish(Context& ctx, const PublishCliOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(crypto::PrivateKey snapshot_key,
                       repo::LoadSigningKey(opts.snapshot_key, opts.snapshot_passphrase));
  MDU_ASSIGN_OR_RETURN(crypto::PrivateKey timestamp_key,
                       repo::LoadSigningKey(opts.timestamp_key, opts.timestamp_passphrase));
  ctx.Progress("Publishing to " + opts.out + " (generating, verifying, then swapping in)...");
  repo::PublishOptions options{opts.out, &snapshot_key, &timestamp_key, std::time(nullptr)};
  MDU_ASSIGN_OR_RETURN(repo::PublishReport report, repo::Publish(ws, options));
  CommandOutput output;
  json::Array files;
  std::string list;
  for (const auto& f : report.new_files) {
    files.emplace_back(f);
    list += "  metadata/" + f + "\n";
  }
  output.json = json::Value::MakeObject({
      {"out", json::Value(opts.out)},
      {"root", json::Value(report.versions.root)},
      {"targets", json::Value(report.versions.targets)},
      {"snapshot", json::Value(report.versions.snapshot)},
      {"timestamp", json::Value(report.versions.timestamp)},
      {"target_count", json::Value(static_cast<int64_t>(report.target_count))},
      {"new_files", json::Value(std::move(files))},
  });
  output.text = "Published to " + opts.out + " (verified from 1.root.json like a device): root v" +
                std::to_string(report.versions.root) + ", targets v" +
                std::to_string(report.versions.targets) + ", snapshot v" +
                std::to_string(report.versions.snapshot) + ", timestamp v" +
                std::to_string(report.versions.timestamp) + ", " +
                std::to_string(report.target_count) + " targets. New files:\n" + list;
  output.quiet_text = opts.out + "\n";
  return output;
}

Result<CommandOutput> RunExportKey(const Context& ctx, const ExportKeyOptions& opts) {
  if (opts.role != "timestamp" && opts.role != "snapshot") {
    return MakeError(ErrorKind::kPolicy,
                     "only the timestamp and snapshot keys may leave the signing machine; " +
                         opts.role + " keys never do");
  }
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(opts.key));
  MDU_ASSIGN_OR_RETURN(KeyFileInfo info, InspectKeyFile(text, opts.key));
  for (const auto& [role, keys] : ws.root().role.roles) {
    const bool listed =
        std::find(keys.keyids.begin(), keys.keyids.end(), info.keyid) != keys.keyids.end();
    if (role == opts.role && !listed) {
      return MakeError(ErrorKind::kPolicy, "key " + info.keyid + " is not a " + opts.role +
                                               " key of this repository's root");
    }
    if ((role == "root" || role == "targets") && listed) {
      return MakeError(ErrorKind::kPolicy, "key " + info.keyid + " is also a " + role +
                                               " key: it must never leave the signing machine");
    }
  }
  for (const std::string& name : ws.TargetsRoleNames()) {
    const auto& delegations = ws.TargetsRole(name)->role.delegations;
    if (delegations && delegations->keys.count(info.keyid) != 0) {
      return MakeError(ErrorKind::kPolicy, "key " + info.keyid +
                                               " also signs delegated targets roles; it must "
                                               "never leave the signing machine");
    }
  }
  // Prove the passphrase (and the file's integrity) before handing the file out.
  MDU_ASSIGN_OR_RETURN(crypto::PrivateKey key, repo::LoadSigningKey(opts.key, opts.passphrase));
  static_cast<void>(key);
  MDU_RETURN_IF_ERROR(WriteNewFile(opts.out, text, kPrivateKeyFileMode));
  CommandOutput output;
  output.json = json::Value::MakeObject({{"role", json::Value(opts.role)},
                                         {"keyid", json::Value(info.keyid)},
                                         {"file", json::Value(opts.out)}});
  output.text = "Exported the " + opts.role + " key " + info.keyid + " (still encrypted) to " +
                opts.out + " for the repository server.\n";
  output.quiet_text = opts.out + "\n";
  return output;
}

}  // namespace

void RegisterPublishCommands(CLI::App& app, Context& ctx) {
  auto pub = std::make_shared<PublishCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "publish",
      "Write the static TUF repository (metadata/N.root.json chain, N.targets.json, "
      "N.<role>.json, N.snapshot.json, timestamp.json, targets/<sha256>.<name>) to --out, only "
      "if every role meets its threshold (else lists what is missing); verifies it like a "
      "device and swaps it in atomically");
  cmd->add_option("--out", pub->out, "Repository directory to (re)place")
      ->required()
      ->type_name("DIR");
  cmd->add_option("--snapshot-key", pub->snapshot_key, "Encrypted snapshot key file")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--timestamp-key", pub->timestamp_key, "Encrypted timestamp key file")
      ->required()
      ->type_name("FILE");
  AddPassphraseOptions(*cmd, pub->snapshot_passphrase, "snapshot-passphrase",
                       "the snapshot key's passphrase");
  AddPassphraseOptions(*cmd, pub->timestamp_passphrase, "timestamp-passphrase",
                       "the timestamp key's passphrase");
  cmd->callback([&ctx, pub] { ctx.Finish(RunPublish(ctx, *pub)); });

  auto exp = std::make_shared<ExportKeyOptions>();
  CLI::App* key = app.add_subcommand(
      "export-online-key",
      "Copy the (encrypted) timestamp or snapshot key file for the repository server after "
      "checking its passphrase; root and targets keys are refused");
  key->add_option("ROLE", exp->role, "timestamp or snapshot")->required();
  key->add_option("--key", exp->key, "Encrypted key file")->required()->type_name("FILE");
  key->add_option("--out", exp->out, "Where to write it (must not exist)")
      ->required()
      ->type_name("FILE");
  AddPassphraseOptions(*key, exp->passphrase, "passphrase", "the key's passphrase");
  key->callback([&ctx, exp] { ctx.Finish(RunExportKey(ctx, *exp)); });
}

}  // namespace mdu::signer
