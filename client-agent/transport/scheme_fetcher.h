// SchemeFetcher: a Fetcher that hands each URL to the fetcher registered for its scheme, so one
// updater can read metadata from https:// and targets from file:// (a USB bundle), or the
// reverse. MakeDefaultFetcher builds the usual one:
//   http         Http1Fetcher (plain sockets, no libcurl), or the CurlFetcher below when a proxy
//                is configured (libcurl speaks to proxies);
//   https        one CurlFetcher (one kept-alive connection), created on the first https fetch,
//                so that building the fetcher and fetching http:// or file:// never loads libcurl
//                (~10 ms of dynamic loading per process);
//   grpc, grpcs  one GrpcFetcher (gRPC over libcurl's HTTP/2, created with its TLS files on the
//                first grpc(s) fetch) for repo-server;
//   file         core's FileFetcher.
//
// Errors: kInvalidArgument for a URL without a scheme or with a scheme nobody registered;
// otherwise whatever the chosen fetcher returns (see core/client/fetcher.h).
// Ownership: owns the registered fetchers (a fetcher registered for several schemes is shared).
// Thread-safety: as the registered fetchers; registration is not synchronized.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_SCHEME_FETCHER_H_
#define MDU_CLIENT_AGENT_TRANSPORT_SCHEME_FETCHER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "client-agent/transport/curl_fetcher.h"
#include "client-agent/transport/grpc_fetcher.h"
#include "client-agent/transport/http1_fetcher.h"
#include "client-agent/transport/url.h"
#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent {

class SchemeFetcher final : public client::Fetcher {
 public:
  // `scheme` is matched case-insensitively ("https", "file").
  void Register(std::string_view scheme, std::shared_ptr<client::Fetcher> fetcher);

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override;
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override;

  // The fetcher registered for `scheme` (case-insensitive), or nullptr; owned by this object.
  client::Fetcher* Registered(std::string_view scheme) const;

 private:
  Result<client::Fetcher*> Find(std::string_view url) const;

  std::map<std::string, std::shared_ptr<client::Fetcher>, std::less<>> by_scheme_;
};

// A fetcher made by `make` on its first fetch, so that what it needs (a library, TLS files) is
// loaded only by processes that use it. A failed creation fails that fetch and is retried on the
// next one. Forwards FetchFrom. Not thread-safe.
class LazyFetcher final : public client::Fetcher {
 public:
  using Factory = std::function<Result<std::unique_ptr<client::Fetcher>>()>;
  explicit LazyFetcher(Factory make) : make_(std::move(make)) {}

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override;
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override;

  // The fetcher once created, else nullptr.
  client::Fetcher* created() const { return fetcher_.get(); }

 private:
  Result<client::Fetcher*> Get();

  Factory make_;
  std::unique_ptr<client::Fetcher> fetcher_;
};

// See the file comment: http -> Http1Fetcher with `options` (CurlFetcher when options.proxy is
// set); https -> one CurlFetcher with `options`, created on first use; file -> FileFetcher;
// grpc/grpcs -> one GrpcFetcher with `grpc_options`, created (TLS files read) on first use.
// kInvalidArgument for options no transport can use (checked now, not at the first fetch).
Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options = {});
Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options,
                                                          GrpcFetcherOptions grpc_options);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_SCHEME_FETCHER_H_
