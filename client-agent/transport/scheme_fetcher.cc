#include "client-agent/transport/scheme_fetcher.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "client-agent/transport/url.h"

namespace mdu::agent {

void SchemeFetcher::Register(std::string_view scheme, std::shared_ptr<client::Fetcher> fetcher) {
  std::string key(scheme);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  by_scheme_[std::move(key)] = std::move(fetcher);
}

Status SchemeFetcher::Fetch(std::string_view url, uint64_t max_length,
                            const client::ChunkSink& sink) {
  const std::string scheme = UrlScheme(url);
  if (scheme.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "URL has no scheme (expected http://, https:// or file://): " +
                         RedactUrl(url.substr(0, 200)));
  }
  const auto it = by_scheme_.find(scheme);
  if (it == by_scheme_.end()) {
    return MakeError(ErrorKind::kInvalidArgument, "unsupported URL scheme \"" + scheme + "\"");
  }
  return it->second->Fetch(url, max_length, sink);
}

Result<std::unique_ptr<SchemeFetcher>> MakeDefaultFetcher(CurlFetcherOptions options) {
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<CurlFetcher> curl, CurlFetcher::Create(std::move(options)));
  std::shared_ptr<client::Fetcher> http(std::move(curl));
  auto fetcher = std::make_unique<SchemeFetcher>();
  fetcher->Register("http", http);
  fetcher->Register("https", http);
  fetcher->Register("file", std::make_shared<client::FileFetcher>());
  return fetcher;
}

}  // namespace mdu::agent
