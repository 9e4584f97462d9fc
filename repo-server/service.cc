#include "repo-server/service.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdio>
#include <string>
#include <utility>

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

class TargetWriter final : public grpc::ServerWriteReactor<v1::TargetChunk> {
 public:
  TargetWriter(Store& store, BlobInfo info, uint64_t offset)
      : store_(store), info_(std::move(info)), offset_(offset) {
    NextWrite();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    NextWrite();
  }
  void OnDone() override { delete this; }

 private:
  void NextWrite() {
    if (offset_ >= info_.length && !first_) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.Clear();
    chunk_.set_offset(offset_);
    if (first_) chunk_.set_total_length(info_.length);
    first_ = false;
    if (offset_ < info_.length) {
      uint64_t index = offset_ / info_.chunk_bytes;
      auto data = store_.ReadBlobChunk(info_.blob_id, index);
      if (!data) {
        Finish(ToGrpcStatus(data.error()));
        return;
      }
      uint64_t start = offset_ - index * info_.chunk_bytes;
      if (start > data->size()) {
        Finish(grpc::Status(grpc::StatusCode::INTERNAL, "stored blob shorter than recorded"));
        return;
      }
      data->erase(0, start);
      offset_ += data->size();
      chunk_.set_data(std::move(*data));
    }
    StartWrite(&chunk_);
  }

  Store& store_;
  BlobInfo info_;
  uint64_t offset_;
  bool first_ = true;
  v1::TargetChunk chunk_;
};

using DeviceBase = v1::DeviceService::WithRawCallbackMethod_GetMetadata<
    v1::DeviceService::WithCallbackMethod_GetTarget<
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
        intake_(repository.store(), clock, guards.certificate_identity) {}

  grpc::ServerUnaryReactor* GetMetadata(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status admitted = Admit(*context);
    reactor->Finish(admitted.ok() ? ServeMetadata(*request, *response) : admitted);
    return reactor;
  }

  grpc::ServerWriteReactor<v1::TargetChunk>* GetTarget(
      grpc::CallbackServerContext* context, const v1::GetTargetRequest* request) override {
    if (grpc::Status admitted = Admit(*context); !admitted.ok()) return Refuse(admitted);
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
      status = Persist(*context, std::move(record), request->nonce(), request->signature(),
                       evidence::SigningPayload(*request), *response);
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
      status = Persist(*context, std::move(record), request->nonce(), request->signature(),
                       evidence::SigningPayload(*request), *response);
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
      status = Persist(*context, std::move(record), request->nonce(), request->signature(),
                       evidence::SigningPayload(*request), *response);
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

  // Evidence checks (repo-server/device_evidence.h), then the idempotent write.
  grpc::Status Persist(const grpc::CallbackServerContext& context, ReportRecord record,
                       const std::string& nonce, const std::string& signature,
                       const std::string& signed_payload, v1::ReportAck& ack) {
    auto stored = intake_.Accept(std::move(record), nonce, signature, signed_payload,
                                 PeerCertificatePem(context));
    if (!stored) return ToGrpcStatus(stored.error());
    ack.set_newly_stored(*stored);
    return grpc::Status::OK;
  }

  static grpc::ServerWriteReactor<v1::TargetChunk>* Refuse(grpc::Status status) {
    class Refusal final : public grpc::ServerWriteReactor<v1::TargetChunk> {
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
};

// ---- OperatorService ----

class PublishReader final : public grpc::ServerReadReactor<v1::PublishRequest> {
 public:
  PublishReader(Repository& repository, v1::PublishResponse* response, std::string actor,
                AuditLog* audit, const OperatorGuards& guards)
      : repository_(repository),
        response_(response),
        session_(repository.NewPublish()),
        actor_(std::move(actor)),
        audit_(audit),
        budget_(guards.upload),
        deadline_(std::chrono::steady_clock::now() + guards.publish_timeout) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
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
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  // Every refusal of the stream itself (malformed, limits) is audited; verification rejections
  // are audited by Repository::Publish.
  void Finish(grpc::Status status) {
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
    Finish(grpc::Status::OK);
  }

  Repository& repository_;
  v1::PublishResponse* response_;
  std::unique_ptr<PublishSession> session_;
  const std::string actor_;
  AuditLog* audit_;
  UploadBudget budget_;
  const std::chrono::steady_clock::time_point deadline_;
  v1::PublishRequest request_;
  bool seen_header_ = false;
  bool committing_ = false;
};

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

class OperatorServiceImpl final : public v1::OperatorService::CallbackService {
 public:
  OperatorServiceImpl(Repository& repository, const OperatorCredentials* credentials,
                      AuditLog* audit, OperatorGuards guards)
      : repository_(repository), credentials_(credentials), audit_(audit), guards_(guards) {}

  grpc::ServerReadReactor<v1::PublishRequest>* Publish(grpc::CallbackServerContext* context,
                                                       v1::PublishResponse* response) override {
    Operator caller;
    if (grpc::Status status = Authorize(*context, "Publish", /*publish=*/true, caller);
        !status.ok()) {
      class Refusal final : public grpc::ServerReadReactor<v1::PublishRequest> {
       public:
        explicit Refusal(grpc::Status s) { Finish(std::move(s)); }
        void OnDone() override { delete this; }
      };
      return new Refusal(std::move(status));
    }
    return new PublishReader(repository_, response, caller.name, audit_, guards_);
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

  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext* context,
                                        const v1::ListDevicesRequest*,
                                        v1::ListDevicesResponse* response) override {
    Operator caller;
    if (grpc::Status s = Authorize(*context, "ListDevices", false, caller); !s.ok()) {
      return Done(context, s);
    }
    auto devices = repository_.store().ListDevices();
    if (!devices) return Done(context, ToGrpcStatus(devices.error()));
    for (const DeviceRecord& device : *devices) FillDeviceSummary(device, *response->add_devices());
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
    // A scan of the device summaries: one record per device, fine for a fleet of thousands.
    auto devices = repository_.store().ListDevices();
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
    if (credentials_ == nullptr) {
      caller = Operator{"anonymous", OperatorRole::kPublisher};
      return grpc::Status::OK;
    }
    grpc::Status status = Authenticate(context, publish, caller);
    if (audit_ != nullptr) {
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

  grpc::Status Authenticate(const grpc::CallbackServerContext& context, bool publish,
                            Operator& caller) const {
    const auto& metadata = context.client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "operator calls need \"authorization: Bearer <token>\" metadata");
    }
    auto found = credentials_->Authenticate(std::string_view(it->second.data(), it->second.size()));
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
  const OperatorCredentials* credentials_;
  AuditLog* audit_;
  const OperatorGuards guards_;
};

}  // namespace

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
                                                  const OperatorCredentials* credentials,
                                                  AuditLog* audit) {
  return std::make_unique<OperatorServiceImpl>(repository, credentials, audit, OperatorGuards{});
}

std::unique_ptr<grpc::Service> NewOperatorService(Repository& repository,
                                                  const OperatorCredentials* credentials,
                                                  AuditLog* audit, const OperatorGuards& guards) {
  return std::make_unique<OperatorServiceImpl>(repository, credentials, audit, guards);
}

}  // namespace mdu::server
