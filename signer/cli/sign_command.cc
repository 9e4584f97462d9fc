// signer sign | export-signing-request | sign-request | merge-signatures: signing staged roles
// here, or across machines for thresholds.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/io/file.h"
#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/cli/options.h"
#include "signer/repo/key_files.h"
#include "signer/repo/signing.h"
#include "signer/repo/workspace.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxRequestBytes = 512u << 20;

struct SignOptions {
  std::string role;
  std::string key;
  PassphraseSource passphrase;
};

struct RequestOptions {
  std::string role;
  std::string file;
  std::string out;
  std::string key;
  PassphraseSource passphrase;
};

Result<CommandOutput> RunSign(Context& ctx, const SignOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  // Fail on an unknown role before asking for a passphrase.
  MDU_RETURN_IF_ERROR(repo::ExpandRole(ws, opts.role));
  MDU_ASSIGN_OR_RETURN(repo::SigningKey key, repo::LoadSigningKey(opts.key, opts.passphrase));
  MDU_ASSIGN_OR_RETURN(std::vector<std::string> roles, repo::SignRole(ws, opts.role, key));
  MDU_RETURN_IF_ERROR(ws.Save());
  CommandOutput output;
  json::Array signed_roles;
  for (const auto& r : roles) signed_roles.emplace_back(r);
  output.json = json::Value::MakeObject({{"roles", json::Value(std::move(signed_roles))},
                                         {"keyid", json::Value(key.public_key().KeyId())}});
  output.text = "Signed " +
                (roles.size() == 1 ? roles[0] : std::to_string(roles.size()) + " roles") +
                " with key " + key.public_key().KeyId() +
                ". See `signer status` for what is "
                "still missing.\n";
  output.quiet_text = key.public_key().KeyId() + "\n";
  return output;
}

Result<CommandOutput> RunExport(Context& ctx, const RequestOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws,
                       repo::Workspace::Open(ctx.workspace(), repo::LockMode::kShared));
  MDU_ASSIGN_OR_RETURN(std::string request, repo::ExportSigningRequest(ws, opts.role));
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(opts.out, request));
  CommandOutput output;
  output.json =
      json::Value::MakeObject({{"role", json::Value(opts.role)}, {"file", json::Value(opts.out)}});
  output.text = "Wrote the signing request for " + opts.role + " to " + opts.out +
                ". On the other machine: signer sign-request " + opts.out +
                " --key KEY.key.json; then here: signer merge-signatures " + opts.out + "\n";
  output.quiet_text = opts.out + "\n";
  return output;
}

Result<CommandOutput> RunSignRequest(const RequestOptions& opts) {
  MDU_ASSIGN_OR_RETURN(std::string text, io::ReadFileBounded(opts.file, kMaxRequestBytes));
  MDU_ASSIGN_OR_RETURN(repo::SigningKey key, repo::LoadSigningKey(opts.key, opts.passphrase));
  MDU_ASSIGN_OR_RETURN(std::string signed_text, repo::SignRequest(text, key));
  const std::string out = opts.out.empty() ? opts.file : opts.out;
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(out, signed_text));
  CommandOutput output;
  output.json = json::Value::MakeObject(
      {{"file", json::Value(out)}, {"keyid", json::Value(key.public_key().KeyId())}});
  output.text = "Added the signature of key " + key.public_key().KeyId() + " to " + out +
                "; bring it back to the workspace and run signer merge-signatures " + out + "\n";
  output.quiet_text = out + "\n";
  return output;
}

Result<CommandOutput> RunMerge(Context& ctx, const RequestOptions& opts) {
  MDU_ASSIGN_OR_RETURN(repo::Workspace ws, repo::Workspace::Open(ctx.workspace()));
  MDU_ASSIGN_OR_RETURN(std::string text, io::ReadFileBounded(opts.file, kMaxRequestBytes));
  MDU_ASSIGN_OR_RETURN(repo::MergeReport report, repo::MergeSignatures(ws, text));
  MDU_RETURN_IF_ERROR(ws.Save());
  CommandOutput output;
  json::Array added;
  for (const auto& id : report.added_keyids) added.emplace_back(id);
  output.json = json::Value::MakeObject(
      {{"role", json::Value(report.role)}, {"added_keyids", json::Value(std::move(added))}});
  output.text = "Merged " + std::to_string(report.added_keyids.size()) + " signature(s) into " +
                report.role + ".\n";
  output.quiet_text = std::to_string(report.added_keyids.size()) + "\n";
  return output;
}

}  // namespace

void RegisterSignCommands(CLI::App& app, Context& ctx) {
  auto sign = std::make_shared<SignOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sign",
      "Sign a staged role (root, targets, a delegated role, or a hash-bin prefix for all its "
      "bins) with one key; refuses keys the role does not authorize");
  cmd->add_option("ROLE", sign->role, "Role to sign")->required();
  cmd->add_option("--key", sign->key,
                  "Encrypted private key file (NAME.key.json) or pkcs11: URI")
      ->required()
      ->type_name("FILE");
  AddPassphraseOptions(*cmd, sign->passphrase, "passphrase", "the key's passphrase");
  cmd->callback([&ctx, sign] { ctx.Finish(RunSign(ctx, *sign)); });

  auto ex = std::make_shared<RequestOptions>();
  CLI::App* exp = app.add_subcommand(
      "export-signing-request",
      "Write a role's exact bytes to sign (with their sha256 and the authorized key IDs) for a "
      "second engineer on another machine");
  exp->add_option("ROLE", ex->role, "Role")->required();
  exp->add_option("--out", ex->out, "Request file to write")->required()->type_name("FILE");
  exp->callback([&ctx, ex] { ctx.Finish(RunExport(ctx, *ex)); });

  auto sr = std::make_shared<RequestOptions>();
  CLI::App* sreq = app.add_subcommand(
      "sign-request",
      "Sign a signing request file with one key (no workspace needed); checks the bytes' "
      "sha256 and that the key is authorized");
  sreq->add_option("FILE", sr->file, "Signing request file")->required();
  sreq->add_option("--key", sr->key, "Encrypted private key file or pkcs11: URI")
      ->required()
      ->type_name("FILE");
  sreq->add_option("--out", sr->out, "Write the signed request here (default: FILE, replaced)");
  AddPassphraseOptions(*sreq, sr->passphrase, "passphrase", "the key's passphrase");
  sreq->callback([&ctx, sr] { ctx.Finish(RunSignRequest(*sr)); });

  auto mg = std::make_shared<RequestOptions>();
  CLI::App* merge = app.add_subcommand(
      "merge-signatures",
      "Merge the signatures of a signed request into the workspace; rejects signatures by "
      "unauthorized keys or over bytes other than the role as staged now (nothing is merged)");
  merge->add_option("FILE", mg->file, "Signed request file")->required();
  merge->callback([&ctx, mg] { ctx.Finish(RunMerge(ctx, *mg)); });
}

}  // namespace mdu::signer
