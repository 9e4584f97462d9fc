// Signing keys that live on a PKCS#11 token (HSM, smart card, SoftHSM2): signing happens on the
// token, the private key never leaves it. Keys are named by RFC 7512 URIs (signer/pkcs11/uri.h).
//
//   scheme               token key        mechanism
//   ed25519              CKK_EC_EDWARDS   CKM_EDDSA (pure Ed25519)
//   ecdsa-sha2-nistp256  CKK_EC (P-256)   CKM_ECDSA over a SHA-256 computed here; r||s -> DER
//   rsassa-pss-sha256    CKK_RSA          CKM_SHA256_RSA_PKCS_PSS, MGF1-SHA-256, salt 32
//
// The public key is read from the token's public key object with the same CKA_ID (or label)
// and turned into the TUF key object core/crypto writes, so key IDs match (key_encoding.h).
// Errors name the URI, the token and the CKR_ code.
//
// Ownership: a TokenSigner owns its session (and through it the loaded module); C_Finalize runs
// when the last signer of a module is destroyed.
// Thread-safety: Sign may be called from several threads (serialized internally).
#ifndef MDU_SIGNER_PKCS11_TOKEN_KEY_H_
#define MDU_SIGNER_PKCS11_TOKEN_KEY_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"
#include "signer/keystore/passphrase.h"

namespace mdu::signer::pkcs11 {

class Session;

class TokenSigner final : public crypto::Signer {
 public:
  // Opens the token, logs in with the PIN from `pin_source` (see session.h) and finds exactly
  // one private key the URI names, and its public key.
  static Result<std::unique_ptr<TokenSigner>> Open(std::string_view uri,
                                                   const PassphraseSource& pin_source);
  ~TokenSigner() override;

  const crypto::PublicKey& public_key() const override { return public_key_; }
  Result<std::vector<uint8_t>> Sign(std::span<const uint8_t> message) const override;

 private:
  TokenSigner(std::unique_ptr<Session> session, unsigned long key,  // NOLINT(runtime/int)
              crypto::PublicKey public_key);
  std::unique_ptr<Session> session_;
  unsigned long key_;  // NOLINT(runtime/int): CK_OBJECT_HANDLE
  crypto::PublicKey public_key_;
  mutable std::mutex mutex_;  // one operation at a time per PKCS#11 session
};

// The TUF public key of the key pair the URI names, read without logging in (public key objects
// are public). kNotFound when the token has no such public key object.
Result<crypto::PublicKey> ReadTokenPublicKey(std::string_view uri);

struct GeneratedTokenKey {
  crypto::PublicKey public_key;
  std::string uri;  // the given URI's token and object, plus the key pair's id
};

// Generates a key pair on the token: the private key is sensitive, non-extractable, sign-only;
// both objects get the URI's object label and id (a fresh random 16-byte id when the URI has
// none). Refuses (kInvalidArgument) when the token already holds a key with that label or id.
// RSA keys have `rsa_bits` bits (at least 2048).
Result<GeneratedTokenKey> GenerateTokenKey(std::string_view uri, crypto::KeyScheme scheme,
                                           const PassphraseSource& pin_source,
                                           unsigned rsa_bits = 3072);

}  // namespace mdu::signer::pkcs11

#endif  // MDU_SIGNER_PKCS11_TOKEN_KEY_H_
