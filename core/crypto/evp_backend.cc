// The OpenSSL adapter for keys and signatures (hash.cc holds the digest part).
#include "core/crypto/evp_backend.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <climits>
#include <cstring>

namespace mdu::crypto::internal {

void EvpPkeyDeleter::operator()(evp_pkey_st* pkey) const { EVP_PKEY_free(pkey); }

namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kGeneratedRsaBits = 3072;
constexpr int kPssSaltLength = 32;  // the SHA-256 digest length, as go-tuf and tuf-js sign

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
struct Pkcs8Deleter {
  void operator()(PKCS8_PRIV_KEY_INFO* p8) const { PKCS8_PRIV_KEY_INFO_free(p8); }
};
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Pkcs8Deleter>;

// The OpenSSL error queue is per thread; leaving entries behind would blame a later,
// unrelated call. Returns the oldest entry's text for the message.
std::string DrainOpensslErrors() {
  unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

Unexpected<Error> CryptoError(std::string message) {
  std::string detail = DrainOpensslErrors();
  if (!detail.empty()) message += " (" + detail + ")";
  return MakeError(ErrorKind::kCrypto, std::move(message));
}

EVP_PKEY* Mutable(const evp_pkey_st* pkey) {
  // OpenSSL 3's EVP_DigestSignInit/VerifyInit take a non-const key but only up-reference it;
  // concurrent use of one key for signing or verification is documented as safe.
  return const_cast<EVP_PKEY*>(pkey);
}

EVP_MD* Sha256() { return const_cast<EVP_MD*>(Sha256Md()); }

int ExpectedBaseId(KeyScheme scheme) {
  switch (scheme) {
    case KeyScheme::kEd25519:
      return EVP_PKEY_ED25519;
    case KeyScheme::kEcdsaP256:
      return EVP_PKEY_EC;
    case KeyScheme::kRsaPssSha256:
      return EVP_PKEY_RSA;
  }
  return EVP_PKEY_NONE;
}

// Checks that a key (public or private) is what `scheme` requires.
Status CheckKeyMatchesScheme(KeyScheme scheme, const EVP_PKEY* pkey) {
  const int base_id = EVP_PKEY_get_base_id(pkey);
  if (base_id != ExpectedBaseId(scheme)) {
    return MakeError(ErrorKind::kCrypto, std::string("key type ") + OBJ_nid2sn(base_id) +
                                             " does not match scheme " +
                                             std::string(SchemeName(scheme)));
  }
  if (scheme == KeyScheme::kEcdsaP256) {
    char group[64] = {};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &length) != 1) {
      return CryptoError("cannot read the curve of an EC key");
    }
    if (std::strcmp(group, SN_X9_62_prime256v1) != 0) {
      return MakeError(ErrorKind::kCrypto, std::string("EC key is on curve ") + group +
                                               ", scheme ecdsa-sha2-nistp256 requires P-256");
    }
  }
  if (scheme == KeyScheme::kRsaPssSha256) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < kMinRsaBits) {
      return MakeError(ErrorKind::kCrypto, "RSA key has " + std::to_string(bits) +
                                               " bits, at least " + std::to_string(kMinRsaBits) +
                                               " required");
    }
  }
  return {};
}

// For RSA, sets PSS with MGF1-SHA-256 and the given salt length on a sign/verify context.
bool ConfigurePss(EVP_PKEY_CTX* pctx, int salt_length) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, Sha256()) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_length) == 1;
}

}  // namespace

Result<EvpPkeyPtr> ParsePublicPem(KeyScheme scheme, std::string_view pem) {
  if (pem.size() > INT_MAX) return MakeError(ErrorKind::kCrypto, "PEM public key too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return CryptoError("BIO_new_mem_buf failed");
  // PEM_read_bio_PUBKEY accepts only "BEGIN PUBLIC KEY", i.e. a SubjectPublicKeyInfo.
  EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return CryptoError("keyval.public is not a PEM SubjectPublicKeyInfo");
  MDU_RETURN_IF_ERROR(CheckKeyMatchesScheme(scheme, pkey.get()));
  return pkey;
}

Result<EvpPkeyPtr> Ed25519PublicFromRaw(std::span<const uint8_t> raw32) {
  if (raw32.size() != 32) {
    return MakeError(ErrorKind::kCrypto,
                     "ed25519 public key must be 32 bytes, got " + std::to_string(raw32.size()));
  }
  EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw32.data(), raw32.size()));
  if (!pkey) return CryptoError("cannot load ed25519 public key");
  return pkey;
}

Result<std::string> PublicPem(const evp_pkey_st* pkey) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return CryptoError("BIO_new failed");
  if (PEM_write_bio_PUBKEY(bio.get(), Mutable(pkey)) != 1) {
    return CryptoError("cannot write the public key as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int): OpenSSL's type
  if (size <= 0 || data == nullptr) return CryptoError("empty PEM output");
  return std::string(data, static_cast<size_t>(size));
}

Result<std::vector<uint8_t>> Ed25519RawPublic(const evp_pkey_st* pkey) {
  std::vector<uint8_t> raw(32);
  size_t size = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &size) != 1 || size != 32) {
    return CryptoError("cannot read the raw ed25519 public key");
  }
  return raw;
}

bool EvpVerify(const evp_pkey_st* pkey, KeyScheme scheme, std::span<const uint8_t> message,
               std::span<const uint8_t> signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  // ed25519 is a one-shot scheme with its own internal SHA-512: no digest may be given.
  EVP_MD* md = scheme == KeyScheme::kEd25519 ? nullptr : Sha256();
  bool ok = EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, Mutable(pkey)) == 1;
  if (ok && scheme == KeyScheme::kRsaPssSha256) {
    // Any salt length: securesystemslib signs with the maximum, go-tuf and tuf-js with 32.
    ok = ConfigurePss(pctx, RSA_PSS_SALTLEN_AUTO);
  }
  ok = ok && EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                              message.size()) == 1;
  // A bad signature leaves decoding errors on the queue; they are the expected outcome here.
  ERR_clear_error();
  return ok;
}

Result<EvpPkeyPtr> GeneratePrivate(KeyScheme scheme) {
  EVP_PKEY* raw = nullptr;
  switch (scheme) {
    case KeyScheme::kEd25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyScheme::kEcdsaP256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyScheme::kRsaPssSha256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kGeneratedRsaBits));
      break;
  }
  if (raw == nullptr) {
    return CryptoError("cannot generate a " + std::string(SchemeName(scheme)) + " key");
  }
  return EvpPkeyPtr(raw);
}

Result<EvpPkeyPtr> PrivateFromPkcs8Der(KeyScheme scheme, std::span<const uint8_t> der) {
  if (der.size() > LONG_MAX) return MakeError(ErrorKind::kCrypto, "PKCS#8 input too large");
  const unsigned char* p = der.data();
  Pkcs8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (!p8) return CryptoError("private key is not PKCS#8 DER");
  if (p != der.data() + der.size()) {
    return MakeError(ErrorKind::kCrypto, "trailing bytes after the PKCS#8 private key");
  }
  EvpPkeyPtr pkey(EVP_PKCS82PKEY(p8.get()));
  if (!pkey) return CryptoError("cannot load the PKCS#8 private key");
  MDU_RETURN_IF_ERROR(CheckKeyMatchesScheme(scheme, pkey.get()));
  return pkey;
}

Result<EvpPkeyPtr> Ed25519PrivateFromSeed(std::span<const uint8_t> seed32) {
  if (seed32.size() != 32) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "ed25519 seed must be 32 bytes, got " + std::to_string(seed32.size()));
  }
  EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed32.data(), seed32.size()));
  if (!pkey) return CryptoError("cannot load the ed25519 seed");
  return pkey;
}

Result<std::vector<uint8_t>> PrivateToPkcs8Der(const evp_pkey_st* pkey) {
  Pkcs8Ptr p8(EVP_PKEY2PKCS8(pkey));
  if (!p8) return CryptoError("cannot convert the private key to PKCS#8");
  unsigned char* der = nullptr;
  const int size = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  if (size <= 0 || der == nullptr) return CryptoError("cannot encode the PKCS#8 private key");
  std::vector<uint8_t> out(der, der + size);
  OPENSSL_clear_free(der, static_cast<size_t>(size));
  return out;
}

Result<EvpPkeyPtr> PublicFromPrivate(KeyScheme scheme, const evp_pkey_st* pkey) {
  if (scheme == KeyScheme::kEd25519) {
    MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, Ed25519RawPublic(pkey));
    return Ed25519PublicFromRaw(raw);
  }
  // Round trip through SubjectPublicKeyInfo DER: drops the secret, keeps only the public half.
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(Mutable(pkey), &der);
  if (size <= 0 || der == nullptr) return CryptoError("cannot encode the public key");
  const unsigned char* p = der;
  EvpPkeyPtr pub(d2i_PUBKEY(nullptr, &p, size));
  OPENSSL_free(der);
  if (!pub) return CryptoError("cannot decode the public key");
  return pub;
}

Result<std::vector<uint8_t>> EvpSign(const evp_pkey_st* pkey, KeyScheme scheme,
                                     std::span<const uint8_t> message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return CryptoError("EVP_MD_CTX_new failed");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  EVP_MD* md = scheme == KeyScheme::kEd25519 ? nullptr : Sha256();
  if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, Mutable(pkey)) != 1) {
    return CryptoError("cannot start a " + std::string(SchemeName(scheme)) + " signature");
  }
  if (scheme == KeyScheme::kRsaPssSha256 && !ConfigurePss(pctx, kPssSaltLength)) {
    return CryptoError("cannot configure RSA-PSS");
  }
  size_t size = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &size, message.data(), message.size()) != 1) {
    return CryptoError("cannot size the signature");
  }
  std::vector<uint8_t> signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) != 1) {
    return CryptoError("signing failed");
  }
  signature.resize(size);  // DER ECDSA signatures are shorter than the maximum
  return signature;
}

}  // namespace mdu::crypto::internal
