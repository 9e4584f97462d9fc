#include "proto/report_signing.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/common/hex.h"

namespace mdu::evidence {
namespace {

// ---- OpenSSL helpers ----

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemoryBio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// Accepts the key types of the API: Ed25519, EC on P-256, RSA of at least 2048 bits.
Status CheckKeyType(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519:
      return {};
    case EVP_PKEY_EC: {
      char curve[64] = {};
      size_t length = 0;
      if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &length) == 1 &&
          (std::string_view(curve) == "prime256v1" || std::string_view(curve) == "P-256")) {
        return {};
      }
      return MakeError(ErrorKind::kCrypto, "EC key is not on P-256");
    }
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key) >= 2048) return {};
      return MakeError(ErrorKind::kCrypto, "RSA key shorter than 2048 bits");
    default:
      return MakeError(ErrorKind::kCrypto,
                       "device key must be Ed25519, ECDSA P-256 or RSA (>= 2048 bits)");
  }
}

// Ed25519 signs the message itself; the others SHA-256 of it (RSA with PSS, salt 32).
bool InitContext(EVP_MD_CTX* ctx, EVP_PKEY* key, bool sign) {
  const bool ed25519 = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
  const EVP_MD* md = ed25519 ? nullptr : EVP_sha256();
  EVP_PKEY_CTX* pctx = nullptr;
  int ok = sign ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, key)
                : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key);
  if (ok != 1) return false;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
  }
  return true;
}

std::vector<std::string> UriNames(X509* cert) {
  std::vector<std::string> uris;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

}  // namespace

void EvpPkeyFree::operator()(evp_pkey_st* pkey) const { EVP_PKEY_free(pkey); }

PayloadWriter::PayloadWriter(std::string_view kind) {
  out_.append(kPayloadDomain);
  Add(kind);
}

PayloadWriter& PayloadWriter::Add(std::string_view field) {
  const auto size = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out_.push_back(static_cast<char>((size >> shift) & 0xff));
  }
  out_.append(field);
  return *this;
}

PayloadWriter& PayloadWriter::Add(int64_t value) { return Add(std::to_string(value)); }

PayloadWriter& PayloadWriter::Add(bool value) { return Add(std::string_view(value ? "1" : "0")); }

Result<std::string> RandomBytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return MakeError(ErrorKind::kCrypto, "RAND_bytes failed");
  }
  return out;
}

Result<DeviceCertificate> DeviceCertificate::FromPem(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return MakeError(ErrorKind::kCrypto, "out of memory reading certificate");
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return MakeError(ErrorKind::kCrypto, "not a PEM X.509 certificate");
  DeviceCertificate out;
  out.key_.reset(X509_get_pubkey(cert.get()));
  if (out.key_ == nullptr) return MakeError(ErrorKind::kCrypto, "certificate has no usable key");
  MDU_RETURN_IF_ERROR(CheckKeyType(out.key_.get()));

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &digest_length) != 1) {
    return MakeError(ErrorKind::kCrypto, "certificate digest failed");
  }
  out.sha256_ = HexEncode(std::span<const uint8_t>(digest, digest_length));

  BioPtr written(BIO_new(BIO_s_mem()));
  if (written == nullptr || PEM_write_bio_X509(written.get(), cert.get()) != 1) {
    return MakeError(ErrorKind::kCrypto, "certificate PEM encoding failed");
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(written.get(), &data);
  out.pem_.assign(data, static_cast<size_t>(length));
  out.uris_ = UriNames(cert.get());
  return out;
}

bool DeviceCertificate::Verify(std::string_view payload, std::string_view signature) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || !InitContext(ctx.get(), key_.get(), /*sign=*/false)) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(payload.data()),
                          payload.size()) == 1;
}

Result<DeviceKey> DeviceKey::FromPem(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return MakeError(ErrorKind::kCrypto, "out of memory reading key");
  DeviceKey out;
  // No passphrase callback: an encrypted key fails here instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) -> int { return -1; };
  out.key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (out.key_ == nullptr) {
    return MakeError(ErrorKind::kCrypto, "not an unencrypted PEM private key");
  }
  MDU_RETURN_IF_ERROR(CheckKeyType(out.key_.get()));
  return out;
}

Result<std::string> DeviceKey::Sign(std::string_view payload) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || !InitContext(ctx.get(), key_.get(), /*sign=*/true)) {
    return MakeError(ErrorKind::kCrypto, "signing setup failed");
  }
  const auto* message = reinterpret_cast<const unsigned char*>(payload.data());
  size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, message, payload.size()) != 1) {
    return MakeError(ErrorKind::kCrypto, "signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     message, payload.size()) != 1) {
    return MakeError(ErrorKind::kCrypto, "signing failed");
  }
  signature.resize(length);
  return signature;
}

}  // namespace mdu::evidence
