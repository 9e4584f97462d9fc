#include "client-agent/transport/scheme_fetcher.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "client-agent/transport/url.h"

namespace mdu::agent {
namespace {

// A GrpcFetcher created on the first grpc(s) fetch, so a device that only speaks HTTP(S) or
// file:// never reads (or needs) the TLS files of the repository server. A failed creation is
// retried on the next fetch.
class LazyGrpcFetcher final : public client::Fetcher {
 public:
  explicit LazyGrpcFetcher(GrpcFetcherOptions options) : options_(std::move(options)) {}

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override {
    MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Get());
    return fetcher->Fetch(url, max_length, sink);
  }
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override {
    MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Get());
    return fetcher->FetchFrom(url, offset, max_length, on_start, sink);
  }

 private:
  Result<client::Fetcher*> Get() {
    if (!fetcher_) {
      MDU_ASSIGN_OR_RETURN(fetcher_, GrpcFetcher::Create(options_));
    }
    return fetcher_.get();
  }

  GrpcFetcherOptions options_;
  std::unique_ptr<GrpcFetcher> fetcher_;
};

}  // namespace

void SchemeFetcher::Register(std::string_view scheme, std::shared_ptr<client::Fetcher> fetcher) {
  std::string key(scheme);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  by_scheme_[std::move(key)] = std::move(fetcher);
}

Result<client::Fetcher*> SchemeFetcher::Find(std::string_view url) const {
  const std::string scheme = UrlScheme(url);
  if (scheme.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "URL has no scheme (expected http://, https://, grpcs:// or file://): " +
                         RedactUrl(url.substr(0, 200)));
  }
  const auto it = by_scheme_.find(scheme);
  if (it == by_scheme_.end()) {
    return MakeError(ErrorKind::kInvalidArgument, "unsupported URL scheme \"" + scheme + "\"");
  }
  return it->second.get();
}

Status SchemeFetcher::Fetch(std::string_view url, uint64_t max_length,
                            const client::ChunkSink& sink) {
  MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Find(url));
  return fetcher->Fetch(url, max_length, sink);
}

Status SchemeFetcher::FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                                const client::StartSink& on_start, const client::ChunkSink& sink) {
  MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Find(url));
  return fetcher->FetchFrom(url, offset, max_length, on_start, sink);
}

Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options) {
  GrpcFetcherOptions grpc_options;
  grpc_options.total_timeout = options.total_timeout;
  grpc_options.connect_timeout = options.connect_timeout;
  grpc_options.low_speed_limit = options.low_speed_limit;
  grpc_options.low_speed_time = options.low_speed_time;
  return MakeDefaultFetcher(std::move(options), std::move(grpc_options));
}

Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options,
                                                          GrpcFetcherOptions grpc_options) {
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<CurlFetcher> curl, CurlFetcher::Create(std::move(options)));
  if (grpc_options.client_cert_file.has_value() != grpc_options.client_key_file.has_value()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "a client certificate needs its key and the reverse (mutual TLS)");
  }
  std::shared_ptr<client::Fetcher> http(std::move(curl));
  // The TLS files are read only when a grpc(s) URL is fetched.
  std::shared_ptr<client::Fetcher> repo_server =
      std::make_shared<LazyGrpcFetcher>(std::move(grpc_options));
  auto fetcher = std::make_unique<SchemeFetcher>();
  fetcher->Register("http", http);
  fetcher->Register("https", http);
  fetcher->Register("grpc", repo_server);
  fetcher->Register("grpcs", repo_server);
  fetcher->Register("file", std::make_shared<client::FileFetcher>());
  return fetcher;
}

}  // namespace mdu::agent
