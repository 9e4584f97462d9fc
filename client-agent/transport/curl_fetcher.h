// CurlFetcher: the HTTP(S) transport of the agent, on libcurl, implementing core's Fetcher
// contract (core/client/fetcher.h). libcurl's headers are included only by curl_fetcher.cc.
//
// What a Fetch guarantees, beyond the core contract:
//   - The body streams into the sink as it arrives; nothing is buffered beyond libcurl's own
//     receive buffer, so memory does not depend on the size of the resource.
//   - max_length: a response whose Content-Length exceeds it is refused before any body byte
//     is read; a body that grows past it (no or lying Content-Length, endless data) is aborted
//     at the first chunk that would cross it. Both fail with kLimitExceeded.
//   - HTTP status: 2xx is success. 404 and 403 fail with kNotFound: python-tuf's updater
//     treats both as "this file does not exist" (S3 and GCS buckets answer 403 for a missing
//     object when listing is not allowed), which matters at the end of the root chain, where
//     "not found" is the expected outcome. Treating 403 like 404 gives an attacker nothing:
//     one who can answer 403 can answer 404 as well, and freeze attacks are caught by expiry.
//     Every other status (including 3xx when redirects are off, and 410) fails with kDownload
//     naming the status and the URL.
//   - Timeouts: a transfer below `low_speed_limit` bytes/s for `low_speed_time`, or not
//     complete after `total_timeout`, fails with kSlowRetrieval (slow-retrieval attack). A
//     connection that cannot be established within `connect_timeout` fails with kDownload.
//   - TLS peer and host verification are always on (TLS 1.2 minimum); `ca_file` replaces the
//     system trust store when set.
//   - Only http and https; redirects are not followed unless `follow_redirects`, and then only
//     to the scheme of the original URL, at most `max_redirects` times.
//   - Proxies: none, whatever the environment says (http_proxy, ALL_PROXY, ...), unless
//     `proxy` is set. A device must not silently route its updates through a proxy someone
//     put into its environment.
//   - No content decoding (no Accept-Encoding): limits apply to the bytes on the wire and a
//     compressed bomb cannot expand behind them.
//   - Resume (FetchFrom with an offset > 0): a `Range: bytes=<offset>-` request. A 206 answer
//     must start exactly at the offset (its Content-Range is checked before any body byte). One
//     starting elsewhere, or without a Content-Range that says where, is bytes that are not the
//     signed target from that offset, sent by a broken or hostile server: kHashMismatch (as the
//     gRPC fetcher's chunk at the wrong offset), which the agent logs as a hash_mismatch security
//     event; the message names the offset asked for and the one received. A 200 answer (a
//     server ignoring Range) is the whole resource, announced to the caller as a restart from 0
//     before any body byte. The limit applies to the whole resource: offset + body <=
//     max_length. 416 and other statuses fail as above (kDownload).
//
// Ownership and threads: a CurlFetcher owns one libcurl easy handle, reused across Fetch calls
// so that consecutive requests to the same server share one kept-alive connection. It is not
// thread-safe: use one per thread. Movable, not copyable.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_CURL_FETCHER_H_
#define MDU_CLIENT_AGENT_TRANSPORT_CURL_FETCHER_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent {

struct CurlFetcherOptions {
  // Whole transfer, from connect to last byte. Zero disables it (not recommended).
  std::chrono::seconds total_timeout{600};
  std::chrono::seconds connect_timeout{30};
  // Minimum speed: abort when fewer than low_speed_limit bytes/s arrive for low_speed_time.
  // A limit of zero disables the check.
  uint64_t low_speed_limit = 1024;
  std::chrono::seconds low_speed_time{30};
  // Proxy URL ("http://host:port"); unset means no proxy at all.
  std::optional<std::string> proxy;
  // PEM bundle of trusted CAs; unset means the system store.
  std::optional<std::filesystem::path> ca_file;
  bool follow_redirects = false;
  int max_redirects = 3;
  std::string user_agent = "mdu-client-agent/0.1";
};

class CurlFetcher final : public client::Fetcher {
 public:
  // Loads libcurl on first use (curl::Lib(), curl_api.h) and creates the easy handle. The load
  // error (kDownload) if libcurl cannot be loaded, kInternal if no handle can be made,
  // kInvalidArgument for unusable options.
  static Result<std::unique_ptr<CurlFetcher>> Create(CurlFetcherOptions options = {});

  ~CurlFetcher() override;
  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  // See the file comment. `url` must be http:// or https:// (kInvalidArgument otherwise).
  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override;
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override;

  const CurlFetcherOptions& options() const { return options_; }

 private:
  struct Handle;  // owns the CURL*; defined in the .cc so no curl header leaks from here
  CurlFetcher(CurlFetcherOptions options, std::unique_ptr<Handle> handle);

  CurlFetcherOptions options_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_CURL_FETCHER_H_
