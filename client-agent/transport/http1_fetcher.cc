#include "client-agent/transport/http1_fetcher.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "client-agent/transport/http_response.h"
#include "client-agent/transport/transfer_cutoffs.h"
#include "client-agent/transport/url.h"

namespace mdu::agent {
namespace {

using Clock = std::chrono::steady_clock;

// One recv fills at most this much; body pieces go to the sink straight from it (libcurl's
// buffer size in CurlFetcher, for the same CPU per GiB).
constexpr size_t kBufferSize = size_t{256} * 1024;
// A hostile server gets no more memory or patience for a response head than this.
constexpr size_t kMaxHeadBytes = size_t{64} * 1024;
constexpr int kMaxHeaderLines = 100;
constexpr int kMaxInterimResponses = 10;
// A chunk-size line: 16 hex digits and a little room for (ignored) extensions.
constexpr size_t kMaxChunkLine = 1024;
// Minimum-speed checks need a wake-up even when nothing arrives.
constexpr int kSpeedCheckMs = 1000;

std::string ErrnoText(int error) { return std::system_category().message(error); }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// For messages: at most `max` bytes of what a server sent, control bytes shown as '?'.
std::string Printable(std::string_view text, size_t max = 80) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

bool IsTokenChar(char c) {  // RFC 9110 tchar
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string Base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (i + 1 < data.size())
      group |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    if (i + 2 < data.size()) group |= static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[group & 63] : '=';
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// An http:// URL taken apart.
struct HttpUrl {
  std::string shown;   // redacted, for messages
  std::string prefix;  // "http://[userinfo@]authority", for relative redirects
  std::string host;    // without the brackets of an IPv6 literal
  uint16_t port = 80;
  std::string authority;  // the Host header
  std::string target;     // path and query ("/" when empty)
  std::string userinfo;   // "user:password" as written (percent-encoded), empty when none

  std::string Key() const { return host + "|" + std::to_string(port); }
};

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  HttpUrl parsed;
  parsed.shown = RedactUrl(url);
  if (UrlScheme(url) != "http") {
    return MakeError(ErrorKind::kInvalidArgument, "not an http URL: " + parsed.shown);
  }
  // Spaces or control bytes would let a URL inject into the request line or headers.
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return MakeError(ErrorKind::kInvalidArgument, "URL contains spaces or control characters: " +
                                                        Printable(parsed.shown, 200));
    }
  }
  const size_t authority_start = url.find("://") + 3;
  const size_t authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  std::string_view rest = url.substr(authority_end);
  rest = rest.substr(0, rest.find('#'));
  parsed.target = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  parsed.prefix = std::string(url.substr(0, authority_end));

  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    parsed.userinfo = std::string(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::string_view port_text;
  bool bracketed = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return MakeError(ErrorKind::kInvalidArgument, "unterminated IPv6 literal: " + parsed.shown);
    }
    parsed.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return MakeError(ErrorKind::kInvalidArgument, "bad authority in URL: " + parsed.shown);
    }
    port_text = after.empty() ? after : after.substr(1);
    bracketed = true;
  } else {
    const size_t colon = authority.find(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (parsed.host.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "URL has no host: " + parsed.shown);
  }
  for (char& c : parsed.host) {
    c = Lower(c);
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                         c == '_' || (bracketed && (c == ':' || c == '%'));
    if (!allowed) {
      return MakeError(ErrorKind::kInvalidArgument, "bad host in URL: " + parsed.shown);
    }
  }
  if (!port_text.empty()) {
    const std::optional<uint64_t> port = ParseDecimal(port_text);
    if (!port || *port == 0 || *port > 65535) {
      return MakeError(ErrorKind::kInvalidArgument, "bad port in URL: " + parsed.shown);
    }
    parsed.port = static_cast<uint16_t>(*port);
  }
  parsed.authority = bracketed ? "[" + parsed.host + "]" : parsed.host;
  if (parsed.port != 80) parsed.authority += ":" + std::to_string(parsed.port);
  return parsed;
}

// What the request carries besides the URL.
Result<std::string> BuildRequest(const HttpUrl& url, const HttpFetcherOptions& options,
                                 uint64_t offset) {
  std::string request = "GET " + url.target + " HTTP/1.1\r\nHost: " + url.authority + "\r\n";
  if (!options.user_agent.empty()) request += "User-Agent: " + options.user_agent + "\r\n";
  request += "Accept: */*\r\n";
  if (!url.userinfo.empty()) {
    // As libcurl: "user:password" from the URL, percent-decoded, as Basic credentials.
    const size_t colon = url.userinfo.find(':');
    const std::optional<std::string> user = PercentDecode(url.userinfo.substr(0, colon));
    const std::optional<std::string> password = colon == std::string::npos
                                                    ? std::optional<std::string>("")
                                                    : PercentDecode(url.userinfo.substr(colon + 1));
    if (!user || !password) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "bad percent-encoding in the credentials of " + url.shown);
    }
    request += "Authorization: Basic " + Base64(*user + ":" + *password) + "\r\n";
  }
  if (offset > 0) request += "Range: bytes=" + std::to_string(offset) + "-\r\n";
  request += "\r\n";
  return request;
}

enum class Framing {
  kNone,        // 1xx, 204, 304: no body
  kLength,      // Content-Length
  kChunked,     // Transfer-Encoding: chunked
  kUntilClose,  // neither: the body ends with the connection
};

struct ResponseHead {
  int status = 0;
  bool http10 = false;
  bool close = false;  // Connection: close
  std::optional<uint64_t> content_length;
  bool chunked = false;
  std::string content_range;
  std::string location;

  Framing BodyFraming() const {
    if ((status >= 100 && status < 200) || status == 204 || status == 304) return Framing::kNone;
    if (chunked) return Framing::kChunked;
    if (content_length) return Framing::kLength;
    return Framing::kUntilClose;
  }
  bool KeepsAlive() const { return !http10 && !close && BodyFraming() != Framing::kUntilClose; }
};

Error Malformed(const std::string& shown, const std::string& what) {
  return Error(ErrorKind::kDownload, shown + " sent a malformed response: " + what);
}

// "HTTP/1.x SSS reason".
Status ParseStatusLine(std::string_view line, const std::string& shown, ResponseHead& head) {
  const auto bad = [&] {
    return MakeError(Malformed(shown, "bad status line \"" + Printable(line) + "\""));
  };
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
    return bad();
  }
  const std::optional<uint64_t> status = ParseDecimal(line.substr(9, 3));
  if (!status || *status < 100 || *status > 599) return bad();
  for (char c : line.substr(12)) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) return bad();
  }
  head.status = static_cast<int>(*status);
  head.http10 = line[7] == '0';
  return {};
}

Status ParseHeader(std::string_view line, const std::string& shown, ResponseHead& head) {
  if (line.front() == ' ' || line.front() == '\t') {
    return MakeError(Malformed(shown, "folded header line \"" + Printable(line) + "\""));
  }
  const size_t colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == std::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return MakeError(Malformed(shown, "bad header line \"" + Printable(line) + "\""));
  }
  const std::string_view value = TrimSpaces(line.substr(colon + 1));
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      return MakeError(Malformed(shown, "control character in header " + std::string(name)));
    }
  }
  if (EqualsNoCase(name, "content-length")) {
    const std::optional<uint64_t> length = ParseDecimal(value);
    if (!length || *length > static_cast<uint64_t>(INT64_MAX)) {
      return MakeError(Malformed(shown, "bad Content-Length \"" + Printable(value) + "\""));
    }
    if (head.content_length && *head.content_length != *length) {
      return MakeError(Malformed(shown, "conflicting Content-Length headers (" +
                                            std::to_string(*head.content_length) + " and " +
                                            std::to_string(*length) + ")"));
    }
    head.content_length = length;
  } else if (EqualsNoCase(name, "transfer-encoding")) {
    // No Accept-Encoding was sent: chunked is the only coding a body may have.
    if (head.chunked || !EqualsNoCase(value, "chunked")) {
      return MakeError(
          Malformed(shown, "unsupported Transfer-Encoding \"" + Printable(value) + "\""));
    }
    head.chunked = true;
  } else if (EqualsNoCase(name, "connection")) {
    std::string_view tokens = value;
    while (!tokens.empty()) {
      const size_t comma = std::min(tokens.find(','), tokens.size());
      if (EqualsNoCase(TrimSpaces(tokens.substr(0, comma)), "close")) head.close = true;
      tokens.remove_prefix(std::min(comma + 1, tokens.size()));
    }
  } else if (EqualsNoCase(name, "content-range")) {
    head.content_range = std::string(value.substr(0, 200));
  } else if (EqualsNoCase(name, "location")) {
    head.location = std::string(value);
  }
  return {};
}

// `text`: the head without its final empty line; lines end with LF, optionally CR LF.
Result<ResponseHead> ParseHead(std::string_view text, const std::string& shown) {
  ResponseHead head;
  bool first = true;
  while (!text.empty()) {
    const size_t newline = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(std::min(newline + 1, text.size()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      MDU_RETURN_IF_ERROR(ParseStatusLine(line, shown, head));
      first = false;
    } else {
      if (line.empty()) return MakeError(Malformed(shown, "empty header line"));
      MDU_RETURN_IF_ERROR(ParseHeader(line, shown, head));
    }
  }
  // Two framings at once is how requests are smuggled past proxies: refuse, never guess.
  if (head.chunked && head.content_length) {
    return MakeError(Malformed(shown, "both Content-Length and Transfer-Encoding: chunked"));
  }
  return head;
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The absolute URL a Location value points to from `base`, which must stay http.
Result<std::string> ResolveLocation(const HttpUrl& base, std::string_view location) {
  location = TrimSpaces(location);
  const std::string scheme = UrlScheme(location);
  if (!scheme.empty()) {
    if (scheme != "http") {
      return MakeError(ErrorKind::kDownload, base.shown + " redirects to " +
                                                 Printable(RedactUrl(location), 200) +
                                                 ": only http:// redirects are followed");
    }
    return std::string(location);
  }
  if (location.substr(0, 2) == "//") return "http:" + std::string(location);
  if (!location.empty() && location.front() == '/') return base.prefix + std::string(location);
  const std::string_view path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (!location.empty() && location.front() == '?') {
    return base.prefix + std::string(path) + std::string(location);
  }
  return base.prefix + std::string(path.substr(0, path.rfind('/') + 1)) + std::string(location);
}

}  // namespace

struct Http1Fetcher::State {
  explicit State(HttpFetcherOptions fetcher_options) : options(std::move(fetcher_options)) {}
  ~State() { Close(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    key.clear();
    begin = end = 0;
  }

  HttpFetcherOptions options;
  int fd = -1;      // the kept-alive connection, or -1
  std::string key;  // its host and port
  // [begin, end) of buffer holds received bytes not consumed yet. Allocated on first use and
  // not zeroed, so untouched pages cost no memory.
  std::unique_ptr<char[]> buffer;
  size_t begin = 0;
  size_t end = 0;
};

namespace {

// One Fetch/FetchFrom: its limits, sinks and clocks, and the I/O on the state's connection.
class Transfer {
 public:
  Transfer(Http1Fetcher::State& state, uint64_t offset, uint64_t max_length,
           const client::StartSink& on_start, const client::ChunkSink& sink)
      : state_(state),
        options_(state.options),
        offset_(offset),
        max_length_(max_length),
        on_start_(on_start),
        sink_(sink),
        cutoffs_{std::chrono::duration_cast<std::chrono::milliseconds>(options_.total_timeout),
                 options_.low_speed_limit, options_.low_speed_time},
        speed_(options_.low_speed_limit, options_.low_speed_time) {
    const Clock::time_point now = Clock::now();
    if (cutoffs_.total_timeout.count() > 0) deadline_ = now + cutoffs_.total_timeout;
    speed_.Restart(now, 0);
  }

  // One request and its answer. Returns the absolute URL to follow when the answer is a
  // redirect that may be followed, std::nullopt when the body was delivered.
  Result<std::optional<std::string>> Exchange(const HttpUrl& url);
  // After a failed Exchange: whether the connection is still fit for the next request (an
  // error status whose small body was skipped).
  bool ConnectionReusable() const { return reusable_; }

 private:
  Status Connect(const HttpUrl& url);
  bool IdleConnectionUsable(const HttpUrl& url) const;
  Status Send(std::string_view request);
  Status CheckCutoffs(Clock::time_point now);
  Status Wait(short events);
  Result<size_t> Receive();
  Result<ResponseHead> ReadHead();
  Result<std::string_view> ReadLine(size_t max, std::string_view what);
  template <class Sink>
  Status ReadExactly(uint64_t length, std::string_view what, Sink& deliver);
  template <class Sink>
  Status ReadBody(const ResponseHead& head, Sink& deliver);
  Status DeliverToSink(std::string_view data);
  void SkipBodyOrClose(const ResponseHead& head);
  Status Accept(const ResponseHead& head);

  char* Data() { return state_.buffer.get(); }
  size_t Buffered() const { return state_.end - state_.begin; }

  Http1Fetcher::State& state_;
  const HttpFetcherOptions& options_;
  const uint64_t offset_;
  const uint64_t max_length_;
  const client::StartSink& on_start_;
  const client::ChunkSink& sink_;
  const TransferCutoffs cutoffs_;
  LowSpeedMonitor speed_;
  std::optional<Clock::time_point> deadline_;
  std::string shown_;      // the URL being fetched, redacted
  uint64_t start_ = 0;     // where the accepted body starts in the resource
  uint64_t received_ = 0;  // body bytes delivered
  uint64_t wire_ = 0;      // every byte received (the minimum speed counts them all)
  bool answered_ = false;  // a byte of the current answer arrived
  bool lost_ = false;      // the connection closed before any byte of the answer
  bool reusable_ = false;  // the connection may carry the next request
};

Status Transfer::CheckCutoffs(Clock::time_point now) {
  if (deadline_ && now >= *deadline_) {
    return MakeError(TransferCutoffError(shown_, Cutoff::kTotalTimeout, cutoffs_, received_));
  }
  if (speed_.TooSlow(now, wire_)) {
    return MakeError(TransferCutoffError(shown_, Cutoff::kLowSpeed, cutoffs_, received_));
  }
  return {};
}

Status Transfer::Wait(short events) {
  for (;;) {
    const Clock::time_point now = Clock::now();
    MDU_RETURN_IF_ERROR(CheckCutoffs(now));
    int timeout_ms = -1;
    if (deadline_) {
      timeout_ms = static_cast<int>(std::min<int64_t>(
          std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - now).count(), INT32_MAX));
    }
    if (options_.low_speed_limit > 0) {
      timeout_ms = timeout_ms < 0 ? kSpeedCheckMs : std::min(timeout_ms, kSpeedCheckMs);
    }
    pollfd descriptor{state_.fd, events, 0};
    const int ready = ::poll(&descriptor, 1, timeout_ms);
    if (ready > 0) return {};
    if (ready < 0 && errno != EINTR) {
      return MakeError(ErrorKind::kDownload,
                       "GET " + shown_ + " failed: poll: " + ErrnoText(errno));
    }
  }
}

Status Transfer::Connect(const HttpUrl& url) {
  state_.Close();
  const auto fail = [&](const std::string& why) {
    return MakeError(ErrorKind::kDownload, "cannot connect to " + url.shown + ": " + why);
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail("cannot resolve \"" + url.host + "\": " + ::gai_strerror(rc));
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  std::optional<Clock::time_point> deadline = deadline_;
  if (options_.connect_timeout.count() > 0) {
    const Clock::time_point connect_deadline = Clock::now() + options_.connect_timeout;
    if (!deadline || connect_deadline < *deadline) deadline = connect_deadline;
  }
  std::string last_error = "no address";
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd =
        ::socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
      last_error = ErrnoText(errno);
      continue;
    }
#ifdef SO_NOSIGPIPE
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    int error = 0;
    if (::connect(fd, address->ai_addr, address->ai_addrlen) != 0) error = errno;
    while (error == EINPROGRESS || error == EINTR) {
      int timeout_ms = -1;
      if (deadline) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
        if (left.count() <= 0) {
          ::close(fd);
          const auto limit = deadline_ && deadline == deadline_
                                 ? cutoffs_.total_timeout
                                 : std::chrono::milliseconds(options_.connect_timeout);
          return fail("timed out after " + std::to_string(limit.count()) + " ms");
        }
        timeout_ms = static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
      }
      pollfd descriptor{fd, POLLOUT, 0};
      const int ready = ::poll(&descriptor, 1, timeout_ms);
      if (ready < 0 && errno != EINTR) {
        error = errno;
      } else if (ready > 0) {
        socklen_t length = sizeof(error);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      }
    }
    if (error == 0) {
      state_.fd = fd;
      state_.key = url.Key();
      return {};
    }
    last_error = ErrnoText(error);
    ::close(fd);
  }
  return fail(last_error);
}

// A kept-alive connection to the same server with nothing to read: a readable idle connection
// was closed by the server (or carries garbage) and is not reused.
bool Transfer::IdleConnectionUsable(const HttpUrl& url) const {
  if (state_.fd < 0 || state_.key != url.Key() || state_.begin != state_.end) return false;
  pollfd descriptor{state_.fd, POLLIN, 0};
  return ::poll(&descriptor, 1, 0) == 0;
}

Status Transfer::Send(std::string_view request) {
  while (!request.empty()) {
    MDU_RETURN_IF_ERROR(CheckCutoffs(Clock::now()));
    const ssize_t sent = ::send(state_.fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      request.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      MDU_RETURN_IF_ERROR(Wait(POLLOUT));
      continue;
    }
    const int error = sent < 0 ? errno : EPIPE;
    lost_ = error == EPIPE || error == ECONNRESET;
    return MakeError(ErrorKind::kDownload,
                     "GET " + shown_ + " failed: sending the request: " + ErrnoText(error));
  }
  return {};
}

// Appends what the connection has to the buffer; 0 when the server closed it.
Result<size_t> Transfer::Receive() {
  Http1Fetcher::State& state = state_;
  if (state.begin == state.end) {
    state.begin = state.end = 0;
  } else if (state.end == kBufferSize) {
    std::memmove(Data(), Data() + state.begin, Buffered());
    state.end -= state.begin;
    state.begin = 0;
  }
  for (;;) {
    MDU_RETURN_IF_ERROR(CheckCutoffs(Clock::now()));
    const ssize_t got = ::recv(state.fd, Data() + state.end, kBufferSize - state.end, 0);
    if (got > 0) {
      state.end += static_cast<size_t>(got);
      wire_ += static_cast<uint64_t>(got);
      answered_ = true;
      return static_cast<size_t>(got);
    }
    if (got == 0) return size_t{0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      MDU_RETURN_IF_ERROR(Wait(POLLIN));
      continue;
    }
    if (errno == ECONNRESET) return size_t{0};
    return MakeError(ErrorKind::kDownload, "GET " + shown_ + " failed: " + ErrnoText(errno));
  }
}

Result<ResponseHead> Transfer::ReadHead() {
  size_t scanned = 0;  // bytes after state_.begin already searched for line ends
  int lines = 0;
  int stray = 0;
  const auto too_long = [this] {
    return MakeError(Malformed(
        shown_, "status line and headers longer than " + std::to_string(kMaxHeadBytes) + " bytes"));
  };
  for (;;) {
    while (scanned < Buffered()) {
      const char* base = Data() + state_.begin;
      const auto* newline =
          static_cast<const char*>(std::memchr(base + scanned, '\n', Buffered() - scanned));
      if (newline == nullptr) {
        scanned = Buffered();
        break;
      }
      const size_t line_end = static_cast<size_t>(newline - base);
      const bool empty = line_end == scanned || (line_end == scanned + 1 && base[scanned] == '\r');
      if (line_end + 1 > kMaxHeadBytes) return too_long();
      if (empty && lines == 0) {  // stray empty lines before the status line (RFC 9112 2.2)
        if (++stray > kMaxHeaderLines) return MakeError(Malformed(shown_, "empty lines"));
        state_.begin += line_end + 1;
        scanned = 0;
        continue;
      }
      if (empty) {
        const std::string_view text(base, scanned);
        state_.begin += line_end + 1;
        return ParseHead(text, shown_);
      }
      if (++lines > kMaxHeaderLines + 1) {
        return MakeError(
            Malformed(shown_, "more than " + std::to_string(kMaxHeaderLines) + " header lines"));
      }
      scanned = line_end + 1;
    }
    if (scanned >= kMaxHeadBytes) return too_long();
    MDU_ASSIGN_OR_RETURN(const size_t got, Receive());
    if (got == 0) {
      lost_ = !answered_;
      return MakeError(ErrorKind::kDownload,
                       "GET " + shown_ + " failed: the server closed the connection " +
                           (answered_ ? "inside the response head" : "without answering"));
    }
  }
}

// One line (CR LF or LF, not included) of at most `max` bytes, pointing into the buffer: valid
// until the next Receive.
Result<std::string_view> Transfer::ReadLine(size_t max, std::string_view what) {
  size_t scanned = 0;
  for (;;) {
    const char* base = Data() + state_.begin;
    const auto* newline =
        static_cast<const char*>(std::memchr(base + scanned, '\n', Buffered() - scanned));
    if (newline != nullptr && static_cast<size_t>(newline - base) <= max + 1) {
      std::string_view line(base, static_cast<size_t>(newline - base));
      state_.begin += line.size() + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return line;
    }
    scanned = Buffered();
    if (newline != nullptr || scanned > max + 1) {
      return MakeError(
          Malformed(shown_, std::string(what) + " longer than " + std::to_string(max) + " bytes"));
    }
    MDU_ASSIGN_OR_RETURN(const size_t got, Receive());
    if (got == 0) {
      return MakeError(
          ErrorKind::kDownload,
          "GET " + shown_ + " failed: the connection closed inside the " + std::string(what));
    }
  }
}

template <class Sink>
Status Transfer::ReadExactly(uint64_t length, std::string_view what, Sink& deliver) {
  uint64_t left = length;
  while (left > 0) {
    if (Buffered() == 0) {
      MDU_ASSIGN_OR_RETURN(const size_t got, Receive());
      if (got == 0) {
        return MakeError(ErrorKind::kDownload,
                         "GET " + shown_ + " failed: the connection closed after " +
                             std::to_string(length - left) + " of " + std::to_string(length) +
                             " bytes of the " + std::string(what));
      }
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(left, Buffered()));
    const std::string_view piece(Data() + state_.begin, take);
    state_.begin += take;
    left -= take;
    MDU_RETURN_IF_ERROR(deliver(piece));
  }
  return {};
}

template <class Sink>
Status Transfer::ReadBody(const ResponseHead& head, Sink& deliver) {
  switch (head.BodyFraming()) {
    case Framing::kNone:
      return {};
    case Framing::kLength:
      return ReadExactly(*head.content_length, "body", deliver);
    case Framing::kUntilClose:
      for (;;) {
        if (Buffered() > 0) {
          const std::string_view piece(Data() + state_.begin, Buffered());
          state_.begin = state_.end;
          MDU_RETURN_IF_ERROR(deliver(piece));
        }
        MDU_ASSIGN_OR_RETURN(const size_t got, Receive());
        if (got == 0) return {};
      }
    case Framing::kChunked:
      break;
  }
  for (;;) {
    MDU_ASSIGN_OR_RETURN(std::string_view line, ReadLine(kMaxChunkLine, "chunk-size line"));
    // chunk-size [ chunk-ext ]: hex digits only (no sign, no 0x), then optional extensions.
    uint64_t size = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    const std::string_view after = TrimSpaces(line.substr(static_cast<size_t>(end - line.data())));
    if (ec != std::errc() || end == line.data() || (!after.empty() && after.front() != ';')) {
      return MakeError(Malformed(shown_, ec == std::errc::result_out_of_range
                                             ? "chunk size overflows"
                                             : "bad chunk size \"" + Printable(line) + "\""));
    }
    if (size == 0) break;
    if (size > max_length_ - start_ - received_) {  // refused before any of it is delivered
      return MakeError(ErrorKind::kLimitExceeded,
                       shown_ + " sent a chunk of " + std::to_string(size) +
                           " bytes, more than the limit of " + std::to_string(max_length_) +
                           " bytes allows");
    }
    MDU_RETURN_IF_ERROR(ReadExactly(size, "chunk", deliver));
    while (Buffered() < 2) {
      MDU_ASSIGN_OR_RETURN(const size_t got, Receive());
      if (got == 0) {
        return MakeError(ErrorKind::kDownload,
                         "GET " + shown_ + " failed: the connection closed after a chunk");
      }
    }
    if (std::string_view(Data() + state_.begin, 2) != "\r\n") {
      return MakeError(Malformed(shown_, "chunk not followed by CRLF"));
    }
    state_.begin += 2;
  }
  // Trailers are skipped, within the bounds of a head.
  size_t trailer_bytes = 0;
  for (int lines = 0;; ++lines) {
    MDU_ASSIGN_OR_RETURN(std::string_view line, ReadLine(kMaxHeadBytes, "trailer"));
    if (line.empty()) return {};
    trailer_bytes += line.size();
    if (lines >= kMaxHeaderLines || trailer_bytes > kMaxHeadBytes) {
      return MakeError(Malformed(shown_, "trailers exceed " + std::to_string(kMaxHeaderLines) +
                                             " lines or " + std::to_string(kMaxHeadBytes) +
                                             " bytes"));
    }
  }
}

Status Transfer::DeliverToSink(std::string_view data) {
  if (data.size() > max_length_ - start_ - received_) {
    return MakeError(ErrorKind::kLimitExceeded, shown_ + " sent more than the limit of " +
                                                    std::to_string(max_length_) + " bytes");
  }
  received_ += data.size();
  return sink_(data);
}

// An answer that is not delivered (error page, redirect) keeps the connection only if its whole
// body is already here: never wait for bytes nobody wants.
void Transfer::SkipBodyOrClose(const ResponseHead& head) {
  const Framing framing = head.BodyFraming();
  if (head.status == 101 || framing == Framing::kChunked || framing == Framing::kUntilClose ||
      (framing == Framing::kLength && *head.content_length > Buffered())) {
    reusable_ = false;
    return;
  }
  if (framing == Framing::kLength) state_.begin += static_cast<size_t>(*head.content_length);
  reusable_ = head.KeepsAlive() && Buffered() == 0;
}

// Decides, before any body byte reaches the sink, whether the answer is delivered.
Status Transfer::Accept(const ResponseHead& head) {
  start_ = 0;
  if (head.status == 206) {
    // A 206 placing its bytes elsewhere than asked (or not saying where) is not the signed
    // target from that offset: refused as data that does not match (see curl_fetcher.h).
    const std::optional<uint64_t> first = ContentRangeStart(head.content_range);
    if (!first) {
      return MakeError(ErrorKind::kHashMismatch,
                       shown_ + " answered 206 without a usable Content-Range (\"" +
                           Printable(head.content_range, 200) + "\"), asked for bytes from " +
                           std::to_string(offset_));
    }
    if (*first != offset_) {
      return MakeError(ErrorKind::kHashMismatch,
                       shown_ + " answered 206 with bytes from " + std::to_string(*first) +
                           ", asked for bytes from " + std::to_string(offset_) +
                           " (Content-Range \"" + Printable(head.content_range, 200) + "\")");
    }
    start_ = *first;
  }
  if (head.content_length && *head.content_length > max_length_ - start_) {
    return MakeError(ErrorKind::kLimitExceeded,
                     shown_ + " announces " + std::to_string(*head.content_length) +
                         " bytes from byte " + std::to_string(start_) +
                         ", more than the limit of " + std::to_string(max_length_));
  }
  return on_start_(start_);
}

Result<std::optional<std::string>> Transfer::Exchange(const HttpUrl& url) {
  shown_ = url.shown;
  MDU_ASSIGN_OR_RETURN(const std::string request, BuildRequest(url, options_, offset_));
  if (!state_.buffer) state_.buffer.reset(new char[kBufferSize]);
  reusable_ = false;
  ResponseHead head;
  for (int attempt = 0;; ++attempt) {
    const bool reused = IdleConnectionUsable(url);
    if (!reused) MDU_RETURN_IF_ERROR(Connect(url));
    speed_.Restart(Clock::now(), wire_);
    answered_ = lost_ = false;
    Result<ResponseHead> read = MakeError(ErrorKind::kInternal, "no answer");
    if (Status sent = Send(request); sent) {
      read = ReadHead();
    } else {
      read = MakeError(std::move(sent).error());
    }
    for (int interim = 0; read && read->status >= 100 && read->status < 200 && read->status != 101;
         ++interim) {
      if (interim == kMaxInterimResponses) {
        return MakeError(Malformed(shown_, "more than " + std::to_string(kMaxInterimResponses) +
                                               " interim (1xx) responses"));
      }
      read = ReadHead();
    }
    if (read) {
      head = std::move(*read);
      break;
    }
    // A kept-alive connection the server closed while idle: once, on a new connection.
    if (!(reused && lost_ && attempt == 0)) return MakeError(std::move(read).error());
    state_.Close();
  }

  if (IsRedirect(head.status) && options_.follow_redirects && !head.location.empty()) {
    SkipBodyOrClose(head);
    if (!reusable_) state_.Close();
    MDU_ASSIGN_OR_RETURN(std::string next, ResolveLocation(url, head.location));
    return std::optional<std::string>(std::move(next));
  }
  if (head.status < 200 || head.status >= 300) {
    SkipBodyOrClose(head);
    if (!reusable_) state_.Close();
    return MakeError(HttpStatusError(head.status, shown_));
  }
  MDU_RETURN_IF_ERROR(Accept(head));
  auto deliver = [this](std::string_view data) { return DeliverToSink(data); };
  MDU_RETURN_IF_ERROR(ReadBody(head, deliver));
  reusable_ = head.KeepsAlive() && Buffered() == 0;  // leftover bytes: not the next answer
  if (!reusable_) state_.Close();
  return std::optional<std::string>();
}

}  // namespace

Status ValidateHttpFetcherOptions(const HttpFetcherOptions& options) {
  if (options.max_redirects < 0) {
    return MakeError(ErrorKind::kInvalidArgument, "max_redirects must be >= 0");
  }
  if (options.low_speed_limit > 0 && options.low_speed_time.count() <= 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "low_speed_time must be positive when low_speed_limit is set");
  }
  if (options.total_timeout.count() < 0 || options.connect_timeout.count() < 0) {
    return MakeError(ErrorKind::kInvalidArgument, "timeouts must not be negative");
  }
  for (char c : options.user_agent) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return MakeError(ErrorKind::kInvalidArgument, "the User-Agent has control characters");
    }
  }
  return {};
}

Result<std::unique_ptr<Http1Fetcher>> Http1Fetcher::Create(HttpFetcherOptions options) {
  MDU_RETURN_IF_ERROR(ValidateHttpFetcherOptions(options));
  return std::unique_ptr<Http1Fetcher>(
      new Http1Fetcher(std::make_unique<State>(std::move(options))));
}

Http1Fetcher::Http1Fetcher(std::unique_ptr<State> state) : state_(std::move(state)) {}
Http1Fetcher::~Http1Fetcher() = default;
Http1Fetcher::Http1Fetcher(Http1Fetcher&&) noexcept = default;
Http1Fetcher& Http1Fetcher::operator=(Http1Fetcher&&) noexcept = default;

const HttpFetcherOptions& Http1Fetcher::options() const { return state_->options; }

Status Http1Fetcher::Fetch(std::string_view url, uint64_t max_length,
                           const client::ChunkSink& sink) {
  return FetchFrom(
      url, 0, max_length, [](uint64_t) -> Status { return {}; }, sink);
}

Status Http1Fetcher::FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                               const client::StartSink& on_start, const client::ChunkSink& sink) {
  if (!state_) return MakeError(ErrorKind::kInternal, "Http1Fetcher used after a move");
  MDU_ASSIGN_OR_RETURN(HttpUrl current, ParseHttpUrl(url));
  if (offset > max_length) {
    return MakeError(ErrorKind::kInvalidArgument, "offset " + std::to_string(offset) +
                                                      " is beyond the limit of " +
                                                      std::to_string(max_length) + " bytes");
  }
  const std::string origin = current.Key();
  Transfer transfer(*state_, offset, max_length, on_start, sink);
  for (int redirects = 0;; ++redirects) {
    Result<std::optional<std::string>> next = transfer.Exchange(current);
    if (!next) {
      // Whatever else is left on the connection is not the next answer.
      if (!transfer.ConnectionReusable()) state_->Close();
      return MakeError(std::move(next).error());
    }
    if (!*next) return {};
    if (redirects == state_->options.max_redirects) {
      state_->Close();
      return MakeError(ErrorKind::kDownload, "GET " + RedactUrl(url) + " failed: more than " +
                                                 std::to_string(state_->options.max_redirects) +
                                                 " redirects");
    }
    Result<HttpUrl> parsed = ParseHttpUrl(**next);
    if (!parsed) {
      state_->Close();
      return MakeError(ErrorKind::kDownload,
                       "bad redirect from " + current.shown + ": " + parsed.error().message());
    }
    // Credentials go only to the server of the URL that carried them.
    if (parsed->Key() != origin) parsed->userinfo.clear();
    current = std::move(*parsed);
  }
}

}  // namespace mdu::agent
