// Http1Fetcher: the agent's transport for plain http:// URLs, an HTTP/1.1 client on POSIX
// sockets, so that a device fetching from an http mirror never loads libcurl (its dependency
// tree costs ~10 ms of dynamic loading per process; client-agent refresh must stay well under
// 50 ms). https, proxies and gRPC stay on libcurl (CurlFetcher, GrpcFetcher).
//
// It implements core's Fetcher contract (core/client/fetcher.h) with exactly the policy of
// CurlFetcher (curl_fetcher.h), with the same options, error kinds and comparable messages:
//   - The body streams into the sink straight from one 256 KiB receive buffer (no copy, nothing
//     else buffered): memory does not depend on the size of the resource.
//   - max_length: a Content-Length above it is refused before any body byte; a body growing
//     past it (chunked, close-delimited, endless) is stopped at the first piece that would cross
//     it. Both kLimitExceeded. A Content-Length larger than what arrives before the connection
//     closes is kDownload.
//   - Status: 2xx success; 404 and 403 kNotFound; everything else (3xx when not followed, 410,
//     5xx) kDownload naming the status and the URL. An error page never reaches the sink.
//   - Timeouts: not complete after total_timeout, or below low_speed_limit bytes/s on average
//     over low_speed_time: kSlowRetrieval with the texts of transfer_cutoffs.h. No connection
//     within connect_timeout (or refused, or unresolvable host): kDownload "cannot connect".
//   - Redirects only when follow_redirects, only to http://, at most max_redirects; credentials
//     are sent only to the host:port of the URL that carried them.
//   - Resume (FetchFrom, offset > 0): "Range: bytes=<offset>-"; a 206 must say (Content-Range)
//     that it starts at the offset, otherwise kHashMismatch before any body byte; a 200 is a
//     restart announced by on_start(0). The limit applies to offset + body.
//   - No proxy whatever the environment says (a configured proxy is served by CurlFetcher), no
//     Accept-Encoding (limits apply to the bytes on the wire).
//   - URL userinfo ("http://user:pass@host/") becomes "Authorization: Basic" as with libcurl;
//     messages show URLs redacted (url.h RedactUrl), never the credentials.
//
// Strict, bounded parsing of what a hostile server sends: status line and headers at most
// 64 KiB and 100 header lines; a malformed status line or header, conflicting Content-Length,
// Content-Length with Transfer-Encoding, a transfer coding other than chunked, a bad or
// overflowing chunk size: kDownload naming what was wrong. Never a crash, never unbounded memory.
//
// Connections: one kept-alive connection, reused by the next request to the same host:port.
// A reused connection that turns out closed before any byte of the answer (the server dropped
// it while idle) is replaced once, transparently. "Connection: close", HTTP/1.0 answers, bodies
// delimited by the end of the connection and any failure close it. SIGPIPE is never raised.
//
// Ownership and threads: owns its socket and buffer (allocated on the first fetch). Not
// thread-safe: use one per thread. Movable, not copyable.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_HTTP1_FETCHER_H_
#define MDU_CLIENT_AGENT_TRANSPORT_HTTP1_FETCHER_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "client-agent/transport/curl_fetcher.h"  // CurlFetcherOptions (a plain struct)
#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent {

// The options of every HTTP transport; `proxy` and `ca_file` mean nothing to Http1Fetcher.
using HttpFetcherOptions = CurlFetcherOptions;

// kInvalidArgument for options no HTTP transport can use (negative max_redirects, a minimum
// speed without a time, a User-Agent with control characters).
Status ValidateHttpFetcherOptions(const HttpFetcherOptions& options);

class Http1Fetcher final : public client::Fetcher {
 public:
  // Fails only as ValidateHttpFetcherOptions. Opens nothing yet.
  static Result<std::unique_ptr<Http1Fetcher>> Create(HttpFetcherOptions options = {});

  ~Http1Fetcher() override;
  Http1Fetcher(Http1Fetcher&&) noexcept;
  Http1Fetcher& operator=(Http1Fetcher&&) noexcept;
  Http1Fetcher(const Http1Fetcher&) = delete;
  Http1Fetcher& operator=(const Http1Fetcher&) = delete;

  // See the file comment. `url` must be http:// (kInvalidArgument otherwise, https included).
  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override;
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override;

  const HttpFetcherOptions& options() const;

  struct State;  // options, connection, receive buffer: opaque, defined in the .cc

 private:
  explicit Http1Fetcher(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_HTTP1_FETCHER_H_
