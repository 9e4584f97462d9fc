// curl::Lib() and curl::LoadLibrary (client-agent/transport/curl_api.h): libcurl is mapped only
// by the first Lib() call (this binary links no libcurl, as client-agent), every function the
// agent uses resolves, concurrent first calls share one load, and a library that cannot be
// loaded, or lacks the symbols, is an error value naming it instead of a crash.
// The first test must run first (gtest keeps file order): it checks libcurl is not yet mapped.
#include "client-agent/transport/curl_api.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mdu::agent::curl {
namespace {

bool LibcurlMapped() {
  void* handle = dlopen(kLibraryName, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);  // drops only the reference RTLD_NOLOAD added
  return true;
}

void ExpectEveryMember(const Api& api) {
  EXPECT_NE(api.global_init, nullptr);
  EXPECT_NE(api.easy_init, nullptr);
  EXPECT_NE(api.easy_cleanup, nullptr);
  EXPECT_NE(api.easy_setopt, nullptr);
  EXPECT_NE(api.easy_getinfo, nullptr);
  EXPECT_NE(api.easy_perform, nullptr);
  EXPECT_NE(api.easy_strerror, nullptr);
  EXPECT_NE(api.slist_append, nullptr);
  EXPECT_NE(api.slist_free_all, nullptr);
  EXPECT_NE(api.version_info, nullptr);
}

TEST(CurlApi, LoadsOnFirstUseOnceForConcurrentCallers) {
  ASSERT_FALSE(LibcurlMapped()) << "libcurl mapped before the first curl::Lib() call: something "
                                   "links it (the agent must not)";
  constexpr int kThreads = 8;
  std::vector<const Api*> seen(kThreads, nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&seen, i] {
      Result<const Api*> api = Lib();
      if (api) seen[static_cast<size_t>(i)] = *api;
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_NE(seen[0], nullptr);
  for (const Api* api : seen) EXPECT_EQ(api, seen[0]);
  EXPECT_TRUE(LibcurlMapped());
}

TEST(CurlApi, ResolvesEveryFunctionAndTheyWork) {
  Result<const Api*> loaded = Lib();
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  const Api& api = **loaded;
  ExpectEveryMember(api);

  const curl_version_info_data* info = api.version_info(CURLVERSION_NOW);
  ASSERT_NE(info, nullptr);
  EXPECT_NE(info->features & CURL_VERSION_HTTP2, 0) << "gRPC needs libcurl's HTTP/2";

  CURL* curl = api.easy_init();
  ASSERT_NE(curl, nullptr);
  // Variadic calls through the table: a long and a string option, a long info.
  EXPECT_EQ(api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
  EXPECT_EQ(api.easy_setopt(curl, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
  long status = -1;
  EXPECT_EQ(api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status), CURLE_OK);
  EXPECT_EQ(status, 0);
  api.easy_cleanup(curl);

  curl_slist* list = api.slist_append(nullptr, "te: trailers");
  ASSERT_NE(list, nullptr);
  EXPECT_STREQ(list->data, "te: trailers");
  api.slist_free_all(list);
  EXPECT_STREQ(api.easy_strerror(CURLE_OK), "No error");
}

TEST(CurlApi, LoadLibraryResolvesTheSameFunctions) {
  Result<std::unique_ptr<LoadedLibrary>> library = LoadLibrary(kLibraryName);
  ASSERT_TRUE(library) << library.error().ToString();
  ExpectEveryMember((*library)->api());
  Result<const Api*> lib = Lib();
  ASSERT_TRUE(lib);
  // One library object in the process: the same addresses.
  EXPECT_EQ((*library)->api().easy_perform, (*lib)->easy_perform);
}

TEST(CurlApi, MissingLibraryIsAnErrorNamingIt) {
  Result<std::unique_ptr<LoadedLibrary>> library = LoadLibrary("libdoes-not-exist.so.9");
  ASSERT_FALSE(library);
  EXPECT_EQ(library.error().kind(), ErrorKind::kDownload);
  const std::string& message = library.error().message();
  EXPECT_NE(message.find("need libcurl (libdoes-not-exist.so.9)"), std::string::npos) << message;
  EXPECT_NE(message.find("could not be loaded"), std::string::npos) << message;
  // dlerror()'s reason is kept.
  EXPECT_NE(message.find("cannot open shared object file"), std::string::npos) << message;
}

TEST(CurlApi, LibraryWithoutCurlSymbolsIsAnErrorNamingTheSymbol) {
  // The C library loads but is not libcurl.
  Result<std::unique_ptr<LoadedLibrary>> library = LoadLibrary("libc.so.6");
  ASSERT_FALSE(library);
  EXPECT_EQ(library.error().kind(), ErrorKind::kDownload);
  EXPECT_NE(library.error().message().find("missing symbol curl_global_init"), std::string::npos)
      << library.error().message();
}

}  // namespace
}  // namespace mdu::agent::curl
