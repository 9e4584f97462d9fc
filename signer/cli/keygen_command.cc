// signer keygen: generate a signing key and write its encrypted key file and public key file,
// or (--pkcs11 URI) generate the key pair on a hardware token and write only the public key file.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "core/crypto/keys.h"
#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/cli/options.h"
#include "signer/keystore/keystore.h"
#include "signer/keystore/passphrase.h"
#include "signer/pkcs11/token_key.h"

namespace mdu::signer {
namespace {

struct KeygenOptions {
  std::string name;
  std::string scheme = "ed25519";
  std::string out_dir;  // default <workspace>/keys
  std::string kdf_profile = "moderate";
  std::string pkcs11_uri;  // generate on this token instead of in a file
  unsigned rsa_bits = 3072;
  PassphraseSource passphrase;
};

// keygen --pkcs11: the private key is created on the token (sensitive, non-extractable) and
// never exists as a file; the passphrase options give the token's user PIN.
Result<CommandOutput> RunTokenKeygen(Context& ctx, const KeygenOptions& opts,
                                     crypto::KeyScheme scheme,
                                     const std::filesystem::path& out_dir) {
  ctx.Progress("Generating " + opts.scheme + " key \"" + opts.name + "\" on the PKCS#11 token " +
               opts.pkcs11_uri + "...");
  MDU_ASSIGN_OR_RETURN(
      pkcs11::GeneratedTokenKey key,
      pkcs11::GenerateTokenKey(opts.pkcs11_uri, scheme, opts.passphrase, opts.rsa_bits));
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::filesystem::path public_path = out_dir / (opts.name + std::string(kPublicKeySuffix));
  Status written = WriteNewFile(public_path, PublicKeyFileText(key.public_key), kPublicKeyFileMode);
  if (!written) {
    return MakeError(written.error().WithContext(
        "the key was generated on the token as " + key.uri +
        " but its public key file could "
        "not be written (export it later with `signer key export-public " +
        key.uri + "`)"));
  }
  const std::string keyid = key.public_key.KeyId();
  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"name", json::Value(opts.name)},
      {"keyid", json::Value(keyid)},
      {"scheme", json::Value(crypto::SchemeName(scheme))},
      {"pkcs11_uri", json::Value(key.uri)},
      {"public_key_file", json::Value(public_path.string())},
  });
  output.text = "Generated " + opts.scheme + " key \"" + opts.name + "\" on the token\n" +
                "  key ID:      " + keyid + "\n" + "  private key: " + key.uri +
                " (non-extractable; use this URI as --key)\n" +
                "  public key:  " + public_path.string() + "\n";
  output.quiet_text = keyid + "\n";
  return output;
}

Result<CommandOutput> RunKeygen(Context& ctx, const KeygenOptions& opts) {
  MDU_ASSIGN_OR_RETURN(crypto::KeyScheme scheme, crypto::SchemeFromName(opts.scheme));
  MDU_ASSIGN_OR_RETURN(sealing::KdfLimits limits, KdfLimitsFromProfile(opts.kdf_profile));
  const std::filesystem::path out_dir =
      (opts.out_dir.empty() ? ctx.workspace() / "keys" : std::filesystem::path(opts.out_dir))
          .lexically_normal();
  MDU_RETURN_IF_ERROR(CheckKeyFilesAbsent(out_dir, opts.name));
  if (!opts.pkcs11_uri.empty()) return RunTokenKeygen(ctx, opts, scheme, out_dir);
  MDU_ASSIGN_OR_RETURN(SecureBuffer passphrase,
                       ObtainPassphrase(opts.passphrase, PassphraseUse::kCreate,
                                        "a new passphrase for key \"" + opts.name + "\""));
  ctx.Progress("Generating " + opts.scheme + " key \"" + opts.name +
               "\" and encrypting it (argon2id, " + opts.kdf_profile + ")...");
  MDU_ASSIGN_OR_RETURN(GeneratedKey key,
                       GenerateKeyFiles(out_dir, opts.name, scheme, passphrase, limits));

  CommandOutput output;
  output.json = json::Value::MakeObject({
      {"name", json::Value(opts.name)},
      {"keyid", json::Value(key.keyid)},
      {"scheme", json::Value(crypto::SchemeName(key.scheme))},
      {"private_key_file", json::Value(key.private_path.string())},
      {"public_key_file", json::Value(key.public_path.string())},
      {"kdf", json::Value::MakeObject({
                  {"name", json::Value("argon2id")},
                  {"profile", json::Value(opts.kdf_profile)},
                  {"opslimit", json::Value(static_cast<int64_t>(limits.opslimit))},
                  {"memlimit", json::Value(static_cast<int64_t>(limits.memlimit))},
              })},
  });
  output.text = "Generated " + opts.scheme + " key \"" + opts.name + "\"\n" +
                "  key ID:      " + key.keyid + "\n" +
                "  private key: " + key.private_path.string() + " (encrypted, mode 0600)\n" +
                "  public key:  " + key.public_path.string() + "\n" +
                "Back up the private key file and remember its passphrase: neither can be "
                "recovered.\n";
  output.quiet_text = key.keyid + "\n";
  return output;
}

}  // namespace

void RegisterKeygenCommand(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "Generate a signing key: writes <out-dir>/NAME.key.json (encrypted private key, mode "
      "0600) and <out-dir>/NAME.pub.json (TUF public key), prints the key ID. Never overwrites "
      "an existing key. With --pkcs11 URI the key pair is generated on a hardware token "
      "(HSM, smart card) and only NAME.pub.json is written.");
  cmd->add_option("--name", opts->name,
                  "Key name, used for the file names (letters, digits, '.', '_', '-'), "
                  "e.g. root-1")
      ->required();
  cmd->add_option("--scheme", opts->scheme, "Signature scheme")
      ->check(CLI::IsMember({"ed25519", "ecdsa-sha2-nistp256", "rsassa-pss-sha256"}))
      ->capture_default_str();
  cmd->add_option("--out-dir", opts->out_dir,
                  "Directory for the key files (created if missing); default <workspace>/keys")
      ->type_name("DIR");
  cmd->add_option("--pkcs11", opts->pkcs11_uri,
                  "Generate the key on a PKCS#11 token named by an RFC 7512 URI, e.g. "
                  "pkcs11:token=release-hsm;object=root-1 (the passphrase options then give "
                  "the token's user PIN)")
      ->type_name("URI");
  cmd->add_option("--rsa-bits", opts->rsa_bits, "RSA modulus size with --pkcs11")
      ->check(CLI::Range(2048u, 8192u))
      ->capture_default_str();
  AddKdfProfileOption(*cmd, opts->kdf_profile);
  AddPassphraseOptions(*cmd, opts->passphrase, "passphrase",
                       "the new key's passphrase (must not be empty), or the token PIN with "
                       "--pkcs11");
  cmd->footer(
      "Without a passphrase option the passphrase is asked for twice on the terminal.\n"
      "Example: signer keygen --name root-1 --out-dir keys --passphrase-fd 3 3<pass.txt\n"
      "Token:   signer keygen --name root-1 --pkcs11 'pkcs11:token=release-hsm;object=root-1' "
      "--passphrase-env HSM_PIN");
  cmd->callback([&ctx, opts] { ctx.Finish(RunKeygen(ctx, *opts)); });
}

}  // namespace mdu::signer
