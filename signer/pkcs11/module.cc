#include "signer/pkcs11/module.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace mdu::signer::pkcs11 {
namespace {

std::mutex& StateMutex() {
  static std::mutex mutex;
  return mutex;
}
std::string& PathOverride() {
  static std::string path;
  return path;
}
std::map<std::string, std::weak_ptr<Module>>& LoadedModules() {
  static std::map<std::string, std::weak_ptr<Module>> modules;
  return modules;
}

struct RvEntry {
  CK_RV rv;
  const char* name;
};
#define MDU_RV(x) \
  { x, #x }
constexpr RvEntry kRvNames[] = {
    MDU_RV(CKR_OK),
    MDU_RV(CKR_CANCEL),
    MDU_RV(CKR_HOST_MEMORY),
    MDU_RV(CKR_SLOT_ID_INVALID),
    MDU_RV(CKR_GENERAL_ERROR),
    MDU_RV(CKR_FUNCTION_FAILED),
    MDU_RV(CKR_ARGUMENTS_BAD),
    MDU_RV(CKR_CANT_LOCK),
    MDU_RV(CKR_ATTRIBUTE_READ_ONLY),
    MDU_RV(CKR_ATTRIBUTE_SENSITIVE),
    MDU_RV(CKR_ATTRIBUTE_TYPE_INVALID),
    MDU_RV(CKR_ATTRIBUTE_VALUE_INVALID),
    MDU_RV(CKR_ACTION_PROHIBITED),
    MDU_RV(CKR_DATA_INVALID),
    MDU_RV(CKR_DATA_LEN_RANGE),
    MDU_RV(CKR_DEVICE_ERROR),
    MDU_RV(CKR_DEVICE_MEMORY),
    MDU_RV(CKR_DEVICE_REMOVED),
    MDU_RV(CKR_FUNCTION_CANCELED),
    MDU_RV(CKR_FUNCTION_NOT_SUPPORTED),
    MDU_RV(CKR_KEY_HANDLE_INVALID),
    MDU_RV(CKR_KEY_SIZE_RANGE),
    MDU_RV(CKR_KEY_TYPE_INCONSISTENT),
    MDU_RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    MDU_RV(CKR_KEY_UNEXTRACTABLE),
    MDU_RV(CKR_MECHANISM_INVALID),
    MDU_RV(CKR_MECHANISM_PARAM_INVALID),
    MDU_RV(CKR_OBJECT_HANDLE_INVALID),
    MDU_RV(CKR_OPERATION_ACTIVE),
    MDU_RV(CKR_OPERATION_NOT_INITIALIZED),
    MDU_RV(CKR_PIN_INCORRECT),
    MDU_RV(CKR_PIN_INVALID),
    MDU_RV(CKR_PIN_LEN_RANGE),
    MDU_RV(CKR_PIN_EXPIRED),
    MDU_RV(CKR_PIN_LOCKED),
    MDU_RV(CKR_SESSION_CLOSED),
    MDU_RV(CKR_SESSION_COUNT),
    MDU_RV(CKR_SESSION_HANDLE_INVALID),
    MDU_RV(CKR_SESSION_READ_ONLY),
    MDU_RV(CKR_SESSION_EXISTS),
    MDU_RV(CKR_SIGNATURE_INVALID),
    MDU_RV(CKR_SIGNATURE_LEN_RANGE),
    MDU_RV(CKR_TEMPLATE_INCOMPLETE),
    MDU_RV(CKR_TEMPLATE_INCONSISTENT),
    MDU_RV(CKR_TOKEN_NOT_PRESENT),
    MDU_RV(CKR_TOKEN_NOT_RECOGNIZED),
    MDU_RV(CKR_TOKEN_WRITE_PROTECTED),
    MDU_RV(CKR_USER_ALREADY_LOGGED_IN),
    MDU_RV(CKR_USER_NOT_LOGGED_IN),
    MDU_RV(CKR_USER_PIN_NOT_INITIALIZED),
    MDU_RV(CKR_USER_TYPE_INVALID),
    MDU_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    MDU_RV(CKR_DOMAIN_PARAMS_INVALID),
    MDU_RV(CKR_CURVE_NOT_SUPPORTED),
    MDU_RV(CKR_BUFFER_TOO_SMALL),
    MDU_RV(CKR_CRYPTOKI_NOT_INITIALIZED),
    MDU_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    MDU_RV(CKR_LIBRARY_LOAD_FAILED),
    MDU_RV(CKR_PIN_TOO_WEAK),
    MDU_RV(CKR_PUBLIC_KEY_INVALID),
    MDU_RV(CKR_FUNCTION_REJECTED),
};
#undef MDU_RV

std::string Hint(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
      return " (wrong PIN; tokens lock after a few wrong PINs)";
    case CKR_PIN_LOCKED:
      return " (the user PIN is locked: the token's security officer must reset it)";
    case CKR_PIN_LEN_RANGE:
      return " (the PIN is too short or too long for this token)";
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_REMOVED:
      return " (insert the token and retry)";
    case CKR_MECHANISM_INVALID:
      return " (this token does not support the key's signature scheme)";
    case CKR_ATTRIBUTE_SENSITIVE:
      return " (the token refuses to reveal a secret)";
    case CKR_USER_PIN_NOT_INITIALIZED:
      return " (initialize the token's user PIN first)";
    default:
      return "";
  }
}

}  // namespace

void SetModulePathOverride(std::string path) {
  std::lock_guard lock(StateMutex());
  PathOverride() = std::move(path);
}

std::string ModulePathFor(const Pkcs11Uri& uri) {
  if (!uri.module_path.empty()) return uri.module_path;
  {
    std::lock_guard lock(StateMutex());
    if (!PathOverride().empty()) return PathOverride();
  }
  const char* env = std::getenv(std::string(kModuleEnvVar).c_str());
  if (env != nullptr && *env != '\0') return env;
  return std::string(kDefaultModulePath);
}

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  std::lock_guard lock(StateMutex());
  auto& loaded = LoadedModules();
  if (auto it = loaded.find(path); it != loaded.end()) {
    if (std::shared_ptr<Module> module = it->second.lock()) return module;
  }
  // RTLD_NODELETE: some modules leave threads or atexit handlers behind after C_Finalize, and a
  // resident module keeps its frames symbolizable for leak reports.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return MakeError(ErrorKind::kNotFound, "cannot load the PKCS#11 module " + path + ": " +
                                               (why != nullptr ? why : "dlopen failed") +
                                               " (give the module with --pkcs11-module PATH or " +
                                               std::string(kModuleEnvVar) + ")");
  }
  // dlsym returns void*; the PKCS#11 API defines C_GetFunctionList's type.
  void* symbol = ::dlsym(handle, "C_GetFunctionList");
  if (symbol == nullptr) {
    ::dlclose(handle);
    return MakeError(ErrorKind::kCrypto, path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_C_GetFunctionList get_function_list = nullptr;
  static_assert(sizeof(get_function_list) == sizeof(symbol));
  std::memcpy(&get_function_list, &symbol, sizeof(symbol));
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_function_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    ::dlclose(handle);
    return MakeError(RvError(rv, "C_GetFunctionList", path));
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    ::dlclose(handle);
    return MakeError(RvError(rv, "C_Initialize", path));
  }
  std::shared_ptr<Module> module(new Module(handle, fn, path, /*finalize=*/rv == CKR_OK));
  loaded[path] = module;
  return module;
}

Module::~Module() {
  if (finalize_) fn_->C_Finalize(nullptr);
  ::dlclose(handle_);
}

std::string RvName(CK_RV rv) {
  for (const RvEntry& entry : kRvNames) {
    if (entry.rv == rv) return entry.name;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "CKR_0x%lx", rv);
  return buffer;
}

Error RvError(CK_RV rv, std::string_view call, std::string_view context) {
  ErrorKind kind = ErrorKind::kCrypto;
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID) {
    kind = ErrorKind::kInvalidArgument;
  } else if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED || rv == CKR_SLOT_ID_INVALID) {
    kind = ErrorKind::kNotFound;
  }
  return Error(kind, std::string(context) + ": " + std::string(call) + " failed with " +
                         RvName(rv) + Hint(rv));
}

}  // namespace mdu::signer::pkcs11
