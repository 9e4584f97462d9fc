// The libsodium adapter: the only file that includes sodium.h.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "core/crypto/ed25519_backends.h"
#include "core/crypto/keys.h"

namespace mdu::crypto::internal {
namespace {

// sodium_init picks the fastest implementations for this CPU; it is idempotent and thread-safe,
// the static makes it run once.
void EnsureSodiumInit() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) {
    std::fprintf(stderr, "mdu::crypto: sodium_init failed\n");
    std::abort();
  }
}

}  // namespace

bool SodiumEd25519Verify(std::span<const uint8_t> public32, std::span<const uint8_t> message,
                         std::span<const uint8_t> signature) {
  if (public32.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  EnsureSodiumInit();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public32.data()) == 0;
}

bool SodiumEd25519PublicKeyOk(std::span<const uint8_t> public32) {
  if (public32.size() != crypto_sign_PUBLICKEYBYTES) return false;
  EnsureSodiumInit();
  return crypto_core_ed25519_is_valid_point(public32.data()) == 1;
}

std::vector<uint8_t> SodiumEd25519SignWithSeed(std::span<const uint8_t> seed32,
                                               std::span<const uint8_t> message) {
  if (seed32.size() != crypto_sign_SEEDBYTES) return {};
  EnsureSodiumInit();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  std::vector<uint8_t> signature(crypto_sign_BYTES);
  bool ok =
      crypto_sign_seed_keypair(pk, sk, seed32.data()) == 0 &&
      crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(), sk) == 0;
  sodium_memzero(sk, sizeof(sk));
  if (!ok) return {};
  return signature;
}

}  // namespace mdu::crypto::internal

namespace mdu::crypto {

void WipeSecret(std::span<uint8_t> secret) {
  if (!secret.empty()) sodium_memzero(secret.data(), secret.size());
}

}  // namespace mdu::crypto
