// Device evidence: the bytes a device signs for a report and the X.509/private-key operations
// around them, shared by repo-server (verifies) and client-agent (signs). The payload format is
// part of the API and documented in proto/mdu/v1/repository.proto ("Report signatures"); any
// other implementation must produce the same bytes.
//
// This module is the only one of the pair that includes OpenSSL (report_signing.cc, linked
// PRIVATE); this header forward-declares the handle type it keeps.
//
// Ownership and thread-safety: DeviceCertificate and DeviceKey own their OpenSSL key and are
// move-only; const methods may run concurrently (each call makes its own EVP context).
#ifndef MDU_PROTO_REPORT_SIGNING_H_
#define MDU_PROTO_REPORT_SIGNING_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "mdu/v1/repository.pb.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace mdu::evidence {

inline constexpr std::string_view kPayloadDomain = "mdu.v1.report-signature\n";
inline constexpr size_t kNonceBytes = 32;

// The signed bytes of each report kind (the `signature` field itself is not part of them).
std::string SigningPayload(const ::mdu::v1::InstallationReport& report);
std::string SigningPayload(const ::mdu::v1::SecurityEvent& event);
std::string SigningPayload(const ::mdu::v1::InventoryReport& inventory);

// `count` bytes from OpenSSL's CSPRNG; kCrypto if it fails.
Result<std::string> RandomBytes(size_t count);

struct EvpPkeyFree {
  void operator()(evp_pkey_st* pkey) const;
};

// A device's X.509 certificate (its public key), parsed from PEM.
class DeviceCertificate {
 public:
  // The first certificate of `pem`. kCrypto if it does not parse or its key is not Ed25519,
  // ECDSA P-256 or RSA >= 2048 bits.
  static Result<DeviceCertificate> FromPem(std::string_view pem);

  // True iff `signature` is the device's signature of `payload` (see the proto for the
  // algorithm per key type). Malformed signatures are simply false.
  bool Verify(std::string_view payload, std::string_view signature) const;

  // The certificate re-encoded as PEM (just this certificate) and lowercase hex sha256 of its DER.
  const std::string& pem() const { return pem_; }
  const std::string& sha256() const { return sha256_; }
  // The URI subject alternative names (e.g. "urn:mdu:device:pump-001").
  const std::vector<std::string>& uris() const { return uris_; }

 private:
  std::unique_ptr<evp_pkey_st, EvpPkeyFree> key_;
  std::string pem_;
  std::string sha256_;
  std::vector<std::string> uris_;
};

// The device's private key (unencrypted PEM, PKCS#8 or traditional), the one of its TLS
// certificate.
class DeviceKey {
 public:
  // kCrypto if it does not parse or is not an Ed25519, ECDSA P-256 or RSA >= 2048 key.
  static Result<DeviceKey> FromPem(std::string_view pem);

  Result<std::string> Sign(std::string_view payload) const;

 private:
  std::unique_ptr<evp_pkey_st, EvpPkeyFree> key_;
};

}  // namespace mdu::evidence

#endif  // MDU_PROTO_REPORT_SIGNING_H_
