// Key files as the workspace commands take them: TUF public key files (NAME.pub.json) for the
// keys a role trusts, and encrypted private key files (NAME.key.json, see
// signer/keystore/keystore.h) unlocked with a passphrase from one of the shared sources.
// Wherever a key file is accepted, a PKCS#11 URI ("pkcs11:token=...;object=...", see
// signer/pkcs11/uri.h) may name a key on a hardware token instead; the same passphrase sources
// then give the token's user PIN.
//
// Errors name the file; a wrong passphrase is kCrypto "wrong passphrase or corrupted key file".
// Thread-safety: reentrant (the terminal prompt excepted, see passphrase.h).
#ifndef MDU_SIGNER_REPO_KEY_FILES_H_
#define MDU_SIGNER_REPO_KEY_FILES_H_

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/keystore/passphrase.h"

namespace mdu::signer::repo {

// Reads public keys. A private key file (.key.json) is accepted too: its public part is used
// (no passphrase needed), so an engineer can name the same file everywhere. A pkcs11: URI reads
// the token's public key object (no PIN needed).
Result<std::vector<crypto::PublicKey>> LoadPublicKeys(
    const std::vector<std::filesystem::path>& files);
Result<crypto::PublicKey> LoadPublicKey(const std::filesystem::path& file);

// A key that can sign: a decrypted key file in memory, or a key on a PKCS#11 token (signing
// happens on the token; the session closes when the SigningKey is destroyed).
class SigningKey final : public crypto::Signer {
 public:
  SigningKey(std::unique_ptr<crypto::Signer> impl, bool on_token)
      : impl_(std::move(impl)), on_token_(on_token) {}
  const crypto::PublicKey& public_key() const override { return impl_->public_key(); }
  Result<std::vector<uint8_t>> Sign(std::span<const uint8_t> message) const override {
    return impl_->Sign(message);
  }
  bool on_token() const { return on_token_; }

 private:
  std::unique_ptr<crypto::Signer> impl_;
  bool on_token_;
};

// Decrypts a private key file, or opens the token key a pkcs11: URI names; the passphrase (or
// PIN) comes from `source` (prompt when interactive).
Result<SigningKey> LoadSigningKey(const std::filesystem::path& file,
                                  const PassphraseSource& source);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_KEY_FILES_H_
