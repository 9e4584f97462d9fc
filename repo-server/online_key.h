// Loading the server's online keys (timestamp, optionally snapshot) from encrypted key files
// (signer/keystore/keystore.h: mdu-encrypted-key v1, Argon2id + XChaCha20-Poly1305, written by
// `signer export-online-key`). The passphrase comes from an environment variable (unset once
// read, so child processes do not inherit it), an inherited file descriptor or a file; it lives
// only in a SecureBuffer that is wiped when loading ends. Nothing here logs the passphrase or
// any key byte; errors name the file and, for a wrong passphrase or a tampered file, say only
// "wrong passphrase or corrupted key file" (keystore.h).
//
// Thread-safety: call at start-up, before threads that read the environment.
#ifndef MDU_REPO_SERVER_ONLINE_KEY_H_
#define MDU_REPO_SERVER_ONLINE_KEY_H_

#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "repo-server/config.h"
#include "repo-server/repository_view.h"

namespace mdu::server {

// Decrypts the key file at `path` with the passphrase from `source` (exactly one source set).
// `role` ("timestamp", "snapshot") names it in errors.
Result<crypto::PrivateKey> LoadOnlineKey(const std::string& path, const PassphraseConfig& source,
                                         std::string_view role);

// kPolicy unless the current root of `view` lists `key` for `role` (nothing to check on an
// empty repository): a key root does not trust could never publish, so the server refuses to
// start with it instead of failing every re-signing later.
Status CheckKeyTrustedFor(const RepositoryView& view, const crypto::PublicKey& key,
                          std::string_view role);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_ONLINE_KEY_H_
