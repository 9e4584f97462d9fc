#include "repo-server/online_key.h"

#include <cstdlib>

#include "core/metadata/metadata.h"
#include "signer/keystore/keystore.h"
#include "signer/keystore/passphrase.h"

namespace mdu::server {

Result<crypto::PrivateKey> LoadOnlineKey(const std::string& path, const PassphraseConfig& source,
                                         std::string_view role) {
  const std::string what = std::string(role) + " key";
  auto passphrase = [&]() -> Result<signer::SecureBuffer> {
    if (!source.env_var.empty()) {
      auto read = signer::PassphraseFromEnv(source.env_var);
      unsetenv(source.env_var.c_str());
      return read;
    }
    if (source.fd >= 0) return signer::PassphraseFromFd(source.fd);
    if (!source.file.empty()) return signer::PassphraseFromFile(source.file);
    return MakeError(ErrorKind::kInvalidArgument,
                     "no passphrase source (the server never prompts)");
  }();
  if (!passphrase) {
    return MakeError(passphrase.error().WithContext("passphrase of the " + what));
  }
  auto key = signer::LoadPrivateKey(path, *passphrase);
  if (!key) return MakeError(key.error().WithContext(what));
  return key;
}

Status CheckKeyTrustedFor(const RepositoryView& view, const crypto::PublicKey& key,
                          std::string_view role) {
  const SharedBytes* bytes = view.Find("root", 0);
  if (bytes == nullptr) return {};
  auto root = metadata::ParseMetadata<metadata::Root>(**bytes);
  if (!root) return MakeError(root.error().WithContext("current root"));
  auto it = root->role.roles.find(std::string(role));
  if (it != root->role.roles.end()) {
    for (const std::string& keyid : it->second.keyids) {
      if (keyid == key.KeyId()) return {};
    }
  }
  return MakeError(ErrorKind::kPolicy,
                   "the current root (version " + std::to_string(root->role.common.version) +
                       ") does not list key " + key.KeyId() + " for " + std::string(role));
}

}  // namespace mdu::server
