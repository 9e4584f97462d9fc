// Delivery of the outbox (client-agent/report/outbox.h) to repo-server: for each pending report,
// oldest first, ask the server for a fresh nonce, sign the report with the device key over that
// nonce (proto/report_signing.h), send it, and remove the file once the server acknowledged it.
//
// Failures: an outage (server unreachable, overloaded, deadline) stops the flush and leaves the
// report and everything after it on disk for the next flush; a refusal of the report itself
// (malformed, bad signature, ...) moves it to the outbox's rejected/ folder and goes on, so one
// bad report never blocks the others.
//
// Ownership: FlushOutbox borrows everything for the duration of the call.
#ifndef MDU_CLIENT_AGENT_REPORT_SENDER_H_
#define MDU_CLIENT_AGENT_REPORT_SENDER_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "client-agent/report/outbox.h"
#include "core/common/error.h"
#include "proto/report_signing.h"

namespace mdu::agent::report {

// The server end, behind an interface so the flush logic is tested without a network.
// Errors: kDownload for an outage (retry later), kPolicy or kInvalidArgument when the server
// refused the request itself (do not resend as is).
class ReportChannel {
 public:
  virtual ~ReportChannel() = default;
  virtual Result<std::string> GetNonce(const std::string& device_id) = 0;
  // True when newly stored, false when the server already had this report id.
  virtual Result<bool> Send(const ReportMessage& message) = 0;
};

struct ReportServerOptions {
  std::string address;               // host:port
  bool plaintext = false;            // only for loopback tests (repo-server --insecure)
  std::string ca_cert_pem;           // trusted CA of the server's certificate
  std::string client_cert_pem;       // the device certificate (mutual TLS)
  std::string client_key_pem;        // its private key
  std::string server_name_override;  // TLS name to check instead of the address's host
  std::chrono::seconds timeout{30};  // per call
};

// gRPC (DeviceService) over TLS with the device certificate, or plaintext.
Result<std::unique_ptr<ReportChannel>> NewGrpcReportChannel(const ReportServerOptions& options);

struct FlushResult {
  int sent = 0;                 // acknowledged and newly stored
  int duplicates = 0;           // acknowledged, the server already had them (a resend)
  int rejected = 0;             // refused for good, moved to rejected/
  int remaining = 0;            // still pending (an outage stopped the flush)
  std::optional<Error> outage;  // why the flush stopped early
};

// `key` signs each report over a fresh nonce; without it (plaintext test servers) reports go
// unsigned. Errors only for local failures (the outbox directory); outages are in the result.
Result<FlushResult> FlushOutbox(Outbox& outbox, ReportChannel& channel,
                                const evidence::DeviceKey* key);

// Signs `message` in place: sets nonce, then signature over evidence::SigningPayload.
Status SignReport(ReportMessage& message, const std::string& nonce, const evidence::DeviceKey& key);

}  // namespace mdu::agent::report

#endif  // MDU_CLIENT_AGENT_REPORT_SENDER_H_
