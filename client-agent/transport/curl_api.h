// libcurl, loaded on first use (dlopen) instead of linked: the agent's only way to call it.
//
// Why: libcurl.so.4 (Debian's libcurl4-openssl) pulls in 39 shared libraries (LDAP, RTMP, SSH,
// Kerberos, GnuTLS, ...). Linked, the dynamic loader maps them at every start of client-agent,
// ~300 page faults and ~10 ms per process, although most commands (init, status, events, sbom,
// --help, http:// and file:// fetches) never make a libcurl transfer. Loaded here, only the
// transfers that need it (https://, grpc(s):// to repo-server, the report channel) pay, once.
//
// Design: an explicit table of function pointers (curl::Lib()), not same-named extern "C"
// trampolines. Nothing in the agent links libcurl, so a direct curl_easy_setopt(...) call
// anywhere fails to link: the build enforces that every call goes through the table (and hence
// through the load and its error). <curl/curl.h> is still included, for types and constants;
// the member types are taken from its declarations (decltype), so a signature cannot drift.
// One loss: calls through the pointers skip the compile-time option/argument check that
// curl/typecheck-gcc.h adds to direct calls of curl_easy_setopt/getinfo. As before, pass
// `long` for long options, curl_off_t for _LARGE/_T ones, pointers for the rest.
//
// Only the transport's .cc files include this header (it includes <curl/curl.h>); the rest of
// the agent sees CurlFetcher and GrpcClient.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_CURL_API_H_
#define MDU_CLIENT_AGENT_TRANSPORT_CURL_API_H_

#include <curl/curl.h>

#include <memory>

#include "core/common/error.h"

namespace mdu::agent::curl {

// The soname the agent loads: the ABI of Debian's libcurl4-openssl (and every libcurl 7.x/8.x).
inline constexpr const char* kLibraryName = "libcurl.so.4";

// Every libcurl function the agent calls. easy_setopt and easy_getinfo are variadic, as in
// curl.h: call them with the argument type the option needs.
struct Api {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
  decltype(&::curl_version_info) version_info = nullptr;
};

// The process-wide table. The first call loads kLibraryName (RTLD_NOW | RTLD_LOCAL), resolves
// every member and runs curl_global_init(CURL_GLOBAL_DEFAULT) (not thread-safe on every libcurl
// build, hence once per process, never undone); concurrent first calls wait for that one
// (std::call_once). The outcome is kept: later calls return the same table or the same error
// without trying again (a missing library does not appear while the agent runs).
//
// A failure is kDownload, "https:// and grpc(s):// need libcurl (libcurl.so.4), which could not
// be loaded: <dlerror()>" (or naming the missing symbol, or curl_global_init's error): the
// transport is unavailable, and the callers' handling of transport failures is the right one
// (a refresh fails like an unreachable server and keeps partial downloads for a resume; device
// reports stay in the outbox for the next flush). It is not kInternal (a bug in the agent): the
// fix is installing libcurl4 on the device.
//
// The table lives until the process ends (the library is never unloaded).
Result<const Api*> Lib();

// A library loaded by LoadLibrary: the handle (dlclose'd on destruction) and its table.
class LoadedLibrary {
 public:
  ~LoadedLibrary();
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;

  const Api& api() const { return api_; }

 private:
  friend Result<std::unique_ptr<LoadedLibrary>> LoadLibrary(const char* library);
  LoadedLibrary(void* handle, const Api& api) : handle_(handle), api_(api) {}
  void* handle_;
  Api api_;
};

// What Lib() does, for another soname and without curl_global_init or caching: loads `library`
// and resolves every member of Api, or returns the error Lib() would (kDownload naming
// `library` and dlerror()). For tests (the failure path); the agent calls Lib().
Result<std::unique_ptr<LoadedLibrary>> LoadLibrary(const char* library);

}  // namespace mdu::agent::curl

#endif  // MDU_CLIENT_AGENT_TRANSPORT_CURL_API_H_
