// signer authorize | operator-key: the operator's side of the device's manual-command
// authorizations (core/metadata/operator_authorization.h). `authorize` signs a short-lived
// authorization for one action on one device with an operator key (an encrypted key file or a
// pkcs11: URI); `operator-key` prints the public key in the form the agent config's
// "operator_keys" takes.
#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "core/io/file.h"
#include "core/json/writer.h"
#include "core/metadata/operator_authorization.h"
#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/cli/options.h"
#include "signer/repo/key_files.h"

namespace mdu::signer {
namespace {

// A device accepts at most its operator_auth_max_lifetime_s (1 hour by default); a day is the
// most this tool issues at all.
constexpr int64_t kMaxValidForSeconds = 24 * 3600;

struct AuthorizeOptions {
  std::string key;
  PassphraseSource passphrase;
  std::string action;
  std::string device;
  std::optional<std::string> target;
  std::string valid_for = "1h";
  std::string out;
};

struct OperatorKeyOptions {
  std::string key;
  std::string out;
};

// "90s", "30m", "2h", "1d" -> seconds; kInvalidArgument otherwise.
Result<int64_t> ParseValidFor(const std::string& text) {
  auto bad = [&text] {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--valid-for \"" + text + "\": expected a number and s, m, h or d (\"2h\")");
  };
  if (text.size() < 2 || text.size() > 12) return bad();
  int64_t value = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return bad();
    value = value * 10 + (text[i] - '0');
  }
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return bad();
  }
  const int64_t seconds = value * unit;
  if (seconds <= 0 || seconds > kMaxValidForSeconds) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--valid-for must be between 1 s and 24 h (devices refuse anything living "
                     "longer than their operator_auth_max_lifetime_s, 1 h by default)");
  }
  return seconds;
}

Result<CommandOutput> RunAuthorize(const AuthorizeOptions& opts) {
  if (opts.action != "rollback" && opts.action != "approve" && opts.action != "install") {
    return MakeError(ErrorKind::kInvalidArgument,
                     "--action must be rollback, approve or install, not \"" + opts.action + "\"");
  }
  if (opts.device.empty()) return MakeError(ErrorKind::kInvalidArgument, "--device is empty");
  if (opts.target && opts.target->empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "--target is empty");
  }
  MDU_ASSIGN_OR_RETURN(int64_t lifetime, ParseValidFor(opts.valid_for));
  // Checked before the passphrase prompt, like the other commands.
  if (opts.out.empty()) return MakeError(ErrorKind::kInvalidArgument, "--out is empty");
  MDU_ASSIGN_OR_RETURN(repo::SigningKey key, repo::LoadSigningKey(opts.key, opts.passphrase));
  metadata::Authorization authorization;
  authorization.action = opts.action;
  authorization.device = opts.device;
  authorization.target = opts.target;
  authorization.issued = std::time(nullptr);
  authorization.expires = authorization.issued + lifetime;
  MDU_ASSIGN_OR_RETURN(std::string bytes, metadata::SignAuthorization(authorization, key));
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(opts.out, bytes, 0644));

  const std::string issued = metadata::FormatExpires(authorization.issued);
  const std::string expires = metadata::FormatExpires(authorization.expires);
  CommandOutput output;
  output.json = json::Value::MakeObject({{"file", opts.out},
                                         {"action", opts.action},
                                         {"device", opts.device},
                                         {"issued", issued},
                                         {"expires", expires},
                                         {"keyid", key.public_key().KeyId()}});
  output.json.Set("target", opts.target ? json::Value(*opts.target) : json::Value());
  output.text = "Authorized " + opts.action + (opts.target ? " of " + *opts.target : "") +
                " on device " + opts.device + " until " + expires + " (key " +
                key.public_key().KeyId() + "): " + opts.out + "\n";
  output.quiet_text = opts.out + "\n";
  return output;
}

Result<CommandOutput> RunOperatorKey(const OperatorKeyOptions& opts) {
  MDU_ASSIGN_OR_RETURN(crypto::PublicKey key, repo::LoadPublicKey(opts.key));
  json::Array keys;
  keys.push_back(key.ToTuf());
  const std::string snippet =
      json::Serialize(json::Value::MakeObject({{"operator_keys", std::move(keys)}}), 1) + "\n";
  if (!opts.out.empty()) MDU_RETURN_IF_ERROR(io::WriteFileAtomically(opts.out, snippet, 0644));
  CommandOutput output;
  output.json = json::Value::MakeObject({{"keyid", key.KeyId()}, {"public", key.ToTuf()}});
  output.json.Set("file", opts.out.empty() ? json::Value() : json::Value(opts.out));
  output.text = opts.out.empty() ? snippet
                                 : "Wrote the operator key " + key.KeyId() + " to " + opts.out +
                                       " (merge \"operator_keys\" into the agent config)\n";
  output.quiet_text = key.KeyId() + "\n";
  return output;
}

}  // namespace

void RegisterAuthorizeCommands(CLI::App& app, Context& ctx) {
  auto auth = std::make_shared<AuthorizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "authorize",
      "Sign a short-lived operator authorization for a manual command on one device "
      "(client-agent rollback/approve --authorization FILE)");
  cmd->add_option("--key", auth->key, "Operator's encrypted private key file or pkcs11: URI")
      ->required()
      ->type_name("FILE");
  AddPassphraseOptions(*cmd, auth->passphrase, "passphrase", "the key's passphrase");
  cmd->add_option("--action", auth->action, "rollback, approve or install")
      ->required()
      ->type_name("ACTION");
  cmd->add_option("--device", auth->device, "The device id (its agent config's device_id)")
      ->required()
      ->type_name("ID");
  cmd->add_option("--target", auth->target,
                  "Restrict it to this target path (approve/install of one release)")
      ->type_name("NAME");
  cmd->add_option("--valid-for", auth->valid_for,
                  "Lifetime from now: 90s, 30m, 2h, 1d (devices accept at most their "
                  "operator_auth_max_lifetime_s, 1 h by default)")
      ->capture_default_str()
      ->type_name("DURATION");
  cmd->add_option("--out", auth->out, "Authorization file to write")->required()->type_name("FILE");
  cmd->callback([&ctx, auth] { ctx.Finish(RunAuthorize(*auth)); });

  auto key = std::make_shared<OperatorKeyOptions>();
  CLI::App* show = app.add_subcommand(
      "operator-key",
      "Print (or write) an operator's public key as the agent config's \"operator_keys\"");
  show->add_option("--key", key->key,
                   "Operator key: NAME.pub.json, NAME.key.json (no passphrase needed) or pkcs11: "
                   "URI")
      ->required()
      ->type_name("FILE");
  show->add_option("--out", key->out, "Write the config snippet to this file")->type_name("FILE");
  show->callback([&ctx, key] { ctx.Finish(RunOperatorKey(*key)); });
}

}  // namespace mdu::signer
