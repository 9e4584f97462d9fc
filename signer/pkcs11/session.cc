#include "signer/pkcs11/session.h"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace mdu::signer::pkcs11 {
namespace {

// Token info strings are fixed-size, blank-padded, not NUL-terminated.
std::string Padded(const unsigned char* text, size_t size) {
  std::string out(reinterpret_cast<const char*>(text), size);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
  return out;
}

struct TokenFound {
  CK_SLOT_ID slot;
  std::string label;
};

}  // namespace

Result<std::unique_ptr<Session>> Session::Open(const Pkcs11Uri& uri, bool read_write) {
  const std::string module_path = ModulePathFor(uri);
  auto loaded = Module::Load(module_path);
  if (!loaded) return MakeError(loaded.error().WithContext(uri.text));
  std::shared_ptr<Module> module = std::move(*loaded);
  CK_FUNCTION_LIST* fn = module->fn();

  CK_ULONG count = 0;
  CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_GetSlotList", uri.text));
  std::vector<CK_SLOT_ID> slots(count);
  if (count != 0) {
    rv = fn->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return MakeError(RvError(rv, "C_GetSlotList", uri.text));
    slots.resize(count);
  }
  std::vector<TokenFound> matches;
  std::string present;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (fn->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    const std::string label = Padded(info.label, sizeof(info.label));
    present += (present.empty() ? "\"" : ", \"") + label + "\"";
    if (!uri.token.empty() && uri.token != label) continue;
    if (!uri.manufacturer.empty() &&
        uri.manufacturer != Padded(info.manufacturerID, sizeof(info.manufacturerID))) {
      continue;
    }
    if (!uri.model.empty() && uri.model != Padded(info.model, sizeof(info.model))) continue;
    if (!uri.serial.empty() && uri.serial != Padded(info.serialNumber, sizeof(info.serialNumber))) {
      continue;
    }
    if (uri.slot_id && *uri.slot_id != slot) continue;
    matches.push_back({slot, label});
  }
  const std::string where = uri.text + " (module " + module_path + ")";
  if (matches.empty()) {
    return MakeError(ErrorKind::kNotFound, where +
                                               ": no initialized token matches; tokens present: " +
                                               (present.empty() ? std::string("none") : present));
  }
  if (matches.size() > 1) {
    return MakeError(ErrorKind::kInvalidArgument,
                     where + ": " + std::to_string(matches.size()) +
                         " tokens match; name one with token=LABEL or serial=...");
  }
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = 0;
  rv = fn->C_OpenSession(matches[0].slot, flags, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_OpenSession", where));
  return std::unique_ptr<Session>(
      new Session(std::move(module), uri, matches[0].slot, handle, matches[0].label));
}

Session::~Session() { fn()->C_CloseSession(session_); }

std::string Session::Where() const {
  return uri_.text + " (token \"" + token_label_ + "\" in " + module_->path() + ")";
}

Status Session::Login(const PassphraseSource& pin_source) {
  CK_TOKEN_INFO info{};
  CK_RV rv = fn()->C_GetTokenInfo(slot_, &info);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_GetTokenInfo", Where()));
  if ((info.flags & CKF_LOGIN_REQUIRED) == 0) return {};
  CK_SESSION_INFO session_info{};
  rv = fn()->C_GetSessionInfo(session_, &session_info);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_GetSessionInfo", Where()));
  if (session_info.state == CKS_RO_USER_FUNCTIONS || session_info.state == CKS_RW_USER_FUNCTIONS) {
    return {};  // another session of this process logged in already
  }
  if ((info.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0) {
    // The PIN is entered on the device's own keypad.
    rv = fn()->C_Login(session_, CKU_USER, nullptr, 0);
  } else {
    const std::string subject = "the user PIN of token \"" + token_label_ + "\"";
    Result<SecureBuffer> pin = pin_source.interactive() && !uri_.pin_file.empty()
                                   ? PassphraseFromFile(uri_.pin_file)
                                   : ObtainPassphrase(pin_source, PassphraseUse::kUnlock, subject);
    if (!pin) return MakeError(pin.error().WithContext(Where() + ": reading the PIN"));
    rv = fn()->C_Login(session_, CKU_USER, pin->data(), pin->size());
  }
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    return MakeError(RvError(rv, "C_Login", Where()));
  }
  return {};
}

Session::Query Session::UriQuery(CK_OBJECT_CLASS object_class) const {
  Query query;
  query.object_class = object_class;
  if (!uri_.object.empty()) query.label = uri_.object;
  query.id = uri_.id;
  return query;
}

Result<std::vector<CK_OBJECT_HANDLE>> Session::Find(const Query& query) {
  Query q = query;  // C_FindObjectsInit takes non-const pointers
  std::vector<CK_ATTRIBUTE> templ;
  if (q.object_class) templ.push_back({CKA_CLASS, &*q.object_class, sizeof(CK_OBJECT_CLASS)});
  if (q.label) templ.push_back({CKA_LABEL, q.label->data(), q.label->size()});
  if (q.id) templ.push_back({CKA_ID, q.id->data(), q.id->size()});
  CK_RV rv = fn()->C_FindObjectsInit(session_, templ.data(), templ.size());
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_FindObjectsInit", Where()));
  std::vector<CK_OBJECT_HANDLE> found;
  while (true) {
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG n = 0;
    rv = fn()->C_FindObjects(session_, batch, 16, &n);
    if (rv != CKR_OK || n == 0) break;
    found.insert(found.end(), batch, batch + n);
    if (found.size() > 1024) break;  // a URI naming this many objects is a mistake anyway
  }
  fn()->C_FindObjectsFinal(session_);
  if (rv != CKR_OK) return MakeError(RvError(rv, "C_FindObjects", Where()));
  return found;
}

Result<std::vector<uint8_t>> Session::Attribute(CK_OBJECT_HANDLE object,
                                                CK_ATTRIBUTE_TYPE type) const {
  CK_ATTRIBUTE attribute{type, nullptr, 0};
  CK_RV rv = fn()->C_GetAttributeValue(session_, object, &attribute, 1);
  const std::string what = "C_GetAttributeValue(0x" + [type] {
    char buffer[24];
    std::snprintf(buffer, sizeof(buffer), "%lx", type);
    return std::string(buffer);
  }() + ")";
  if (rv != CKR_OK) return MakeError(RvError(rv, what, Where()));
  if (attribute.ulValueLen == CK_UNAVAILABLE_INFORMATION || attribute.ulValueLen > (1u << 20)) {
    return MakeError(ErrorKind::kCrypto, Where() + ": " + what + " is unavailable");
  }
  std::vector<uint8_t> value(attribute.ulValueLen);
  attribute.pValue = value.data();
  rv = fn()->C_GetAttributeValue(session_, object, &attribute, 1);
  if (rv != CKR_OK) return MakeError(RvError(rv, what, Where()));
  value.resize(attribute.ulValueLen);
  return value;
}

Result<CK_ULONG> Session::UlongAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) const {
  MDU_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, Attribute(object, type));
  CK_ULONG value = 0;
  if (bytes.size() != sizeof(value)) {
    return MakeError(ErrorKind::kCrypto, Where() + ": attribute has the wrong size");
  }
  std::memcpy(&value, bytes.data(), sizeof(value));
  return value;
}

}  // namespace mdu::signer::pkcs11
