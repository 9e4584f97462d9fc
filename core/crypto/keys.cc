// TUF key objects, key IDs and the dispatch to the OpenSSL (evp_backend.cc) and libsodium
// (sodium_ed25519.cc) adapters. No third-party header is included here.
#include "core/crypto/keys.h"

#include <utility>

#include "core/common/hex.h"
#include "core/crypto/ed25519_backends.h"
#include "core/crypto/evp_backend.h"
#include "core/crypto/hash.h"
#include "core/json/writer.h"

namespace mdu::crypto {

struct PublicKey::Impl {
  KeyScheme scheme = KeyScheme::kEd25519;
  json::Value object;
  std::string key_id;
  std::vector<uint8_t> ed25519_raw;  // 32 bytes for ed25519, empty otherwise
  internal::EvpPkeyPtr pkey;         // null only for unsupported keys
  bool supported = true;
};

struct PrivateKey::Impl {
  KeyScheme scheme = KeyScheme::kEd25519;
  internal::EvpPkeyPtr pkey;  // never null; EVP_PKEY_free wipes the secret
};

namespace {

constexpr std::string_view kWhere = "key";

std::string_view KeyTypeName(KeyScheme scheme) {
  switch (scheme) {
    case KeyScheme::kEd25519:
      return "ed25519";
    case KeyScheme::kEcdsaP256:
      return "ecdsa";
    case KeyScheme::kRsaPssSha256:
      return "rsa";
  }
  return "unknown";
}

bool KeyTypeMatches(KeyScheme scheme, std::string_view keytype) {
  if (keytype == KeyTypeName(scheme)) return true;
  // python-tuf (securesystemslib < 1.0) wrote the scheme name as the ecdsa keytype.
  return scheme == KeyScheme::kEcdsaP256 && keytype == "ecdsa-sha2-nistp256";
}

}  // namespace

std::string_view SchemeName(KeyScheme scheme) {
  switch (scheme) {
    case KeyScheme::kEd25519:
      return "ed25519";
    case KeyScheme::kEcdsaP256:
      return "ecdsa-sha2-nistp256";
    case KeyScheme::kRsaPssSha256:
      return "rsassa-pss-sha256";
  }
  return "unknown";
}

Result<KeyScheme> SchemeFromName(std::string_view name) {
  for (KeyScheme scheme : {KeyScheme::kEd25519, KeyScheme::kEcdsaP256, KeyScheme::kRsaPssSha256}) {
    if (name == SchemeName(scheme)) return scheme;
  }
  return MakeError(ErrorKind::kInvalidArgument,
                   "unsupported signature scheme \"" + std::string(name) + "\"");
}

Result<PublicKey> PublicKey::FromTuf(const json::Value& key_object) {
  if (!key_object.is_object()) {
    return MakeError(ErrorKind::kBadMetadata, "key must be an object, got " +
                                                  std::string(json::TypeName(key_object.type())));
  }
  MDU_ASSIGN_OR_RETURN(std::string keytype, json::RequireString(key_object, "keytype", kWhere));
  MDU_ASSIGN_OR_RETURN(std::string scheme_name, json::RequireString(key_object, "scheme", kWhere));
  MDU_ASSIGN_OR_RETURN(const json::Value* keyval,
                       json::RequireField(key_object, "keyval", json::Type::kObject, kWhere));
  MDU_ASSIGN_OR_RETURN(std::string public_text,
                       json::RequireString(*keyval, "public", "key keyval"));

  MDU_ASSIGN_OR_RETURN(KeyScheme scheme, SchemeFromName(scheme_name));
  if (!KeyTypeMatches(scheme, keytype)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "keytype \"" + keytype + "\" does not match scheme \"" + scheme_name + "\"");
  }

  auto impl = std::make_shared<Impl>();
  impl->scheme = scheme;
  if (scheme == KeyScheme::kEd25519) {
    if (public_text.size() != 64) {
      return MakeError(ErrorKind::kCrypto, "ed25519 keyval.public must be 64 hex digits, got " +
                                               std::to_string(public_text.size()) + " characters");
    }
    auto raw = HexDecode(public_text);
    if (!raw) {
      return MakeError(ErrorKind::kCrypto, "ed25519 keyval.public: " + raw.error().message());
    }
    // Rejects small-order and off-curve points, so libsodium and OpenSSL agree on every key
    // we hold (see ed25519_backends.h).
    if (!internal::SodiumEd25519PublicKeyOk(*raw)) {
      return MakeError(ErrorKind::kCrypto, "ed25519 keyval.public is not a valid curve point");
    }
    MDU_ASSIGN_OR_RETURN(impl->pkey, internal::Ed25519PublicFromRaw(*raw));
    impl->ed25519_raw = std::move(*raw);
  } else {
    auto pkey = internal::ParsePublicPem(scheme, public_text);
    if (!pkey) return MakeError(pkey.error().WithContext(std::string(scheme_name) + " key"));
    impl->pkey = std::move(*pkey);
  }
  impl->object = key_object;
  impl->key_id = Sha256Hex(json::Canonical(key_object));
  return PublicKey(std::move(impl));
}

PublicKey PublicKey::Unsupported(const json::Value& key_object) {
  auto impl = std::make_shared<Impl>();
  impl->supported = false;
  impl->object = key_object;
  impl->key_id = Sha256Hex(json::Canonical(key_object));
  return PublicKey(std::move(impl));
}

bool PublicKey::is_supported() const { return impl_->supported; }
KeyScheme PublicKey::scheme() const { return impl_->scheme; }
const json::Value& PublicKey::ToTuf() const { return impl_->object; }
const std::string& PublicKey::KeyId() const { return impl_->key_id; }

bool PublicKey::Verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const {
  if (!impl_->supported) return false;
  if (impl_->scheme == KeyScheme::kEd25519 &&
      message.size() < internal::kEd25519OpensslMinMessageSize) {
    return internal::SodiumEd25519Verify(impl_->ed25519_raw, message, signature);
  }
  return internal::EvpVerify(impl_->pkey.get(), impl_->scheme, message, signature);
}

namespace internal {

bool VerifyEd25519With(Ed25519Backend backend, const PublicKey& key,
                       std::span<const uint8_t> message, std::span<const uint8_t> signature) {
  if (!key.is_supported() || key.scheme() != KeyScheme::kEd25519) return false;
  const PublicKey::Impl& impl = key.impl();
  switch (backend) {
    case Ed25519Backend::kLibsodium:
      return SodiumEd25519Verify(impl.ed25519_raw, message, signature);
    case Ed25519Backend::kOpenssl:
      return EvpVerify(impl.pkey.get(), KeyScheme::kEd25519, message, signature);
  }
  return false;
}

}  // namespace internal

namespace {

// Builds the TUF key object of a private key's public half and parses it like any other key,
// so a generated key and the same key read from metadata are indistinguishable.
Result<PublicKey> PublicKeyOf(KeyScheme scheme, const evp_pkey_st* pkey) {
  std::string public_text;
  if (scheme == KeyScheme::kEd25519) {
    MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, internal::Ed25519RawPublic(pkey));
    public_text = HexEncode(raw);
  } else {
    MDU_ASSIGN_OR_RETURN(internal::EvpPkeyPtr pub, internal::PublicFromPrivate(scheme, pkey));
    MDU_ASSIGN_OR_RETURN(public_text, internal::PublicPem(pub.get()));
  }
  json::Value object = json::Value::MakeObject({
      {"keytype", json::Value(KeyTypeName(scheme))},
      {"keyval", json::Value::MakeObject({{"public", json::Value(std::move(public_text))}})},
      {"scheme", json::Value(SchemeName(scheme))},
  });
  return PublicKey::FromTuf(object);
}

}  // namespace

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl, PublicKey public_key)
    : impl_(std::move(impl)), public_key_(std::move(public_key)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::FromImpl(std::unique_ptr<Impl> impl) {
  MDU_ASSIGN_OR_RETURN(PublicKey public_key, PublicKeyOf(impl->scheme, impl->pkey.get()));
  return PrivateKey(std::move(impl), std::move(public_key));
}

namespace {

Result<PrivateKey> Wrap(KeyScheme scheme, internal::EvpPkeyPtr pkey) {
  auto impl = std::make_unique<PrivateKey::Impl>();
  impl->scheme = scheme;
  impl->pkey = std::move(pkey);
  return PrivateKey::FromImpl(std::move(impl));
}

}  // namespace

Result<PrivateKey> PrivateKey::Generate(KeyScheme scheme) {
  MDU_ASSIGN_OR_RETURN(internal::EvpPkeyPtr pkey, internal::GeneratePrivate(scheme));
  return Wrap(scheme, std::move(pkey));
}

Result<PrivateKey> PrivateKey::FromPkcs8Der(KeyScheme scheme, std::span<const uint8_t> der) {
  MDU_ASSIGN_OR_RETURN(internal::EvpPkeyPtr pkey, internal::PrivateFromPkcs8Der(scheme, der));
  return Wrap(scheme, std::move(pkey));
}

Result<PrivateKey> PrivateKey::FromEd25519Seed(std::span<const uint8_t> seed) {
  MDU_ASSIGN_OR_RETURN(internal::EvpPkeyPtr pkey, internal::Ed25519PrivateFromSeed(seed));
  return Wrap(KeyScheme::kEd25519, std::move(pkey));
}

Result<std::vector<uint8_t>> PrivateKey::Sign(std::span<const uint8_t> message) const {
  return internal::EvpSign(impl_->pkey.get(), impl_->scheme, message);
}

Result<std::vector<uint8_t>> PrivateKey::ExportPkcs8Der() const {
  return internal::PrivateToPkcs8Der(impl_->pkey.get());
}

}  // namespace mdu::crypto
