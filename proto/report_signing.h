// Device evidence: the bytes a device signs for a report and the X.509/private-key operations
// around them, shared by repo-server (verifies) and client-agent (signs). The payload format is
// part of the API and documented in proto/mdu/v1/repository.proto ("Report signatures"); any
// other implementation must produce the same bytes.
//
// This module is the only one of the pair that includes OpenSSL (report_signing.cc, linked
// PRIVATE); this header forward-declares the handle type it keeps.
//
// It includes no protobuf either: the payloads are templates over the report message, so the
// server signs/verifies its full messages (mdu::v1) and the agent its protobuf-lite ones
// (mdu::v1::wire, same fields) with one implementation and byte-identical payloads, and each
// program links only the protobuf runtime it uses.
//
// Ownership and thread-safety: DeviceCertificate and DeviceKey own their OpenSSL key and are
// move-only; const methods may run concurrently (each call makes its own EVP context).
#ifndef MDU_PROTO_REPORT_SIGNING_H_
#define MDU_PROTO_REPORT_SIGNING_H_

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace mdu::evidence {

inline constexpr std::string_view kPayloadDomain = "mdu.v1.report-signature\n";
inline constexpr size_t kNonceBytes = 32;

// The payload encoding: the domain separator, the kind, then each field as a 4-byte big-endian
// length and its bytes; integers as decimal ASCII, bools as "0"/"1".
class PayloadWriter {
 public:
  explicit PayloadWriter(std::string_view kind);
  PayloadWriter& Add(std::string_view field);
  PayloadWriter& Add(int64_t value);
  PayloadWriter& Add(bool value);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// The report kinds, recognized by their fields, in either generated form (mdu::v1::X or
// mdu::v1::wire::X).
template <typename M>
concept InstallationReportMessage = requires(const M& m) {
  { m.report_id() } -> std::convertible_to<std::string_view>;
  { m.phase() } -> std::convertible_to<int64_t>;
  { m.success() } -> std::same_as<bool>;
  { m.log_excerpt() } -> std::convertible_to<std::string_view>;
};
template <typename M>
concept SecurityEventMessage = requires(const M& m) {
  { m.event_id() } -> std::convertible_to<std::string_view>;
  { m.subject() } -> std::convertible_to<std::string_view>;
};
template <typename M>
concept InventoryReportMessage = requires(const M& m) {
  { m.report_id() } -> std::convertible_to<std::string_view>;
  { m.installed_size() } -> std::convertible_to<int64_t>;
};

// The signed bytes of each report kind (the `signature` field itself is not part of them).
template <InstallationReportMessage M>
std::string SigningPayload(const M& report) {
  return PayloadWriter("installation")
      .Add(report.report_id())
      .Add(report.device_id())
      .Add(report.target())
      .Add(report.from_version())
      .Add(report.to_version())
      .Add(static_cast<int64_t>(report.phase()))
      .Add(report.success())
      .Add(report.error_code())
      .Add(report.log_excerpt())
      .Add(static_cast<int64_t>(report.device_time()))
      .Add(report.nonce())
      .Take();
}

template <SecurityEventMessage M>
std::string SigningPayload(const M& event) {
  return PayloadWriter("security_event")
      .Add(event.event_id())
      .Add(event.device_id())
      .Add(event.kind())
      .Add(event.subject())
      .Add(event.detail())
      .Add(static_cast<int64_t>(event.device_time()))
      .Add(event.nonce())
      .Take();
}

template <InventoryReportMessage M>
std::string SigningPayload(const M& inventory) {
  PayloadWriter writer("inventory");
  writer.Add(inventory.report_id())
      .Add(inventory.device_id())
      .Add(static_cast<int64_t>(inventory.device_time()))
      .Add(static_cast<int64_t>(inventory.installed_size()));
  for (const auto& target : inventory.installed()) {
    writer.Add(target.name())
        .Add(target.version())
        .Add(static_cast<int64_t>(target.security_version()))
        .Add(target.sha256())
        .Add(target.sbom_sha256());
  }
  return writer.Add(inventory.nonce()).Take();
}

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
