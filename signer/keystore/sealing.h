// The keystore's cryptographic primitives: Argon2id passphrase hashing, XChaCha20-Poly1305
// authenticated encryption, random bytes and secret wiping. This is the signer's only adapter
// to libsodium (sealing_sodium.cc is the one file that includes <sodium.h>).
//
// Thread-safety: all functions are reentrant once Init() has succeeded (every entry point calls
// it, so callers need not).
#ifndef MDU_SIGNER_KEYSTORE_SEALING_H_
#define MDU_SIGNER_KEYSTORE_SEALING_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "signer/keystore/secure_buffer.h"

namespace mdu::signer::sealing {

// Sizes fixed by the file format (checked against libsodium's constants at compile time).
inline constexpr size_t kSaltBytes = 16;   // crypto_pwhash_SALTBYTES
inline constexpr size_t kNonceBytes = 24;  // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
inline constexpr size_t kKeyBytes = 32;    // crypto_aead_xchacha20poly1305_ietf_KEYBYTES
inline constexpr size_t kTagBytes = 16;    // crypto_aead_xchacha20poly1305_ietf_ABYTES

// Argon2id cost parameters as recorded in a key file.
struct KdfLimits {
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;  // bytes
  friend bool operator==(const KdfLimits&, const KdfLimits&) = default;
};

KdfLimits InteractiveLimits();  // libsodium INTERACTIVE: fast, for tests and the demo keys
KdfLimits ModerateLimits();     // libsodium MODERATE: the default for real keys
KdfLimits SensitiveLimits();    // libsodium SENSITIVE: slowest; also the upper bound accepted

// kCrypto when libsodium cannot be initialised.
Status Init();

// Fills `out` from the operating system's CSPRNG.
void RandomBytes(std::span<uint8_t> out);

// Wipes memory in a way the compiler may not optimise away.
void SecureZero(void* data, size_t size);
// Best-effort mlock/munlock (munlock also wipes). Failures are ignored on purpose.
void LockMemory(void* data, size_t size);
void UnlockMemory(void* data, size_t size);
// Constant-time equality of two equally sized spans.
bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Argon2id: derives a kKeyBytes key. kInvalidArgument for a salt of the wrong size or limits
// outside [InteractiveLimits(), SensitiveLimits()]; kCrypto when the derivation fails (usually
// out of memory).
Result<SecureBuffer> DeriveKey(std::span<const uint8_t> passphrase, std::span<const uint8_t> salt,
                               const KdfLimits& limits);

// XChaCha20-Poly1305-IETF. Seal returns ciphertext || tag. Open returns the plaintext, or
// kCrypto (message "authentication failed") when the key, nonce, additional data or ciphertext
// do not match; kInvalidArgument for wrong key/nonce sizes.
Result<std::vector<uint8_t>> Seal(std::span<const uint8_t> plaintext, std::span<const uint8_t> aad,
                                  std::span<const uint8_t> nonce, const SecureBuffer& key);
Result<SecureBuffer> Open(std::span<const uint8_t> ciphertext, std::span<const uint8_t> aad,
                          std::span<const uint8_t> nonce, const SecureBuffer& key);

}  // namespace mdu::signer::sealing

#endif  // MDU_SIGNER_KEYSTORE_SEALING_H_
