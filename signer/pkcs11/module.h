// A PKCS#11 library loaded with dlopen and initialized (C_Initialize with OS locking), and the
// names of PKCS#11 return codes for error messages.
//
// The module to load comes from, in order: the URI's module-path query attribute, the
// process-wide override set by `signer --pkcs11-module PATH`, the environment variable
// MDU_PKCS11_MODULE, then kDefaultModulePath (SoftHSM2 as Debian installs it).
//
// Ownership: Module::Load hands out one shared instance per path and process (PKCS#11 allows a
// single C_Initialize per process); C_Finalize and dlclose run when the last holder lets go.
// Thread-safety: Load and the path override are safe to call concurrently; the function list is
// used under the module's own locking (CKF_OS_LOCKING_OK).
#ifndef MDU_SIGNER_PKCS11_MODULE_H_
#define MDU_SIGNER_PKCS11_MODULE_H_

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "signer/pkcs11/uri.h"

namespace mdu::signer::pkcs11 {

inline constexpr std::string_view kDefaultModulePath = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr std::string_view kModuleEnvVar = "MDU_PKCS11_MODULE";

void SetModulePathOverride(std::string path);
std::string ModulePathFor(const Pkcs11Uri& uri);

class Module {
 public:
  // kNotFound/kCrypto naming the path when dlopen, C_GetFunctionList or C_Initialize fails.
  static Result<std::shared_ptr<Module>> Load(const std::string& path);

  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }

 private:
  Module(void* handle, CK_FUNCTION_LIST* fn, std::string path, bool finalize)
      : handle_(handle), fn_(fn), path_(std::move(path)), finalize_(finalize) {}
  void* handle_;
  CK_FUNCTION_LIST* fn_;
  std::string path_;
  bool finalize_;  // false when someone else in the process had initialized the library
};

// "CKR_PIN_INCORRECT", or "CKR_0x..." for codes without a name here.
std::string RvName(CK_RV rv);

// kCrypto (kNotFound for missing tokens/objects, kInvalidArgument for a bad PIN) reading
// "<context>: <call> failed with <CKR_NAME>" plus a hint for the common codes.
Error RvError(CK_RV rv, std::string_view call, std::string_view context);

}  // namespace mdu::signer::pkcs11

#endif  // MDU_SIGNER_PKCS11_MODULE_H_
