// RFC 7512 PKCS#11 URIs naming a key on a token, e.g.
//   pkcs11:token=release-hsm;object=root-1
//   pkcs11:token=release-hsm;id=%01%a4?module-path=/usr/lib/softhsm/libsofthsm2.so
//
// Path attributes understood: token, manufacturer, model, serial (the token), slot-id, object
// (CKA_LABEL), id (CKA_ID, percent-encoded bytes), type (private, public; ignored for the key
// pair lookup, which always pairs both). Query attributes: module-path, pin-source
// (file:PATH only). `pin-value` is refused: a PIN inside a URI ends up in shell history, process
// listings and logs. Unknown attributes are refused too, so a typo never silently widens a
// match. Values are percent-decoded.
//
// Thread-safety: plain values and pure functions.
#ifndef MDU_SIGNER_PKCS11_URI_H_
#define MDU_SIGNER_PKCS11_URI_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace mdu::signer::pkcs11 {

inline constexpr std::string_view kUriScheme = "pkcs11:";

struct Pkcs11Uri {
  std::string text;  // the URI as given, for messages (never holds a PIN: pin-value is refused)
  // Token selection; empty = any.
  std::string token, manufacturer, model, serial;
  std::optional<unsigned long> slot_id;  // NOLINT(runtime/int): CK_SLOT_ID
  // Object selection; at least one of them is set.
  std::string object;
  std::optional<std::vector<uint8_t>> id;
  std::string type;
  // Query.
  std::string module_path;
  std::string pin_file;  // from pin-source=file:PATH
};

// True when `text` starts with "pkcs11:" (case-insensitive scheme): the caller should treat it
// as a URI rather than a file name.
bool IsPkcs11Uri(std::string_view text);

// kInvalidArgument with the reason for a malformed URI, an unknown or repeated attribute,
// pin-value, an unsupported pin-source, or a URI that names no object (neither object nor id).
Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view text);

// Percent-encodes bytes as RFC 7512 writes id values ("%01%a4").
std::string PercentEncodeAll(const std::vector<uint8_t>& bytes);

}  // namespace mdu::signer::pkcs11

#endif  // MDU_SIGNER_PKCS11_URI_H_
