// Internal to core/crypto (and its tests and benchmark): the two ed25519 verifiers and the
// message size at which PublicKey::Verify switches from one to the other.
//
// libsodium has the lower fixed cost per verification (point decompression, scalar
// multiplication), OpenSSL hashes faster (SHA-512 with AVX2), so libsodium wins on small
// messages and OpenSSL on large ones. The crossover is measured by tests/bench/crypto_bench.cc
// (BM_Ed25519Verify*); see BENCHMARKS.md.
//
// Both backends implement RFC 8032 verification (cofactorless, canonical S). libsodium 1.0.18
// also rejects small-order public keys and small-order R, which OpenSSL accepts. FromTuf rejects
// public keys that are not valid prime-order points (libsodium's check), and for such a key a
// small-order R can only verify if R is the identity, which needs the private key; so both
// paths accept the same signatures for every key we accept.
//
// Thread-safety: all functions are safe to call concurrently.
#ifndef MDU_CORE_CRYPTO_ED25519_BACKENDS_H_
#define MDU_CORE_CRYPTO_ED25519_BACKENDS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/crypto/keys.h"

namespace mdu::crypto::internal {

// Messages of at least this many bytes are verified with OpenSSL, smaller ones with libsodium.
// Measured (CPU time, 2-core 2.6 GHz VM, libsodium 1.0.18, OpenSSL 3.0): 256 B 41 vs 97 us,
// 64 KiB 169 vs 186 us, 96 KiB 234 vs 231 us, 1 MiB 2.09 vs 1.51 ms, 16 MiB 32.8 vs 22.5 ms.
inline constexpr size_t kEd25519OpensslMinMessageSize = 96 * 1024;

enum class Ed25519Backend { kLibsodium, kOpenssl };

// Verifies with the given backend regardless of message size; false for a non-ed25519 key.
bool VerifyEd25519With(Ed25519Backend backend, const PublicKey& key,
                       std::span<const uint8_t> message, std::span<const uint8_t> signature);

// libsodium adapter (sodium_ed25519.cc).
bool SodiumEd25519Verify(std::span<const uint8_t> public32, std::span<const uint8_t> message,
                         std::span<const uint8_t> signature);
// True iff libsodium considers the 32 bytes a usable public key (on the curve, not small order).
bool SodiumEd25519PublicKeyOk(std::span<const uint8_t> public32);
// Signs with libsodium from an RFC 8032 seed: cross-checks the OpenSSL signer in tests. Wipes
// the expanded secret key. Empty result if the seed is not 32 bytes.
std::vector<uint8_t> SodiumEd25519SignWithSeed(std::span<const uint8_t> seed32,
                                               std::span<const uint8_t> message);

}  // namespace mdu::crypto::internal

#endif  // MDU_CORE_CRYPTO_ED25519_BACKENDS_H_
