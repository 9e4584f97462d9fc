// The gRPC end of the report sender: DeviceService's report calls over libcurl's HTTP/2
// (client-agent/transport/grpc_call.h), so the agent needs no gRPC library.
#include <string.h>  // explicit_bzero

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "client-agent/report/sender.h"
#include "client-agent/report/wire_messages.h"
#include "client-agent/transport/grpc_call.h"
#include "core/common/loopback.h"

namespace mdu::agent::report {
namespace {

// Outages are worth retrying later; anything else is the server refusing this request.
Error FromStatus(const GrpcStatus& status, std::string_view what) {
  std::string message = std::string(what) + ": " + status.message + " (grpc code " +
                        std::to_string(status.code) + " " + GrpcCodeName(status.code) + ")";
  switch (status.code) {
    case 14:  // UNAVAILABLE
    case 4:   // DEADLINE_EXCEEDED
    case 8:   // RESOURCE_EXHAUSTED
    case 10:  // ABORTED
    case 1:   // CANCELLED
    case 13:  // INTERNAL
    case 2:   // UNKNOWN
    case 12:  // UNIMPLEMENTED
      return Error(ErrorKind::kDownload, std::move(message));
    case 3:  // INVALID_ARGUMENT
      return Error(ErrorKind::kInvalidArgument, std::move(message));
    default:
      return Error(ErrorKind::kPolicy, std::move(message));
  }
}

constexpr uint32_t kMaxAnswerBytes = 64 << 10;  // nonces and acks are a few bytes

class CurlReportChannel final : public ReportChannel {
 public:
  CurlReportChannel(std::unique_ptr<GrpcClient> client, GrpcEndpoint endpoint,
                    std::chrono::seconds timeout)
      : client_(std::move(client)), endpoint_(std::move(endpoint)) {
    limits_.timeout = timeout;
    limits_.max_message_bytes = kMaxAnswerBytes;
  }

  Result<std::string> GetNonce(const std::string& device_id) override {
    wire::GetReportNonceRequest request;
    request.set_device_id(device_id);
    wire::ReportNonce nonce;
    MDU_RETURN_IF_ERROR(
        Unary("GetReportNonce", request.SerializeAsString(), "GetReportNonce", nonce));
    return nonce.nonce();
  }

  Result<bool> Send(const ReportMessage& message) override {
    const std::string what = "report " + ReportId(message);
    std::string_view method;
    std::string bytes;
    if (const auto* installation = std::get_if<wire::InstallationReport>(&message)) {
      method = "ReportInstallation";
      bytes = installation->SerializeAsString();
    } else if (const auto* event = std::get_if<wire::SecurityEvent>(&message)) {
      method = "ReportSecurityEvent";
      bytes = event->SerializeAsString();
    } else {
      method = "ReportInventory";
      bytes = std::get<wire::InventoryReport>(message).SerializeAsString();
    }
    wire::ReportAck ack;
    MDU_RETURN_IF_ERROR(Unary(method, bytes, what, ack));
    return ack.newly_stored();
  }

 private:
  template <typename Answer>
  Status Unary(std::string_view method, const std::string& request, const std::string& what,
               Answer& answer) {
    const std::string path = "/mdu.v1.DeviceService/" + std::string(method);
    UnaryResponse response;
    Result<GrpcStatus> status = client_->Call(endpoint_, path, request, limits_, response,
                                              what + " to " + endpoint_.authority);
    // Anything that kept the call from completing is an outage: retry later.
    if (!status) return MakeError(ErrorKind::kDownload, status.error().message());
    if (!status->ok()) return MakeError(FromStatus(*status, what));
    if (!response.received() || !answer.ParseFromArray(response.bytes().data(),
                                                       static_cast<int>(response.bytes().size()))) {
      return MakeError(ErrorKind::kDownload, what + ": malformed answer from the server");
    }
    return {};
  }

  std::unique_ptr<GrpcClient> client_;
  const GrpcEndpoint endpoint_;
  GrpcCallLimits limits_;
};

}  // namespace

Result<std::unique_ptr<ReportChannel>> NewGrpcReportChannel(const ReportServerOptions& options) {
  if (options.address.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "no report server address");
  }
  if (options.plaintext) {
    // Plaintext HTTP/2 only on this machine (repo-server --insecure in tests).
    const size_t colon = options.address.rfind(':');
    const std::string host = options.address.substr(0, colon);
    if (colon == std::string::npos || !IsLoopbackHost(host)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "a plaintext report server must be on a loopback address, not " +
                           options.address.substr(0, 200));
    }
  }
  GrpcClientOptions client;
  client.connect_timeout = options.timeout;
  if (!options.plaintext) {
    client.ca_pem = options.ca_cert_pem;
    client.cert_pem = options.client_cert_pem;
    client.key_pem = options.client_key_pem;  // the client wipes its copy when destroyed
    if (!options.server_name_override.empty()) {
      client.tls_server_name = options.server_name_override;
    }
  }
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<GrpcClient> grpc, GrpcClient::Create(std::move(client)));
  return std::unique_ptr<ReportChannel>(std::make_unique<CurlReportChannel>(
      std::move(grpc), GrpcEndpoint{!options.plaintext, options.address}, options.timeout));
}

}  // namespace mdu::agent::report
