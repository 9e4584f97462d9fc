#include "signer/repo/key_files.h"

#include "signer/keystore/keystore.h"

namespace mdu::signer::repo {

namespace fs = std::filesystem;

Result<crypto::PublicKey> LoadPublicKey(const fs::path& file) {
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(file));
  if (file.filename().string().ends_with(kPrivateKeySuffix)) {
    MDU_ASSIGN_OR_RETURN(KeyFileInfo info, InspectKeyFile(text, file.string()));
    return info.public_key;
  }
  return ParsePublicKeyFile(text, file.string());
}

Result<std::vector<crypto::PublicKey>> LoadPublicKeys(const std::vector<fs::path>& files) {
  std::vector<crypto::PublicKey> keys;
  for (const fs::path& file : files) {
    MDU_ASSIGN_OR_RETURN(crypto::PublicKey key, LoadPublicKey(file));
    keys.push_back(std::move(key));
  }
  return keys;
}

Result<crypto::PrivateKey> LoadSigningKey(const fs::path& file, const PassphraseSource& source) {
  // Check the file before asking for a passphrase.
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(file));
  MDU_RETURN_IF_ERROR(InspectKeyFile(text, file.string()));
  MDU_ASSIGN_OR_RETURN(
      SecureBuffer passphrase,
      ObtainPassphrase(source, PassphraseUse::kUnlock, "passphrase for " + file.string()));
  return DecryptKeyFile(text, passphrase, file.string());
}

}  // namespace mdu::signer::repo
