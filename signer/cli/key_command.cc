// signer key show|change-passphrase|export-public: inspect and maintain existing key files.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "core/crypto/keys.h"
#include "core/io/file.h"
#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/cli/options.h"
#include "signer/keystore/keystore.h"
#include "signer/keystore/passphrase.h"
#include "signer/pkcs11/token_key.h"
#include "signer/pkcs11/uri.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

struct ShowOptions {
  std::string file;
  bool verify = false;
  PassphraseSource passphrase;
};

struct ChangePassphraseOptions {
  std::string file;
  std::string kdf_profile = "moderate";
  PassphraseSource old_passphrase;
  PassphraseSource new_passphrase;
};

struct ExportPublicOptions {
  std::string file;
  std::string out;  // default: beside the key file; "-" for stdout
  bool verify = false;
  PassphraseSource passphrase;
};

std::string KeyTypeOf(const crypto::PublicKey& key) {
  const json::Value* keytype = key.ToTuf().Find("keytype");
  return keytype != nullptr && keytype->is_string() ? keytype->as_string() : "";
}

// Reads a key file, and if asked, proves it with the passphrase (decrypting authenticates every
// field of the file). Returns the public information.
Result<KeyFileInfo> ReadKeyInfo(const std::string& file, bool verify,
                                const PassphraseSource& source) {
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(file));
  MDU_ASSIGN_OR_RETURN(KeyFileInfo info, InspectKeyFile(text, file));
  if (verify) {
    MDU_ASSIGN_OR_RETURN(SecureBuffer passphrase, ObtainPassphrase(source, PassphraseUse::kUnlock,
                                                                   "passphrase for " + file));
    MDU_ASSIGN_OR_RETURN(crypto::PrivateKey key, DecryptKeyFile(text, passphrase, file));
    static_cast<void>(key);  // only its successful decryption matters here
  }
  return info;
}

// "keys/root-1.key.json" -> "keys/root-1.pub.json"; otherwise "<file>.pub.json".
fs::path DefaultPublicPath(const fs::path& key_file) {
  std::string name = key_file.filename().string();
  const std::string suffix(kPrivateKeySuffix);
  if (name.size() > suffix.size() && name.ends_with(suffix)) {
    name.resize(name.size() - suffix.size());
  }
  return key_file.parent_path() / (name + std::string(kPublicKeySuffix));
}

// `key show pkcs11:...`: the public key of a token key (read without a PIN).
Result<CommandOutput> RunShowToken(const ShowOptions& opts) {
  MDU_ASSIGN_OR_RETURN(crypto::PublicKey key, pkcs11::ReadTokenPublicKey(opts.file));
  if (opts.verify) {
    // Proves the PIN and that the private key signs for this public key.
    MDU_ASSIGN_OR_RETURN(auto signer, pkcs11::TokenSigner::Open(opts.file, opts.passphrase));
    const std::string probe = "mdu signer key show --verify";
    MDU_RETURN_IF_ERROR(
        signer->Sign(std::span(reinterpret_cast<const uint8_t*>(probe.data()), probe.size())));
  }
  const std::string scheme(crypto::SchemeName(key.scheme()));
  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"file", json::Value(opts.file)},
      {"keyid", json::Value(key.KeyId())},
      {"scheme", json::Value(scheme)},
      {"keytype", json::Value(KeyTypeOf(key))},
      {"public", key.ToTuf()},
      {"location", json::Value("pkcs11")},
      {"verified", json::Value(opts.verify)},
  });
  output.text = "token key: " + opts.file + "\n" + "key ID:    " + key.KeyId() + "\n" +
                "scheme:    " + scheme + "\n" + "keytype:   " + KeyTypeOf(key) + "\n" +
                (opts.verify ? "verified:  yes (the PIN unlocks the key and it signs for this "
                               "public key)\n"
                             : "verified:  no (pass --verify to log in and test-sign)\n");
  output.quiet_text = key.KeyId() + "\n";
  return output;
}

Result<CommandOutput> RunShow(const ShowOptions& opts) {
  if (pkcs11::IsPkcs11Uri(opts.file)) return RunShowToken(opts);
  MDU_ASSIGN_OR_RETURN(KeyFileInfo info, ReadKeyInfo(opts.file, opts.verify, opts.passphrase));
  const std::string scheme(crypto::SchemeName(info.scheme));
  const json::Value* keyval = info.public_key.ToTuf().Find("keyval");
  const json::Value* public_value = keyval != nullptr ? keyval->Find("public") : nullptr;
  const std::string public_text =
      public_value != nullptr && public_value->is_string() ? public_value->as_string() : "";

  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"file", json::Value(opts.file)},
      {"keyid", json::Value(info.keyid)},
      {"scheme", json::Value(scheme)},
      {"keytype", json::Value(KeyTypeOf(info.public_key))},
      {"public", info.public_key.ToTuf()},
      {"kdf", json::Value::MakeObject({
                  {"name", json::Value("argon2id")},
                  {"opslimit", json::Value(static_cast<int64_t>(info.kdf_limits.opslimit))},
                  {"memlimit", json::Value(static_cast<int64_t>(info.kdf_limits.memlimit))},
              })},
      {"cipher", json::Value("xchacha20poly1305-ietf")},
      {"verified", json::Value(opts.verify)},
  });
  output.text = "file:     " + opts.file + "\n" + "key ID:   " + info.keyid + "\n" +
                "scheme:   " + scheme + "\n" + "keytype:  " + KeyTypeOf(info.public_key) + "\n" +
                "public:   " + public_text + "\n" + "kdf:      argon2id (opslimit " +
                std::to_string(info.kdf_limits.opslimit) + ", memlimit " +
                std::to_string(info.kdf_limits.memlimit) + " bytes)\n" +
                "cipher:   xchacha20poly1305-ietf\n" +
                (opts.verify ? "verified: yes (the passphrase decrypts the key and every field "
                               "is authentic)\n"
                             : "verified: no (pass --verify to check the passphrase and the "
                               "file's integrity)\n");
  output.quiet_text = info.keyid + "\n";
  return output;
}

Result<CommandOutput> RunChangePassphrase(Context& ctx, const ChangePassphraseOptions& opts) {
  MDU_ASSIGN_OR_RETURN(sealing::KdfLimits limits, KdfLimitsFromProfile(opts.kdf_profile));
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(opts.file));
  MDU_ASSIGN_OR_RETURN(KeyFileInfo info, InspectKeyFile(text, opts.file));
  MDU_ASSIGN_OR_RETURN(SecureBuffer old_passphrase,
                       ObtainPassphrase(opts.old_passphrase, PassphraseUse::kUnlock,
                                        "the current passphrase for " + opts.file));
  // Check the current passphrase before asking for a new one.
  MDU_ASSIGN_OR_RETURN(crypto::PrivateKey key, DecryptKeyFile(text, old_passphrase, opts.file));
  static_cast<void>(key);
  MDU_ASSIGN_OR_RETURN(SecureBuffer new_passphrase,
                       ObtainPassphrase(opts.new_passphrase, PassphraseUse::kCreate,
                                        "the new passphrase for " + opts.file));
  ctx.Progress("Re-encrypting " + opts.file + " (argon2id, " + opts.kdf_profile + ")...");
  MDU_RETURN_IF_ERROR(ChangeKeyFilePassphrase(opts.file, old_passphrase, new_passphrase, limits));

  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"file", json::Value(opts.file)},
      {"keyid", json::Value(info.keyid)},
      {"kdf", json::Value::MakeObject({
                  {"name", json::Value("argon2id")},
                  {"profile", json::Value(opts.kdf_profile)},
                  {"opslimit", json::Value(static_cast<int64_t>(limits.opslimit))},
                  {"memlimit", json::Value(static_cast<int64_t>(limits.memlimit))},
              })},
  });
  output.text = "Changed the passphrase of " + opts.file + " (key ID " + info.keyid + ")\n";
  return output;
}

// The public key to export: from the key file, or from the token for a pkcs11: URI.
Result<KeyFileInfo> ExportedKeyInfo(const ExportPublicOptions& opts) {
  if (!pkcs11::IsPkcs11Uri(opts.file)) return ReadKeyInfo(opts.file, opts.verify, opts.passphrase);
  if (opts.out.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "a token key has no file to write beside: give --out FILE (or -)");
  }
  MDU_ASSIGN_OR_RETURN(crypto::PublicKey key, pkcs11::ReadTokenPublicKey(opts.file));
  return KeyFileInfo{key, key.KeyId(), key.scheme(), {}};
}

Result<CommandOutput> RunExportPublic(const ExportPublicOptions& opts) {
  MDU_ASSIGN_OR_RETURN(KeyFileInfo info, ExportedKeyInfo(opts));
  const std::string text = PublicKeyFileText(info.public_key);
  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"file", json::Value(opts.file)},
      {"keyid", json::Value(info.keyid)},
      {"public", info.public_key.ToTuf()},
      {"verified", json::Value(opts.verify)},
  });
  if (opts.out == "-") {
    output.text = text;
    output.quiet_text = text;
    return output;
  }
  const fs::path out = opts.out.empty() ? DefaultPublicPath(opts.file) : fs::path(opts.out);
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(out, text, kPublicKeyFileMode));
  output.json.Set("public_key_file", json::Value(out.string()));
  output.text = "Wrote the public key " + info.keyid + " to " + out.string() + "\n";
  output.quiet_text = out.string() + "\n";
  return output;
}

void AddVerifyOptions(CLI::App& cmd, bool& verify, PassphraseSource& source) {
  cmd.add_flag("--verify", verify,
               "Also decrypt the key with its passphrase, proving the passphrase and that no "
               "field of the file was altered");
  AddPassphraseOptions(cmd, source, "passphrase", "the key's passphrase (with --verify)");
}

void RegisterShow(CLI::App& key, Context& ctx) {
  auto opts = std::make_shared<ShowOptions>();
  CLI::App* cmd = key.add_subcommand(
      "show",
      "Show a key file's public information: key ID, scheme, public key, KDF limits. "
      "Never shows the secret; no passphrase needed unless --verify");
  cmd->add_option("FILE", opts->file,
                  "Encrypted key file (NAME.key.json), or a pkcs11: URI of a token key")
      ->required();
  AddVerifyOptions(*cmd, opts->verify, opts->passphrase);
  cmd->callback([&ctx, opts] { ctx.Finish(RunShow(*opts)); });
}

void RegisterChangePassphrase(CLI::App& key, Context& ctx) {
  auto opts = std::make_shared<ChangePassphraseOptions>();
  CLI::App* cmd = key.add_subcommand(
      "change-passphrase",
      "Re-encrypt a key file under a new passphrase (fresh salt and nonce); the file is "
      "replaced atomically and keeps mode 0600. The key and its key ID do not change");
  cmd->add_option("FILE", opts->file, "Encrypted key file (NAME.key.json)")->required();
  AddPassphraseOptions(*cmd, opts->old_passphrase, "passphrase", "the current passphrase");
  AddPassphraseOptions(*cmd, opts->new_passphrase, "new-passphrase",
                       "the new passphrase (must not be empty)");
  AddKdfProfileOption(*cmd, opts->kdf_profile);
  cmd->footer(
      "Without passphrase options both are asked for on the terminal (the new one twice).\n"
      "One descriptor may carry both, one per line: --passphrase-fd 3 --new-passphrase-fd 3");
  cmd->callback([&ctx, opts] { ctx.Finish(RunChangePassphrase(ctx, *opts)); });
}

void RegisterExportPublic(CLI::App& key, Context& ctx) {
  auto opts = std::make_shared<ExportPublicOptions>();
  CLI::App* cmd = key.add_subcommand(
      "export-public",
      "Write the TUF public key object of a key file (the NAME.pub.json that keygen writes)");
  cmd->add_option("FILE", opts->file,
                  "Encrypted key file (NAME.key.json), or a pkcs11: URI of a token key")
      ->required();
  cmd->add_option("--out", opts->out,
                  "Output file (replaced if present), or - for stdout; default NAME.pub.json "
                  "beside FILE")
      ->type_name("PATH");
  AddVerifyOptions(*cmd, opts->verify, opts->passphrase);
  cmd->callback([&ctx, opts] { ctx.Finish(RunExportPublic(*opts)); });
}

}  // namespace

void RegisterKeyCommand(CLI::App& app, Context& ctx) {
  CLI::App* key = app.add_subcommand("key", "Inspect and maintain existing key files");
  key->require_subcommand(1);
  RegisterShow(*key, ctx);
  RegisterChangePassphrase(*key, ctx);
  RegisterExportPublic(*key, ctx);
}

}  // namespace mdu::signer
