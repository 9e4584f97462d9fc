// Http1Fetcher's own defences: a hostile http server attacking the response parser (malformed
// status lines, header floods, bad chunk sizes, conflicting framing), keep-alive details, and
// the minimum-speed window (transfer_cutoffs.h). The contract it shares with CurlFetcher is
// tested over both in http_fetcher_contract_test.cc. Named after the attack each test stops.
#include "client-agent/transport/http1_fetcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client-agent/transport/transfer_cutoffs.h"
#include "tests/unit/agent/test_http_server.h"

namespace mdu::agent {
namespace {

using testing::Get;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

std::unique_ptr<Http1Fetcher> MakeFetcher(HttpFetcherOptions options = {}) {
  auto fetcher = Http1Fetcher::Create(std::move(options));
  EXPECT_TRUE(fetcher) << fetcher.error().ToString();
  return std::move(fetcher).value();
}

TestResponse Raw(std::string bytes, bool close_after = true) {
  TestResponse response;
  response.mode = TestResponse::Mode::kRaw;
  response.body = std::move(bytes);
  response.close_after = close_after;
  return response;
}

// Serves `raw` once and expects the fetch to fail with `kind`, a message containing `needle`,
// and at most `delivered` delivered (chunks before a bad one may have reached the sink).
void ExpectRefused(const std::string& raw, ErrorKind kind, const std::string& needle,
                   uint64_t max_length = 1 << 20, const std::string& delivered = "") {
  SCOPED_TRACE(raw.substr(0, 120));
  TestHttpServer server([&](const std::string&) { return Raw(raw); });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/timestamp.json"), max_length);
  ASSERT_FALSE(status) << "accepted";
  EXPECT_EQ(status.error().kind(), kind) << status.error().ToString();
  EXPECT_NE(status.error().message().find(needle), std::string::npos) << status.error().message();
  EXPECT_EQ(body, delivered);
}

TEST(Http1FetcherTest, RejectsMalformedStatusLines) {
  for (const std::string& line : std::vector<std::string>{
           "HTTP/1.1 2000 OK", "HTTP/2 200 OK", "ICY 200 OK", "HTTP/1.1 200OK", "HTTP/1.1 099 Low",
           "HTTP/1.1 600 High", "HTTP/1.1 -20 Neg", "http/1.1 200 OK", "HTTP/1.1  200 OK",
           std::string("HTTP/1.1 200 O\0K", 16), "\x16\x03\x01\x02\x00"}) {
    ExpectRefused(line + "\r\nContent-Length: 2\r\n\r\nok", ErrorKind::kDownload,
                  "malformed response");
  }
}

TEST(Http1FetcherTest, RejectsAHeadLongerThan64KiB) {
  ExpectRefused("HTTP/1.1 200 OK\r\nX-Flood: " + std::string(70 * 1024, 'a') +
                    "\r\nContent-Length: 2\r\n\r\nok",
                ErrorKind::kDownload, "longer than 65536 bytes");
  // Many lines adding up past the limit before the line limit.
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 90; ++i)
    many += "X-" + std::to_string(i) + ": " + std::string(800, 'b') + "\r\n";
  ExpectRefused(many + "\r\n", ErrorKind::kDownload, "longer than 65536 bytes");
  // A head that never ends is not read forever.
  ExpectRefused("HTTP/1.1 200 OK\r\n" + std::string(200 * 1024, 'c'), ErrorKind::kDownload,
                "longer than 65536 bytes");
}

TEST(Http1FetcherTest, RejectsMoreThan100HeaderLines) {
  std::string flood = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 101; ++i) flood += "X-" + std::to_string(i) + ": v\r\n";
  ExpectRefused(flood + "Content-Length: 2\r\n\r\nok", ErrorKind::kDownload,
                "more than 100 header lines");
  // 100 are fine.
  std::string hundred = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 99; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
  TestHttpServer server(
      [&](const std::string&) { return Raw(hundred + "Content-Length: 2\r\n\r\nok"); });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "ok");
}

TEST(Http1FetcherTest, RejectsMalformedHeaderLines) {
  for (const std::string header :
       {"No colon here", ": empty name", "Bad Name: x", " folded: continuation", "X: a\x01z"}) {
    ExpectRefused("HTTP/1.1 200 OK\r\n" + header + "\r\nContent-Length: 2\r\n\r\nok",
                  ErrorKind::kDownload, "malformed response");
  }
}

TEST(Http1FetcherTest, RejectsBadContentLengths) {
  for (const std::string value : {"-1", "+5", "1e3", "0x10", "", "5 5", "5, 5",
                                  "99999999999999999999999", "18446744073709551615"}) {
    ExpectRefused("HTTP/1.1 200 OK\r\nContent-Length: " + value + "\r\n\r\nhello",
                  ErrorKind::kDownload, "Content-Length");
  }
}

// Two framings in one answer is how responses are smuggled past an intermediary: refused.
TEST(Http1FetcherTest, RejectsConflictingFraming) {
  ExpectRefused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                ErrorKind::kDownload, "conflicting Content-Length headers (5 and 6)");
  ExpectRefused(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0"
      "\r\n\r\n",
      ErrorKind::kDownload, "both Content-Length and Transfer-Encoding");
  for (const std::string coding : {"gzip", "gzip, chunked", "chunked, chunked", "identity"}) {
    ExpectRefused("HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + "\r\n\r\n0\r\n\r\n",
                  ErrorKind::kDownload, "Transfer-Encoding");
  }
  // The same length twice is one length.
  TestHttpServer server([](const std::string&) {
    return Raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok");
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "ok");
}

TEST(Http1FetcherTest, RejectsBadChunkSizes) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string size : {"-1", "0x5", "zz", "", " 5", "5 junk", "+5"}) {
    ExpectRefused(head + size + "\r\nhello\r\n0\r\n\r\n", ErrorKind::kDownload, "chunk size");
  }
  ExpectRefused(head + "10000000000000000\r\nhello\r\n0\r\n\r\n", ErrorKind::kDownload,
                "chunk size overflows");
  ExpectRefused(head + "5\r\nhelloXX0\r\n\r\n", ErrorKind::kDownload, "not followed by CRLF",
                1 << 20, "hello");
  ExpectRefused(head + std::string(5000, '0') + "5\r\nhello\r\n0\r\n\r\n", ErrorKind::kDownload,
                "chunk-size line longer");
}

TEST(Http1FetcherTest, ChunkedBodyCutShortIsADownloadError) {
  ExpectRefused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhello",
                ErrorKind::kDownload, "closed", 1 << 20, "hello");
}

// A chunk announcing more than the limit is refused before any of it is delivered.
TEST(Http1FetcherTest, RefusesAChunkLargerThanTheLimit) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  ExpectRefused(head + "fffffffffffffff\r\nhello", ErrorKind::kLimitExceeded, "limit of 100", 100);
  ExpectRefused(head + "5\r\nhello\r\n60\r\n" + std::string(0x60, 'x'), ErrorKind::kLimitExceeded,
                "limit of 100", 100, "hello");
}

TEST(Http1FetcherTest, TrailersAreBounded) {
  std::string trailers;
  for (int i = 0; i < 200; ++i) trailers += "X-" + std::to_string(i) + ": v\r\n";
  TestHttpServer server([&](const std::string&) {
    return Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + trailers +
               "\r\n");
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
}

TEST(Http1FetcherTest, RejectsEndlessInterimResponses) {
  std::string interim;
  for (int i = 0; i < 50; ++i) interim += "HTTP/1.1 100 Continue\r\n\r\n";
  ExpectRefused(interim + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", ErrorKind::kDownload,
                "interim");
}

TEST(Http1FetcherTest, AServerClosingWithoutAnswerIsADownloadError) {
  TestHttpServer server([](const std::string&) {
    TestResponse response;
    response.mode = TestResponse::Mode::kNoAnswer;
    return response;
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
  EXPECT_EQ(server.connections(), 1) << "a fresh connection is never retried";
}

// The transparent reconnect happens once: a server that drops every request after the first
// fails the fetch after one new connection.
TEST(Http1FetcherTest, RepeatsALostRequestOnlyOnce) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const std::string&) {
    TestResponse response;
    response.body = "ok";
    if (calls++ > 0) response.mode = TestResponse::Mode::kNoAnswer;
    return response;
  });
  auto fetcher = MakeFetcher();
  ASSERT_TRUE(Get(*fetcher, server.Url("/a"), 10).first);
  auto [status, body] = Get(*fetcher, server.Url("/b"), 10);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 3);
}

// A 404 at the end of the root chain is part of every refresh: its small body is skipped and
// the connection kept for the next request.
TEST(Http1FetcherTest, KeepsTheConnectionAfterAnErrorPage) {
  TestHttpServer server([](const std::string& path) {
    TestResponse response;
    response.status = path == "/2.root.json" ? 404 : 200;
    response.body = "body";
    return response;
  });
  auto fetcher = MakeFetcher();
  EXPECT_EQ(Get(*fetcher, server.Url("/2.root.json"), 10).first.error().kind(),
            ErrorKind::kNotFound);
  ASSERT_TRUE(Get(*fetcher, server.Url("/timestamp.json"), 10).first);
  EXPECT_EQ(server.connections(), 1);
}

TEST(Http1FetcherTest, DoesNotReuseAnHttp10Connection) {
  TestHttpServer server([](const std::string&) {
    return Raw("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
  });
  auto fetcher = MakeFetcher();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Get(*fetcher, server.Url("/x"), 10).first);
  EXPECT_EQ(server.connections(), 2);
}

// Credentials in the URL never appear in a message, whatever the failure.
TEST(Http1FetcherTest, RedactsCredentialsInEveryError) {
  TestHttpServer server([](const std::string& path) {
    if (path == "/big") return Raw("HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n");
    if (path == "/bad") return Raw("HTTP/1.1 2000 OK\r\n\r\n");
    if (path == "/range") {
      return Raw(
          "HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-1/2\r\nContent-Length: 2\r\n\r\nok");
    }
    TestResponse response;
    response.status = path == "/missing" ? 404 : 500;
    return response;
  });
  auto fetcher = MakeFetcher();
  const std::string base = "http://admin:s3cret@127.0.0.1:" + std::to_string(server.port());
  for (const char* path : {"/big", "/bad", "/range", "/missing", "/error", "/bad path"}) {
    Status status = fetcher->FetchFrom(
        base + path, 1, 100, [](uint64_t) -> Status { return {}; },
        [](std::string_view) -> Status { return {}; });
    ASSERT_FALSE(status) << path;
    EXPECT_EQ(status.error().message().find("s3cret"), std::string::npos)
        << status.error().message();
    EXPECT_NE(status.error().message().find("***@"), std::string::npos) << status.error().message();
  }
}

// Spaces or CR LF in a URL would inject into the request: refused before anything is sent.
TEST(Http1FetcherTest, RejectsUrlsThatWouldInjectIntoTheRequest) {
  auto fetcher = MakeFetcher();
  for (const char* url :
       {"http://127.0.0.1:1/a b", "http://127.0.0.1:1/a\r\nX-Evil: 1", "http:///nohost",
        "http://127.0.0.1:99999/x", "http://[::1/x", "https://127.0.0.1/x"}) {
    auto [status, body] = Get(*fetcher, url, 10);
    ASSERT_FALSE(status) << url;
    EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument) << url;
  }
}

TEST(Http1FetcherTest, RejectsUnusableOptions) {
  HttpFetcherOptions options;
  options.max_redirects = -1;
  EXPECT_FALSE(Http1Fetcher::Create(options));
  options = {};
  options.user_agent = "agent\r\nX-Evil: 1";
  EXPECT_FALSE(Http1Fetcher::Create(options));
  options = {};
  options.low_speed_time = std::chrono::seconds(0);
  EXPECT_FALSE(Http1Fetcher::Create(options));
}

// Redirect credentials: kept for the same server, dropped for another one.
TEST(Http1FetcherTest, SendsCredentialsOnlyToTheServerThatWasGivenThem) {
  std::mutex mu;
  std::vector<std::string> heads;
  TestHttpServer other([&](const TestRequest& request) {
    std::lock_guard lock(mu);
    heads.push_back("other " + request.head);
    TestResponse response;
    response.body = "other";
    return response;
  });
  TestHttpServer server([&](const TestRequest& request) {
    std::lock_guard lock(mu);
    heads.push_back(request.head);
    TestResponse response;
    response.status = 302;
    response.headers.emplace_back(
        "Location",
        request.path == "/a" ? "/b" : "http://localhost:" + std::to_string(other.port()) + "/c");
    return response;
  });
  HttpFetcherOptions options;
  options.follow_redirects = true;
  auto fetcher = MakeFetcher(options);
  auto [status, body] =
      Get(*fetcher, "http://user:pw@127.0.0.1:" + std::to_string(server.port()) + "/a", 10);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "other");
  std::lock_guard lock(mu);
  ASSERT_EQ(heads.size(), 3u);
  EXPECT_NE(heads[0].find("Authorization: Basic"), std::string::npos);
  EXPECT_NE(heads[1].find("Authorization: Basic"), std::string::npos);
  EXPECT_EQ(heads[2].find("Authorization"), std::string::npos) << heads[2];
  EXPECT_NE(heads[2].find("Host: localhost:"), std::string::npos) << heads[2];
}

// An IPv6 literal with its port, when the machine has an IPv6 loopback.
TEST(Http1FetcherTest, ConnectsToAnIpv6Literal) {
  const int listener = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener, 1) != 0) {
    ::close(listener);
    GTEST_SKIP() << "no IPv6 loopback";
  }
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const uint16_t port = ntohs(address.sin6_port);
  std::string request;
  std::thread answer([&] {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6";
    (void)::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(fd);
  });
  auto fetcher = MakeFetcher();
  auto [status, body] = Get(*fetcher, "http://[::1]:" + std::to_string(port) + "/x", 10);
  answer.join();
  ::close(listener);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "v6");
  EXPECT_NE(request.find("Host: [::1]:" + std::to_string(port) + "\r\n"), std::string::npos)
      << request;
}

// A server that starts an answer and then sends nothing more is cut by the minimum speed, even
// before the head is complete.
TEST(Http1FetcherTest, AStalledHeadIsSlowRetrieval) {
  TestHttpServer server([](const std::string&) { return Raw("HTTP/1.1 200 OK\r\n", false); });
  HttpFetcherOptions options;
  options.low_speed_limit = 10;
  options.low_speed_time = std::chrono::seconds(1);
  auto fetcher = MakeFetcher(options);
  auto [status, body] = Get(*fetcher, server.Url("/x"), 10);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kSlowRetrieval) << status.error().ToString();
  EXPECT_NE(status.error().message().find("slower than 10 bytes/s for 1 s"), std::string::npos);
}

// Random corruptions of valid answers (bytes flipped, cut, duplicated): whatever the fetcher
// makes of them, it returns (no crash, no hang; the sanitizer build checks memory) and never
// delivers more than the limit.
TEST(Http1FetcherTest, SurvivesCorruptedResponses) {
  const std::vector<std::string> seeds = {
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n"
      "T: v\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 206 Partial\r\nContent-Range: bytes 3-9/10\r\n"
      "Content-Length: 7\r\n\r\n3456789"};
  std::mt19937 random(20261201);
  std::vector<std::string> corrupted;
  for (int i = 0; i < 150; ++i) {
    std::string bytes = seeds[random() % seeds.size()];
    for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
      const size_t at = random() % bytes.size();
      switch (random() % 4) {
        case 0:
          bytes[at] = static_cast<char>(random() % 256);
          break;
        case 1:
          bytes.resize(at);
          break;
        case 2:
          bytes.insert(at, bytes.substr(at, random() % 16));
          break;
        default:
          bytes.insert(at, 1, "\r\n:; -0f9"[random() % 10]);
      }
      if (bytes.empty()) bytes = "X";
    }
    corrupted.push_back(std::move(bytes));
  }
  std::atomic<size_t> next{0};
  TestHttpServer server(
      [&](const std::string&) { return Raw(corrupted[next++ % corrupted.size()]); });
  HttpFetcherOptions options;
  options.total_timeout = std::chrono::seconds(5);
  auto fetcher = MakeFetcher(options);
  for (size_t i = 0; i < corrupted.size(); ++i) {
    uint64_t delivered = 0;
    Status status = fetcher->FetchFrom(
        server.Url("/t"), i % 2 == 0 ? 0 : 3, 12, [](uint64_t) -> Status { return {}; },
        [&](std::string_view chunk) -> Status {
          delivered += chunk.size();
          return {};
        });
    EXPECT_LE(delivered, 12u);
    if (!status) {
      EXPECT_NE(status.error().kind(), ErrorKind::kInternal) << status.error().ToString();
    }
  }
}

TEST(LowSpeedMonitorTest, FiresWhenTheAverageOverTheWindowIsBelowTheLimit) {
  using namespace std::chrono_literals;
  const auto t0 = LowSpeedMonitor::Clock::time_point{} + 1000s;
  LowSpeedMonitor monitor(100, 2s);
  monitor.Restart(t0, 0);
  EXPECT_FALSE(monitor.TooSlow(t0 + 500ms, 10));  // the window is not full yet
  EXPECT_FALSE(monitor.TooSlow(t0 + 1s, 20));
  EXPECT_TRUE(monitor.TooSlow(t0 + 2s, 50));  // 50 bytes in 2 s
  // A burst brings the average back up.
  EXPECT_FALSE(monitor.TooSlow(t0 + 3s, 400));
  EXPECT_FALSE(monitor.TooSlow(t0 + 4s, 410));
  // The window slides: then the burst falls out of it.
  EXPECT_TRUE(monitor.TooSlow(t0 + 6s, 420));
}

TEST(LowSpeedMonitorTest, ALimitOfZeroNeverFires) {
  using namespace std::chrono_literals;
  LowSpeedMonitor monitor(0, 1s);
  monitor.Restart({}, 0);
  EXPECT_FALSE(monitor.TooSlow(LowSpeedMonitor::Clock::time_point{} + 100s, 0));
}

TEST(TransferCutoffsTest, NamesTheCutoffThatFired) {
  const TransferCutoffs cutoffs{std::chrono::milliseconds(2500), 1024, std::chrono::seconds(30)};
  const Error total = TransferCutoffError("http://r/x", Cutoff::kTotalTimeout, cutoffs, 7);
  EXPECT_EQ(total.kind(), ErrorKind::kSlowRetrieval);
  EXPECT_EQ(total.message(), "http://r/x: not complete after 3 s (7 bytes received)");
  const Error slow = TransferCutoffError("http://r/x", Cutoff::kLowSpeed, cutoffs, 0);
  EXPECT_EQ(slow.message(), "http://r/x: slower than 1024 bytes/s for 30 s (0 bytes received)");
}

}  // namespace
}  // namespace mdu::agent
