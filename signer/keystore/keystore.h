// Encrypted private-key files ("<name>.key.json") and TUF public-key files ("<name>.pub.json").
//
// Key file format, version 1 (one JSON object, written with sorted keys, 2-space indent):
//
//   {
//     "format": "mdu-encrypted-key",
//     "version": 1,
//     "keyid": "<lowercase hex sha256 of the canonical JSON of "public">",
//     "scheme": "ed25519" | "ecdsa-sha2-nistp256" | "rsassa-pss-sha256",
//     "public": {TUF key object: "keytype", "scheme", "keyval": {"public"}},
//     "kdf": {"name": "argon2id", "opslimit": N, "memlimit": BYTES, "salt": "<16 bytes hex>"},
//     "cipher": {"name": "xchacha20poly1305-ietf", "nonce": "<24 bytes hex>"},
//     "ciphertext": "<hex of PKCS#8 DER encrypted, followed by the 16-byte Poly1305 tag>"
//   }
//
// key = Argon2id(passphrase, salt, opslimit, memlimit) (32 bytes);
// ciphertext = XChaCha20-Poly1305-IETF(key, nonce, plaintext = PKCS#8 DER of the private key,
//              additional data = "mdu-encrypted-key/v1\n" || canonical JSON of the whole file
//              object without "ciphertext").
// Every field other than the ciphertext is therefore authenticated: changing the public key,
// key ID, scheme, KDF parameters, salt or nonce makes decryption fail. Unknown fields are
// rejected, so nothing unauthenticated can ride along. After decryption the private key's own
// public key must equal "public" (defence in depth against a buggy writer).
//
// Errors: malformed or unsupported files -> kBadMetadata naming the file and the field; a wrong
// passphrase and any tampering -> kCrypto "wrong passphrase or corrupted key file <source>"
// (deliberately not saying which). Secrets only ever live in SecureBuffer or crypto::PrivateKey.
//
// Thread-safety: all functions are reentrant.
#ifndef MDU_SIGNER_KEYSTORE_KEYSTORE_H_
#define MDU_SIGNER_KEYSTORE_KEYSTORE_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/keystore/sealing.h"
#include "signer/keystore/secure_buffer.h"

namespace mdu::signer {

inline constexpr std::string_view kKeyFileFormat = "mdu-encrypted-key";
inline constexpr int64_t kKeyFileVersion = 1;
inline constexpr std::string_view kPrivateKeySuffix = ".key.json";
inline constexpr std::string_view kPublicKeySuffix = ".pub.json";
// Key files are small (an RSA-3072 key file is under 6 KiB); anything larger is not ours.
inline constexpr uint64_t kMaxKeyFileBytes = 1u << 20;
inline constexpr int kPrivateKeyFileMode = 0600;
inline constexpr int kPublicKeyFileMode = 0644;

// Named Argon2id cost profiles: "interactive", "moderate" (the default), "sensitive".
Result<sealing::KdfLimits> KdfLimitsFromProfile(std::string_view profile);

// What a key file says about itself, readable without the passphrase. Nothing here is
// authenticated until DecryptKeyFile succeeds (see `verified` in the CLI).
struct KeyFileInfo {
  crypto::PublicKey public_key;
  std::string keyid;
  crypto::KeyScheme scheme;
  sealing::KdfLimits kdf_limits;
};

// Parses and checks the structure of a key file. `source` names it in messages (a path).
Result<KeyFileInfo> InspectKeyFile(std::string_view text, std::string_view source);

// Encrypts `key` under `passphrase` with fresh random salt and nonce; returns the file text.
// kInvalidArgument for an empty passphrase.
Result<std::string> EncryptKeyFile(const crypto::PrivateKey& key, const SecureBuffer& passphrase,
                                   const sealing::KdfLimits& limits);

// Decrypts a key file produced by EncryptKeyFile.
Result<crypto::PrivateKey> DecryptKeyFile(std::string_view text, const SecureBuffer& passphrase,
                                          std::string_view source);

// The public-key file: the TUF key object, 2-space indented, newline-terminated.
std::string PublicKeyFileText(const crypto::PublicKey& key);
// Parses a public-key file (as written by PublicKeyFileText, or any TUF key object).
Result<crypto::PublicKey> ParsePublicKeyFile(std::string_view text, std::string_view source);

// Key names become file names: 1 to 64 of [A-Za-z0-9._-], starting with a letter or digit.
Status ValidateKeyName(std::string_view name);

// --- File operations -------------------------------------------------------------------------

// Reads a key file (bounded by kMaxKeyFileBytes). kNotFound, kIo or kLimitExceeded with the path.
Result<std::string> ReadKeyFileText(const std::filesystem::path& path);

// Loads and decrypts the private key at `path`: what a signing command calls.
Result<crypto::PrivateKey> LoadPrivateKey(const std::filesystem::path& path,
                                          const SecureBuffer& passphrase);

// Writes `data` to `path` durably with `mode`, failing with kInvalidArgument if `path` already
// exists (checked atomically with link(2) where the file system supports it). Never leaves a
// partial file at `path`.
Status WriteNewFile(const std::filesystem::path& path, std::string_view data, int mode);

struct GeneratedKey {
  std::string keyid;
  crypto::KeyScheme scheme = crypto::KeyScheme::kEd25519;
  std::filesystem::path private_path;  // <out_dir>/<name>.key.json, mode 0600
  std::filesystem::path public_path;   // <out_dir>/<name>.pub.json, mode 0644
};

// The two file names for key `name` in `out_dir`; kInvalidArgument (asking the user to pick
// another name or directory) if either exists, or if `name` is invalid. GenerateKeyFiles
// checks again; calling this first lets a command fail before asking for a passphrase.
Status CheckKeyFilesAbsent(const std::filesystem::path& out_dir, std::string_view name);

// Generates a key and writes both files into `out_dir` (created if missing). Refuses, with
// kInvalidArgument and nothing written, if either file already exists.
Result<GeneratedKey> GenerateKeyFiles(const std::filesystem::path& out_dir, std::string_view name,
                                      crypto::KeyScheme scheme, const SecureBuffer& passphrase,
                                      const sealing::KdfLimits& limits);

// Re-encrypts the key file at `path` under `new_passphrase` (fresh salt and nonce) and replaces
// it atomically, keeping mode 0600. The old passphrase must decrypt it first.
Status ChangeKeyFilePassphrase(const std::filesystem::path& path,
                               const SecureBuffer& old_passphrase,
                               const SecureBuffer& new_passphrase,
                               const sealing::KdfLimits& limits);

}  // namespace mdu::signer

#endif  // MDU_SIGNER_KEYSTORE_KEYSTORE_H_
