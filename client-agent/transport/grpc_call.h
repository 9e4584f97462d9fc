// GrpcClient: gRPC calls (the HTTP/2 mapping of https://github.com/grpc/grpc/blob/master/doc/
// PROTOCOL-HTTP2.md) over a libcurl easy handle, so the agent needs no gRPC library: a call is
//   POST http(s)://HOST:PORT/<service>/<method>
//   content-type: application/grpc, te: trailers, grpc-timeout: <deadline>, user-agent
//   body: the request message with its 5-byte prefix (not compressed)
// and its answer is HTTP 200 with length-prefixed messages (decoded by GrpcFrameReader as they
// arrive, grpc_wire.h) followed by trailers carrying grpc-status / grpc-message (or those in the
// headers of a trailers-only answer). libcurl hands HTTP/2 trailers to the header callback.
//
// What a call guarantees:
//   - HTTP/2 only: ALPN h2 over TLS (grpcs), prior knowledge over plaintext (grpc; the URL
//     parser allows that only to loopback hosts). TLS verifies peer and host, TLS 1.2 minimum;
//     the CA bundle replaces the system store when set; a client certificate and key give
//     mutual TLS. `tls_server_name` is the name the certificate must carry: it becomes the URL's
//     host (SNI, :authority, host check) while the connection goes to the real HOST:PORT
//     (CURLOPT_CONNECT_TO).
//   - A call is complete only with a grpc-status: a body that ends without one, or inside a
//     message, is a failure (kDownload), as is any HTTP status but 200 or a content-type that is
//     not application/grpc. Messages are bounded (GrpcCallLimits::max_message_bytes).
//   - Limits as CurlFetcher: total timeout (also sent as grpc-timeout), connect timeout,
//     minimum speed. Timeouts fail with kSlowRetrieval ("not complete after N s" / "slower than
//     L bytes/s for T s"); no connection within the connect timeout with kDownload.
//   - No proxy, whatever the environment says; no redirects.
//   - The private key is copied into memory owned here (libcurl does not copy it:
//     CURL_BLOB_NOCOPY) and wiped (explicit_bzero) when the client is destroyed; it is never
//     logged.
//
// Connections: one easy handle per client, reused by every call, so consecutive calls to one
// HOST:PORT share one kept-alive HTTP/2 connection (libcurl's connection cache of the handle).
// Plaintext (loopback) calls take a fresh connection each: libcurl 7.88 cannot reuse a
// prior-knowledge HTTP/2 connection (curl issue #10634).
// Not thread-safe: one call at a time. Not copyable.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_GRPC_CALL_H_
#define MDU_CLIENT_AGENT_TRANSPORT_GRPC_CALL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client-agent/transport/grpc_wire.h"
#include "core/common/error.h"

namespace mdu::agent {

struct GrpcClientOptions {
  std::chrono::seconds connect_timeout{30};
  std::string ca_pem;    // trusted CAs (PEM); empty: the system store
  std::string cert_pem;  // client certificate chain (PEM), for mutual TLS
  std::string key_pem;   // its private key (PEM); moved in and wiped by the client
  std::optional<std::string> tls_server_name;
  std::string user_agent = "mdu-client-agent/0.1";
};

// Where a call goes.
struct GrpcEndpoint {
  bool tls = true;
  std::string authority;  // HOST:PORT (HOST may be a bracketed IPv6 literal)
};

struct GrpcCallLimits {
  std::chrono::milliseconds timeout{0};  // whole call; 0 = none (no grpc-timeout either)
  uint64_t low_speed_limit = 0;          // bytes/s; 0 = no check
  std::chrono::seconds low_speed_time{0};
  uint32_t max_message_bytes = 64 << 10;
  // Kind of the error for a response message that is malformed at the framing level
  // (compressed flag): kDownload, or kHashMismatch for the target stream.
  ErrorKind malformed_kind = ErrorKind::kDownload;
};

// The status a call ended with (its trailers).
struct GrpcStatus {
  int code = 0;         // 0 = OK; see GrpcCodeName
  std::string message;  // grpc-message, percent-decoded, at most 1000 characters, no controls
  bool ok() const { return code == 0; }
};

// "NOT_FOUND", "UNAVAILABLE", ... ("CODE_<n>" for codes gRPC does not define).
std::string GrpcCodeName(int code);

// grpc-message's value as it may appear in an error text: percent-decoded, control characters
// replaced by spaces, at most 1000 bytes. Exposed for tests.
std::string CleanGrpcMessage(std::string_view raw);

class GrpcClient {
 public:
  // Loads libcurl on first use (curl::Lib(), curl_api.h) and configures the handle;
  // kInvalidArgument for an unusable tls_server_name, the load error (kDownload) if libcurl
  // cannot be loaded, kInternal if it fails.
  static Result<std::unique_ptr<GrpcClient>> Create(GrpcClientOptions options);
  ~GrpcClient();
  GrpcClient(const GrpcClient&) = delete;
  GrpcClient& operator=(const GrpcClient&) = delete;

  // Calls `path` ("/mdu.v1.DeviceService/GetMetadata") with the serialized `request`; the
  // response messages go to `handler` as they arrive. The status the server ended the call
  // with, or an error: a transport failure, a refusal (see the file comment), or the handler's
  // own error (which aborts the call). `shown` names the call in error texts.
  Result<GrpcStatus> Call(const GrpcEndpoint& endpoint, std::string_view path,
                          std::string_view request, const GrpcCallLimits& limits,
                          GrpcMessageHandler& handler, std::string_view shown);

  // Connections opened so far (TLS calls to one server share one; for tests).
  uint64_t connections() const { return connections_; }

 private:
  struct Handle;  // the CURL* and the TLS material; curl headers stay in the .cc
  explicit GrpcClient(std::unique_ptr<Handle> handle);
  std::unique_ptr<Handle> handle_;
  uint64_t connections_ = 0;
};

// A handler that keeps the one message of a unary response (more than one is refused).
class UnaryResponse final : public GrpcMessageHandler {
 public:
  Status OnMessageStart(uint32_t length) override;
  Status OnMessageBytes(std::string_view bytes) override;
  Status OnMessageEnd() override { return {}; }

  bool received() const { return received_; }
  const std::string& bytes() const { return bytes_; }

 private:
  bool received_ = false;
  std::string bytes_;
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_GRPC_CALL_H_
