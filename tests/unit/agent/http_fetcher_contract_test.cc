// The HTTP transport contract (core/client/fetcher.h plus the policy of curl_fetcher.h), run over
// both HTTP fetchers: CurlFetcher (https, proxies) and Http1Fetcher (plain http without libcurl).
// Whatever a refresh meets over http must not depend on which of the two serves it: status
// codes, length limits, slow retrieval, redirects, keep-alive, resume with Range, credentials.
// Named after the attack or failure each test stops. Curl-only behaviour: curl_fetcher_test.cc;
// Http1-only attacks on its parser: http1_fetcher_test.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "client-agent/transport/curl_fetcher.h"
#include "client-agent/transport/http1_fetcher.h"
#include "tests/unit/agent/test_http_server.h"

namespace mdu::agent {
namespace {

using testing::Get;
using testing::ServeRange;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

struct CurlKind {
  static Result<std::unique_ptr<CurlFetcher>> Create(CurlFetcherOptions options) {
    return CurlFetcher::Create(std::move(options));
  }
};
struct Http1Kind {
  static Result<std::unique_ptr<Http1Fetcher>> Create(CurlFetcherOptions options) {
    return Http1Fetcher::Create(std::move(options));
  }
};

struct KindNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, CurlKind> ? "Curl" : "Http1";
  }
};

template <class Kind>
class HttpFetcherContractTest : public ::testing::Test {
 protected:
  static std::unique_ptr<client::Fetcher> MakeFetcher(CurlFetcherOptions options = {}) {
    auto fetcher = Kind::Create(std::move(options));
    EXPECT_TRUE(fetcher) << fetcher.error().ToString();
    return fetcher ? std::move(fetcher).value() : nullptr;
  }
};
using Kinds = ::testing::Types<CurlKind, Http1Kind>;
TYPED_TEST_SUITE(HttpFetcherContractTest, Kinds, KindNames);

struct Received {
  std::vector<uint64_t> starts;
  std::string body;
};

Status GetFrom(client::Fetcher& fetcher, const std::string& url, uint64_t offset,
               uint64_t max_length, Received& received) {
  return fetcher.FetchFrom(
      url, offset, max_length,
      [&](uint64_t start) -> Status {
        received.starts.push_back(start);
        return {};
      },
      [&](std::string_view chunk) -> Status {
        received.body.append(chunk);
        return {};
      });
}

TestResponse Body(std::string body) {
  TestResponse response;
  response.body = std::move(body);
  return response;
}

TestResponse ErrorPage(int status) {
  TestResponse response;
  response.status = status;
  response.body = "error page";
  return response;
}

TestResponse Raw(std::string bytes, bool close_after = false) {
  TestResponse response;
  response.mode = TestResponse::Mode::kRaw;
  response.body = std::move(bytes);
  response.close_after = close_after;
  return response;
}

// The header `name` of a request head ("" when absent).
std::string HeaderOf(const std::string& head, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const size_t at = head.find(key);
  if (at == std::string::npos) return "";
  const size_t end = head.find("\r\n", at + key.size());
  return head.substr(at + key.size(), end == std::string::npos ? end : end - at - key.size());
}

const std::string kBody = "0123456789abcdefghijklmnopqrstuvwxyz";

TYPED_TEST(HttpFetcherContractTest, DeliversBodyOf200) {
  const std::string payload(100000, 'p');
  TestHttpServer server([&](const std::string&) { return Body(payload); });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/1.root.json"), payload.size());
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, payload);
  EXPECT_EQ(server.request_paths(), std::vector<std::string>{"/1.root.json"});
}

TYPED_TEST(HttpFetcherContractTest, DeliversEmptyBody) {
  TestHttpServer server([](const std::string&) { return Body(""); });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/empty"), 0);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "");
}

TYPED_TEST(HttpFetcherContractTest, ReusesOneConnectionForConsecutiveRequests) {
  TestHttpServer server([](const std::string& path) { return Body("body of " + path); });
  auto fetcher = this->MakeFetcher();
  for (const char* path : {"/a", "/b", "/c"}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ(body, std::string("body of ") + path);
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 1);
}

// The server drops the kept-alive connection after the first answer: the next request goes
// over a new connection instead of failing.
TYPED_TEST(HttpFetcherContractTest, ReconnectsWhenTheServerClosedTheIdleConnection) {
  TestHttpServer server([](const std::string& path) {
    TestResponse response = Body("body of " + path);
    response.close_after = path == "/a";
    return response;
  });
  auto fetcher = this->MakeFetcher();
  for (const char* path : {"/a", "/b"}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ(body, std::string("body of ") + path);
  }
  EXPECT_EQ(server.connections(), 2);
}

// The race the check above cannot see: the server takes the request on the idle connection and
// closes it without a byte. The request is repeated once on a new connection.
TYPED_TEST(HttpFetcherContractTest, RepeatsARequestLostOnAReusedConnection) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const std::string& path) {
    if (calls++ == 1) {
      TestResponse dropped;
      dropped.mode = TestResponse::Mode::kNoAnswer;
      return dropped;
    }
    return Body("body of " + path);
  });
  auto fetcher = this->MakeFetcher();
  for (const char* path : {"/a", "/b"}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ(body, std::string("body of ") + path);
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 2);
}

TYPED_TEST(HttpFetcherContractTest, Maps404And403ToNotFound) {
  TestHttpServer server(
      [](const std::string& path) { return ErrorPage(path == "/3.root.json" ? 404 : 403); });
  auto fetcher = this->MakeFetcher();
  for (const char* path : {"/3.root.json", "/private.json"}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind(), ErrorKind::kNotFound) << status.error().ToString();
    EXPECT_NE(status.error().message().find(path), std::string::npos);
    EXPECT_EQ(body, "") << "an error page must never reach the sink";
  }
}

TYPED_TEST(HttpFetcherContractTest, Maps500And410ToDownloadErrorNamingStatusAndUrl) {
  TestHttpServer server(
      [](const std::string& path) { return ErrorPage(path == "/gone" ? 410 : 500); });
  auto fetcher = this->MakeFetcher();
  for (const auto& [path, code] : {std::pair{"/timestamp.json", "500"}, {"/gone", "410"}}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind(), ErrorKind::kDownload);
    EXPECT_NE(status.error().message().find(std::string("HTTP ") + code), std::string::npos)
        << status.error().message();
    EXPECT_NE(status.error().message().find(server.Url(path)), std::string::npos);
    EXPECT_EQ(body, "");
  }
}

TYPED_TEST(HttpFetcherContractTest, DoesNotFollowRedirects) {
  TestHttpServer server([&](const std::string& path) {
    if (path == "/elsewhere") return Body("redirected body");
    TestResponse response = ErrorPage(301);
    response.headers.emplace_back("Location", "/elsewhere");
    return response;
  });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload);
  EXPECT_NE(status.error().message().find("HTTP 301"), std::string::npos);
  EXPECT_EQ(server.request_paths(), std::vector<std::string>{"/timestamp.json"});
}

TYPED_TEST(HttpFetcherContractTest, FollowsSameSchemeRedirectWhenAllowed) {
  TestHttpServer server([&](const std::string& path) {
    if (path == "/elsewhere") return Body("redirected body");
    TestResponse response = ErrorPage(302);
    response.headers.emplace_back("Location", "/elsewhere");
    return response;
  });
  CurlFetcherOptions options;
  options.follow_redirects = true;
  auto fetcher = this->MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), 1000);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "redirected body");
}

TYPED_TEST(HttpFetcherContractTest, StopsFollowingAfterMaxRedirects) {
  TestHttpServer server([&](const std::string& path) {
    TestResponse response = ErrorPage(302);
    response.headers.emplace_back("Location", path + "x");
    return response;
  });
  CurlFetcherOptions options;
  options.follow_redirects = true;
  options.max_redirects = 2;
  auto fetcher = this->MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/r"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
  EXPECT_EQ(server.request_paths(), (std::vector<std::string>{"/r", "/rx", "/rxx"}));
  EXPECT_EQ(body, "");
}

// A redirect never changes the scheme (no way to a file:// or another protocol).
TYPED_TEST(HttpFetcherContractTest, RefusesRedirectToAnotherScheme) {
  TestHttpServer server([&](const std::string&) {
    TestResponse response = ErrorPage(302);
    response.headers.emplace_back("Location", "file:///etc/passwd");
    return response;
  });
  CurlFetcherOptions options;
  options.follow_redirects = true;
  auto fetcher = this->MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
  EXPECT_EQ(body, "");
}

TYPED_TEST(HttpFetcherContractTest, RejectsContentLengthAboveLimitBeforeReadingBody) {
  TestHttpServer server([](const std::string&) { return Body(std::string(5000, 'b')); });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/big"), 4999);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded) << status.error().ToString();
  EXPECT_NE(status.error().message().find("5000"), std::string::npos);
  EXPECT_EQ(body, "");
}

TYPED_TEST(HttpFetcherContractTest, StopsEndlessDataAtTheLimit) {
  TestHttpServer server([](const std::string&) {
    TestResponse response;
    response.mode = TestResponse::Mode::kEndless;
    return response;
  });
  auto fetcher = this->MakeFetcher();
  constexpr uint64_t kLimit = 100000;
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), kLimit);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded) << status.error().ToString();
  EXPECT_LE(body.size(), kLimit);
  // The client hung up: the server could not push much more than the socket buffers hold.
  EXPECT_LT(server.streamed_bytes(), 64u * 1024 * 1024);
}

TYPED_TEST(HttpFetcherContractTest, StopsAnEndlessChunkedBodyAtTheLimit) {
  std::string chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 200; ++i) chunks += "3e8\r\n" + std::string(1000, 'c') + "\r\n";
  TestHttpServer server([&](const std::string&) { return Raw(chunks, true); });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), 50000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded) << status.error().ToString();
  EXPECT_LE(body.size(), 50000u);
}

TYPED_TEST(HttpFetcherContractTest, DeliversAChunkedBodyAndKeepsTheConnection) {
  TestHttpServer server([&](const std::string&) {
    return Raw(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  auto fetcher = this->MakeFetcher();
  for (int i = 0; i < 2; ++i) {
    auto [status, body] = Get(*fetcher, server.Url("/c"), 16);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ(body, "hello 0123456789");
  }
  EXPECT_EQ(server.connections(), 1);
}

TYPED_TEST(HttpFetcherContractTest, SkipsInterimResponses) {
  TestHttpServer server([&](const std::string&) {
    return Raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "ok");
}

// HTTP/1.0 without a length: the body is everything until the server closes, still limited.
TYPED_TEST(HttpFetcherContractTest, ReadsAnHttp10BodyUntilTheConnectionCloses) {
  TestHttpServer server(
      [&](const std::string&) { return Raw("HTTP/1.0 200 OK\r\n\r\nold server", true); });
  auto fetcher = this->MakeFetcher();
  for (int i = 0; i < 2; ++i) {
    auto [status, body] = Get(*fetcher, server.Url("/x"), 100);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ(body, "old server");
  }
  EXPECT_EQ(server.connections(), 2);
  auto [status, body] = Get(*fetcher, server.Url("/x"), 5);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded);
}

TYPED_TEST(HttpFetcherContractTest, HonoursConnectionClose) {
  TestHttpServer server([&](const std::string&) {
    return Raw("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  });
  auto fetcher = this->MakeFetcher();
  for (int i = 0; i < 2; ++i) {
    auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
    ASSERT_TRUE(status) << status.error().ToString();
  }
  EXPECT_EQ(server.connections(), 2);
}

TYPED_TEST(HttpFetcherContractTest, ContentLengthSmallerThanBodyDeliversOnlyAnnouncedBytes) {
  // A lying server announces 10 bytes and sends 1000: the extra bytes never reach the sink.
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body(std::string(1000, 'z'));
    response.content_length = 10;
    return response;
  });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 500);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, std::string(10, 'z'));
}

TYPED_TEST(HttpFetcherContractTest, ContentLengthLargerThanBodyIsADownloadError) {
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body("short");
    response.content_length = 400;  // then the server closes the connection
    return response;
  });
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 500);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
}

TYPED_TEST(HttpFetcherContractTest, AbortsSlowRetrieval) {
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body(std::string(1000, 's'));
    response.mode = TestResponse::Mode::kTrickle;  // 1 byte/s
    return response;
  });
  CurlFetcherOptions options;
  options.low_speed_limit = 100;
  options.low_speed_time = std::chrono::seconds(2);
  auto fetcher = this->MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/snapshot.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kSlowRetrieval) << status.error().ToString();
  EXPECT_NE(status.error().message().find("slower than 100 bytes/s for 2 s"), std::string::npos)
      << status.error().message();
  EXPECT_LT(body.size(), 1000u);
}

TYPED_TEST(HttpFetcherContractTest, AbortsAtTotalTimeoutEvenAboveMinimumSpeed) {
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body(std::string(1000, 's'));
    response.mode = TestResponse::Mode::kTrickle;
    response.trickle_interval = std::chrono::milliseconds(50);  // ~20 bytes/s
    return response;
  });
  CurlFetcherOptions options;
  options.low_speed_limit = 1;
  options.low_speed_time = std::chrono::seconds(30);
  options.total_timeout = std::chrono::seconds(2);
  auto fetcher = this->MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/snapshot.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kSlowRetrieval) << status.error().ToString();
  EXPECT_NE(status.error().message().find("not complete after 2 s"), std::string::npos);
}

TYPED_TEST(HttpFetcherContractTest, PropagatesSinkErrorAndStops) {
  TestHttpServer server([](const std::string&) {
    TestResponse response;
    response.mode = TestResponse::Mode::kEndless;
    return response;
  });
  auto fetcher = this->MakeFetcher();
  int calls = 0;
  Status status = fetcher->Fetch(server.Url("/t"), 1 << 30, [&calls](std::string_view) -> Status {
    ++calls;
    return MakeError(ErrorKind::kHashMismatch, "hash of t differs");
  });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kHashMismatch);
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(HttpFetcherContractTest, ConnectionRefusedIsADownloadError) {
  // Reserve a free port, then close it so nothing listens there.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(
      *fetcher, "http://u:s3cret@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x", 10);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
  EXPECT_EQ(status.error().message().find("s3cret"), std::string::npos) << status.error().message();
}

TYPED_TEST(HttpFetcherContractTest, IgnoresProxyFromEnvironment) {
  TestHttpServer server([](const std::string&) { return Body("direct"); });
  // A proxy that does not exist: using it would fail the request.
  ::setenv("http_proxy", "http://127.0.0.1:1", 1);
  ::setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
  auto fetcher = this->MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 100);
  ::unsetenv("http_proxy");
  ::unsetenv("ALL_PROXY");
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "direct");
}

TYPED_TEST(HttpFetcherContractTest, RejectsNonHttpUrls) {
  auto fetcher = this->MakeFetcher();
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1/x"}) {
    auto [status, body] = Get(*fetcher, url, 100);
    ASSERT_FALSE(status) << url;
    EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument) << url;
  }
}

TYPED_TEST(HttpFetcherContractTest, RedactsCredentialsInErrors) {
  TestHttpServer server([](const std::string&) { return ErrorPage(500); });
  auto fetcher = this->MakeFetcher();
  const std::string url =
      "http://user:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/timestamp.json";
  auto [status, body] = Get(*fetcher, url, 100);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message().find("s3cret"), std::string::npos) << status.error().message();
}

// What goes on the wire: Basic credentials from the URL (as libcurl sends them), the Host with
// its port, the configured User-Agent, and no Accept-Encoding (limits count wire bytes).
TYPED_TEST(HttpFetcherContractTest, SendsCredentialsHostAndUserAgent) {
  std::vector<std::string> heads;
  std::mutex mu;
  TestHttpServer server([&](const TestRequest& request) {
    std::lock_guard lock(mu);
    heads.push_back(request.head);
    return Body("ok");
  });
  CurlFetcherOptions options;
  options.user_agent = "test-agent/1";
  auto fetcher = this->MakeFetcher(options);
  const std::string port = std::to_string(server.port());
  auto [status, body] = Get(*fetcher, "http://us%65r:s3cret@127.0.0.1:" + port + "/a?b=c", 10);
  ASSERT_TRUE(status) << status.error().ToString();
  std::lock_guard lock(mu);
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].substr(0, heads[0].find("\r\n")), "GET /a?b=c HTTP/1.1");
  EXPECT_EQ(HeaderOf(heads[0], "Authorization"), "Basic dXNlcjpzM2NyZXQ=");  // user:s3cret
  EXPECT_EQ(HeaderOf(heads[0], "Host"), "127.0.0.1:" + port);
  EXPECT_EQ(HeaderOf(heads[0], "User-Agent"), "test-agent/1");
  EXPECT_EQ(HeaderOf(heads[0], "Accept-Encoding"), "");
  EXPECT_EQ(HeaderOf(heads[0], "Range"), "");
}

TYPED_TEST(HttpFetcherContractTest, RangeAnsweredWith206ResumesAtTheOffset) {
  std::vector<std::string> ranges;
  TestHttpServer server([&](const TestRequest& request) {
    ranges.push_back(request.range);
    return ServeRange(kBody, request, true);
  });
  auto fetcher = this->MakeFetcher();
  Received received;
  ASSERT_TRUE(GetFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received));
  EXPECT_EQ(received.starts, std::vector<uint64_t>{10});
  EXPECT_EQ(received.body, kBody.substr(10));
  Received whole;  // offset 0: no Range header, nothing left of the previous one
  ASSERT_TRUE(GetFrom(*fetcher, server.Url("/t"), 0, kBody.size(), whole));
  EXPECT_EQ(whole.starts, std::vector<uint64_t>{0});
  EXPECT_EQ(whole.body, kBody);
  EXPECT_EQ(ranges, (std::vector<std::string>{"bytes=10-", ""}));
}

TYPED_TEST(HttpFetcherContractTest, ServerIgnoringRangeRestartsFromZero) {
  TestHttpServer server(
      [&](const TestRequest& request) { return ServeRange(kBody, request, false); });
  auto fetcher = this->MakeFetcher();
  Received received;
  ASSERT_TRUE(GetFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received));
  EXPECT_EQ(received.starts, std::vector<uint64_t>{0});
  EXPECT_EQ(received.body, kBody);
}

// Bytes placed elsewhere than asked are not the target from the offset: refused before any of
// them is delivered, as data that does not match.
TYPED_TEST(HttpFetcherContractTest, RangeStartingElsewhereIsRefused) {
  TestHttpServer server([&](const TestRequest&) {
    TestResponse response = Body(kBody.substr(5));
    response.status = 206;
    response.headers.push_back({"Content-Range", "bytes 5-35/36"});
    return response;
  });
  auto fetcher = this->MakeFetcher();
  Received received;
  Status status = GetFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kHashMismatch);
  EXPECT_NE(
      status.error().message().find("answered 206 with bytes from 5, asked for bytes from 10"),
      std::string::npos)
      << status.error().message();
  EXPECT_TRUE(received.starts.empty());
  EXPECT_TRUE(received.body.empty());
}

TYPED_TEST(HttpFetcherContractTest, PartialContentWithoutUsableContentRangeIsRefused) {
  std::string content_range;  // none at first
  TestHttpServer server([&](const TestRequest&) {
    TestResponse response = Body(kBody.substr(10));
    response.status = 206;
    if (!content_range.empty()) response.headers.push_back({"Content-Range", content_range});
    return response;
  });
  auto fetcher = this->MakeFetcher();
  for (const std::string& value :
       {std::string(), std::string("bytes */36"), std::string("items 10-35/36")}) {
    content_range = value;
    Received received;
    Status status = GetFrom(*fetcher, server.Url("/t"), 10, kBody.size(), received);
    SCOPED_TRACE("Content-Range: " + value);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind(), ErrorKind::kHashMismatch);
    EXPECT_NE(status.error().message().find("without a usable Content-Range"), std::string::npos)
        << status.error().message();
    EXPECT_TRUE(received.body.empty());
  }
}

TYPED_TEST(HttpFetcherContractTest, LimitCountsTheOffset) {
  TestHttpServer server(
      [&](const TestRequest& request) { return ServeRange(kBody, request, true); });
  auto fetcher = this->MakeFetcher();
  Received received;
  // 26 bytes from offset 10 is 36 in all: over a limit of 30, refused from Content-Length.
  Status status = GetFrom(*fetcher, server.Url("/t"), 10, 30, received);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded);
  EXPECT_TRUE(received.body.empty());
}

}  // namespace
}  // namespace mdu::agent
