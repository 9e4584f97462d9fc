// TUF public keys and signing keys for the three schemes of the specification:
//
//   keytype   scheme               keyval.public             signature ("sig", hex)
//   ed25519   ed25519              64 hex digits (32 bytes)  64-byte RFC 8032 signature
//   ecdsa     ecdsa-sha2-nistp256  PEM SubjectPublicKeyInfo  DER ECDSA(r,s) over SHA-256
//   rsa       rsassa-pss-sha256    PEM SubjectPublicKeyInfo  RSASSA-PSS, SHA-256, MGF1-SHA-256
//
// python-tuf also writes the legacy keytype "ecdsa-sha2-nistp256" for ecdsa keys; accepted.
// RSA-PSS verification accepts any salt length (securesystemslib signs with the maximum salt
// length, go-tuf and tuf-js with the digest length); signing uses the digest length (32).
// ed25519 verification uses libsodium for small messages and OpenSSL for large ones (see
// BENCHMARKS.md for the crossover measurement).
//
// A PublicKey keeps the exact TUF key object it was parsed from, unknown fields included, so
// KeyId() equals python-tuf's: sha256 of the canonical JSON of that object.
//
// Ownership and thread-safety: PublicKey is a cheap-to-copy immutable value (shared, const
// internal state); concurrent Verify calls are safe. PrivateKey is move-only and wipes its
// secret on destruction.
#ifndef MDU_CORE_CRYPTO_KEYS_H_
#define MDU_CORE_CRYPTO_KEYS_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/json/value.h"

namespace mdu::crypto {

enum class KeyScheme { kEd25519, kEcdsaP256, kRsaPssSha256 };

std::string_view SchemeName(KeyScheme scheme);  // "ed25519", "ecdsa-sha2-nistp256", ...
Result<KeyScheme> SchemeFromName(std::string_view name);

class PublicKey {
 public:
  // Parses a TUF key object {"keytype", "scheme", "keyval": {"public"}}. kBadMetadata when a
  // field is missing or of the wrong type, kCrypto when the key material does not decode,
  // kInvalidArgument for an unsupported keytype/scheme combination.
  static Result<PublicKey> FromTuf(const json::Value& key_object);

  // A key whose keytype/scheme this build does not implement (e.g. a future scheme in root
  // metadata signed elsewhere). python-tuf keeps such keys, so do we: it keeps its object and key
  // ID, so the metadata round-trips byte for byte, but Verify always returns false, so it can
  // never count towards a threshold. `key_object` must be an object (not checked further).
  static PublicKey Unsupported(const json::Value& key_object);

  // False for keys made by Unsupported(); scheme() is meaningless for them.
  bool is_supported() const;
  KeyScheme scheme() const;
  const json::Value& ToTuf() const;  // the exact object parsed (or generated)
  const std::string& KeyId() const;  // lowercase hex sha256 of Canonical(ToTuf())

  // True iff `signature` is a valid signature of `message` under this key. Malformed
  // signatures are simply invalid (false), never a crash.
  bool Verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const;

  // Internal to core/crypto (defined in keys.cc).
  struct Impl;
  explicit PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// Anything that can sign for a key: a private key in memory today, a PKCS#11 token later.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual const PublicKey& public_key() const = 0;
  virtual Result<std::vector<uint8_t>> Sign(std::span<const uint8_t> message) const = 0;
};

class PrivateKey final : public Signer {
 public:
  static Result<PrivateKey> Generate(KeyScheme scheme);
  // PKCS#8 DER (unencrypted; the signer encrypts it at rest). Must round-trip Export.
  static Result<PrivateKey> FromPkcs8Der(KeyScheme scheme, std::span<const uint8_t> der);
  // ed25519 only: the 32-byte RFC 8032 seed (used by known-answer tests).
  static Result<PrivateKey> FromEd25519Seed(std::span<const uint8_t> seed);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey() override;

  const PublicKey& public_key() const override { return public_key_; }
  Result<std::vector<uint8_t>> Sign(std::span<const uint8_t> message) const override;
  // Secret bytes: the caller must wipe them (WipeSecret below) after use.
  Result<std::vector<uint8_t>> ExportPkcs8Der() const;

  // Internal to core/crypto (defined in keys.cc): wraps a loaded or generated secret key and
  // derives its public key.
  struct Impl;
  static Result<PrivateKey> FromImpl(std::unique_ptr<Impl> impl);

 private:
  PrivateKey(std::unique_ptr<Impl> impl, PublicKey public_key);
  std::unique_ptr<Impl> impl_;
  PublicKey public_key_;
};

// Overwrites secret bytes with zeros in a way the compiler cannot elide (sodium_memzero), for
// callers that cannot include libsodium (it is linked PRIVATE to this module).
void WipeSecret(std::span<uint8_t> secret);

}  // namespace mdu::crypto

#endif  // MDU_CORE_CRYPTO_KEYS_H_
