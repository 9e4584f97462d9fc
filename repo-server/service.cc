#include "repo-server/service.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/json/value.h"
#include "core/metadata/metadata.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "proto/report_signing.h"
#include "repo-server/audit_log.h"
#include "repo-server/auth.h"
#include "repo-server/device_evidence.h"
#include "repo-server/publish_verifier.h"

namespace mdu::server {
namespace {

namespace v1 = ::mdu::v1;

constexpr size_t kMaxExcerptBytes = 16u << 10;
constexpr size_t kMaxTextBytes = 1u << 10;

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status PermissionDenied(const std::string& message) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message);
}

// The device id of the verified client certificate (repo-server/auth.h). gRPC lists URI SANs
// under "x509_uri" (and, with the other SAN types, under "x509_subject_alternative_name").
Result<std::string> CertificateDeviceId(const grpc::CallbackServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return MakeError(ErrorKind::kPolicy, "no verified client certificate");
  }
  std::vector<std::string> uris;
  for (const char* property : {"x509_uri", "x509_subject_alternative_name"}) {
    for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
      uris.emplace_back(value.data(), value.size());
    }
  }
  return DeviceIdFromUris(uris);
}

// The PEM of the verified client certificate ("" without mutual TLS).
std::string PeerCertificatePem(const grpc::CallbackServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return {};
  for (const grpc::string_ref& value : auth->FindPropertyValues("x509_pem_cert")) {
    return std::string(value.data(), value.size());
  }
  return {};
}

bool IsHexDigestOrEmpty(std::string_view text) {
  return text.empty() ||
         (text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos);
}

grpc::Status CheckInventory(const v1::InventoryReport& inventory) {
  constexpr int kMaxInstalled = 64;
  if (!IsValidIdentifier(inventory.report_id()) || !IsValidIdentifier(inventory.device_id())) {
    return InvalidArgument("report_id and device_id must be 1..128 of [A-Za-z0-9._:-]");
  }
  if (inventory.installed_size() > kMaxInstalled) {
    return InvalidArgument("an inventory lists at most 64 installed targets");
  }
  for (const v1::InstalledTarget& target : inventory.installed()) {
    if (target.name().empty() || target.name().size() > kMaxTextBytes ||
        target.version().size() > kMaxTextBytes) {
      return InvalidArgument("installed target name must be 1..1024 bytes, version <= 1024");
    }
    if (!IsHexDigestOrEmpty(target.sha256()) || !IsHexDigestOrEmpty(target.sbom_sha256())) {
      return InvalidArgument("installed target " + target.name().substr(0, 200) +
                             ": sha256 and sbom_sha256 must be 64 lowercase hex digits or empty");
    }
  }
  return grpc::Status::OK;
}

// Publish rejections: content the repository needs but nobody sent is a failed precondition of
// the publish, not a missing resource of the server.
grpc::Status ToPublishStatus(const Error& error) {
  if (error.kind() == ErrorKind::kNotFound) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, error.ToString());
  }
  return ToGrpcStatus(error);
}

// ---- DeviceService ----

// The release of a SharedBytes held by a slice.
void ReleaseShared(void* holder) { delete static_cast<SharedBytes*>(holder); }

// Appends `value` as a protobuf varint; returns the new end.
uint8_t* PutVarint(uint8_t* out, uint64_t value) {
  for (; value >= 0x80; value >>= 7) *out++ = static_cast<uint8_t>((value & 0x7f) | 0x80);
  *out++ = static_cast<uint8_t>(value);
  return out;
}

void ReleaseChunk(void* holder) { delete static_cast<std::string*>(holder); }

// The serialized TargetChunk{offset = 1, data = 2, total_length = 3} (zero values omitted, as
// protobuf does; data last, see below), built around the chunk bytes:
// `data` = (*chunk)[start, start + length) is referenced by a slice that owns `chunk`, so no
// chunk byte is copied after the store read.
grpc::ByteBuffer EncodeTargetChunk(uint64_t offset, std::unique_ptr<std::string> chunk,
                                   size_t start, size_t length, uint64_t total_length) {
  // Fields 1 and 3 go before the data (protobuf accepts any order): a client that streams
  // knows the announced length before the first byte, and need not hold the chunk to check it.
  uint8_t head[36];  // three tags and three varints of at most 10 bytes
  uint8_t* end = head;
  if (offset != 0) {
    *end++ = 0x08;  // field 1, varint
    end = PutVarint(end, offset);
  }
  if (total_length != 0) {
    *end++ = 0x18;  // field 3, varint
    end = PutVarint(end, total_length);
  }
  if (length != 0) {
    *end++ = 0x12;  // field 2, length-delimited
    end = PutVarint(end, length);
  }
  grpc::Slice slices[2];
  size_t count = 0;
  if (end != head) slices[count++] = grpc::Slice(head, static_cast<size_t>(end - head));
  if (length != 0) {
    char* data = chunk->data() + start;
    slices[count++] = grpc::Slice(data, length, &ReleaseChunk, chunk.release());
  }
  return grpc::ByteBuffer(slices, count);
}

// Streams one target from `offset` (resume) in chunks of at most kBlobChunkBytes. GetTarget is a
// raw method so messages are built by EncodeTargetChunk without a protobuf copy.
//
// Read-ahead: while one message is with gRPC, the next chunk is read from the store, so a
// completed write is followed at once by the next. Writes carry the buffer hint: with the
// listener's GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE (kStreamWriteBufferBytes, server.cc) gRPC reports a
// write done while up to that many of its bytes are still queued, which keeps the connection fed
// while the next chunk is read. Memory per stream: the message in flight, the bytes gRPC still
// queues (< the write buffer size) and the chunk read ahead: about 2.5 chunks.
//
// Cancellation (client gone, deadline passed): OnCancel stops further reads and the write in
// flight completes not ok; the stream then finishes CANCELLED.
//
// Threads: reactions may run on any callback thread, also while another one is reading. Pump()
// is the one place that acts; a thread that finds another one pumping only records its news, and
// the pumping thread re-checks the state under the lock before it stops.
class TargetWriter final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  TargetWriter(Store& store, BlobInfo info, uint64_t offset)
      : store_(store), info_(std::move(info)), offset_(offset) {
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) stopped_ = true;
    }
    Pump();
  }
  void OnCancel() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  void OnDone() override { delete this; }

 private:
  // Called only from the handler (constructor) and reactions, so OnDone (which deletes this)
  // cannot run before it returns.
  void Pump() {
    std::unique_lock lock(mu_);
    if (pumping_ || finished_) return;
    pumping_ = true;
    while (true) {
      if (!writing_ && (stopped_ || (!ready_ && end_))) {
        // Nothing in flight: report the end (or the cancellation, or a read error).
        grpc::Status status = stopped_ ? grpc::Status(grpc::StatusCode::CANCELLED,
                                                      "client went away")
                                       : std::move(end_status_);
        finished_ = true;
        lock.unlock();
        Finish(std::move(status));
        return;
      }
      if (!writing_ && ready_) {
        in_flight_.Clear();
        in_flight_.Swap(&*ready_);  // ByteBuffer has no move; Swap moves the slices
        ready_.reset();
        writing_ = true;
        // Not the first write: it carries the response headers, and chttp2 does not start a
        // write for headers whose message has the buffer hint (the stream would stall when
        // the write buffer holds a whole chunk).
        grpc::WriteOptions options;
        if (!first_write_) options.set_buffer_hint();
        first_write_ = false;
        lock.unlock();
        StartWrite(&in_flight_, options);
        lock.lock();
        continue;
      }
      if (!ready_ && !end_ && !stopped_) {
        lock.unlock();
        grpc::ByteBuffer next;
        const bool read = ReadNext(next);  // the blocking store read, unlocked
        lock.lock();
        if (read) ready_.emplace().Swap(&next);
        continue;
      }
      break;  // a write in flight and the next message ready (or nothing left): wait
    }
    pumping_ = false;
  }

  // Fills `out` with the next message (and calls EndWith(OK) after the last one); false after
  // EndWith(error). offset_ and first_ belong to the pumping thread.
  bool ReadNext(grpc::ByteBuffer& out) {
    const uint64_t offset = offset_;
    const uint64_t total = first_ ? info_.length : 0;
    first_ = false;
    if (offset >= info_.length) {  // resume at the very end, or an empty target
      EndWith(grpc::Status::OK);
      grpc::ByteBuffer message = EncodeTargetChunk(offset, nullptr, 0, 0, total);
      out.Swap(&message);
      return true;
    }
    const uint64_t index = offset / info_.chunk_bytes;
    auto data = store_.ReadBlobChunk(info_.blob_id, index);
    if (!data) {
      EndWith(ToGrpcStatus(data.error()));
      return false;
    }
    const uint64_t start = offset - index * info_.chunk_bytes;
    if (data->size() <= start) {
      EndWith(grpc::Status(grpc::StatusCode::INTERNAL, "stored blob shorter than recorded"));
      return false;
    }
    const size_t length =
        static_cast<size_t>(std::min<uint64_t>(data->size() - start, info_.length - offset));
    offset_ = offset + length;
    if (offset_ >= info_.length) EndWith(grpc::Status::OK);
    grpc::ByteBuffer message =
        EncodeTargetChunk(offset, std::make_unique<std::string>(std::move(*data)),
                          static_cast<size_t>(start), length, total);
    out.Swap(&message);
    return true;
  }
  void EndWith(grpc::Status status) {
    std::lock_guard lock(mu_);
    end_ = true;
    end_status_ = std::move(status);
  }

  Store& store_;
  const BlobInfo info_;
  uint64_t offset_;  // of the next chunk to read (pumping thread only)
  bool first_ = true;
  std::mutex mu_;
  bool pumping_ = false;
  bool first_write_ = true;
  bool writing_ = false;   // in_flight_ is with gRPC
  bool stopped_ = false;   // cancelled or a write failed: read nothing more
  bool end_ = false;       // nothing more to read (end_status_ says why)
  bool finished_ = false;
  grpc::Status end_status_;
  std::optional<grpc::ByteBuffer> ready_;  // read ahead, not yet handed to gRPC
  grpc::ByteBuffer in_flight_;
};

using DeviceBase = v1::DeviceService::WithRawCallbackMethod_GetMetadata<
    v1::DeviceService::WithRawCallbackMethod_GetTarget<
        v1::DeviceService::WithCallbackMethod_ReportInstallation<
            v1::DeviceService::WithCallbackMethod_ReportSecurityEvent<
                v1::DeviceService::WithCallbackMethod_GetReportNonce<
                    v1::DeviceService::WithCallbackMethod_ReportInventory<
                        v1::DeviceService::Service>>>>>>;

class DeviceServiceImpl final : public DeviceBase {
 public:
  DeviceServiceImpl(Repository& repository, const Clock& clock, const DeviceGuards& guards)
      : repository_(repository),
        clock_(clock),
        certificate_identity_(guards.certificate_identity),
        audit_(guards.audit),
        limiter_(guards.rate_limiter),
        intake_(repository.store(), clock, guards.certificate_identity),
        writer_(repository.store(), guards.report_writer) {}

  grpc::ServerUnaryReactor* GetMetadata(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status admitted = Admit(*context);
    reactor->Finish(admitted.ok() ? ServeMetadata(*request, *response) : admitted);
    return reactor;
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* GetTarget(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) override {
    if (grpc::Status admitted = Admit(*context); !admitted.ok()) return Refuse(admitted);
    v1::GetTargetRequest parsed;
    grpc::ByteBuffer copy(*raw_request);  // shares the slices; Deserialize consumes its argument
    if (!grpc::SerializationTraits<v1::GetTargetRequest>::Deserialize(&copy, &parsed).ok()) {
      return Refuse(InvalidArgument("malformed GetTargetRequest"));
    }
    const v1::GetTargetRequest* request = &parsed;
    std::string sha256;
    if (request->has_path()) {
      if (auto valid = metadata::ValidateTargetPath(request->path()); !valid) {
        return Refuse(ToGrpcStatus(valid.error()));
      }
      auto location = repository_.view()->FindTarget(request->path());
      if (!location) {
        return Refuse(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "no current target " + request->path().substr(0, 200)));
      }
      sha256 = location->sha256;
    } else if (request->has_sha256()) {
      // "<sha256>" or the consistent-snapshot file name "<sha256>.<name>".
      sha256 = request->sha256().substr(0, 64);
      if (request->sha256().size() > 64 && request->sha256()[64] != '.') sha256.clear();
    } else {
      return Refuse(InvalidArgument("GetTarget needs a path or a sha256"));
    }
    auto info = repository_.store().GetTarget(sha256);
    if (!info) return Refuse(ToGrpcStatus(info.error()));
    if (request->offset() > info->length) {
      return Refuse(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                                 "offset " + std::to_string(request->offset()) +
                                     " is past the end (" + std::to_string(info->length) +
                                     " bytes)"));
    }
    return new TargetWriter(repository_.store(), std::move(*info), request->offset());
  }

  grpc::ServerUnaryReactor* ReportInstallation(grpc::CallbackServerContext* context,
                                               const v1::InstallationReport* request,
                                               v1::ReportAck* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = Admit(*context);
    if (status.ok()) status = CheckReport(*request);
    if (status.ok()) status = CheckIdentity(*context, request->device_id());
    if (status.ok()) {
      ReportRecord record;
      record.kind = ReportKind::kInstallation;
      record.id = request->report_id();
      record.device_id = request->device_id();
      record.release = request->to_version();
      record.success = request->success();
      record.payload = request->SerializeAsString();
      return Persist(*context, std::move(record), request->nonce(), request->signature(),
                     evidence::SigningPayload(*request), *response, reactor);
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* ReportSecurityEvent(grpc::CallbackServerContext* context,
                                                const v1::SecurityEvent* request,
                                                v1::ReportAck* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status;
    if (status = Admit(*context); !status.ok()) {
      // over the device's rate
    } else if (!IsValidIdentifier(request->event_id()) ||
               !IsValidIdentifier(request->device_id())) {
      status = InvalidArgument("event_id and device_id must be 1..128 of [A-Za-z0-9._:-]");
    } else if (request->detail().size() > kMaxExcerptBytes ||
               request->kind().size() > kMaxTextBytes ||
               request->subject().size() > kMaxTextBytes) {
      status = InvalidArgument("security event: detail over 16 KiB or kind/subject over 1 KiB");
    } else if (status = CheckIdentity(*context, request->device_id()); !status.ok()) {
      // refused: the certificate names another device
    } else {
      ReportRecord record;
      record.kind = ReportKind::kSecurityEvent;
      record.id = request->event_id();
      record.device_id = request->device_id();
      record.success = false;
      record.payload = request->SerializeAsString();
      return Persist(*context, std::move(record), request->nonce(), request->signature(),
                     evidence::SigningPayload(*request), *response, reactor);
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetReportNonce(grpc::CallbackServerContext* context,
                                           const v1::GetReportNonceRequest* request,
                                           v1::ReportNonce* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = Admit(*context);
    if (status.ok() && !IsValidIdentifier(request->device_id())) {
      status = InvalidArgument("device_id must be 1..128 of [A-Za-z0-9._:-]");
    }
    if (status.ok()) status = CheckIdentity(*context, request->device_id());
    if (status.ok()) {
      auto issued = intake_.IssueNonce(request->device_id());
      if (issued) {
        response->set_nonce(issued->nonce);
        response->set_expires(issued->expires);
      } else {
        status = ToGrpcStatus(issued.error());
      }
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* ReportInventory(grpc::CallbackServerContext* context,
                                            const v1::InventoryReport* request,
                                            v1::ReportAck* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = Admit(*context);
    if (status.ok()) status = CheckInventory(*request);
    if (status.ok()) status = CheckIdentity(*context, request->device_id());
    if (status.ok()) {
      ReportRecord record;
      record.kind = ReportKind::kInventory;
      record.id = request->report_id();
      record.device_id = request->device_id();
      record.payload = request->SerializeAsString();
      record.index_terms = InventoryIndexTerms(record.payload);
      return Persist(*context, std::move(record), request->nonce(), request->signature(),
                     evidence::SigningPayload(*request), *response, reactor);
    }
    reactor->Finish(status);
    return reactor;
  }

 private:
  grpc::Status ServeMetadata(const grpc::ByteBuffer& request, grpc::ByteBuffer& response) {
    v1::GetMetadataRequest parsed;
    grpc::ByteBuffer copy(request);  // shares the slices; Deserialize consumes its argument
    grpc::Status status =
        grpc::SerializationTraits<v1::GetMetadataRequest>::Deserialize(&copy, &parsed);
    if (!status.ok()) return InvalidArgument("malformed GetMetadataRequest");
    if (!IsValidIdentifier(parsed.role()) || parsed.version() < 0) {
      return InvalidArgument("role must be a role name and version >= 0");
    }
    if (parsed.role() == "timestamp" && parsed.version() != 0) {
      return InvalidArgument("timestamp is served unversioned (version 0)");
    }
    std::shared_ptr<const RepositoryView> view = repository_.view();
    const SharedBytes* bytes = view->Find(parsed.role(), parsed.version());
    if (bytes == nullptr) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          "no metadata " + parsed.role() + " version " +
              (parsed.version() == 0 ? std::string("current") : std::to_string(parsed.version())));
    }
    // GetMetadataResponse{content = 1}: tag, varint length, then the stored bytes themselves.
    const std::string& content = **bytes;
    uint8_t header[16];
    size_t n = 0;
    header[n++] = 0x0a;
    for (uint64_t length = content.size();; length >>= 7) {
      header[n++] = static_cast<uint8_t>(length < 0x80 ? length : (length & 0x7f) | 0x80);
      if (length < 0x80) break;
    }
    auto* holder = new SharedBytes(*bytes);
    grpc::Slice slices[2] = {
        grpc::Slice(header, n),
        grpc::Slice(const_cast<char*>(content.data()), content.size(), &ReleaseShared, holder)};
    response = grpc::ByteBuffer(slices, 2);
    return grpc::Status::OK;
  }

  static grpc::Status CheckReport(const v1::InstallationReport& report) {
    if (!IsValidIdentifier(report.report_id()) || !IsValidIdentifier(report.device_id())) {
      return InvalidArgument("report_id and device_id must be 1..128 of [A-Za-z0-9._:-]");
    }
    if (report.log_excerpt().size() > kMaxExcerptBytes) {
      return InvalidArgument("log_excerpt is larger than 16 KiB");
    }
    if (report.target().size() > kMaxTextBytes || report.from_version().size() > kMaxTextBytes ||
        report.to_version().size() > kMaxTextBytes || report.error_code().size() > kMaxTextBytes) {
      return InvalidArgument("target, versions and error_code are limited to 1 KiB");
    }
    if (!v1::InstallPhase_IsValid(report.phase())) return InvalidArgument("unknown phase");
    return grpc::Status::OK;
  }

  // With mutual TLS, a call naming a device id must come from that device's certificate.
  grpc::Status CheckIdentity(const grpc::CallbackServerContext& context,
                             const std::string& claimed) const {
    if (!certificate_identity_) return grpc::Status::OK;
    auto id = CertificateDeviceId(context);
    if (!id) return PermissionDenied(id.error().message());
    if (*id != claimed) {
      RecordRefusedClaim(context, *id, claimed);
      return PermissionDenied("the client certificate identifies device " + *id +
                              ", the request claims device " + claimed);
    }
    return grpc::Status::OK;
  }

  // A device naming another device's id is an attack (or a misprovisioned device): audited.
  // The rate limit (Admit) runs first, so one device cannot grow the log faster than its rate.
  void RecordRefusedClaim(const grpc::CallbackServerContext& context,
                          const std::string& certificate_id, const std::string& claimed) const {
    if (audit_ == nullptr) return;
    (void)audit_->Append("device:" + certificate_id, "device_claim_refused",
                         json::Value::MakeObject({{"certificate_device_id", certificate_id},
                                                  {"claimed_device_id", claimed},
                                                  {"peer", json::Value(context.peer())}}));
  }

  // Before any work: the client's deadline not already passed, and the device's token bucket
  // (keyed by its certificate's device id; a certificate without one shares one bucket).
  grpc::Status Admit(const grpc::CallbackServerContext& context) const {
    if (context.deadline() <= std::chrono::system_clock::now()) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline already passed");
    }
    if (limiter_ == nullptr || !limiter_->enabled() || !certificate_identity_) {
      return grpc::Status::OK;
    }
    auto id = CertificateDeviceId(context);
    const std::string key = id ? *id : std::string("(certificate without device id)");
    if (limiter_->Allow(key)) return grpc::Status::OK;
    char rate[96];
    std::snprintf(rate, sizeof rate, "%g calls/s (burst %g)", limiter_->limit().rate_per_second,
                  limiter_->limit().burst);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "device " + key + " exceeded its rate of " + rate + "; retry later");
  }

  // Evidence checks (repo-server/device_evidence.h), then the idempotent write through the group
  // commit: the call finishes once the report's batch is synced (on the writer thread when it
  // queued behind other reports, so those callback threads do not wait for the fsync).
  grpc::ServerUnaryReactor* Persist(const grpc::CallbackServerContext& context, ReportRecord record,
                                    const std::string& nonce, const std::string& signature,
                                    const std::string& signed_payload, v1::ReportAck& ack,
                                    grpc::ServerUnaryReactor* reactor) {
    auto checked = intake_.Check(std::move(record), nonce, signature, signed_payload,
                                 PeerCertificatePem(context));
    if (!checked) {
      reactor->Finish(ToGrpcStatus(checked.error()));
      return reactor;
    }
    const bool queued =
        writer_.Submit(std::move(*checked), [reactor, &ack](Result<bool> stored) {
          if (!stored) {
            reactor->Finish(ToGrpcStatus(stored.error()));
            return;
          }
          ack.set_newly_stored(*stored);
          reactor->Finish(grpc::Status::OK);
        });
    if (!queued) {
      reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "the server's report queue is full; retry later"));
    }
    return reactor;
  }

  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Refuse(grpc::Status status) {
    class Refusal final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
     public:
      explicit Refusal(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    return new Refusal(std::move(status));
  }

  Repository& repository_;
  const Clock& clock_;
  const bool certificate_identity_;
  AuditLog* const audit_;
  RateLimiter* const limiter_;
  ReportIntake intake_;
  ReportWriter writer_;  // after intake_: drained before anything it uses goes away
};

// ---- OperatorService ----

class PublishReader;

// Ends publish streams that stay silent longer than their idle timeout: a stalled client (or
// one holding the publish slot on purpose) must not block publishing until its own deadline.
// One thread checks every registered stream a few times per second. It holds the readers weakly
// and pins one (shared_ptr) only while ending it, so a reader finishing meanwhile stays alive.
class PublishWatchdog {
 public:
  PublishWatchdog() : thread_([this] { Run(); }) {}
  ~PublishWatchdog() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void Watch(std::weak_ptr<PublishReader> reader) {
    std::lock_guard lock(mu_);
    readers_.push_back(std::move(reader));
  }

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::weak_ptr<PublishReader>> readers_;
  std::thread thread_;  // last: started after the fields it uses
};

class PublishReader final : public grpc::ServerReadReactor<v1::PublishRequest> {
 public:
  // Starts reading. Owns itself (`self_`) until OnDone; the watchdog may pin it meanwhile.
  // `active` counts the publish streams in progress (decremented when the stream is finished).
  static PublishReader* Start(Repository& repository, v1::PublishResponse* response,
                              std::string actor, AuditLog* audit,
                              std::shared_ptr<const OperatorPolicy> policy,
                              std::atomic<int>& active, PublishWatchdog& watchdog) {
    auto reader = std::shared_ptr<PublishReader>(new PublishReader(
        repository, response, std::move(actor), audit, std::move(policy), active));
    reader->self_ = reader;
    watchdog.Watch(reader);
    reader->ReadNext();
    return reader.get();
  }

  void OnReadDone(bool ok) override {
    {
      std::lock_guard lock(mu_);
      reading_ = false;
      if (finished_) return;  // ended by the watchdog while this read was pending
    }
    if (!ok) {
      // The stream ended without PublishCommit: abandoned (the session discards its blobs).
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "publish stream ended without commit"));
      return;
    }
    if (!seen_header_ && !request_.has_header()) {
      Finish(InvalidArgument("a publish starts with a PublishHeader"));
      return;
    }
    if (grpc::Status limited = CheckLimits(); !limited.ok()) {
      Finish(std::move(limited));
      return;
    }
    Status status;
    switch (request_.item_case()) {
      case v1::PublishRequest::kHeader:
        if (seen_header_) {
          Finish(InvalidArgument("PublishHeader sent twice"));
          return;
        }
        if (request_.header().description().size() > kMaxTextBytes) {
          Finish(InvalidArgument("description is larger than 1 KiB"));
          return;
        }
        seen_header_ = true;
        session_->set_description(request_.header().description());
        break;
      case v1::PublishRequest::kMetadata:
        status = session_->AddMetadata(request_.metadata().name(), request_.metadata().content());
        break;
      case v1::PublishRequest::kTarget:
        status = session_->AddTargetChunk(request_.target().sha256(), request_.target().offset(),
                                          request_.target().data());
        break;
      case v1::PublishRequest::kStoredTarget:
        status = session_->ClaimStoredTarget(request_.stored_target().sha256(),
                                             request_.stored_target().length());
        break;
      case v1::PublishRequest::kCommit:
        Commit();
        return;
      default:
        Finish(InvalidArgument("empty PublishRequest"));
        return;
    }
    if (!status) {
      Finish(ToPublishStatus(status.error()));
      return;
    }
    ReadNext();
  }

  void OnDone() override {
    std::shared_ptr<PublishReader> last = std::move(self_);  // may destroy *this on return
  }

  // Ends the stream if it has waited for a message longer than the idle timeout (the watchdog).
  void ExpireIfIdle(std::chrono::steady_clock::time_point now) {
    {
      std::lock_guard lock(mu_);
      if (!reading_ || finished_ || now - last_activity_ < policy_->publish_idle_timeout) return;
      finished_ = true;  // decided here: a message arriving now is ignored (OnReadDone)
    }
    FinishOnce(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "publish stream sent nothing for " +
                            std::to_string(policy_->publish_idle_timeout.count()) +
                            " s (--publish-idle-timeout): ended by the server"));
  }

 private:
  PublishReader(Repository& repository, v1::PublishResponse* response, std::string actor,
                AuditLog* audit, std::shared_ptr<const OperatorPolicy> policy,
                std::atomic<int>& active)
      : repository_(repository),
        response_(response),
        session_(repository.NewPublish()),
        actor_(std::move(actor)),
        audit_(audit),
        policy_(std::move(policy)),
        active_(active),
        budget_(policy_->upload),
        deadline_(std::chrono::steady_clock::now() + policy_->publish_timeout) {}

  void ReadNext() {
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      reading_ = true;
      last_activity_ = std::chrono::steady_clock::now();
    }
    StartRead(&request_);
  }

  // Finishes once (the watchdog and the stream may race). Every refusal of the stream itself
  // (malformed, limits, idle) is audited; verification rejections are audited by
  // Repository::Publish.
  void Finish(grpc::Status status) {
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    FinishOnce(std::move(status));
  }
  void FinishOnce(grpc::Status status) {
    // The publish slot is free once the outcome is decided: OnDone may come much later (a
    // stalled client that has not closed its side keeps the call's last read pending).
    active_.fetch_sub(1);
    if (!status.ok() && audit_ != nullptr && !committing_) {
      (void)audit_->Append(
          actor_, "publish_rejected",
          json::Value::MakeObject({{"code", json::Value(static_cast<int64_t>(status.error_code()))},
                                   {"reason", status.error_message()}}));
    }
    grpc::ServerReadReactor<v1::PublishRequest>::Finish(std::move(status));
  }

  // The stream's time budget (--publish-timeout) and upload caps (repo-server/upload_limits.h),
  // charged before the bytes reach the session's staging area.
  grpc::Status CheckLimits() {
    if (std::chrono::steady_clock::now() > deadline_) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "publish took longer than the server's publish timeout");
    }
    Status charged;
    if (request_.has_metadata()) {
      charged =
          budget_.ChargeMetadata(request_.metadata().name(), request_.metadata().content().size());
    } else if (request_.has_target()) {
      charged = budget_.ChargeTarget(request_.target().sha256(), request_.target().data().size());
    }
    if (!charged) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, charged.error().ToString());
    }
    return grpc::Status::OK;
  }

  void Commit() {
    committing_ = true;
    auto outcome = repository_.Publish(*session_, actor_);
    if (!outcome) {
      Finish(ToPublishStatus(outcome.error()));
      return;
    }
    for (const auto& [role, current] : outcome->roles) {
      v1::RoleStatus* status = response_->add_roles();
      status->set_role(role);
      status->set_version(current.version);
      status->set_expires(current.expires);
    }
    response_->set_targets_stored(outcome->targets_stored);
    response_->set_targets_reused(outcome->targets_reused);
    Finish(grpc::Status::OK);
  }

  Repository& repository_;
  v1::PublishResponse* response_;
  std::unique_ptr<PublishSession> session_;
  const std::string actor_;
  AuditLog* audit_;
  const std::shared_ptr<const OperatorPolicy> policy_;
  std::atomic<int>& active_;
  UploadBudget budget_;
  const std::chrono::steady_clock::time_point deadline_;
  v1::PublishRequest request_;
  bool seen_header_ = false;
  std::atomic<bool> committing_ = false;
  std::shared_ptr<PublishReader> self_;
  std::mutex mu_;  // the fields below: shared with the watchdog
  bool reading_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_activity_;
};

void PublishWatchdog::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(250));
    std::vector<std::shared_ptr<PublishReader>> live;
    std::erase_if(readers_, [&](const std::weak_ptr<PublishReader>& weak) {
      auto reader = weak.lock();
      if (!reader) return true;
      live.push_back(std::move(reader));
      return false;
    });
    lock.unlock();
    const auto now = std::chrono::steady_clock::now();
    for (const auto& reader : live) reader->ExpireIfIdle(now);
    live.clear();  // may run a reader's destructor: outside the lock
    lock.lock();
  }
}

void FillReports(const std::vector<ReportRecord>& records,
                 google::protobuf::RepeatedPtrField<v1::StoredReport>& out) {
  for (const ReportRecord& record : records) {
    v1::StoredReport* stored = out.Add();
    stored->mutable_report()->ParseFromString(record.payload);
    stored->set_received_time(record.received_time);
    stored->set_evidence(record.verified ? v1::EVIDENCE_VERIFIED : v1::EVIDENCE_UNVERIFIED);
    stored->set_certificate_sha256(record.certificate_sha256);
    stored->set_device_certificate(record.certificate_pem);
  }
}

void FillSecurityEvents(const std::vector<ReportRecord>& records,
                        google::protobuf::RepeatedPtrField<v1::StoredSecurityEvent>& out) {
  for (const ReportRecord& record : records) {
    v1::StoredSecurityEvent* stored = out.Add();
    stored->mutable_event()->ParseFromString(record.payload);
    stored->set_received_time(record.received_time);
    stored->set_evidence(record.verified ? v1::EVIDENCE_VERIFIED : v1::EVIDENCE_UNVERIFIED);
    stored->set_certificate_sha256(record.certificate_sha256);
    stored->set_device_certificate(record.certificate_pem);
  }
}

void FillDeviceSummary(const DeviceRecord& device, v1::DeviceSummary& summary) {
  summary.set_device_id(device.device_id);
  summary.set_installed_version(device.installed_version);
  summary.set_last_report_id(device.last_report_id);
  summary.set_last_report_time(device.last_report_time);
  summary.set_last_success(device.last_success);
  v1::InstallationReport last;
  if (last.ParseFromString(device.last_payload)) summary.set_last_phase(last.phase());
  v1::InventoryReport inventory;
  if (!device.inventory_payload.empty() && inventory.ParseFromString(device.inventory_payload)) {
    *summary.mutable_installed() = inventory.installed();
  }
  summary.set_inventory_time(device.inventory_time);
  summary.set_certificate_sha256(device.certificate_sha256);
}

// "Which devices run X": a target of the device's current inventory matching every non-empty
// field of the request.
bool InventoryMatches(const DeviceRecord& device, const v1::FindDevicesRequest& query) {
  if (device.inventory_payload.empty()) return false;
  v1::InventoryReport inventory;
  if (!inventory.ParseFromString(device.inventory_payload)) return false;
  for (const v1::InstalledTarget& target : inventory.installed()) {
    if ((query.target().empty() || target.name() == query.target()) &&
        (query.version().empty() || target.version() == query.version()) &&
        (query.sbom_sha256().empty() || target.sbom_sha256() == query.sbom_sha256()) &&
        (query.sha256().empty() || target.sha256() == query.sha256())) {
      return true;
    }
  }
  return false;
}

constexpr size_t kMaxDevicePage = 1000;
constexpr int kMaxStoredTargetsQuery = 10000;

// Page tokens of ListDevices: "d1:" + the last device id of the page. The version prefix lets a
// later server change the format and refuse (INVALID_ARGUMENT) tokens it no longer reads.
std::string EncodeDevicePageToken(std::string_view last_device_id) {
  return "d1:" + std::string(last_device_id);
}
std::optional<std::string> DecodeDevicePageToken(std::string_view token) {
  if (token.empty()) return std::string();
  if (!token.starts_with("d1:") || !IsValidIdentifier(token.substr(3))) return std::nullopt;
  return std::string(token.substr(3));
}

class OperatorServiceImpl final : public v1::OperatorService::CallbackService {
 public:
  OperatorServiceImpl(Repository& repository, const OperatorSettings& settings, AuditLog* audit,
                      RefusalThrottle* refusals)
      : repository_(repository), settings_(settings), audit_(audit), refusals_(refusals) {}

  grpc::ServerReadReactor<v1::PublishRequest>* Publish(grpc::CallbackServerContext* context,
                                                       v1::PublishResponse* response) override {
    class Refusal final : public grpc::ServerReadReactor<v1::PublishRequest> {
     public:
      explicit Refusal(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    std::shared_ptr<const OperatorPolicy> policy = settings_.Get();
    Operator caller;
    if (grpc::Status status = Authorize(*context, *policy, "Publish", /*publish=*/true, caller);
        !status.ok()) {
      return new Refusal(std::move(status));
    }
    // --max-concurrent-publishes: a slot is taken here and given back in the reader's OnDone.
    int active = active_publishes_.load();
    do {
      if (active >= policy->max_concurrent_publishes) {
        grpc::Status busy(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          std::to_string(active) + " publish stream(s) in progress: at most " +
                              std::to_string(policy->max_concurrent_publishes) +
                              " at once (--max-concurrent-publishes); retry later");
        if (audit_ != nullptr) {
          (void)audit_->Append(
              caller.name, "publish_rejected",
              json::Value::MakeObject(
                  {{"code", json::Value(static_cast<int64_t>(busy.error_code()))},
                   {"reason", busy.error_message()},
                   {"peer", json::Value(context->peer())}}));
        }
        return new Refusal(std::move(busy));
      }
    } while (!active_publishes_.compare_exchange_weak(active, active + 1));
    return PublishReader::Start(repository_, response, caller.name, audit_, std::move(policy),
                                active_publishes_, watchdog_);
  }

  grpc::ServerUnaryReactor* GetRepositoryStatus(grpc::CallbackServerContext* context,
                                                const v1::GetRepositoryStatusRequest*,
                                                v1::RepositoryStatus* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "GetRepositoryStatus", false, caller); !s.ok()) {
      return Done(context, s);
    }
    auto view = repository_.view();
    response->set_initialized(view->initialized());
    for (const auto& [role, current] : view->current()) {
      v1::RoleStatus* status = response->add_roles();
      status->set_role(role);
      status->set_version(current.version);
      status->set_expires(current.expires);
    }
    response->set_target_count(view->target_count());
    return Done(context, grpc::Status::OK);
  }

  // Pages by device id: the token is the last id of the previous page (opaque to clients), so
  // paging is stable under concurrent inserts and needs no server-side cursor.
  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext* context,
                                        const v1::ListDevicesRequest* request,
                                        v1::ListDevicesResponse* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "ListDevices", false, caller); !s.ok()) {
      return Done(context, s);
    }
    auto after = DecodeDevicePageToken(request->page_token());
    if (!after) {
      return Done(context, InvalidArgument("page_token is not a token ListDevices returned"));
    }
    size_t page_size = request->page_size();
    if (page_size == 0 || page_size > kMaxDevicePage) page_size = kMaxDevicePage;
    // One more than the page tells whether another page follows.
    auto devices = repository_.store().ListDevicesPage(*after, page_size + 1);
    if (!devices) return Done(context, ToGrpcStatus(devices.error()));
    const bool more = devices->size() > page_size;
    if (more) devices->resize(page_size);
    for (const DeviceRecord& device : *devices) FillDeviceSummary(device, *response->add_devices());
    if (more) response->set_next_page_token(EncodeDevicePageToken(devices->back().device_id));
    return Done(context, grpc::Status::OK);
  }

  // Which of the digests are stored with exactly that length (publishers: part of a publish).
  grpc::ServerUnaryReactor* GetStoredTargets(grpc::CallbackServerContext* context,
                                             const v1::GetStoredTargetsRequest* request,
                                             v1::GetStoredTargetsResponse* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "GetStoredTargets", /*publish=*/true, caller);
        !s.ok()) {
      return Done(context, s);
    }
    if (request->targets_size() > kMaxStoredTargetsQuery) {
      return Done(context, InvalidArgument("GetStoredTargets takes at most " +
                                           std::to_string(kMaxStoredTargetsQuery) +
                                           " digests per call"));
    }
    for (const v1::TargetDigest& digest : request->targets()) {
      if (!IsHexDigestOrEmpty(digest.sha256()) || digest.sha256().empty()) {
        return Done(context, InvalidArgument("sha256 must be 64 lowercase hex digits"));
      }
    }
    for (const v1::TargetDigest& digest : request->targets()) {
      auto stored = repository_.store().GetTarget(digest.sha256());
      if (!stored) {
        if (stored.error().kind() == ErrorKind::kNotFound) continue;
        return Done(context, ToGrpcStatus(stored.error()));
      }
      if (stored->length == digest.length()) *response->add_stored() = digest;
    }
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* FindDevices(grpc::CallbackServerContext* context,
                                        const v1::FindDevicesRequest* request,
                                        v1::ListDevicesResponse* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "FindDevices", false, caller); !s.ok()) {
      return Done(context, s);
    }
    if (request->target().empty() && request->version().empty() && request->sbom_sha256().empty() &&
        request->sha256().empty()) {
      return Done(context, InvalidArgument("FindDevices needs target, version, sbom_sha256 or "
                                           "sha256"));
    }
    if (request->target().size() > kMaxTextBytes || request->version().size() > kMaxTextBytes ||
        !IsHexDigestOrEmpty(request->sbom_sha256()) || !IsHexDigestOrEmpty(request->sha256())) {
      return Done(context, InvalidArgument("target/version over 1 KiB, or a sha256 that is not "
                                           "64 lowercase hex digits"));
    }
    // The index narrows to the devices holding the most selective field given; the full match
    // is checked on each candidate.
    const std::string term = !request->sbom_sha256().empty() ? "b:" + request->sbom_sha256()
                             : !request->sha256().empty()    ? "s:" + request->sha256()
                             : !request->target().empty()    ? "n:" + request->target()
                                                             : "v:" + request->version();
    auto devices = repository_.store().FindDevicesByTerm(term);
    if (!devices) return Done(context, ToGrpcStatus(devices.error()));
    for (const DeviceRecord& device : *devices) {
      if (InventoryMatches(device, *request)) FillDeviceSummary(device, *response->add_devices());
    }
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* GetDeviceHistory(grpc::CallbackServerContext* context,
                                             const v1::GetDeviceHistoryRequest* request,
                                             v1::DeviceHistory* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "GetDeviceHistory", false, caller); !s.ok()) {
      return Done(context, s);
    }
    if (!IsValidIdentifier(request->device_id())) {
      return Done(context, InvalidArgument("device_id must be 1..128 of [A-Za-z0-9._:-]"));
    }
    ReportFilter filter;
    filter.device_id = request->device_id();
    auto reports = repository_.store().ListReports(filter);
    if (!reports) return Done(context, ToGrpcStatus(reports.error()));
    FillReports(*reports, *response->mutable_reports());
    filter.kind = ReportKind::kSecurityEvent;
    auto events = repository_.store().ListReports(filter);
    if (!events) return Done(context, ToGrpcStatus(events.error()));
    FillSecurityEvents(*events, *response->mutable_security_events());
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ListFailures(grpc::CallbackServerContext* context,
                                         const v1::ListFailuresRequest* request,
                                         v1::ListFailuresResponse* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "ListFailures", false, caller); !s.ok()) {
      return Done(context, s);
    }
    if (request->release().empty() || request->release().size() > kMaxTextBytes) {
      return Done(context, InvalidArgument("release must be 1..1024 bytes"));
    }
    ReportFilter filter;
    filter.release = request->release();
    filter.success = false;
    auto reports = repository_.store().ListReports(filter);
    if (!reports) return Done(context, ToGrpcStatus(reports.error()));
    FillReports(*reports, *response->mutable_reports());
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ListAuditRecords(grpc::CallbackServerContext* context,
                                             const v1::ListAuditRecordsRequest* request,
                                             v1::ListAuditRecordsResponse* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "ListAuditRecords", false, caller); !s.ok()) {
      return Done(context, s);
    }
    constexpr uint32_t kMaxAuditPage = 1000;
    uint32_t limit = request->limit();
    if (limit == 0 || limit > kMaxAuditPage) limit = kMaxAuditPage;
    auto records = repository_.store().ListAudit(request->after_seq(), limit);
    if (!records) return Done(context, ToGrpcStatus(records.error()));
    for (const AuditRecord& record : *records) {
      v1::AuditRecordEntry* entry = response->add_records();
      entry->set_seq(record.seq);
      entry->set_record(record.bytes);
      entry->set_sha256(AuditRecordHash(record.bytes));
    }
    return Done(context, grpc::Status::OK);
  }

 private:
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, grpc::Status status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(std::move(status));
    return reactor;
  }

  // Without a credentials file (only allowed with --insecure on loopback) every caller is the
  // anonymous publisher. Otherwise: no/unknown token -> UNAUTHENTICATED, a viewer publishing ->
  // PERMISSION_DENIED.
  grpc::Status Authorize(const grpc::CallbackServerContext& context, std::string_view method,
                         bool publish, Operator& caller) const {
    return Authorize(context, *settings_.Get(), method, publish, caller);
  }
  grpc::Status Authorize(const grpc::CallbackServerContext& context, const OperatorPolicy& policy,
                         std::string_view method, bool publish, Operator& caller) const {
    if (policy.credentials == nullptr) {
      caller = Operator{"anonymous", OperatorRole::kPublisher};
      return grpc::Status::OK;
    }
    grpc::Status status = Authenticate(context, *policy.credentials, publish, caller);
    if (audit_ != nullptr) {
      RecordSuppressedRefusals();
      // A flood of refused credentials is thinned out (repo-server/rate_limiter.h): refused
      // still, but only the refusals within the peer's budget get a record of their own.
      if (!status.ok() && refusals_ != nullptr && !refusals_->Admit(context.peer())) {
        return status;
      }
      json::Object detail = {{"method", json::Value(method)},
                             {"peer", json::Value(context.peer())}};
      if (!caller.name.empty()) {
        detail.emplace_back("role", json::Value(OperatorRoleName(caller.role)));
      }
      if (!status.ok()) detail.emplace_back("reason", json::Value(status.error_message()));
      // An unrecorded refusal still refuses; an unrecorded use is refused (fail closed).
      auto recorded =
          audit_->Append(caller.name.empty() ? std::string_view("unknown") : caller.name,
                         status.ok() ? "credential_used" : "credential_refused",
                         json::Value::MakeObject(std::move(detail)));
      if (status.ok() && !recorded) return ToGrpcStatus(recorded.error());
    }
    return status;
  }

  // At most one summary per interval, written by whichever call comes after it is due.
  void RecordSuppressedRefusals() const {
    if (refusals_ == nullptr) return;
    auto summary = refusals_->TakeSummary();
    if (!summary) return;
    json::Array peers;
    for (const std::string& peer : summary->peers) peers.emplace_back(peer);
    (void)audit_->Append(
        "server", "credential_refusals_suppressed",
        json::Value::MakeObject({{"count", json::Value(static_cast<int64_t>(summary->suppressed))},
                                 {"seconds", json::Value(static_cast<int64_t>(summary->seconds))},
                                 {"peers", json::Value(std::move(peers))}}));
  }

  grpc::Status Authenticate(const grpc::CallbackServerContext& context,
                            const OperatorCredentials& credentials, bool publish,
                            Operator& caller) const {
    const auto& metadata = context.client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "operator calls need \"authorization: Bearer <token>\" metadata");
    }
    auto found = credentials.Authenticate(std::string_view(it->second.data(), it->second.size()));
    if (!found) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown operator token");
    }
    caller = std::move(*found);
    if (publish && !MayPublish(caller.role)) {
      return PermissionDenied("operator " + caller.name + " is a " +
                              std::string(OperatorRoleName(caller.role)) +
                              ": only publishers may publish");
    }
    return grpc::Status::OK;
  }

  Repository& repository_;
  const OperatorSettings& settings_;
  AuditLog* audit_;
  RefusalThrottle* refusals_;
  std::atomic<int> active_publishes_{0};
  PublishWatchdog watchdog_;  // last: its thread stops before the rest goes
};

}  // namespace

std::vector<std::string> InventoryIndexTerms(std::string_view inventory_payload) {
  v1::InventoryReport inventory;
  if (!inventory.ParseFromArray(inventory_payload.data(),
                                static_cast<int>(inventory_payload.size()))) {
    return {};
  }
  std::set<std::string> terms;
  for (const v1::InstalledTarget& target : inventory.installed()) {
    if (!target.name().empty()) terms.insert("n:" + target.name());
    if (!target.version().empty()) terms.insert("v:" + target.version());
    if (!target.sha256().empty()) terms.insert("s:" + target.sha256());
    if (!target.sbom_sha256().empty()) terms.insert("b:" + target.sbom_sha256());
  }
  return std::vector<std::string>(terms.begin(), terms.end());
}

grpc::Status ToGrpcStatus(const Error& error) {
  grpc::StatusCode code = grpc::StatusCode::FAILED_PRECONDITION;
  switch (error.kind()) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kBadMetadata:
    case ErrorKind::kLimitExceeded:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case ErrorKind::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case ErrorKind::kPolicy:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case ErrorKind::kIo:
    case ErrorKind::kInternal:
    case ErrorKind::kCrypto:
      code = grpc::StatusCode::INTERNAL;
      break;
    default:
      break;
  }
  return grpc::Status(code, error.ToString());
}

std::unique_ptr<grpc::Service> NewDeviceService(Repository& repository, const Clock& clock,
                                                bool certificate_identity) {
  DeviceGuards guards;
  guards.certificate_identity = certificate_identity;
  return std::make_unique<DeviceServiceImpl>(repository, clock, guards);
}

std::unique_ptr<grpc::Service> NewDeviceService(Repository& repository, const Clock& clock,
                                                const DeviceGuards& guards) {
  return std::make_unique<DeviceServiceImpl>(repository, clock, guards);
}

std::unique_ptr<grpc::Service> NewOperatorService(Repository& repository,
                                                  const OperatorSettings& settings,
                                                  AuditLog* audit, RefusalThrottle* refusals) {
  return std::make_unique<OperatorServiceImpl>(repository, settings, audit, refusals);
}

}  // namespace mdu::server
