#include "signer/repo/key_files.h"

#include "signer/keystore/keystore.h"
#include "signer/pkcs11/token_key.h"
#include "signer/pkcs11/uri.h"

namespace mdu::signer::repo {

namespace fs = std::filesystem;

Result<crypto::PublicKey> LoadPublicKey(const fs::path& file) {
  if (pkcs11::IsPkcs11Uri(file.native())) return pkcs11::ReadTokenPublicKey(file.native());
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

Result<SigningKey> LoadSigningKey(const fs::path& file, const PassphraseSource& source) {
  if (pkcs11::IsPkcs11Uri(file.native())) {
    MDU_ASSIGN_OR_RETURN(std::unique_ptr<pkcs11::TokenSigner> signer,
                         pkcs11::TokenSigner::Open(file.native(), source));
    return SigningKey(std::move(signer), /*on_token=*/true);
  }
  // Check the file before asking for a passphrase.
  MDU_ASSIGN_OR_RETURN(std::string text, ReadKeyFileText(file));
  MDU_RETURN_IF_ERROR(InspectKeyFile(text, file.string()));
  MDU_ASSIGN_OR_RETURN(
      SecureBuffer passphrase,
      ObtainPassphrase(source, PassphraseUse::kUnlock, "passphrase for " + file.string()));
  MDU_ASSIGN_OR_RETURN(crypto::PrivateKey key, DecryptKeyFile(text, passphrase, file.string()));
  return SigningKey(std::make_unique<crypto::PrivateKey>(std::move(key)), /*on_token=*/false);
}

}  // namespace mdu::signer::repo
