// What only CurlFetcher does: proxies (none from the environment, the configured one used) and
// https. The HTTP contract it shares with Http1Fetcher (status codes, limits, slow retrieval,
// redirects, keep-alive, resume) is tested over both in http_fetcher_contract_test.cc.
#include "client-agent/transport/curl_fetcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "tests/unit/agent/test_http_server.h"

namespace mdu::agent {
namespace {

using testing::Get;
using testing::TestHttpServer;
using testing::TestResponse;

std::unique_ptr<CurlFetcher> MakeFetcher(CurlFetcherOptions options = {}) {
  auto fetcher = CurlFetcher::Create(std::move(options));
  EXPECT_TRUE(fetcher) << fetcher.error().ToString();
  return std::move(fetcher).value();
}

TestResponse Body(std::string body) {
  TestResponse response;
  response.body = std::move(body);
  return response;
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

// The configured proxy gets the request in absolute form (the reason proxied http stays on
// libcurl, scheme_fetcher.h).
TEST(CurlFetcherTest, UsesTheConfiguredProxy) {
  TestHttpServer proxy([](const std::string&) { return Body("via proxy"); });
  CurlFetcherOptions options;
  options.proxy = proxy.Url("");
  auto fetcher = MakeFetcher(options);
  auto [status, body] = Get(*fetcher, "http://mirror.invalid/metadata/timestamp.json", 100);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(body, "via proxy");
  EXPECT_EQ(proxy.request_paths(),
            std::vector<std::string>{"http://mirror.invalid/metadata/timestamp.json"});
}

// https is CurlFetcher's: a server hanging up on the TLS handshake is a transport failure, not
// a URL the fetcher refuses.
TEST(CurlFetcherTest, SpeaksHttpsAndFailsWhenTheHandshakeFails) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::thread hang_up([listener] {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd >= 0) ::close(fd);
  });
  auto fetcher = MakeFetcher();
  const std::string url = "https://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x";
  auto [status, body] = Get(*fetcher, url, 100);
  hang_up.join();
  ::close(listener);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kDownload) << status.error().ToString();
  EXPECT_EQ(body, "");
}

}  // namespace
}  // namespace mdu::agent
