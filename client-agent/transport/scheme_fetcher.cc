#include "client-agent/transport/scheme_fetcher.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "client-agent/transport/url.h"

namespace mdu::agent {
namespace {

// Creation as a Fetcher, for LazyFetcher.
template <class T>
Result<std::unique_ptr<client::Fetcher>> AsFetcher(Result<std::unique_ptr<T>> made) {
  if (!made) return MakeError(std::move(made).error());
  return std::unique_ptr<client::Fetcher>(std::move(made).value());
}

}  // namespace

Status LazyFetcher::Fetch(std::string_view url, uint64_t max_length,
                          const client::ChunkSink& sink) {
  MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Get());
  return fetcher->Fetch(url, max_length, sink);
}

Status LazyFetcher::FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                              const client::StartSink& on_start, const client::ChunkSink& sink) {
  MDU_ASSIGN_OR_RETURN(client::Fetcher * fetcher, Get());
  return fetcher->FetchFrom(url, offset, max_length, on_start, sink);
}

Result<client::Fetcher*> LazyFetcher::Get() {
  if (!fetcher_) {
    MDU_ASSIGN_OR_RETURN(fetcher_, make_());
  }
  return fetcher_.get();
}

void SchemeFetcher::Register(std::string_view scheme, std::shared_ptr<client::Fetcher> fetcher) {
  std::string key(scheme);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  by_scheme_[std::move(key)] = std::move(fetcher);
}

client::Fetcher* SchemeFetcher::Registered(std::string_view scheme) const {
  std::string key(scheme);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto it = by_scheme_.find(key);
  return it == by_scheme_.end() ? nullptr : it->second.get();
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
  MDU_RETURN_IF_ERROR(ValidateHttpFetcherOptions(options));
  if (grpc_options.client_cert_file.has_value() != grpc_options.client_key_file.has_value()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "a client certificate needs its key and the reverse (mutual TLS)");
  }
  // libcurl is loaded by the first https (or proxied http) fetch, not before.
  const bool proxied = options.proxy.has_value() && !options.proxy->empty();
  std::shared_ptr<client::Fetcher> curl = std::make_shared<LazyFetcher>(
      [options]() { return AsFetcher(CurlFetcher::Create(options)); });
  std::shared_ptr<client::Fetcher> http = curl;
  if (!proxied) {
    MDU_ASSIGN_OR_RETURN(http, AsFetcher(Http1Fetcher::Create(std::move(options))));
  }
  // The TLS files are read only when a grpc(s) URL is fetched.
  std::shared_ptr<client::Fetcher> repo_server =
      std::make_shared<LazyFetcher>([grpc_options = std::move(grpc_options)]() {
        return AsFetcher(GrpcFetcher::Create(grpc_options));
      });
  auto fetcher = std::make_unique<SchemeFetcher>();
  fetcher->Register("http", http);
  fetcher->Register("https", curl);
  fetcher->Register("grpc", repo_server);
  fetcher->Register("grpcs", repo_server);
  fetcher->Register("file", std::make_shared<client::FileFetcher>());
  return fetcher;
}

}  // namespace mdu::agent
