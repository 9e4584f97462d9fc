// CurlFetcher against a real HTTP server on loopback: the core Fetcher contract (status codes,
// length limits, slow retrieval) plus the transport policy (no env proxies, no redirects,
// keep-alive). Named after the attack or failure each test stops.
#include "client-agent/transport/curl_fetcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/unit/agent/test_http_server.h"

namespace mdu::agent {
namespace {

using testing::TestHttpServer;
using testing::TestResponse;

std::unique_ptr<CurlFetcher> MakeFetcher(CurlFetcherOptions options = {}) {
  auto fetcher = CurlFetcher::Create(std::move(options));
  EXPECT_TRUE(fetcher) << fetcher.error().ToString();
  return std::move(fetcher).value();
}

// Fetches into a string; returns the status and what the sink received.
std::pair<Status, std::string> Get(client::Fetcher& fetcher, const std::string& url,
                                   uint64_t max_length) {
  std::string body;
  Status status = fetcher.Fetch(url, max_length, [&body](std::string_view chunk) -> Status {
    body.append(chunk);
    return {};
  });
  return {std::move(status), std::move(body)};
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

TEST(CurlFetcherTest, DeliversBodyOf200) {
  const std::string payload(100000, 'p');
  TestHttpServer server([&](const std::string&) { return Body(payload); });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/1.root.json"), payload.size());
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, payload);
  EXPECT_EQ(server.request_paths(), std::vector<std::string>{"/1.root.json"});
}

TEST(CurlFetcherTest, DeliversEmptyBody) {
  TestHttpServer server([](const std::string&) { return Body(""); });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/empty"), 0);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "");
}

TEST(CurlFetcherTest, ReusesOneConnectionForConsecutiveRequests) {
  TestHttpServer server([](const std::string& path) { return Body("body of " + path); });
  auto fetcher = MakeFetcher();
  for (const char* path : {"/a", "/b", "/c"}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ(body, std::string("body of ") + path);
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 1);
}

TEST(CurlFetcherTest, Maps404And403ToNotFound) {
  TestHttpServer server(
      [](const std::string& path) { return ErrorPage(path == "/3.root.json" ? 404 : 403); });
  auto fetcher = MakeFetcher();
  for (const char* path : {"/3.root.json", "/private.json"}) {
    auto [status, body] = Get(*fetcher, server.Url(path), 1000);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind(), ErrorKind::kNotFound) << status.error().ToString();
    EXPECT_NE(status.error().message().find(path), std::string::npos);
    EXPECT_EQ(body, "") << "an error page must never reach the sink";
  }
}

TEST(CurlFetcherTest, Maps500And410ToDownloadErrorNamingStatusAndUrl) {
  TestHttpServer server(
      [](const std::string& path) { return ErrorPage(path == "/gone" ? 410 : 500); });
  auto fetcher = MakeFetcher();
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

TEST(CurlFetcherTest, DoesNotFollowRedirects) {
  TestHttpServer server([&](const std::string& path) {
    if (path == "/elsewhere") return Body("redirected body");
    TestResponse response = ErrorPage(301);
    response.headers.emplace_back("Location", "/elsewhere");
    return response;
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload);
  EXPECT_NE(status.error().message().find("HTTP 301"), std::string::npos);
  EXPECT_EQ(server.request_paths(), std::vector<std::string>{"/timestamp.json"});
}

TEST(CurlFetcherTest, FollowsSameSchemeRedirectWhenAllowed) {
  TestHttpServer server([&](const std::string& path) {
    if (path == "/elsewhere") return Body("redirected body");
    TestResponse response = ErrorPage(302);
    response.headers.emplace_back("Location", "/elsewhere");
    return response;
  });
  CurlFetcherOptions options;
  options.follow_redirects = true;
  auto fetcher = MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), 1000);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "redirected body");
}

TEST(CurlFetcherTest, RejectsContentLengthAboveLimitBeforeReadingBody) {
  TestHttpServer server([](const std::string&) { return Body(std::string(5000, 'b')); });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/big"), 4999);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded) << status.error().ToString();
  EXPECT_NE(status.error().message().find("5000"), std::string::npos);
  EXPECT_EQ(body, "");
}

TEST(CurlFetcherTest, StopsEndlessDataAtTheLimit) {
  TestHttpServer server([](const std::string&) {
    TestResponse response;
    response.mode = TestResponse::Mode::kEndless;
    return response;
  });
  auto fetcher = MakeFetcher();
  constexpr uint64_t kLimit = 100000;
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), kLimit);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kLimitExceeded) << status.error().ToString();
  EXPECT_LE(body.size(), kLimit);
  // The client hung up: the server could not push much more than the socket buffers hold.
  EXPECT_LT(server.streamed_bytes(), 64u * 1024 * 1024);
}

TEST(CurlFetcherTest, ContentLengthSmallerThanBodyDeliversOnlyAnnouncedBytes) {
  // A lying server announces 10 bytes and sends 1000: the extra bytes never reach the sink.
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body(std::string(1000, 'z'));
    response.content_length = 10;
    return response;
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 500);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, std::string(10, 'z'));
}

TEST(CurlFetcherTest, ContentLengthLargerThanBodyIsADownloadError) {
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body("short");
    response.content_length = 400;  // then the server closes the connection
    return response;
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 500);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
}

TEST(CurlFetcherTest, AbortsSlowRetrieval) {
  TestHttpServer server([](const std::string&) {
    TestResponse response = Body(std::string(1000, 's'));
    response.mode = TestResponse::Mode::kTrickle;  // 1 byte/s
    return response;
  });
  CurlFetcherOptions options;
  options.low_speed_limit = 100;
  options.low_speed_time = std::chrono::seconds(2);
  auto fetcher = MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/snapshot.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kSlowRetrieval) << status.error().ToString();
  EXPECT_NE(status.error().message().find("100 bytes/s"), std::string::npos);
  EXPECT_LT(body.size(), 1000u);
}

TEST(CurlFetcherTest, AbortsAtTotalTimeoutEvenAboveMinimumSpeed) {
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
  auto fetcher = MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/snapshot.json"), 1000);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kSlowRetrieval) << status.error().ToString();
  EXPECT_NE(status.error().message().find("not complete after 2 s"), std::string::npos);
}

TEST(CurlFetcherTest, PropagatesSinkErrorAndStops) {
  TestHttpServer server([](const std::string&) {
    TestResponse response;
    response.mode = TestResponse::Mode::kEndless;
    return response;
  });
  auto fetcher = MakeFetcher();
  int calls = 0;
  Status status = fetcher->Fetch(server.Url("/t"), 1 << 30, [&calls](std::string_view) -> Status {
    ++calls;
    return MakeError(ErrorKind::kHashMismatch, "hash of t differs");
  });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kHashMismatch);
  EXPECT_EQ(calls, 1);
}

TEST(CurlFetcherTest, ConnectionRefusedIsADownloadError) {
  // Reserve a free port, then close it so nothing listens there.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  auto fetcher = MakeFetcher();
  auto [status, body] =
      Get(*fetcher, "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x", 10);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
}

TEST(CurlFetcherTest, IgnoresProxyFromEnvironment) {
  TestHttpServer server([](const std::string&) { return Body("direct"); });
  // A proxy that does not exist: using it would fail the request.
  ::setenv("http_proxy", "http://127.0.0.1:1", 1);
  ::setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 100);
  ::unsetenv("http_proxy");
  ::unsetenv("ALL_PROXY");
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "direct");
}

TEST(CurlFetcherTest, RejectsNonHttpUrls) {
  auto fetcher = MakeFetcher();
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1/x"}) {
    auto [status, body] = Get(*fetcher, url, 100);
    ASSERT_FALSE(status) << url;
    EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument) << url;
  }
}

TEST(CurlFetcherTest, RedactsCredentialsInErrors) {
  TestHttpServer server([](const std::string&) { return ErrorPage(500); });
  auto fetcher = MakeFetcher();
  const std::string url =
      "http://user:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/timestamp.json";
  auto [status, body] = Get(*fetcher, url, 100);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message().find("s3cret"), std::string::npos) << status.error().message();
}

}  // namespace
}  // namespace mdu::agent
