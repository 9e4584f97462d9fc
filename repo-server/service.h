// The gRPC edge of the server: DeviceService and OperatorService (proto/mdu/v1/repository.proto)
// on the callback API, translating requests into Repository/Store calls and mdu::Error kinds
// into gRPC status codes. The only server files, with server.cc, that include gRPC.
//
// Hot path: GetMetadata is a raw (ByteBuffer) method: the response is the protobuf header bytes
// followed by a slice that references the RepositoryView's bytes (kept alive by a shared_ptr
// held by the slice), so no metadata byte is copied per request and no lock is taken.
//
// Blocking: store reads/writes (target chunks, reports) and publish verification run on gRPC's
// callback threads. TODO: move them to a bounded executor before the load benchmarks.
//
// Ownership: the services borrow `repository` and `clock`, which must outlive them.
// Thread-safety: all methods may run concurrently.
#ifndef MDU_REPO_SERVER_SERVICE_H_
#define MDU_REPO_SERVER_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "repo-server/audit_log.h"
#include "repo-server/auth.h"
#include "repo-server/clock.h"
#include "repo-server/rate_limiter.h"
#include "repo-server/report_writer.h"
#include "repo-server/repository.h"
#include "repo-server/upload_limits.h"

namespace mdu::server {

// kInvalidArgument/kBadMetadata/kLimitExceeded -> INVALID_ARGUMENT, kNotFound -> NOT_FOUND,
// kPolicy -> PERMISSION_DENIED, kIo/kInternal/kCrypto -> INTERNAL, TUF verification kinds ->
// FAILED_PRECONDITION. The status message is the error's ToString().
grpc::Status ToGrpcStatus(const Error& error);

// The FindDevices index terms of a serialized InventoryReport: for each installed target
// "n:<name>", "v:<version>", "s:<sha256>", "b:<sbom_sha256>" (non-empty fields), without
// duplicates. Empty for a payload that does not parse.
std::vector<std::string> InventoryIndexTerms(std::string_view inventory_payload);

// `certificate_identity` (mutual TLS): ReportInstallation and ReportSecurityEvent must name the
// device id of the caller's verified client certificate (repo-server/auth.h), else
// PERMISSION_DENIED.
std::unique_ptr<grpc::Service> NewDeviceService(Repository& repository, const Clock& clock,
                                                bool certificate_identity = false);
// Operational guards of the device service (all borrowed, may be null; they must outlive it).
struct DeviceGuards {
  bool certificate_identity = false;  // as above
  AuditLog* audit = nullptr;          // records refused device-id claims (device_claim_refused)
  // Per-device token buckets keyed by the certificate's device id (so only with
  // certificate_identity): a call over the rate gets RESOURCE_EXHAUSTED.
  RateLimiter* rate_limiter = nullptr;
  // Group commit of reports (repo-server/report_writer.h); max_batch = 1 turns it off.
  ReportWriterOptions report_writer;
};
std::unique_ptr<grpc::Service> NewDeviceService(Repository& repository, const Clock& clock,
                                                const DeviceGuards& guards);

// What a configuration reload (SIGHUP, server.cc) may change in the operator service. Each call
// reads it once (a publish stream at its start).
//   credentials  null = no operator authentication (the --insecure loopback development mode):
//                every caller is the anonymous publisher. Otherwise every call needs a known
//                bearer token (else UNAUTHENTICATED); Publish needs the publisher role (else
//                PERMISSION_DENIED).
//   upload, publish_timeout   upload caps (RESOURCE_EXHAUSTED when crossed) and the time from a
//                stream's start to its commit (DEADLINE_EXCEEDED after).
//   publish_idle_timeout      a stream that sends nothing for this long is ended by the server
//                (DEADLINE_EXCEEDED, audited) whatever the client's deadline.
//   max_concurrent_publishes  one more publish stream gets RESOURCE_EXHAUSTED (audited).
struct OperatorPolicy {
  std::shared_ptr<const OperatorCredentials> credentials;
  UploadLimits upload;
  std::chrono::seconds publish_timeout{3600};
  std::chrono::seconds publish_idle_timeout{60};
  int max_concurrent_publishes = 1;
};

// The current OperatorPolicy, replaced as a whole. Thread-safe.
class OperatorSettings {
 public:
  explicit OperatorSettings(OperatorPolicy policy)
      : current_(std::make_shared<const OperatorPolicy>(std::move(policy))) {}
  std::shared_ptr<const OperatorPolicy> Get() const { return current_.load(); }
  void Set(OperatorPolicy policy) {
    current_.store(std::make_shared<const OperatorPolicy>(std::move(policy)));
  }

 private:
  std::atomic<std::shared_ptr<const OperatorPolicy>> current_;
};

// `settings` (borrowed, must outlive the service): see OperatorPolicy. `audit` (borrowed, may be
// null): each credential use or refusal and each refused publish stream is recorded;
// ListAuditRecords reads the log. `refusals` (borrowed, may be null = every refusal recorded):
// which refused credentials get their own record; the others are summarized in one
// `credential_refusals_suppressed` record per interval.
std::unique_ptr<grpc::Service> NewOperatorService(Repository& repository,
                                                  const OperatorSettings& settings,
                                                  AuditLog* audit,
                                                  RefusalThrottle* refusals = nullptr);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_SERVICE_H_
