// Internal to core/crypto: the OpenSSL adapter behind keys.cc. Only evp_backend.cc and
// hash.cc include OpenSSL headers; this header forward-declares the two handle types it needs so
// that no OpenSSL header leaks into other translation units.
//
// Ownership: EvpPkeyPtr owns an EVP_PKEY; freeing a private key makes OpenSSL wipe its secret.
// Thread-safety: every function here is safe to call concurrently, including on the same
// EVP_PKEY for verification and signing (each call creates its own EVP_MD_CTX).
#ifndef MDU_CORE_CRYPTO_EVP_BACKEND_H_
#define MDU_CORE_CRYPTO_EVP_BACKEND_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY
struct evp_md_st;    // OpenSSL's EVP_MD

namespace mdu::crypto::internal {

struct EvpPkeyDeleter {
  void operator()(evp_pkey_st* pkey) const;
};
using EvpPkeyPtr = std::unique_ptr<evp_pkey_st, EvpPkeyDeleter>;

// SHA-256 fetched once per process (defined in hash.cc).
const evp_md_st* Sha256Md();

// Public keys. ParsePublicPem checks the PEM is a SubjectPublicKeyInfo of the scheme's key type:
// EC on P-256 only, RSA of at least 2048 bits. kCrypto on any failure.
Result<EvpPkeyPtr> ParsePublicPem(KeyScheme scheme, std::string_view pem);
Result<EvpPkeyPtr> Ed25519PublicFromRaw(std::span<const uint8_t> raw32);
// SubjectPublicKeyInfo PEM exactly as python-tuf writes it (trailing newline).
Result<std::string> PublicPem(const evp_pkey_st* pkey);
Result<std::vector<uint8_t>> Ed25519RawPublic(const evp_pkey_st* pkey);

// Verification of a signature by `scheme` rules; any failure (malformed signature included) is
// false.
bool EvpVerify(const evp_pkey_st* pkey, KeyScheme scheme, std::span<const uint8_t> message,
               std::span<const uint8_t> signature);

// Private keys.
Result<EvpPkeyPtr> GeneratePrivate(KeyScheme scheme);
Result<EvpPkeyPtr> PrivateFromPkcs8Der(KeyScheme scheme, std::span<const uint8_t> der);
Result<EvpPkeyPtr> Ed25519PrivateFromSeed(std::span<const uint8_t> seed32);
Result<std::vector<uint8_t>> PrivateToPkcs8Der(const evp_pkey_st* pkey);
// The public half of a private key, as a new EVP_PKEY holding no secret.
Result<EvpPkeyPtr> PublicFromPrivate(KeyScheme scheme, const evp_pkey_st* pkey);
// ed25519: 64-byte raw; ecdsa: DER over SHA-256; rsa: PSS SHA-256, MGF1 SHA-256, salt 32.
Result<std::vector<uint8_t>> EvpSign(const evp_pkey_st* pkey, KeyScheme scheme,
                                     std::span<const uint8_t> message);

}  // namespace mdu::crypto::internal

#endif  // MDU_CORE_CRYPTO_EVP_BACKEND_H_
