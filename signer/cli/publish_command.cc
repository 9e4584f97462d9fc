// signer publish | export-online-key: the static TUF tree, and the online keys for the
// repository server.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/file.h"
#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/cli/options.h"
#include "signer/keystore/keystore.h"
#include "signer/pkcs11/uri.h"
#include "signer/repo/key_files.h"
#include "signer/repo/publish.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

struct PublishCliOptions {
  std::string out;
  std::vector<std::string> snapshot_keys, timestamp_keys;
  PassphraseList snapshot_passphrases, timestamp_passphrases;
};

struct ExportKeyOptions {
  std::string role;
  std::string key;
  std::string out;
  PassphraseSource passphrase;
};

// Unlocks every key given for `role` (one passphrase source each, see PassphraseList).
Result<std::vector<repo::SigningKey>> LoadRoleKeys(const std::vector<std::string>& files,
                                                     const PassphraseList& passphrases,
                                                     const std::string& role) {
  MDU_ASSIGN_OR_RETURN(std::vector<PassphraseSource> sources,
                       passphrases.ForKeys(files.size(), "--" + role + "-key"));
  std::vector<repo::SigningKey> keys;
  for (size_t i = 0; i < files.size(); ++i) {
    MDU_ASSIGN_OR_RETURN(repo::SigningKey key, repo::LoadSigningKey(files[i], sources[i]));
    keys.push_back(std::move(key));
  }
  return keys;
}

// A progress line on stderr when it is a terminal (and not --json/--quiet): linking every
// target into the new tree and verifying it take seconds for 100,000 targets.
repo::PublishProgressCallback TerminalProgress(const Context& ctx) {
  if (ctx.options().json || ctx.options().quiet || ::isatty(STDERR_FILENO) == 0) return nullptr;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [last](std::string_view stage, size_t done, size_t total) {
    const auto now = std::chrono::steady_clock::now();
    const bool finished = done == total;
    if (!finished && now - *last < std::chrono::milliseconds(100)) return;
    *last = now;
    const std::string what(stage);
    if (total == 0) {
      std::fprintf(stderr, "\r%s: %zu", what.c_str(), done);
    } else {
      std::fprintf(stderr, "\r%s: %zu/%zu%s", what.c_str(), done, total, finished ? "\n" : "");
    }
  };
}

Result<CommandOutput> RunPublish(Context& ctx, const PublishCliOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(std::vector<repo::SigningKey> snapshot_keys,
                       LoadRoleKeys(opts.snapshot_keys, opts.snapshot_passphrases, "snapshot"));
  MDU_ASSIGN_OR_RETURN(std::vector<repo::SigningKey> timestamp_keys,
                       LoadRoleKeys(opts.timestamp_keys, opts.timestamp_passphrases, "timestamp"));
  ctx.Progress("Publishing to " + opts.out + " (generating, verifying, then swapping in)...");
  repo::PublishOptions options;
  options.out = opts.out;
  for (const auto& key : snapshot_keys) options.snapshot_signers.push_back(&key);
  for (const auto& key : timestamp_keys) options.timestamp_signers.push_back(&key);
  options.now = std::time(nullptr);
  options.progress = TerminalProgress(ctx);
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
  if (pkcs11::IsPkcs11Uri(opts.key)) {
    // Token keys are non-extractable by design; the server needs an encrypted key file.
    return MakeError(ErrorKind::kPolicy,
                     "a pkcs11: token key cannot be exported: it never leaves its token. Give "
                     "the repository server an encrypted " + opts.role +
                         " key file (signer keygen, then rotate-root --role " + opts.role + ")");
  }
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws,
                       repo::Workspace::Open(ctx.workspace(), repo::LockMode::kShared));
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
  MDU_ASSIGN_OR_RETURN(repo::SigningKey key, repo::LoadSigningKey(opts.key, opts.passphrase));
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
  cmd->add_option("--snapshot-key", pub->snapshot_keys,
                  "Encrypted snapshot key file; repeat up to the snapshot threshold")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--timestamp-key", pub->timestamp_keys,
                  "Encrypted timestamp key file; repeat up to the timestamp threshold")
      ->required()
      ->type_name("FILE");
  AddPassphraseListOptions(*cmd, pub->snapshot_passphrases, "snapshot-passphrase",
                           "the snapshot key's passphrase");
  AddPassphraseListOptions(*cmd, pub->timestamp_passphrases, "timestamp-passphrase",
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
