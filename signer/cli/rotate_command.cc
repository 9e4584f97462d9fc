// signer rotate-root | revoke-key | rehearse | renew: key rotation, revocation, the rotation
// rehearsal and renewing a role's expiry.
#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/pkcs11/token_key.h"
#include "signer/pkcs11/uri.h"
#include "signer/repo/key_files.h"
#include "signer/repo/rotation.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

struct RotateOptions {
  std::string role = "root";
  std::vector<std::string> add_keys;
  std::vector<std::string> remove_keys;  // key IDs or key files
  std::optional<int64_t> threshold;
};

struct KeyOptions {
  std::string key;  // key ID or key file
  std::string role;
};

// A key named by its ID or by a key file.
Result<std::string> KeyIdOf(const std::string& key) {
  // A lost or compromised token is revoked by its URI, like a key file.
  if (pkcs11::IsPkcs11Uri(key)) {
    MDU_ASSIGN_OR_RETURN(crypto::PublicKey pub, pkcs11::ReadTokenPublicKey(key));
    return pub.KeyId();
  }
  std::error_code ec;
  if (fs::is_regular_file(key, ec)) {
    MDU_ASSIGN_OR_RETURN(crypto::PublicKey pub, repo::LoadPublicKey(key));
    return pub.KeyId();
  }
  if (key.size() != 64 || key.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "\"" + key +
                         "\" is neither a key file, a pkcs11: URI nor a 64-hex-digit key ID");
  }
  return key;
}

json::Value RehearsalJson(const repo::RehearsalReport& report) {
  json::Array generations;
  for (const auto& g : report.generations) {
    generations.push_back(
        json::Value::MakeObject({{"trusted_version", json::Value(g.trusted_version)},
                                 {"reaches_final", json::Value(g.reaches_final)},
                                 {"stuck_at", json::Value(g.stuck_at)},
                                 {"reason", json::Value(g.reason)}}));
  }
  return json::Value::MakeObject({{"final_version", json::Value(report.final_version)},
                                  {"ok", json::Value(report.ok())},
                                  {"generations", json::Value(std::move(generations))}});
}

Result<CommandOutput> RunRotate(Context& ctx, const RotateOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  repo::RotationSpec spec;
  spec.role = opts.role;
  MDU_ASSIGN_OR_RETURN(spec.add, repo::LoadPublicKeys(std::vector<fs::path>(opts.add_keys.begin(),
                                                                            opts.add_keys.end())));
  for (const std::string& key : opts.remove_keys) {
    MDU_ASSIGN_OR_RETURN(std::string id, KeyIdOf(key));
    spec.remove.push_back(std::move(id));
  }
  spec.threshold = opts.threshold;
  MDU_RETURN_IF_ERROR(repo::RotateKeys(ws, spec, std::time(nullptr)));
  MDU_RETURN_IF_ERROR(ws.Save());
  const int64_t version = ws.root().role.common.version;
  CommandOutput output;
  output.json = json::Value::MakeObject(
      {{"role", json::Value(opts.role)}, {"root_version", json::Value(version)}});
  output.text = "Staged root v" + std::to_string(version) + " with the new " + opts.role +
                " keys. It must be signed by the previous root's threshold AND the new one "
                "(signer sign root --key ...); `signer rehearse` shows whether every device "
                "generation still reaches it.\n";
  output.quiet_text = std::to_string(version) + "\n";
  return output;
}

Result<CommandOutput> RunRevoke(Context& ctx, const KeyOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(std::string keyid, KeyIdOf(opts.key));
  MDU_ASSIGN_OR_RETURN(std::vector<std::string> roles,
                       repo::RevokeKey(ws, keyid, std::time(nullptr)));
  MDU_RETURN_IF_ERROR(ws.Save());
  CommandOutput output;
  json::Array changed;
  std::string list;
  for (const auto& r : roles) {
    changed.emplace_back(r);
    list += (list.empty() ? "" : ", ") + r;
  }
  output.json = json::Value::MakeObject(
      {{"keyid", json::Value(keyid)}, {"changed", json::Value(std::move(changed))}});
  output.text = "Revoked key " + keyid + " from: " + list +
                ". Sign the changed roles with the remaining keys and publish.\n";
  output.quiet_text = keyid + "\n";
  return output;
}

Result<CommandOutput> RunRehearse(Context& ctx) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws,
                       repo::Workspace::Open(ctx.workspace(), repo::LockMode::kShared));
  MDU_ASSIGN_OR_RETURN(repo::RehearsalReport report,
                       repo::RehearseWorkspace(ws, std::time(nullptr)));
  CommandOutput output;
  output.json = RehearsalJson(report);
  output.text = "Rehearsal: a client trusting each root version walks the chain to root v" +
                std::to_string(report.final_version) + ":\n" + repo::FormatRehearsal(report);
  if (!report.ok()) {
    output.text +=
        "Some device generations would be stranded: sign the new root with the "
        "threshold of the root they trust before publishing.\n";
  }
  output.quiet_text = report.ok() ? "ok\n" : "stranded\n";
  if (!report.ok()) return MakeError(ErrorKind::kUnsignedMetadata, output.text);
  return output;
}

Result<CommandOutput> RunRenew(Context& ctx, const KeyOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_RETURN_IF_ERROR(ws.Renew(opts.role, std::time(nullptr)));
  MDU_RETURN_IF_ERROR(ws.Save());
  const auto* envelope = ws.EnvelopeOf(opts.role);
  const json::Value* version = envelope->signed_value.Find("version");
  CommandOutput output;
  output.json = json::Value::MakeObject({{"role", json::Value(opts.role)}, {"version", *version}});
  output.text = "Staged " + opts.role + " v" + std::to_string(version->as_int()) +
                " with a fresh expiry; sign it again.\n";
  return output;
}

}  // namespace

void RegisterRotateCommands(CLI::App& app, Context& ctx) {
  auto rot = std::make_shared<RotateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "rotate-root",
      "Stage a new root version changing the keys or threshold of a top-level role (root by "
      "default; --role targets|snapshot|timestamp). The new root needs the old AND the new "
      "root threshold");
  cmd->add_option("--role", rot->role, "Role whose keys change")
      ->check(CLI::IsMember({"root", "targets", "snapshot", "timestamp"}))
      ->capture_default_str();
  cmd->add_option("--add-key", rot->add_keys, "Public key file to add; repeat")->type_name("FILE");
  cmd->add_option("--remove-key", rot->remove_keys, "Key ID or key file to remove; repeat")
      ->type_name("KEY");
  cmd->add_option("--threshold", rot->threshold, "New threshold of the role");
  cmd->callback([&ctx, rot] { ctx.Finish(RunRotate(ctx, *rot)); });

  auto rev = std::make_shared<KeyOptions>();
  CLI::App* revoke = app.add_subcommand(
      "revoke-key",
      "Remove a (compromised) key from every role and delegation that lists it; the changed "
      "roles get new versions to sign with the remaining keys");
  revoke->add_option("KEY", rev->key, "Key ID, key file or pkcs11: URI of a token key")
      ->required();
  revoke->callback([&ctx, rev] { ctx.Finish(RunRevoke(ctx, *rev)); });

  CLI::App* rehearse = app.add_subcommand(
      "rehearse",
      "Rehearse the staged root: run the device's root-chain verification from every earlier "
      "root version and report which generations would be stranded (exit 1 if any)");
  rehearse->callback([&ctx] { ctx.Finish(RunRehearse(ctx)); });

  auto renew = std::make_shared<KeyOptions>();
  CLI::App* rn = app.add_subcommand(
      "renew",
      "Give a staged role (root, targets or a delegated role) a new version with a "
      "fresh expiry, to be signed again");
  rn->add_option("ROLE", renew->role, "Role")->required();
  rn->callback([&ctx, renew] { ctx.Finish(RunRenew(ctx, *renew)); });
}

}  // namespace mdu::signer
