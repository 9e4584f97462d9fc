// Key files as the workspace commands take them: TUF public key files (NAME.pub.json) for the
// keys a role trusts, and encrypted private key files (NAME.key.json, see
// signer/keystore/keystore.h) unlocked with a passphrase from one of the shared sources.
//
// Errors name the file; a wrong passphrase is kCrypto "wrong passphrase or corrupted key file".
// Thread-safety: reentrant (the terminal prompt excepted, see passphrase.h).
#ifndef MDU_SIGNER_REPO_KEY_FILES_H_
#define MDU_SIGNER_REPO_KEY_FILES_H_

#include <filesystem>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/keystore/passphrase.h"

namespace mdu::signer::repo {

// Reads public keys. A private key file (.key.json) is accepted too: its public part is used
// (no passphrase needed), so an engineer can name the same file everywhere.
Result<std::vector<crypto::PublicKey>> LoadPublicKeys(
    const std::vector<std::filesystem::path>& files);
Result<crypto::PublicKey> LoadPublicKey(const std::filesystem::path& file);

// Decrypts a private key file; the passphrase comes from `source` (prompt when interactive).
Result<crypto::PrivateKey> LoadSigningKey(const std::filesystem::path& file,
                                          const PassphraseSource& source);

}  // namespace mdu::signer::repo

#endif  // MDU_SIGNER_REPO_KEY_FILES_H_
