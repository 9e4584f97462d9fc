#include "signer/pkcs11/uri.h"

#include <cctype>

namespace mdu::signer::pkcs11 {
namespace {

Unexpected<Error> UriError(std::string_view text, const std::string& why) {
  return MakeError(ErrorKind::kInvalidArgument,
                   "bad PKCS#11 URI \"" + std::string(text) + "\": " + why);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes one attribute value; nullopt on a truncated or non-hex escape.
std::optional<std::string> PercentDecode(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    if (i + 2 >= value.size()) return std::nullopt;
    const int hi = HexValue(value[i + 1]);
    const int lo = HexValue(value[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  if (text.empty()) return parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

}  // namespace

bool IsPkcs11Uri(std::string_view text) {
  if (text.size() < kUriScheme.size()) return false;
  for (size_t i = 0; i < kUriScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != kUriScheme[i]) return false;
  }
  return true;
}

Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view text) {
  if (!IsPkcs11Uri(text)) return UriError(text, "it does not start with \"pkcs11:\"");
  Pkcs11Uri uri;
  uri.text = std::string(text);
  std::string_view rest = text.substr(kUriScheme.size());
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::vector<std::string> seen;
  auto parse_attributes = [&](std::string_view part, char separator, bool is_query) -> Status {
    for (std::string_view attribute : Split(part, separator)) {
      if (attribute.empty()) continue;  // "pkcs11:" alone, or a trailing ';'
      const size_t eq = attribute.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return UriError(text, "\"" + std::string(attribute) + "\" is not NAME=VALUE");
      }
      const std::string name(attribute.substr(0, eq));
      std::optional<std::string> value = PercentDecode(attribute.substr(eq + 1));
      if (!value) return UriError(text, "bad percent-encoding in " + name);
      for (const std::string& s : seen) {
        if (s == name) return UriError(text, name + " is given twice");
      }
      seen.push_back(name);
      if (!is_query) {
        if (name == "token") {
          uri.token = *value;
        } else if (name == "manufacturer") {
          uri.manufacturer = *value;
        } else if (name == "model") {
          uri.model = *value;
        } else if (name == "serial") {
          uri.serial = *value;
        } else if (name == "object") {
          uri.object = *value;
        } else if (name == "id") {
          uri.id = std::vector<uint8_t>(value->begin(), value->end());
        } else if (name == "type") {
          if (*value != "private" && *value != "public") {
            return UriError(text, "type must be private or public (a key pair is used)");
          }
          uri.type = *value;
        } else if (name == "slot-id") {
          if (value->empty() || value->find_first_not_of("0123456789") != std::string::npos ||
              value->size() > 18) {
            return UriError(text, "slot-id must be a decimal number");
          }
          uri.slot_id = std::stoul(*value);
        } else if (name == "pin-value") {
          return UriError(text,
                          "pin-value is refused (a PIN in a URI leaks into shell history and "
                          "logs); use --passphrase-env/--passphrase-fd/--passphrase-file, the "
                          "prompt, or pin-source=file:PATH");
        } else {
          return UriError(text, "unknown path attribute \"" + name + "\"");
        }
      } else {
        if (name == "module-path") {
          uri.module_path = *value;
        } else if (name == "pin-source") {
          std::string_view source = *value;
          if (!source.starts_with("file:")) {
            return UriError(text, "pin-source must be file:PATH");
          }
          source.remove_prefix(5);
          if (source.starts_with("//")) source.remove_prefix(2);  // file:///abs/path
          if (source.empty()) return UriError(text, "pin-source names no file");
          uri.pin_file = std::string(source);
        } else if (name == "pin-value") {
          return UriError(text,
                          "pin-value is refused (a PIN in a URI leaks into shell history and "
                          "logs); use --passphrase-env/--passphrase-fd/--passphrase-file, the "
                          "prompt, or pin-source=file:PATH");
        } else if (name == "module-name") {
          return UriError(text,
                          "module-name is not supported; use module-path or "
                          "--pkcs11-module");
        } else {
          return UriError(text, "unknown query attribute \"" + name + "\"");
        }
      }
    }
    return {};
  };
  MDU_RETURN_IF_ERROR(parse_attributes(rest, ';', false));
  MDU_RETURN_IF_ERROR(parse_attributes(query, '&', true));
  if (uri.object.empty() && !uri.id) {
    return UriError(text, "it names no key: give object=LABEL and/or id=%..");
  }
  return uri;
}

std::string PercentEncodeAll(const std::vector<uint8_t>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += '%';
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace mdu::signer::pkcs11
