#include "repo-server/ops_client/connection.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>

#include "core/common/loopback.h"
#include "core/io/file.h"

namespace mdu::ops {
namespace {

namespace v1 = ::mdu::v1;

constexpr uint64_t kMaxCaBytes = 1u << 20;
// Responses (device lists, histories with certificates) can be large; metadata files up to
// 16 MiB are sent in one message.
constexpr int kMaxReceiveBytes = 64 << 20;
constexpr int kMaxSendBytes = 17 << 20;

Unexpected<Error> Usage(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, std::move(message));
}

}  // namespace

Result<std::string> HostOfServer(std::string_view server) {
  if (server.find("://") != std::string_view::npos || server.starts_with("unix:") ||
      server.starts_with("dns:") || server.starts_with("ipv4:") || server.starts_with("ipv6:")) {
    return Usage("--server takes HOST:PORT, not " + std::string(server));
  }
  std::string_view host;
  std::string_view port;
  if (server.starts_with("[")) {
    size_t end = server.find(']');
    if (end == std::string_view::npos || end + 1 >= server.size() || server[end + 1] != ':') {
      return Usage("--server " + std::string(server) + ": expected [IPv6]:PORT");
    }
    host = server.substr(1, end - 1);
    port = server.substr(end + 2);
  } else {
    size_t colon = server.rfind(':');
    if (colon == std::string_view::npos || server.find(':') != colon) {
      return Usage("--server " + std::string(server) +
                   ": expected HOST:PORT (IPv6 addresses in brackets)");
    }
    host = server.substr(0, colon);
    port = server.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value == 0 || value > 65535) {
    return Usage("--server " + std::string(server) + ": expected HOST:PORT with a port 1..65535");
  }
  return std::string(host);
}

Status ValidateConnectionOptions(const ConnectionOptions& options) {
  if (options.server.empty()) return Usage("--server HOST:PORT is required");
  MDU_ASSIGN_OR_RETURN(std::string host, HostOfServer(options.server));
  if (options.insecure && !options.ca_cert.empty()) {
    return Usage("--insecure and --ca-cert exclude each other");
  }
  if (!options.insecure && options.ca_cert.empty()) {
    return Usage("give --ca-cert PEM (TLS, verifying the server) or --insecure (plaintext, "
                 "loopback servers only)");
  }
  if (options.insecure && !IsLoopbackHost(host)) {
    return Usage("--insecure is only allowed for a loopback address (localhost, 127.0.0.1, "
                 "::1), not " + host + ": use --ca-cert");
  }
  if (options.insecure && !options.tls_server_name.empty()) {
    return Usage("--tls-server-name needs TLS (--ca-cert)");
  }
  if (!options.token_file.empty() && !options.token_env.empty()) {
    return Usage("--token-file and --token-env exclude each other");
  }
  if (options.timeout_seconds <= 0) return Usage("--timeout must be at least 1 second");
  return {};
}

Result<std::unique_ptr<OperatorConnection>> OperatorConnection::Open(
    const ConnectionOptions& options) {
  MDU_RETURN_IF_ERROR(ValidateConnectionOptions(options));
  std::unique_ptr<OperatorConnection> connection(new OperatorConnection());
  connection->server_ = options.server;
  connection->timeout_ = std::chrono::seconds(options.timeout_seconds);
  if (!options.token_file.empty()) {
    MDU_ASSIGN_OR_RETURN(connection->token_, ReadTokenFile(options.token_file));
  } else if (!options.token_env.empty()) {
    MDU_ASSIGN_OR_RETURN(connection->token_, TakeTokenFromEnv(options.token_env));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  args.SetMaxSendMessageSize(kMaxSendBytes);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    auto ca = io::ReadFileBounded(options.ca_cert, kMaxCaBytes);
    if (!ca) return MakeError(ca.error().WithContext("--ca-cert " + options.ca_cert));
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = std::move(*ca);
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  connection->channel_ = grpc::CreateCustomChannel(options.server, credentials, args);
  connection->stub_ = v1::OperatorService::NewStub(connection->channel_);
  return connection;
}

void OperatorConnection::Prepare(grpc::ClientContext& context, std::chrono::seconds timeout) const {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!token_.empty()) context.AddMetadata("authorization", token_.AuthorizationHeader());
}

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

std::string DescribeFailure(const std::string& server, std::string_view method,
                            const grpc::Status& status) {
  std::string code(StatusCodeName(status.error_code()));
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return "cannot reach server " + server + " for " + std::string(method) + " (" + code + ": " +
           status.error_message() + ")";
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return "server " + server + " did not finish " + std::string(method) + " in time (" + code +
           ": " + status.error_message() + "; see --timeout)";
  }
  return "server " + server + " refused " + std::string(method) + ": " + code + ": " +
         status.error_message();
}

}  // namespace mdu::ops
