// Conversions between what a PKCS#11 token hands out and what TUF and core/crypto expect:
//   - public key attributes (CKA_EC_POINT, CKA_MODULUS/CKA_PUBLIC_EXPONENT) -> the TUF key
//     object core/crypto itself writes (ed25519: hex of the 32 raw bytes; ecdsa and rsa: PEM
//     SubjectPublicKeyInfo as OpenSSL writes it), so key IDs equal those of the same key
//     generated in software;
//   - CKM_ECDSA's raw r||s signature -> the DER ECDSA-Sig-Value core's verifier takes.
// A minimal DER writer is enough for these fixed structures; the result is always parsed back
// by core (PublicKey::FromTuf), which validates it with OpenSSL.
//
// Thread-safety: pure functions.
#ifndef MDU_SIGNER_PKCS11_KEY_ENCODING_H_
#define MDU_SIGNER_PKCS11_KEY_ENCODING_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/crypto/keys.h"

namespace mdu::signer::pkcs11 {

// DER of the curve OIDs as CKA_EC_PARAMS holds them.
std::vector<uint8_t> Ed25519EcParams();  // 1.3.101.112
std::vector<uint8_t> P256EcParams();     // 1.2.840.10045.3.1.7 (prime256v1)

// CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); some tokens return the
// bare point. Returns the point; kCrypto if neither form has `expected_size` bytes.
Result<std::vector<uint8_t>> EcPointBytes(std::span<const uint8_t> attribute, size_t expected_size);

// The TUF public key of a token key. `ec_point` is the bare point (32 bytes for ed25519, 65
// uncompressed bytes for P-256); `modulus`/`exponent` are big-endian unsigned integers.
Result<crypto::PublicKey> Ed25519TufKey(std::span<const uint8_t> ec_point);
Result<crypto::PublicKey> P256TufKey(std::span<const uint8_t> ec_point);
Result<crypto::PublicKey> RsaTufKey(std::span<const uint8_t> modulus,
                                    std::span<const uint8_t> exponent);

// CKM_ECDSA output (r||s, each `size/2` bytes) as DER SEQUENCE { INTEGER r, INTEGER s }.
Result<std::vector<uint8_t>> EcdsaRawToDer(std::span<const uint8_t> raw);

// Exposed for tests.
std::vector<uint8_t> DerInteger(std::span<const uint8_t> big_endian_unsigned);
std::string Pem(std::string_view label, std::span<const uint8_t> der);

}  // namespace mdu::signer::pkcs11

#endif  // MDU_SIGNER_PKCS11_KEY_ENCODING_H_
