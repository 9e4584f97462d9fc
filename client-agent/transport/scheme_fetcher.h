// SchemeFetcher: a Fetcher that hands each URL to the fetcher registered for its scheme, so one
// updater can read metadata from https:// and targets from file:// (a USB bundle), or the
// reverse. MakeDefaultFetcher builds the usual one: http and https through one CurlFetcher
// (one kept-alive connection), grpc and grpcs (repo-server) through one GrpcFetcher (gRPC over
// libcurl's HTTP/2, created with its TLS files on the first grpc(s) fetch), file through core's
// FileFetcher.
//
// Errors: kInvalidArgument for a URL without a scheme or with a scheme nobody registered;
// otherwise whatever the chosen fetcher returns (see core/client/fetcher.h).
// Ownership: owns the registered fetchers (a fetcher registered for several schemes is shared).
// Thread-safety: as the registered fetchers; registration is not synchronized.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_SCHEME_FETCHER_H_
#define MDU_CLIENT_AGENT_TRANSPORT_SCHEME_FETCHER_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "client-agent/transport/curl_fetcher.h"
#include "client-agent/transport/grpc_fetcher.h"
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

 private:
  Result<client::Fetcher*> Find(std::string_view url) const;

  std::map<std::string, std::shared_ptr<client::Fetcher>, std::less<>> by_scheme_;
};

// http/https -> one CurlFetcher with `options`; file -> FileFetcher; grpc/grpcs -> one
// GrpcFetcher with `grpc_options`, created (TLS files read) on first use.
Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options = {});
Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options,
                                                          GrpcFetcherOptions grpc_options);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_SCHEME_FETCHER_H_
