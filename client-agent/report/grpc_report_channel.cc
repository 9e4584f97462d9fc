// The gRPC end of the report sender. Built into the gRPC module (libmdu_agent_grpc.so, see
// client-agent/transport/grpc_module.h); report::NewGrpcReportChannel loads it.
#include <grpcpp/grpcpp.h>

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "client-agent/report/sender.h"
#include "client-agent/transport/grpc_module.h"
#include "mdu/v1/repository.grpc.pb.h"

namespace mdu::agent::report {
namespace {

namespace v1 = ::mdu::v1;

// The report's id, for messages (outbox.h's ReportId, which lives in the executable, not here).
std::string IdOf(const ReportMessage& message) {
  return std::visit(
      [](const auto& m) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, v1::SecurityEvent>) {
          return m.event_id();
        } else {
          return m.report_id();
        }
      },
      message);
}

// Outages are worth retrying later; anything else is the server refusing this request.
Error FromGrpc(const grpc::Status& status, std::string_view what) {
  std::string message = std::string(what) + ": " + status.error_message() + " (grpc code " +
                        std::to_string(static_cast<int>(status.error_code())) + ")";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::UNIMPLEMENTED:
      return Error(ErrorKind::kDownload, std::move(message));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Error(ErrorKind::kInvalidArgument, std::move(message));
    default:
      return Error(ErrorKind::kPolicy, std::move(message));
  }
}

class GrpcReportChannel final : public ReportChannel {
 public:
  GrpcReportChannel(std::shared_ptr<grpc::Channel> channel, std::chrono::seconds timeout)
      : stub_(v1::DeviceService::NewStub(std::move(channel))), timeout_(timeout) {}

  Result<std::string> GetNonce(const std::string& device_id) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::GetReportNonceRequest request;
    request.set_device_id(device_id);
    v1::ReportNonce nonce;
    grpc::Status status = stub_->GetReportNonce(&context, request, &nonce);
    if (!status.ok()) return MakeError(FromGrpc(status, "GetReportNonce"));
    return nonce.nonce();
  }

  Result<bool> Send(const ReportMessage& message) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::ReportAck ack;
    grpc::Status status;
    if (const auto* installation = std::get_if<v1::InstallationReport>(&message)) {
      status = stub_->ReportInstallation(&context, *installation, &ack);
    } else if (const auto* event = std::get_if<v1::SecurityEvent>(&message)) {
      status = stub_->ReportSecurityEvent(&context, *event, &ack);
    } else {
      status = stub_->ReportInventory(&context, std::get<v1::InventoryReport>(message), &ack);
    }
    if (!status.ok()) {
      return MakeError(FromGrpc(status, "report " + IdOf(message)));
    }
    return ack.newly_stored();
  }

 private:
  std::unique_ptr<v1::DeviceService::Stub> stub_;
  std::chrono::seconds timeout_;
};

}  // namespace

Result<std::unique_ptr<ReportChannel>> NewGrpcReportChannelInProcess(
    const ReportServerOptions& options) {
  if (options.address.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "no report server address");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments args;
  if (options.plaintext) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.ca_cert_pem;
    ssl.pem_cert_chain = options.client_cert_pem;
    ssl.pem_private_key = options.client_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.server_name_override.empty()) {
      args.SetSslTargetNameOverride(options.server_name_override);
    }
  }
  return std::unique_ptr<ReportChannel>(std::make_unique<GrpcReportChannel>(
      grpc::CreateCustomChannel(options.address, credentials, args), options.timeout));
}

}  // namespace mdu::agent::report
