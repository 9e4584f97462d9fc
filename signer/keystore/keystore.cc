#include "signer/keystore/keystore.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <system_error>
#include <utility>
#include <vector>

#include "core/common/hex.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kKdfName = "argon2id";
constexpr std::string_view kCipherName = "xchacha20poly1305-ietf";
constexpr std::string_view kAadPrefix = "mdu-encrypted-key/v1\n";

// Everything DecryptKeyFile needs, taken from a structurally valid file.
struct ParsedKeyFile {
  KeyFileInfo info;
  json::Value header;  // the file object without "ciphertext": authenticated as additional data
  std::vector<uint8_t> salt;
  std::vector<uint8_t> nonce;
  std::vector<uint8_t> ciphertext;
};

Error Malformed(std::string_view source, std::string_view what) {
  return Error(ErrorKind::kBadMetadata,
               "malformed key file " + std::string(source) + ": " + std::string(what));
}

Error WrongPassphrase(std::string_view source) {
  return Error(ErrorKind::kCrypto, "wrong passphrase or corrupted key file " + std::string(source));
}

Status RequireOnlyFields(const json::Value& object, std::initializer_list<std::string_view> allowed,
                         std::string_view where, std::string_view source) {
  for (const auto& [key, value] : object.as_object()) {
    bool known = false;
    for (std::string_view name : allowed) {
      known = known || key == name;
    }
    if (!known) {
      return MakeError(Malformed(source, "unknown field \"" + key + "\" in " + std::string(where)));
    }
  }
  return {};
}

Result<std::vector<uint8_t>> RequireHex(const json::Value& object, std::string_view key,
                                        std::string_view where, std::string_view source) {
  auto text = json::RequireString(object, key, where);
  if (!text) {
    return MakeError(Malformed(source, text.error().message()));
  }
  auto bytes = HexDecode(*text);
  if (!bytes) {
    return MakeError(Malformed(
        source, std::string(where) + " field \"" + std::string(key) + "\" must be hexadecimal"));
  }
  return std::move(*bytes);
}

Result<int64_t> RequirePositiveInt(const json::Value& object, std::string_view key,
                                   std::string_view where, std::string_view source) {
  auto value = json::RequireInt(object, key, where);
  if (!value) {
    return MakeError(Malformed(source, value.error().message()));
  }
  if (*value <= 0) {
    return MakeError(
        Malformed(source, std::string(where) + " field \"" + std::string(key) + "\" must be > 0"));
  }
  return *value;
}

Result<std::string> RequireText(const json::Value& object, std::string_view key,
                                std::string_view where, std::string_view source) {
  auto value = json::RequireString(object, key, where);
  if (!value) {
    return MakeError(Malformed(source, value.error().message()));
  }
  return std::move(*value);
}

Result<const json::Value*> RequireObject(const json::Value& object, std::string_view key,
                                         std::string_view where, std::string_view source) {
  auto value = json::RequireField(object, key, json::Type::kObject, where);
  if (!value) {
    return MakeError(Malformed(source, value.error().message()));
  }
  return *value;
}

Status CheckKdfLimits(const sealing::KdfLimits& limits, std::string_view source) {
  const sealing::KdfLimits low = sealing::InteractiveLimits();
  const sealing::KdfLimits high = sealing::SensitiveLimits();
  if (limits.opslimit < low.opslimit || limits.opslimit > high.opslimit ||
      limits.memlimit < low.memlimit || limits.memlimit > high.memlimit) {
    return MakeError(Malformed(
        source, "kdf limits out of range (opslimit " + std::to_string(limits.opslimit) +
                    ", memlimit " + std::to_string(limits.memlimit) + "); this signer accepts " +
                    "opslimit " + std::to_string(low.opslimit) + ".." +
                    std::to_string(high.opslimit) + " and memlimit " +
                    std::to_string(low.memlimit) + ".." + std::to_string(high.memlimit)));
  }
  return {};
}

Result<ParsedKeyFile> ParseKeyFile(std::string_view text, std::string_view source) {
  json::ParseLimits limits;
  limits.max_bytes = kMaxKeyFileBytes;
  limits.max_depth = 8;
  auto parsed = json::Parse(text, limits);
  if (!parsed) {
    return MakeError(Malformed(source, "not valid JSON (" + parsed.error().message() + ")"));
  }
  json::Value file = std::move(*parsed);
  if (!file.is_object()) {
    return MakeError(Malformed(source, "expected a JSON object"));
  }

  // Identify the format before anything else, so that feeding a metadata or public-key file
  // gets a message about what the file is rather than about a missing field.
  const json::Value* format = file.Find("format");
  if (format == nullptr || !format->is_string() || format->as_string() != kKeyFileFormat) {
    return MakeError(
        Malformed(source,
                  "not an encrypted key file (\"format\" must be \"mdu-encrypted-key\"; a "
                  ".pub.json public key or TUF metadata cannot be used as a private key)"));
  }
  MDU_ASSIGN_OR_RETURN(int64_t version, RequirePositiveInt(file, "version", "key file", source));
  if (version != kKeyFileVersion) {
    return MakeError(ErrorKind::kBadMetadata,
                     "unsupported key file version " + std::to_string(version) + " in " +
                         std::string(source) + "; this signer reads version " +
                         std::to_string(kKeyFileVersion) + ": upgrade the signer");
  }
  MDU_RETURN_IF_ERROR(RequireOnlyFields(
      file, {"format", "version", "keyid", "scheme", "public", "kdf", "cipher", "ciphertext"},
      "key file", source));

  MDU_ASSIGN_OR_RETURN(const json::Value* kdf, RequireObject(file, "kdf", "key file", source));
  MDU_RETURN_IF_ERROR(
      RequireOnlyFields(*kdf, {"name", "opslimit", "memlimit", "salt"}, "\"kdf\"", source));
  MDU_ASSIGN_OR_RETURN(std::string kdf_name, RequireText(*kdf, "name", "kdf", source));
  if (kdf_name != kKdfName) {
    return MakeError(Malformed(source, "unsupported kdf \"" + kdf_name + "\" (expected argon2id)"));
  }
  MDU_ASSIGN_OR_RETURN(int64_t opslimit, RequirePositiveInt(*kdf, "opslimit", "kdf", source));
  MDU_ASSIGN_OR_RETURN(int64_t memlimit, RequirePositiveInt(*kdf, "memlimit", "kdf", source));
  sealing::KdfLimits kdf_limits{static_cast<uint64_t>(opslimit), static_cast<uint64_t>(memlimit)};
  MDU_RETURN_IF_ERROR(CheckKdfLimits(kdf_limits, source));
  MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> salt, RequireHex(*kdf, "salt", "kdf", source));
  if (salt.size() != sealing::kSaltBytes) {
    return MakeError(Malformed(source, "kdf salt must be " + std::to_string(sealing::kSaltBytes) +
                                           " bytes, got " + std::to_string(salt.size())));
  }

  MDU_ASSIGN_OR_RETURN(const json::Value* cipher,
                       RequireObject(file, "cipher", "key file", source));
  MDU_RETURN_IF_ERROR(RequireOnlyFields(*cipher, {"name", "nonce"}, "\"cipher\"", source));
  MDU_ASSIGN_OR_RETURN(std::string cipher_name, RequireText(*cipher, "name", "cipher", source));
  if (cipher_name != kCipherName) {
    return MakeError(Malformed(
        source, "unsupported cipher \"" + cipher_name + "\" (expected xchacha20poly1305-ietf)"));
  }
  MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> nonce, RequireHex(*cipher, "nonce", "cipher", source));
  if (nonce.size() != sealing::kNonceBytes) {
    return MakeError(Malformed(source, "cipher nonce must be " +
                                           std::to_string(sealing::kNonceBytes) + " bytes, got " +
                                           std::to_string(nonce.size())));
  }
  MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> ciphertext,
                       RequireHex(file, "ciphertext", "key file", source));
  if (ciphertext.size() <= sealing::kTagBytes) {
    return MakeError(Malformed(source, "ciphertext is too short to hold a key (truncated file?)"));
  }

  MDU_ASSIGN_OR_RETURN(const json::Value* public_object,
                       RequireObject(file, "public", "key file", source));
  auto public_key = crypto::PublicKey::FromTuf(*public_object);
  if (!public_key) {
    return MakeError(Malformed(
        source, "\"public\" is not a usable TUF key (" + public_key.error().message() + ")"));
  }
  MDU_ASSIGN_OR_RETURN(std::string scheme_name, RequireText(file, "scheme", "key file", source));
  auto scheme = crypto::SchemeFromName(scheme_name);
  if (!scheme || *scheme != public_key->scheme()) {
    return MakeError(Malformed(
        source, "\"scheme\" \"" + scheme_name + "\" does not match the public key's scheme \"" +
                    std::string(crypto::SchemeName(public_key->scheme())) + "\""));
  }
  MDU_ASSIGN_OR_RETURN(std::string keyid, RequireText(file, "keyid", "key file", source));
  if (keyid != public_key->KeyId()) {
    return MakeError(Malformed(
        source, "\"keyid\" does not match the public key (expected " + public_key->KeyId() + ")"));
  }

  json::Value header = file;
  header.Erase("ciphertext");
  return ParsedKeyFile{KeyFileInfo{std::move(*public_key), std::move(keyid), *scheme, kdf_limits},
                       std::move(header), std::move(salt), std::move(nonce), std::move(ciphertext)};
}

std::vector<uint8_t> AdditionalData(const json::Value& header) {
  std::string aad(kAadPrefix);
  json::AppendCanonical(header, &aad);
  return {aad.begin(), aad.end()};
}

std::string FileError(const fs::path& path, std::string_view what, int err) {
  return std::string(what) + " " + path.string() + ": " + std::strerror(err);
}

Error AlreadyExists(const fs::path& path) {
  return Error(ErrorKind::kInvalidArgument,
               path.string() +
                   " already exists; refusing to overwrite a key file. Choose another "
                   "--name or --out-dir, or move the existing file away first");
}

bool PathExists(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found;
}

}  // namespace

Result<sealing::KdfLimits> KdfLimitsFromProfile(std::string_view profile) {
  if (profile == "interactive") {
    return sealing::InteractiveLimits();
  }
  if (profile == "moderate") {
    return sealing::ModerateLimits();
  }
  if (profile == "sensitive") {
    return sealing::SensitiveLimits();
  }
  return MakeError(ErrorKind::kInvalidArgument, "unknown kdf profile \"" + std::string(profile) +
                                                    "\"; use interactive, moderate or sensitive");
}

Result<KeyFileInfo> InspectKeyFile(std::string_view text, std::string_view source) {
  MDU_ASSIGN_OR_RETURN(ParsedKeyFile parsed, ParseKeyFile(text, source));
  return std::move(parsed.info);
}

Result<std::string> EncryptKeyFile(const crypto::PrivateKey& key, const SecureBuffer& passphrase,
                                   const sealing::KdfLimits& limits) {
  if (passphrase.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "empty passphrase refused: a private key must be protected by a passphrase");
  }
  MDU_RETURN_IF_ERROR(CheckKdfLimits(limits, "(new key)"));
  std::vector<uint8_t> salt(sealing::kSaltBytes);
  std::vector<uint8_t> nonce(sealing::kNonceBytes);
  sealing::RandomBytes(salt);
  sealing::RandomBytes(nonce);

  const crypto::PublicKey& public_key = key.public_key();
  json::Value file = json::Value::MakeObject({
      {"format", json::Value(kKeyFileFormat)},
      {"version", json::Value(kKeyFileVersion)},
      {"keyid", json::Value(public_key.KeyId())},
      {"scheme", json::Value(crypto::SchemeName(public_key.scheme()))},
      {"public", public_key.ToTuf()},
      {"kdf", json::Value::MakeObject({
                  {"name", json::Value(kKdfName)},
                  {"opslimit", json::Value(static_cast<int64_t>(limits.opslimit))},
                  {"memlimit", json::Value(static_cast<int64_t>(limits.memlimit))},
                  {"salt", json::Value(HexEncode(salt))},
              })},
      {"cipher", json::Value::MakeObject({
                     {"name", json::Value(kCipherName)},
                     {"nonce", json::Value(HexEncode(nonce))},
                 })},
  });

  MDU_ASSIGN_OR_RETURN(SecureBuffer wrapping_key,
                       sealing::DeriveKey(passphrase.span(), salt, limits));
  auto der = key.ExportPkcs8Der();
  if (!der) {
    return MakeError(der.error().WithContext("exporting the private key"));
  }
  SecureBuffer plaintext = SecureBuffer::TakeFrom(*der);
  MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> ciphertext,
                       sealing::Seal(plaintext.span(), AdditionalData(file), nonce, wrapping_key));
  file.Set("ciphertext", json::Value(HexEncode(ciphertext)));
  return json::Serialize(file, 2) + "\n";
}

Result<crypto::PrivateKey> DecryptKeyFile(std::string_view text, const SecureBuffer& passphrase,
                                          std::string_view source) {
  MDU_ASSIGN_OR_RETURN(ParsedKeyFile parsed, ParseKeyFile(text, source));
  auto wrapping_key = sealing::DeriveKey(passphrase.span(), parsed.salt, parsed.info.kdf_limits);
  if (!wrapping_key) {
    return MakeError(wrapping_key.error().WithContext(std::string(source)));
  }
  auto plaintext =
      sealing::Open(parsed.ciphertext, AdditionalData(parsed.header), parsed.nonce, *wrapping_key);
  if (!plaintext) {
    return MakeError(WrongPassphrase(source));
  }
  auto key = crypto::PrivateKey::FromPkcs8Der(parsed.info.scheme, plaintext->span());
  if (!key) {
    return MakeError(ErrorKind::kCrypto, "key file " + std::string(source) +
                                             " decrypts but does not hold a valid " +
                                             std::string(crypto::SchemeName(parsed.info.scheme)) +
                                             " private key; restore it from a backup");
  }
  if (key->public_key().KeyId() != parsed.info.keyid) {
    return MakeError(ErrorKind::kCrypto, "the private key in " + std::string(source) +
                                             " does not match its public key; restore it from a "
                                             "backup");
  }
  return std::move(*key);
}

std::string PublicKeyFileText(const crypto::PublicKey& key) {
  return json::Serialize(key.ToTuf(), 2) + "\n";
}

Result<crypto::PublicKey> ParsePublicKeyFile(std::string_view text, std::string_view source) {
  json::ParseLimits limits;
  limits.max_bytes = kMaxKeyFileBytes;
  limits.max_depth = 8;
  auto parsed = json::Parse(text, limits);
  if (!parsed) {
    return MakeError(ErrorKind::kBadMetadata, "malformed public key file " + std::string(source) +
                                                  ": " + parsed.error().message());
  }
  auto key = crypto::PublicKey::FromTuf(*parsed);
  if (!key) {
    return MakeError(key.error().WithContext("public key file " + std::string(source)));
  }
  return std::move(*key);
}

Status ValidateKeyName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid key name \"" + std::string(name) + "\": " + std::string(why) +
                         "; use 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit (e.g. root-1)");
  };
  if (name.empty() || name.size() > 64) {
    return bad("wrong length");
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return bad("must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') {
      return bad("contains a forbidden character");
    }
  }
  return {};
}

Result<std::string> ReadKeyFileText(const fs::path& path) {
  auto text = io::ReadFileBounded(path, kMaxKeyFileBytes);
  if (!text) {
    if (text.error().kind() == ErrorKind::kLimitExceeded) {
      return MakeError(ErrorKind::kBadMetadata, path.string() + " is larger than any key file (" +
                                                    std::to_string(kMaxKeyFileBytes) +
                                                    " bytes): not a key file");
    }
    return MakeError(text.error().WithContext("reading key file " + path.string()));
  }
  return std::move(*text);
}

Result<crypto::PrivateKey> LoadPrivateKey(const fs::path& path, const SecureBuffer& passphrase) {
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(path));
  return DecryptKeyFile(text, passphrase, path.string());
}

Status WriteNewFile(const fs::path& path, std::string_view data, int mode) {
  if (!path.has_filename()) {
    return MakeError(ErrorKind::kInvalidArgument, "no file name in " + path.string());
  }
  if (PathExists(path)) {
    return MakeError(AlreadyExists(path));
  }
  std::vector<uint8_t> random(8);
  sealing::RandomBytes(random);
  const fs::path temp =
      path.parent_path() / ("." + path.filename().string() + ".new-" + HexEncode(random));
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(temp, data, mode));
  // link(2) fails with EEXIST instead of replacing: no check-then-write race.
  int err = 0;
  if (::link(temp.c_str(), path.c_str()) != 0) {
    err = errno;
    if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS) {
      // File systems without hard links (FAT on a USB stick): rename after a final check.
      err = PathExists(path) ? EEXIST : 0;
      if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) {
        err = errno;
      }
    }
  }
  Status removed = io::RemoveFileDurably(temp);  // also fsyncs the directory after link(2)
  if (err == EEXIST) {
    return MakeError(AlreadyExists(path));
  }
  if (err != 0) {
    return MakeError(ErrorKind::kIo, FileError(path, "cannot create", err));
  }
  return removed;
}

Status CheckKeyFilesAbsent(const fs::path& out_dir, std::string_view name) {
  MDU_RETURN_IF_ERROR(ValidateKeyName(name));
  for (std::string_view suffix : {kPrivateKeySuffix, kPublicKeySuffix}) {
    const fs::path path = out_dir / (std::string(name) + std::string(suffix));
    if (PathExists(path)) {
      return MakeError(AlreadyExists(path));
    }
  }
  return {};
}

Result<GeneratedKey> GenerateKeyFiles(const fs::path& out_dir, std::string_view name,
                                      crypto::KeyScheme scheme, const SecureBuffer& passphrase,
                                      const sealing::KdfLimits& limits) {
  MDU_RETURN_IF_ERROR(CheckKeyFilesAbsent(out_dir, name));
  if (passphrase.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "empty passphrase refused: a private key must be protected by a passphrase");
  }
  GeneratedKey result;
  result.scheme = scheme;
  result.private_path = out_dir / (std::string(name) + std::string(kPrivateKeySuffix));
  result.public_path = out_dir / (std::string(name) + std::string(kPublicKeySuffix));
  MDU_RETURN_IF_ERROR(io::CreateDirectories(out_dir));

  auto key = crypto::PrivateKey::Generate(scheme);
  if (!key) {
    return MakeError(key.error().WithContext("generating a key"));
  }
  MDU_ASSIGN_OR_RETURN(std::string key_text, EncryptKeyFile(*key, passphrase, limits));
  MDU_RETURN_IF_ERROR(WriteNewFile(result.private_path, key_text, kPrivateKeyFileMode));
  Status public_written =
      WriteNewFile(result.public_path, PublicKeyFileText(key->public_key()), kPublicKeyFileMode);
  if (!public_written) {
    // Leave no key without its public half (and no half-done keygen to trip over on retry).
    static_cast<void>(io::RemoveFileDurably(result.private_path));
    return MakeError(std::move(public_written).error());
  }
  result.keyid = key->public_key().KeyId();
  return result;
}

Status ChangeKeyFilePassphrase(const fs::path& path, const SecureBuffer& old_passphrase,
                               const SecureBuffer& new_passphrase,
                               const sealing::KdfLimits& limits) {
  MDU_ASSIGN_OR_RETURN(crypto::PrivateKey key, LoadPrivateKey(path, old_passphrase));
  MDU_ASSIGN_OR_RETURN(std::string key_text, EncryptKeyFile(key, new_passphrase, limits));
  return io::WriteFileAtomically(path, key_text, kPrivateKeyFileMode);
}

}  // namespace mdu::signer
