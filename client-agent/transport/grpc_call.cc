#include "client-agent/transport/grpc_call.h"

#include <curl/curl.h>
#include <string.h>  // explicit_bzero

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include "client-agent/transport/curl_api.h"
#include "client-agent/transport/curl_common.h"

namespace mdu::agent {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsServerName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  }
  return true;
}

// HOST and PORT of "HOST:PORT" ("[::1]:443" keeps its brackets).
std::optional<std::pair<std::string_view, std::string_view>> SplitAuthority(
    std::string_view authority) {
  const size_t colon = authority.rfind(':');
  const size_t bracket = authority.rfind(']');
  if (colon == std::string_view::npos || colon == 0 ||
      (bracket != std::string_view::npos && colon < bracket)) {
    return std::nullopt;
  }
  const std::string_view port = authority.substr(colon + 1);
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
      number > 65535) {
    return std::nullopt;
  }
  for (char c : authority) {
    // Nothing that could end the host inside a URL or a CONNECT_TO entry early.
    if (c == '/' || c == '?' || c == '#' || c == '@' ||
        std::isspace(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  return std::make_pair(authority.substr(0, colon), port);
}

// grpc-timeout: at most 8 digits and a unit.
std::string GrpcTimeout(std::chrono::milliseconds timeout) {
  const int64_t ms = timeout.count();
  if (ms <= 99999999) return std::to_string(ms) + "m";
  const int64_t seconds = (ms + 999) / 1000;
  if (seconds <= 99999999) return std::to_string(seconds) + "S";
  return std::to_string(std::min<int64_t>((seconds + 3599) / 3600, 99999999)) + "H";
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

struct CurlSlist {
  explicit CurlSlist(const curl::Api& lib) : api(lib) {}
  ~CurlSlist() { api.slist_free_all(list); }
  CurlSlist(const CurlSlist&) = delete;
  CurlSlist& operator=(const CurlSlist&) = delete;
  bool Append(const std::string& line) {
    curl_slist* next = api.slist_append(list, line.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
  const curl::Api& api;
  curl_slist* list = nullptr;
};

// The state of one call, shared with the libcurl callbacks.
struct CallState {
  CallState(GrpcMessageHandler& handler, const GrpcCallLimits& limits)
      : reader(handler, limits.max_message_bytes, limits.malformed_kind) {}

  const curl::Api* api = nullptr;
  CURL* curl = nullptr;
  GrpcFrameReader reader;
  std::string shown;
  std::optional<Error> error;  // set by a callback when it aborts the call
  bool headers_done = false;
  std::optional<std::string> content_type;
  std::optional<int> grpc_status;
  std::string grpc_message;
  uint64_t received = 0;  // body bytes
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* call = static_cast<CallState*>(user);
  const size_t bytes = size * count;
  const std::string_view line = Trim(std::string_view(data, bytes));
  if (line.empty()) {
    if (call->headers_done) return bytes;
    // The end of the response headers: accept the response or not, before any body byte.
    call->headers_done = true;
    long status = 0;
    long version = 0;
    call->api->easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &status);
    call->api->easy_getinfo(call->curl, CURLINFO_HTTP_VERSION, &version);
    if (status != 200) {
      call->error = Error(ErrorKind::kDownload, "HTTP " + std::to_string(status) + " for " +
                                                    call->shown + " (not a gRPC answer)");
      return 0;
    }
    if (version != CURL_HTTP_VERSION_2_0) {
      call->error =
          Error(ErrorKind::kDownload, call->shown + ": the server does not speak HTTP/2 (gRPC)");
      return 0;
    }
    const bool grpc_type =
        call->content_type && call->content_type->substr(0, 16) == "application/grpc";
    if ((call->content_type && !grpc_type) || (!call->content_type && !call->grpc_status)) {
      call->error =
          Error(ErrorKind::kDownload, call->shown + ": not a gRPC answer (content-type \"" +
                                          call->content_type.value_or("").substr(0, 100) + "\")");
      return 0;
    }
    return bytes;
  }
  if (line.substr(0, 5) == "HTTP/") return bytes;  // the status line
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = Trim(line.substr(colon + 1));
  if (EqualsNoCase(name, "grpc-status")) {
    int code = -1;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
    if (ec != std::errc() || end != value.data() + value.size() || value.size() > 3 || code < 0) {
      call->error = Error(ErrorKind::kDownload, call->shown + ": invalid grpc-status");
      return 0;
    }
    call->grpc_status = code;
  } else if (EqualsNoCase(name, "grpc-message")) {
    call->grpc_message = CleanGrpcMessage(value.substr(0, 4096));
  } else if (EqualsNoCase(name, "content-type") && !call->headers_done) {
    call->content_type = std::string(value.substr(0, 200));
  }
  return bytes;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* call = static_cast<CallState*>(user);
  const size_t bytes = size * count;
  if (call->error) return 0;
  if (call->grpc_status) {
    call->error = Error(ErrorKind::kDownload, call->shown + ": data after the gRPC status");
    return 0;
  }
  call->received += bytes;
  if (Status fed = call->reader.Feed(std::string_view(data, bytes)); !fed) {
    call->error = std::move(fed).error();
    return 0;  // any count other than `bytes` makes libcurl abort the call (the stream is reset)
  }
  return bytes;
}

}  // namespace

std::string GrpcCodeName(int code) {
  static constexpr std::array<std::string_view, 17> kNames = {"OK",
                                                              "CANCELLED",
                                                              "UNKNOWN",
                                                              "INVALID_ARGUMENT",
                                                              "DEADLINE_EXCEEDED",
                                                              "NOT_FOUND",
                                                              "ALREADY_EXISTS",
                                                              "PERMISSION_DENIED",
                                                              "RESOURCE_EXHAUSTED",
                                                              "FAILED_PRECONDITION",
                                                              "ABORTED",
                                                              "OUT_OF_RANGE",
                                                              "UNIMPLEMENTED",
                                                              "INTERNAL",
                                                              "UNAVAILABLE",
                                                              "DATA_LOSS",
                                                              "UNAUTHENTICATED"};
  if (code >= 0 && static_cast<size_t>(code) < kNames.size()) {
    return std::string(kNames[static_cast<size_t>(code)]);
  }
  return "CODE_" + std::to_string(code);
}

std::string CleanGrpcMessage(std::string_view raw) {
  std::string out;
  out.reserve(std::min<size_t>(raw.size(), 1000));
  for (size_t i = 0; i < raw.size() && out.size() < 1000; ++i) {
    char c = raw[i];
    if (c == '%' && i + 2 < raw.size()) {
      const int high = HexValue(raw[i + 1]);
      const int low = HexValue(raw[i + 2]);
      if (high >= 0 && low >= 0) {
        c = static_cast<char>(high * 16 + low);
        i += 2;
      }
    }
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  return out;
}

struct GrpcClient::Handle {
  explicit Handle(GrpcClientOptions client_options) : options(std::move(client_options)) {}
  ~Handle() {
    if (curl != nullptr) api->easy_cleanup(curl);
    if (!options.key_pem.empty()) explicit_bzero(options.key_pem.data(), options.key_pem.size());
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  GrpcClientOptions options;
  const curl::Api* api = nullptr;  // the process-wide table (curl::Lib()), set with `curl`
  CURL* curl = nullptr;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

Result<std::unique_ptr<GrpcClient>> GrpcClient::Create(GrpcClientOptions options) {
  // First of all: the handle owns (and wipes) the key, whatever happens next.
  auto handle = std::make_unique<Handle>(std::move(options));
  const GrpcClientOptions& o = handle->options;
  if (o.tls_server_name && !IsServerName(*o.tls_server_name)) {
    return MakeError(
        ErrorKind::kInvalidArgument,
        "TLS server name \"" + o.tls_server_name->substr(0, 100) + "\" is not a host name");
  }
  if (o.cert_pem.empty() != o.key_pem.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "a client certificate needs its key and the reverse (mutual TLS)");
  }
  MDU_ASSIGN_OR_RETURN(const curl::Api* loaded, curl::Lib());
  const curl::Api& api = *loaded;
  handle->api = loaded;
  handle->curl = api.easy_init();
  if (handle->curl == nullptr) return MakeError(ErrorKind::kInternal, "curl_easy_init failed");
  CURL* curl = handle->curl;
  auto check = [&api](CURLcode code, std::string_view what) -> Status {
    if (code == CURLE_OK) return {};
    return MakeError(ErrorKind::kInvalidArgument,
                     "libcurl rejected " + std::string(what) + ": " + api.easy_strerror(code));
  };
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_ERRORBUFFER, handle->error_buffer.data()),
                            "error buffer"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L), "nosignal"));
  // One receive buffer per handle: the only copy of response bytes libcurl keeps.
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_BUFFERSIZE, 128L * 1024), "buffer size"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L), "redirects"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_PROXY, ""), "proxy"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L), "keepalive"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L), "verifypeer"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L), "verifyhost"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2)),
            "TLS version"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                                            static_cast<long>(o.connect_timeout.count() * 1000)),
                            "connect timeout"));
  MDU_RETURN_IF_ERROR(
      check(api.easy_setopt(curl, CURLOPT_USERAGENT, o.user_agent.c_str()), "user agent"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_POST, 1L), "post"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader), "header"));
  MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody), "write"));
  if (!o.ca_pem.empty()) {
    // These CAs only: the built-in bundle and directory are dropped.
    curl_blob ca{const_cast<char*>(o.ca_pem.data()), o.ca_pem.size(), CURL_BLOB_COPY};
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca), "CA"));
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_CAINFO, nullptr), "CA file"));
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_CAPATH, nullptr), "CA path"));
  }
  if (!o.cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(o.cert_pem.data()), o.cert_pem.size(), CURL_BLOB_COPY};
    // Not copied by libcurl: the only copy is ours, wiped in ~Handle.
    curl_blob key{handle->options.key_pem.data(), o.key_pem.size(), CURL_BLOB_NOCOPY};
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert), "client cert"));
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM"), "cert type"));
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key), "client key"));
    MDU_RETURN_IF_ERROR(check(api.easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM"), "key type"));
  }
  return std::unique_ptr<GrpcClient>(new GrpcClient(std::move(handle)));
}

GrpcClient::GrpcClient(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {}

GrpcClient::~GrpcClient() = default;

Result<GrpcStatus> GrpcClient::Call(const GrpcEndpoint& endpoint, std::string_view path,
                                    std::string_view request, const GrpcCallLimits& limits,
                                    GrpcMessageHandler& handler, std::string_view shown) {
  const auto parts = SplitAuthority(endpoint.authority);
  if (!parts) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "\"" + endpoint.authority.substr(0, 200) + "\" is not HOST:PORT");
  }
  const auto [host, port] = *parts;
  const GrpcClientOptions& o = handle_->options;
  const bool renamed = endpoint.tls && o.tls_server_name.has_value();
  const std::string url_host = renamed ? *o.tls_server_name : std::string(host);
  const std::string url = std::string(endpoint.tls ? "https://" : "http://") + url_host + ":" +
                          std::string(port) + std::string(path);
  const curl::Api& api = *handle_->api;
  CurlSlist connect_to(api);
  if (renamed && !connect_to.Append(url_host + ":" + std::string(port) + ":" + std::string(host) +
                                    ":" + std::string(port))) {
    return MakeError(ErrorKind::kInternal, "out of memory");
  }
  CurlSlist headers(api);
  bool built = headers.Append("content-type: application/grpc") && headers.Append("te: trailers") &&
               headers.Append("Accept:") && headers.Append("Expect:");
  if (limits.timeout.count() > 0)
    built = built && headers.Append("grpc-timeout: " + GrpcTimeout(limits.timeout));
  if (!built) return MakeError(ErrorKind::kInternal, "out of memory");

  // The request message with its prefix: not compressed, big-endian length.
  std::string body(5, '\0');
  const auto length = static_cast<uint32_t>(request.size());
  body[1] = static_cast<char>(length >> 24);
  body[2] = static_cast<char>(length >> 16);
  body[3] = static_cast<char>(length >> 8);
  body[4] = static_cast<char>(length);
  body.append(request);

  CURL* curl = handle_->curl;
  CallState call(handler, limits);
  call.api = &api;
  call.curl = curl;
  call.shown = std::string(shown);
  handle_->error_buffer[0] = '\0';
  api.easy_setopt(curl, CURLOPT_URL, url.c_str());
  api.easy_setopt(curl, CURLOPT_HTTP_VERSION,
                  static_cast<long>(endpoint.tls ? CURL_HTTP_VERSION_2TLS
                                                 : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
  // libcurl 7.88 fails a prior-knowledge (plaintext) HTTP/2 request on a reused connection
  // ("Error in the HTTP2 framing layer", curl issue #10634, fixed in 7.89): plaintext is loopback
  // only, so those calls take a fresh connection each. TLS connections are reused.
  api.easy_setopt(curl, CURLOPT_FORBID_REUSE, endpoint.tls ? 0L : 1L);
  api.easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to.list);
  api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  api.easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(limits.timeout.count()));
  api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(limits.low_speed_limit));
  api.easy_setopt(
      curl, CURLOPT_LOW_SPEED_TIME,
      static_cast<long>(limits.low_speed_limit > 0 ? limits.low_speed_time.count() : 0));
  api.easy_setopt(curl, CURLOPT_HEADERDATA, &call);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &call);
  const CURLcode code = api.easy_perform(curl);
  // The handle keeps pointers to this call's state and lists; clear them.
  api.easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  api.easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  api.easy_setopt(curl, CURLOPT_CONNECT_TO, nullptr);
  api.easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);

  long connects = 0;
  if (api.easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
    connections_ += static_cast<uint64_t>(connects);
  }
  if (call.error) return MakeError(std::move(*call.error));
  const std::string detail =
      handle_->error_buffer[0] != '\0' ? handle_->error_buffer.data() : api.easy_strerror(code);
  const std::string received = " (" + std::to_string(call.received) + " bytes received)";
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return MakeError(CurlTimeoutError(
        api, curl, call.shown, detail,
        CurlCutoffs{limits.timeout, limits.low_speed_limit, limits.low_speed_time}, call.received));
  }
  if (code != CURLE_OK) {
    return MakeError(ErrorKind::kDownload, "gRPC call " + call.shown + " failed: " + detail);
  }
  if (!call.headers_done) {
    return MakeError(ErrorKind::kDownload, call.shown + ": no response headers");
  }
  if (!call.reader.at_boundary()) {
    return MakeError(ErrorKind::kDownload,
                     call.shown + ": the response ended inside a message (truncated)" + received);
  }
  if (!call.grpc_status) {
    return MakeError(
        ErrorKind::kDownload,
        call.shown + ": the response ended without a gRPC status (truncated)" + received);
  }
  return GrpcStatus{*call.grpc_status, std::move(call.grpc_message)};
}

Status UnaryResponse::OnMessageStart(uint32_t length) {
  if (received_) {
    return MakeError(ErrorKind::kDownload, "more than one message in a unary gRPC response");
  }
  received_ = true;
  bytes_.reserve(length);
  return {};
}

Status UnaryResponse::OnMessageBytes(std::string_view bytes) {
  bytes_.append(bytes);
  return {};
}

}  // namespace mdu::agent
