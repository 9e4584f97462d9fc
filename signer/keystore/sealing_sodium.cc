// The only file of the signer that includes libsodium.
#include <sodium.h>

#include "signer/keystore/sealing.h"

namespace mdu::signer::sealing {

static_assert(kSaltBytes == crypto_pwhash_SALTBYTES);
static_assert(kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeyBytes >= crypto_pwhash_BYTES_MIN);

KdfLimits InteractiveLimits() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
KdfLimits ModerateLimits() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
KdfLimits SensitiveLimits() {
  return {crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
}

Status Init() {
  // sodium_init is idempotent and thread-safe; 1 means "already initialised".
  if (sodium_init() < 0) {
    return MakeError(ErrorKind::kCrypto, "libsodium failed to initialise (no entropy source?)");
  }
  return {};
}

void RandomBytes(std::span<uint8_t> out) {
  if (!Init()) {
    abort();  // no CSPRNG: never continue with predictable salts or nonces
  }
  randombytes_buf(out.data(), out.size());
}

void SecureZero(void* data, size_t size) {
  if (data != nullptr && size != 0) {
    sodium_memzero(data, size);
  }
}

void LockMemory(void* data, size_t size) {
  if (data != nullptr && size != 0) {
    static_cast<void>(sodium_mlock(data, size));
  }
}

void UnlockMemory(void* data, size_t size) {
  if (data != nullptr && size != 0) {
    static_cast<void>(sodium_munlock(data, size));
  }
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<SecureBuffer> DeriveKey(std::span<const uint8_t> passphrase, std::span<const uint8_t> salt,
                               const KdfLimits& limits) {
  MDU_RETURN_IF_ERROR(Init());
  if (salt.size() != kSaltBytes) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "argon2id salt must be " + std::to_string(kSaltBytes) + " bytes");
  }
  const KdfLimits low = InteractiveLimits();
  const KdfLimits high = SensitiveLimits();
  if (limits.opslimit < low.opslimit || limits.opslimit > high.opslimit ||
      limits.memlimit < low.memlimit || limits.memlimit > high.memlimit) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "argon2id limits out of range: opslimit must be in [" +
                         std::to_string(low.opslimit) + ", " + std::to_string(high.opslimit) +
                         "], memlimit in [" + std::to_string(low.memlimit) + ", " +
                         std::to_string(high.memlimit) + "]");
  }
  SecureBuffer key(kKeyBytes);
  // An empty passphrase has no data pointer; libsodium accepts any pointer with length 0.
  static const unsigned char kEmpty = 0;
  const char* pass = passphrase.empty() ? reinterpret_cast<const char*>(&kEmpty)
                                        : reinterpret_cast<const char*>(passphrase.data());
  if (crypto_pwhash(key.data(), key.size(), pass, passphrase.size(), salt.data(),
                    static_cast<unsigned long long>(limits.opslimit),
                    static_cast<size_t>(limits.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError(ErrorKind::kCrypto,
                     "argon2id key derivation failed (not enough memory for memlimit " +
                         std::to_string(limits.memlimit) + " bytes?)");
  }
  return key;
}

Result<std::vector<uint8_t>> Seal(std::span<const uint8_t> plaintext, std::span<const uint8_t> aad,
                                  std::span<const uint8_t> nonce, const SecureBuffer& key) {
  MDU_RETURN_IF_ERROR(Init());
  if (nonce.size() != kNonceBytes || key.size() != kKeyBytes) {
    return MakeError(ErrorKind::kInvalidArgument, "xchacha20poly1305: wrong nonce or key size");
  }
  std::vector<uint8_t> out(plaintext.size() + kTagBytes);
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(),
                                                 plaintext.size(), aad.data(), aad.size(), nullptr,
                                                 nonce.data(), key.data()) != 0) {
    return MakeError(ErrorKind::kCrypto, "xchacha20poly1305 encryption failed");
  }
  out.resize(static_cast<size_t>(out_len));
  return out;
}

Result<SecureBuffer> Open(std::span<const uint8_t> ciphertext, std::span<const uint8_t> aad,
                          std::span<const uint8_t> nonce, const SecureBuffer& key) {
  MDU_RETURN_IF_ERROR(Init());
  if (nonce.size() != kNonceBytes || key.size() != kKeyBytes) {
    return MakeError(ErrorKind::kInvalidArgument, "xchacha20poly1305: wrong nonce or key size");
  }
  if (ciphertext.size() < kTagBytes) {
    return MakeError(ErrorKind::kCrypto, "authentication failed");
  }
  SecureBuffer plain(ciphertext.size() - kTagBytes);
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plain_len, nullptr,
                                                 ciphertext.data(), ciphertext.size(), aad.data(),
                                                 aad.size(), nonce.data(), key.data()) != 0) {
    return MakeError(ErrorKind::kCrypto, "authentication failed");
  }
  plain.Truncate(static_cast<size_t>(plain_len));
  return plain;
}

}  // namespace mdu::signer::sealing
