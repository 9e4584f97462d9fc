// Device evidence on the server: single-use report nonces and the verification of a report's
// signature against the device's client certificate (format: proto/mdu/v1/repository.proto,
// "Report signatures"; payload and crypto: proto/report_signing.h). No gRPC here: service.cc
// hands in the certificate PEM the TLS layer verified.
//
// Nonces live in memory: a restart (or another replica) does not know them, and the device
// simply asks again. That keeps the store free of short-lived write traffic.
//
// Thread-safety: NonceRegistry's methods may be called concurrently. Ownership: the registry
// borrows `clock`, which must outlive it.
#ifndef MDU_REPO_SERVER_DEVICE_EVIDENCE_H_
#define MDU_REPO_SERVER_DEVICE_EVIDENCE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "repo-server/clock.h"
#include "repo-server/store.h"

namespace mdu::server {

struct IssuedNonce {
  std::string nonce;  // kNonceBytes random bytes
  UnixSeconds expires = 0;
};

class NonceRegistry {
 public:
  static constexpr int64_t kLifetimeSeconds = 300;
  static constexpr size_t kPerDevice = 64;    // older unexpired nonces are dropped
  static constexpr size_t kTotal = 1u << 18;  // across devices; the oldest are dropped

  explicit NonceRegistry(const Clock& clock) : clock_(clock) {}

  // A fresh nonce bound to `device_id`. kCrypto if the random generator fails.
  Result<IssuedNonce> Issue(std::string_view device_id);

  // Consumes `nonce` for `device_id`: a known nonce is forgotten whatever the outcome (also when
  // it belongs to another device, so a leaked nonce cannot be raced for). kPolicy when it is
  // unknown (never issued, already used, dropped, or issued before a restart), expired, or was
  // issued to another device.
  Status Consume(std::string_view device_id, std::string_view nonce);

  // Outstanding nonces (issued, not consumed, not dropped; expired ones may still count).
  size_t size() const;

 private:
  struct Entry {
    std::string device_id;
    UnixSeconds expires = 0;
  };
  void DropLocked(std::string nonce);  // by value: callers pass keys it erases

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> nonces_;                       // nonce -> owner
  std::map<std::string, std::deque<std::string>, std::less<>> by_device_;  // issue order
  std::deque<std::string> order_;  // issue order across devices (may hold consumed nonces)
};

// What a verified report carries into the store.
struct VerifiedSigner {
  std::string certificate_pem;
  std::string certificate_sha256;
};

// Checks a report signature: `signature` over `payload` with the key of `certificate_pem` (the
// TLS-verified client certificate). kPolicy naming the certificate when it does not verify,
// kCrypto when the certificate cannot be used.
Result<VerifiedSigner> VerifyReportSignature(std::string_view certificate_pem,
                                             std::string_view payload, std::string_view signature);

// The intake of device reports: evidence checks, then the idempotent store write.
//
// With `require_signatures` (mutual TLS) a report must carry a nonce and a signature: the nonce
// is consumed (NonceRegistry::Consume), then the signature verified with the client certificate;
// kInvalidArgument when either field is missing, kPolicy when the nonce or signature is refused.
// Without it (no device certificate to verify against: --insecure on loopback, or TLS without
// --client-ca) reports are stored as they come, marked unverified.
//
// Ownership: borrows `store` and `clock`, which must outlive it. Thread-safe.
class ReportIntake {
 public:
  static constexpr size_t kMaxNonceBytes = 64;
  static constexpr size_t kMaxSignatureBytes = 1024;

  ReportIntake(Store& store, const Clock& clock, bool require_signatures)
      : store_(store), clock_(clock), nonces_(clock), require_signatures_(require_signatures) {}

  Result<IssuedNonce> IssueNonce(std::string_view device_id) { return nonces_.Issue(device_id); }

  // `record` holds kind, id, device_id, release, success and payload (the serialized report,
  // nonce and signature included); received_time and the evidence fields are filled here.
  // `signed_payload` is evidence::SigningPayload of the report; `peer_certificate_pem` the
  // TLS-verified client certificate ("" without one). True if newly stored.
  Result<bool> Accept(ReportRecord record, std::string_view nonce, std::string_view signature,
                      std::string_view signed_payload, std::string_view peer_certificate_pem);
  // The evidence checks of Accept without the write: the record to store (received_time and
  // evidence fields filled), for a caller that writes through a ReportWriter (group commit).
  Result<ReportRecord> Check(ReportRecord record, std::string_view nonce,
                             std::string_view signature, std::string_view signed_payload,
                             std::string_view peer_certificate_pem);

  bool require_signatures() const { return require_signatures_; }

 private:
  Store& store_;
  const Clock& clock_;
  NonceRegistry nonces_;
  const bool require_signatures_;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_DEVICE_EVIDENCE_H_
