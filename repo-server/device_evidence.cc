#include "repo-server/device_evidence.h"

#include <algorithm>
#include <utility>

#include "core/common/hex.h"
#include "proto/report_signing.h"

namespace mdu::server {

Result<IssuedNonce> NonceRegistry::Issue(std::string_view device_id) {
  MDU_ASSIGN_OR_RETURN(std::string nonce, evidence::RandomBytes(evidence::kNonceBytes));
  const UnixSeconds now = clock_.Now();
  std::lock_guard lock(mu_);
  // Forget what expired or was consumed at the front of the global order.
  while (!order_.empty()) {
    auto it = nonces_.find(order_.front());
    if (it != nonces_.end() && it->second.expires >= now && nonces_.size() < kTotal) break;
    if (it != nonces_.end()) DropLocked(order_.front());
    order_.pop_front();
  }
  std::deque<std::string>& mine = by_device_[std::string(device_id)];
  std::erase_if(mine, [this](const std::string& n) { return !nonces_.contains(n); });
  while (mine.size() >= kPerDevice) {
    nonces_.erase(mine.front());
    mine.pop_front();
  }
  IssuedNonce issued{nonce, now + kLifetimeSeconds};
  nonces_.emplace(nonce, Entry{std::string(device_id), issued.expires});
  mine.push_back(nonce);
  order_.push_back(std::move(nonce));
  return issued;
}

Status NonceRegistry::Consume(std::string_view device_id, std::string_view nonce) {
  const UnixSeconds now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = nonces_.find(nonce);
  if (it == nonces_.end()) {
    return MakeError(ErrorKind::kPolicy,
                     "unknown report nonce (never issued by this server, already used, or "
                     "issued before a restart): ask GetReportNonce for a fresh one");
  }
  Entry entry = std::move(it->second);
  DropLocked(it->first);
  if (entry.device_id != device_id) {
    return MakeError(ErrorKind::kPolicy, "report nonce was issued to device " + entry.device_id +
                                             ", not to " + std::string(device_id));
  }
  if (entry.expires < now) {
    return MakeError(ErrorKind::kPolicy, "report nonce expired " +
                                             std::to_string(now - entry.expires) +
                                             " s ago: ask GetReportNonce for a fresh one");
  }
  return {};
}

size_t NonceRegistry::size() const {
  std::lock_guard lock(mu_);
  return nonces_.size();
}

void NonceRegistry::DropLocked(std::string nonce) {
  auto it = nonces_.find(nonce);
  if (it == nonces_.end()) return;
  auto device = by_device_.find(it->second.device_id);
  nonces_.erase(it);
  if (device == by_device_.end()) return;
  std::erase(device->second, nonce);
  if (device->second.empty()) by_device_.erase(device);
}

Result<VerifiedSigner> VerifyReportSignature(std::string_view certificate_pem,
                                             std::string_view payload, std::string_view signature) {
  auto certificate = evidence::DeviceCertificate::FromPem(certificate_pem);
  if (!certificate) return MakeError(certificate.error().WithContext("device certificate"));
  if (!certificate->Verify(payload, signature)) {
    return MakeError(ErrorKind::kPolicy,
                     "report signature does not verify with the key of the client certificate "
                     "(sha256 " +
                         certificate->sha256() + ")");
  }
  return VerifiedSigner{certificate->pem(), certificate->sha256()};
}

Result<bool> ReportIntake::Accept(ReportRecord record, std::string_view nonce,
                                  std::string_view signature, std::string_view signed_payload,
                                  std::string_view peer_certificate_pem) {
  MDU_ASSIGN_OR_RETURN(ReportRecord checked, Check(std::move(record), nonce, signature,
                                                   signed_payload, peer_certificate_pem));
  return store_.PutReport(checked);
}

Result<ReportRecord> ReportIntake::Check(ReportRecord record, std::string_view nonce,
                                         std::string_view signature,
                                         std::string_view signed_payload,
                                         std::string_view peer_certificate_pem) {
  if (nonce.size() > kMaxNonceBytes || signature.size() > kMaxSignatureBytes) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "report nonce over 64 bytes or signature over 1 KiB");
  }
  record.received_time = clock_.Now();
  record.verified = false;
  record.certificate_sha256.clear();
  record.certificate_pem.clear();
  if (require_signatures_) {
    if (nonce.empty() || signature.empty()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "report is not signed: with mutual TLS every report carries a nonce from "
                       "GetReportNonce and the device key's signature (repository.proto, "
                       "\"Report signatures\")");
    }
    if (peer_certificate_pem.empty()) {
      return MakeError(ErrorKind::kPolicy, "no client certificate to verify the report with");
    }
    // The nonce is spent before the signature is checked: a refused report burns it too.
    MDU_RETURN_IF_ERROR(nonces_.Consume(record.device_id, nonce));
    auto signer = VerifyReportSignature(peer_certificate_pem, signed_payload, signature);
    if (!signer) {
      if (signer.error().kind() == ErrorKind::kPolicy) return MakeError(signer.error());
      return MakeError(ErrorKind::kPolicy, signer.error().ToString());
    }
    record.verified = true;
    record.certificate_sha256 = std::move(signer->certificate_sha256);
    record.certificate_pem = std::move(signer->certificate_pem);
  }
  return record;
}

}  // namespace mdu::server
