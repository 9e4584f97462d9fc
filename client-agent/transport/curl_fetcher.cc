#include "client-agent/transport/curl_fetcher.h"

#include <curl/curl.h>

#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <system_error>
#include <utility>

#include "client-agent/transport/curl_api.h"
#include "client-agent/transport/curl_common.h"
#include "client-agent/transport/http_response.h"
#include "client-agent/transport/url.h"

namespace mdu::agent {
namespace {

// "http" or "https", or empty for anything else.
std::string HttpScheme(std::string_view url) {
  std::string scheme = UrlScheme(url);
  return scheme == "http" || scheme == "https" ? scheme : std::string();
}

// The state of one Fetch, shared with the libcurl callbacks.
struct Transfer {
  const curl::Api* api = nullptr;
  CURL* curl = nullptr;
  const client::ChunkSink* sink = nullptr;
  const client::StartSink* on_start = nullptr;
  std::string url;            // redacted, for messages
  uint64_t max_length = 0;    // of the whole resource
  uint64_t offset = 0;        // requested start (Range) or 0
  uint64_t start = 0;         // where the body of the accepted response starts
  std::string content_range;  // of the current response
  uint64_t received = 0;      // body bytes
  bool follow_redirects = false;
  std::optional<Error> error;  // set by a callback when it aborts the transfer
};

// Decides where the body of an accepted (2xx) response starts; see the header (resume).
std::optional<Error> AcceptStart(Transfer& transfer, long status) {
  if (status != 206) {
    transfer.start = 0;  // the whole resource (a server ignoring Range answers 200)
    return std::nullopt;
  }
  // A 206 placing its bytes elsewhere than asked (or not saying where) is not the signed target
  // from that offset: a broken or hostile server, refused like the gRPC fetcher's chunk at the
  // wrong offset (kHashMismatch, a hash_mismatch security event; the partial file is dropped).
  const std::optional<uint64_t> first = ContentRangeStart(transfer.content_range);
  if (!first) {
    return Error(ErrorKind::kHashMismatch,
                 transfer.url + " answered 206 without a usable Content-Range (\"" +
                     transfer.content_range + "\"), asked for bytes from " +
                     std::to_string(transfer.offset));
  }
  if (*first != transfer.offset) {
    return Error(ErrorKind::kHashMismatch,
                 transfer.url + " answered 206 with bytes from " + std::to_string(*first) +
                     ", asked for bytes from " + std::to_string(transfer.offset) +
                     " (Content-Range \"" + transfer.content_range + "\")");
  }
  transfer.start = *first;
  return std::nullopt;
}

// Called once per header line; an empty line ends a response's header block. The decision
// whether to accept the response is taken there, before any body byte reaches the sink.
size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  if (StartsWithNoCase(line, "HTTP/")) transfer->content_range.clear();  // a new response
  constexpr std::string_view kContentRange = "content-range:";
  if (StartsWithNoCase(line, kContentRange)) {
    line.remove_prefix(kContentRange.size());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    transfer->content_range = std::string(line.substr(0, 200));
    return bytes;
  }
  if (line != "\r\n" && line != "\n") return bytes;

  long status = 0;
  transfer->api->easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200) return bytes;  // 1xx interim response; the real one follows
  if (status >= 300 && status < 400 && transfer->follow_redirects) return bytes;
  if (status >= 300) {
    transfer->error = HttpStatusError(status, transfer->url);
    return 0;
  }
  if (std::optional<Error> refused = AcceptStart(*transfer, status)) {
    transfer->error = std::move(*refused);
    return 0;
  }
  curl_off_t content_length = -1;
  transfer->api->easy_getinfo(transfer->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length);
  if (content_length >= 0 &&
      static_cast<uint64_t>(content_length) > transfer->max_length - transfer->start) {
    transfer->error = Error(ErrorKind::kLimitExceeded,
                            transfer->url + " announces " + std::to_string(content_length) +
                                " bytes from byte " + std::to_string(transfer->start) +
                                ", more than the limit of " + std::to_string(transfer->max_length));
    return 0;
  }
  if (Status started = (*transfer->on_start)(transfer->start); !started) {
    transfer->error = std::move(started).error();
    return 0;
  }
  return bytes;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (bytes > transfer->max_length - transfer->start - transfer->received) {
    transfer->error =
        Error(ErrorKind::kLimitExceeded, transfer->url + " sent more than the limit of " +
                                             std::to_string(transfer->max_length) + " bytes");
    return 0;  // any count other than `bytes` makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->received += bytes;
  Status status = (*transfer->sink)(std::string_view(data, bytes));
  if (!status) {
    transfer->error = std::move(status).error();
    return 0;
  }
  return bytes;
}

}  // namespace

struct CurlFetcher::Handle {
  Handle(const curl::Api& lib, CURL* handle) : api(lib), curl(handle) {}
  ~Handle() { api.easy_cleanup(curl); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  const curl::Api& api;  // the process-wide table (curl::Lib()), never unloaded
  CURL* curl;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

namespace {

// Options that stay the same for every request of a handle.
Status ConfigureHandle(const curl::Api& api, CURL* curl, char* error_buffer,
                       const CurlFetcherOptions& options) {
  auto check = [&api](CURLcode code, std::string_view what) -> Status {
    if (code == CURLE_OK) return {};
    return MakeError(ErrorKind::kInvalidArgument,
                     "libcurl rejected " + std::string(what) + ": " + api.easy_strerror(code));
  };
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer), "error buffer"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L), "nosignal"));
  // Larger reads: fewer callbacks and recv calls per GiB (the buffer is the only one a transfer
  // holds, so memory stays bounded). 128 KiB saved 128 KiB of peak RSS but cost about 10 % more
  // CPU per GiB in scripts/bench_agent_download.sh (figures in BENCHMARKS.md), so it stays 256.
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L * 1024), "buffer size"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L), "verifypeer"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L), "verifyhost"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2)),
            "TLS version"));
  if (options.ca_file) {
    MDU_RETURN_IF_ERROR(
        check(api.easy_setopt(curl, CURLOPT_CAINFO, options.ca_file->c_str()), "CA file"));
  }
  // An empty proxy string disables every proxy, including those from the environment.
  MDU_RETURN_IF_ERROR(check(
      api.easy_setopt(curl, CURLOPT_PROXY, options.proxy ? options.proxy->c_str() : ""), "proxy"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, options.follow_redirects ? 1L : 0L),
            "redirects"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects)),
            "max redirects"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                            static_cast<long>(options.total_timeout.count() * 1000)),
            "total timeout"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                            static_cast<long>(options.connect_timeout.count() * 1000)),
            "connect timeout"));
  MDU_RETURN_IF_ERROR(check(
      api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options.low_speed_limit)),
      "low speed limit"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                                            static_cast<long>(options.low_speed_time.count())),
                            "low speed time"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str()), "user agent"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader), "header"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody), "write"));
  return {};
}

}  // namespace

Result<std::unique_ptr<CurlFetcher>> CurlFetcher::Create(CurlFetcherOptions options) {
  if (options.max_redirects < 0) {
    return MakeError(ErrorKind::kInvalidArgument, "max_redirects must be >= 0");
  }
  if (options.low_speed_limit > 0 && options.low_speed_time.count() <= 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "low_speed_time must be positive when low_speed_limit is set");
  }
  MDU_ASSIGN_OR_RETURN(const curl::Api* api, curl::Lib());
  CURL* curl = api->easy_init();
  if (curl == nullptr) return MakeError(ErrorKind::kInternal, "curl_easy_init failed");
  auto handle = std::make_unique<Handle>(*api, curl);
  MDU_RETURN_IF_ERROR(ConfigureHandle(*api, curl, handle->error_buffer.data(), options));
  return std::unique_ptr<CurlFetcher>(new CurlFetcher(std::move(options), std::move(handle)));
}

CurlFetcher::CurlFetcher(CurlFetcherOptions options, std::unique_ptr<Handle> handle)
    : options_(std::move(options)), handle_(std::move(handle)) {}

CurlFetcher::~CurlFetcher() = default;

Status CurlFetcher::Fetch(std::string_view url, uint64_t max_length,
                          const client::ChunkSink& sink) {
  return FetchFrom(
      url, 0, max_length, [](uint64_t) -> Status { return {}; }, sink);
}

Status CurlFetcher::FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                              const client::StartSink& on_start, const client::ChunkSink& sink) {
  const std::string scheme = HttpScheme(url);
  if (scheme.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "not an http(s) URL: " + RedactUrl(url));
  }
  if (offset > max_length) {
    return MakeError(ErrorKind::kInvalidArgument, "offset " + std::to_string(offset) +
                                                      " is beyond the limit of " +
                                                      std::to_string(max_length) + " bytes");
  }
  const curl::Api& api = handle_->api;
  CURL* curl = handle_->curl;
  Transfer transfer;
  transfer.api = &api;
  transfer.curl = curl;
  transfer.sink = &sink;
  transfer.on_start = &on_start;
  transfer.url = RedactUrl(url);
  transfer.max_length = max_length;
  transfer.offset = offset;
  transfer.follow_redirects = options_.follow_redirects;

  const std::string url_text(url);
  const std::string range = std::to_string(offset) + "-";
  handle_->error_buffer[0] = '\0';
  api.easy_setopt(curl, CURLOPT_URL, url_text.c_str());
  api.easy_setopt(curl, CURLOPT_RANGE, offset > 0 ? range.c_str() : nullptr);
  // Redirects, when allowed, never change the scheme (no https -> http downgrade).
  api.easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, scheme.c_str());
  api.easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  const CURLcode code = api.easy_perform(curl);
  // The handle keeps pointers to `transfer`; clear them so a stale one is never used.
  api.easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  api.easy_setopt(curl, CURLOPT_RANGE, nullptr);

  if (transfer.error) return MakeError(std::move(*transfer.error));
  const std::string detail =
      handle_->error_buffer[0] != '\0' ? handle_->error_buffer.data() : api.easy_strerror(code);
  switch (code) {
    case CURLE_OK: {
      long status = 0;
      api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      if (status < 200 || status >= 300) return MakeError(HttpStatusError(status, transfer.url));
      return {};
    }
    case CURLE_OPERATION_TIMEDOUT:
      return MakeError(CurlTimeoutError(
          api, curl, transfer.url, detail,
          CurlCutoffs{std::chrono::duration_cast<std::chrono::milliseconds>(options_.total_timeout),
                      options_.low_speed_limit, options_.low_speed_time},
          transfer.received));
    case CURLE_FILESIZE_EXCEEDED:
      return MakeError(ErrorKind::kLimitExceeded, transfer.url + ": " + detail);
    default:
      return MakeError(ErrorKind::kDownload, "GET " + transfer.url + " failed: " + detail);
  }
}

}  // namespace mdu::agent
