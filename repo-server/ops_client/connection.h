// The operator's connection to a repo-server's OperatorService: where (--server HOST:PORT), how
// (TLS verifying the server with --ca-cert, or plaintext with --insecure, loopback only, as the
// server itself allows), who (the bearer token, token.h) and how long (a deadline per call).
//
// The only file of the operator client besides uploader.cc that includes gRPC.
// Ownership: an OperatorConnection owns its channel, stub and token.
// Thread-safety: Prepare and the stub may be used from several threads.
#ifndef MDU_REPO_SERVER_OPS_CLIENT_CONNECTION_H_
#define MDU_REPO_SERVER_OPS_CLIENT_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "repo-server/ops_client/token.h"

namespace mdu::ops {

inline constexpr int kDefaultTimeoutSeconds = 30;

struct ConnectionOptions {
  std::string server;           // HOST:PORT ([v6]:PORT)
  std::string ca_cert;          // PEM file of the CA that issued the server's certificate
  bool insecure = false;        // plaintext; loopback addresses only
  std::string tls_server_name;  // name expected in the certificate, if not the host
  std::string token_file;
  std::string token_env;
  int timeout_seconds = kDefaultTimeoutSeconds;
};

// The host of "HOST:PORT" / "[v6]:PORT"; kInvalidArgument if the port is missing or not a
// number, or the address carries a scheme.
Result<std::string> HostOfServer(std::string_view server);


// Checks the combination without touching files: a server, exactly one of --ca-cert and
// --insecure, --insecure only for a loopback host, at most one token source, timeout > 0.
Status ValidateConnectionOptions(const ConnectionOptions& options);

class OperatorConnection {
 public:
  // Validates, reads the CA certificate and the token; the channel connects lazily (the first
  // call reports an unreachable server).
  static Result<std::unique_ptr<OperatorConnection>> Open(const ConnectionOptions& options);

  ::mdu::v1::OperatorService::Stub& stub() { return *stub_; }
  const std::string& server() const { return server_; }
  std::chrono::seconds timeout() const { return timeout_; }

  // Sets the call's deadline (now + `timeout`) and the authorization header.
  void Prepare(grpc::ClientContext& context, std::chrono::seconds timeout) const;
  void Prepare(grpc::ClientContext& context) const { Prepare(context, timeout_); }

 private:
  OperatorConnection() = default;
  std::string server_;
  std::chrono::seconds timeout_{kDefaultTimeoutSeconds};
  Token token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::mdu::v1::OperatorService::Stub> stub_;
};

// "OK", "PERMISSION_DENIED", ...
std::string_view StatusCodeName(grpc::StatusCode code);

// What a failed call means for the operator, naming the server and the gRPC status, e.g.
//   server 10.0.0.5:9443 refused ListFailures: PERMISSION_DENIED: operator bob is a viewer...
//   cannot reach server 10.0.0.5:9443 (UNAVAILABLE: failed to connect to all addresses)
// The server's message is kept verbatim.
std::string DescribeFailure(const std::string& server, std::string_view method,
                            const grpc::Status& status);

}  // namespace mdu::ops

#endif  // MDU_REPO_SERVER_OPS_CLIENT_CONNECTION_H_
