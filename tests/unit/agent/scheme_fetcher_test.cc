#include "client-agent/transport/scheme_fetcher.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/unit/agent/test_http_server.h"

namespace mdu::agent {
namespace {

TEST(SchemeFetcherTest, ParsesSchemes) {
  EXPECT_EQ(UrlScheme("HTTPS://example.org/x"), "https");
  EXPECT_EQ(UrlScheme("file:///tmp/x"), "file");
  EXPECT_EQ(UrlScheme("/tmp/x"), "");
  EXPECT_EQ(UrlScheme("://x"), "");
  EXPECT_EQ(UrlScheme("ht tp://x"), "");
}

TEST(SchemeFetcherTest, DispatchesHttpAndFileByScheme) {
  testing::TestHttpServer server([](const std::string&) {
    testing::TestResponse response;
    response.body = "from http";
    return response;
  });
  const auto dir = std::filesystem::temp_directory_path() /
                   ("scheme_fetcher_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "local.json") << "from file";

  auto fetcher = MakeDefaultFetcher();
  ASSERT_TRUE(fetcher) << fetcher.error().ToString();
  auto http = (*fetcher)->FetchBytes(server.Url("/x"), 100);
  ASSERT_TRUE(http) << http.error().ToString();
  EXPECT_EQ(*http, "from http");
  auto file = (*fetcher)->FetchBytes("file://" + (dir / "local.json").string(), 100);
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(*file, "from file");
  auto missing = (*fetcher)->FetchBytes("file://" + (dir / "missing.json").string(), 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(SchemeFetcherTest, RejectsUnknownOrMissingScheme) {
  auto fetcher = MakeDefaultFetcher();
  ASSERT_TRUE(fetcher);
  for (const char* url : {"ftp://host/x", "gopher://host/x", "/plain/path"}) {
    auto result = (*fetcher)->FetchBytes(url, 100);
    ASSERT_FALSE(result) << url;
    EXPECT_EQ(result.error().kind(), ErrorKind::kInvalidArgument) << url;
  }
}

// grpc(s) URLs go to the GrpcFetcher (gRPC over libcurl, in the program): an unreachable
// repo-server is a transport failure. Its TLS files are read on the first grpc(s) fetch only, so
// a missing one does not keep http and file from working.
TEST(SchemeFetcherTest, GrpcGoesToTheCurlGrpcFetcherCreatedOnFirstUse) {
  GrpcFetcherOptions grpc;
  grpc.ca_file = "/nonexistent-mdu-dir/ca.pem";
  auto fetcher = MakeDefaultFetcher({}, grpc);
  ASSERT_TRUE(fetcher) << fetcher.error().ToString();
  auto result = (*fetcher)->FetchBytes("grpcs://127.0.0.1:1/metadata/timestamp.json", 100);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("/nonexistent-mdu-dir/ca.pem"), std::string::npos)
      << result.error().ToString();
  auto plain = MakeDefaultFetcher();
  ASSERT_TRUE(plain);
  result = (*plain)->FetchBytes("grpc://127.0.0.1:1/metadata/timestamp.json", 100);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kDownload) << result.error().ToString();
}

// Plain http needs no libcurl: Http1Fetcher serves it, and the CurlFetcher for https is made
// (libcurl loaded) by the first https fetch only.
TEST(SchemeFetcherTest, HttpGoesToHttp1FetcherAndHttpsIsCreatedOnFirstUse) {
  testing::TestHttpServer server([](const std::string&) {
    testing::TestResponse response;
    response.body = "from http";
    return response;
  });
  auto fetcher = MakeDefaultFetcher();
  ASSERT_TRUE(fetcher) << fetcher.error().ToString();
  EXPECT_NE(dynamic_cast<Http1Fetcher*>((*fetcher)->Registered("HTTP")), nullptr);
  auto* https = dynamic_cast<LazyFetcher*>((*fetcher)->Registered("https"));
  ASSERT_NE(https, nullptr);
  auto http = (*fetcher)->FetchBytes(server.Url("/x"), 100);
  ASSERT_TRUE(http) << http.error().ToString();
  EXPECT_EQ(*http, "from http");
  EXPECT_EQ(https->created(), nullptr) << "an http fetch made the https fetcher";
  // Nothing listens on port 1: the fetch fails, but the CurlFetcher now exists.
  auto refused = (*fetcher)->FetchBytes("https://127.0.0.1:1/x", 100);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kDownload) << refused.error().ToString();
  EXPECT_NE(dynamic_cast<CurlFetcher*>(https->created()), nullptr);
}

// libcurl speaks to proxies: with one configured, http goes through the (lazy) CurlFetcher.
TEST(SchemeFetcherTest, ProxiedHttpGoesThroughCurlFetcher) {
  testing::TestHttpServer proxy([](const std::string&) {
    testing::TestResponse response;
    response.body = "via proxy";
    return response;
  });
  CurlFetcherOptions options;
  options.proxy = proxy.Url("");
  auto fetcher = MakeDefaultFetcher(options);
  ASSERT_TRUE(fetcher) << fetcher.error().ToString();
  EXPECT_EQ((*fetcher)->Registered("http"), (*fetcher)->Registered("https"));
  auto body = (*fetcher)->FetchBytes("http://mirror.invalid/timestamp.json", 100);
  ASSERT_TRUE(body) << body.error().ToString();
  EXPECT_EQ(*body, "via proxy");
  EXPECT_EQ(proxy.request_paths(),
            std::vector<std::string>{"http://mirror.invalid/timestamp.json"});
}

TEST(SchemeFetcherTest, RejectsUnusableOptionsAtOnce) {
  CurlFetcherOptions options;
  options.max_redirects = -1;
  EXPECT_FALSE(MakeDefaultFetcher(options));
  options = {};
  options.low_speed_time = std::chrono::seconds(0);
  EXPECT_FALSE(MakeDefaultFetcher(options));
}

TEST(SchemeFetcherTest, RefusesAClientCertificateWithoutItsKey) {
  GrpcFetcherOptions grpc;
  grpc.client_cert_file = "/tmp/cert.pem";
  EXPECT_FALSE(MakeDefaultFetcher({}, grpc));
}

}  // namespace
}  // namespace mdu::agent
