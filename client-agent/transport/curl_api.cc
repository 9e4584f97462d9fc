#include "client-agent/transport/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace mdu::agent::curl {
namespace {

Error LoadError(const char* library, const std::string& why) {
  return Error(ErrorKind::kDownload, std::string("https:// and grpc(s):// need libcurl (") +
                                         library + "), which could not be loaded: " + why);
}

std::string LastDlError() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown dlerror";
}

// Resolves `name` into `out`; false (and `missing` names it) if the library lacks it.
template <typename Fn>
bool Resolve(void* handle, const char* name, Fn& out, std::string& missing) {
  dlerror();  // clear a stale error
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    if (missing.empty()) missing = std::string(name) + ": " + LastDlError();
    return false;
  }
  // POSIX guarantees that a dlsym result converts to a function pointer.
  out = reinterpret_cast<Fn>(symbol);
  return true;
}

// dlopen + every symbol; the handle is closed again on failure.
Result<std::pair<void*, Api>> Open(const char* library) {
  // RTLD_NOW: a dependency missing a symbol fails here, as a load error, not at its first call
  // in the middle of a transfer (measured: same page faults and time as RTLD_LAZY).
  // RTLD_LOCAL: libcurl's symbols stay out of the global namespace.
  void* handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return MakeError(LoadError(library, LastDlError()));
  Api api;
  std::string missing;
  bool all = true;
  all &= Resolve(handle, "curl_global_init", api.global_init, missing);
  all &= Resolve(handle, "curl_easy_init", api.easy_init, missing);
  all &= Resolve(handle, "curl_easy_cleanup", api.easy_cleanup, missing);
  all &= Resolve(handle, "curl_easy_setopt", api.easy_setopt, missing);
  all &= Resolve(handle, "curl_easy_getinfo", api.easy_getinfo, missing);
  all &= Resolve(handle, "curl_easy_perform", api.easy_perform, missing);
  all &= Resolve(handle, "curl_easy_strerror", api.easy_strerror, missing);
  all &= Resolve(handle, "curl_slist_append", api.slist_append, missing);
  all &= Resolve(handle, "curl_slist_free_all", api.slist_free_all, missing);
  all &= Resolve(handle, "curl_version_info", api.version_info, missing);
  if (!all) {
    dlclose(handle);
    return MakeError(LoadError(library, "missing symbol " + missing));
  }
  return std::make_pair(handle, api);
}

}  // namespace

Result<const Api*> Lib() {
  static std::once_flag once;
  static Api api;
  static std::optional<Error> failure;
  std::call_once(once, [] {
    Result<std::pair<void*, Api>> opened = Open(kLibraryName);
    if (!opened) {
      failure = opened.error();
      return;
    }
    // The handle is never closed: the table is used until the process ends.
    api = opened->second;
    if (const CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
      failure = LoadError(kLibraryName,
                          std::string("curl_global_init failed: ") + api.easy_strerror(code));
    }
  });
  if (failure) return MakeError(*failure);
  return &api;
}

LoadedLibrary::~LoadedLibrary() { dlclose(handle_); }

Result<std::unique_ptr<LoadedLibrary>> LoadLibrary(const char* library) {
  MDU_ASSIGN_OR_RETURN(auto opened, Open(library));
  return std::unique_ptr<LoadedLibrary>(new LoadedLibrary(opened.first, opened.second));
}

}  // namespace mdu::agent::curl
