#include "client-agent/transport/http_response.h"

#include <charconv>
#include <string>
#include <system_error>

namespace mdu::agent {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Error HttpStatusError(long status, std::string_view shown) {
  const ErrorKind kind =
      status == 404 || status == 403 ? ErrorKind::kNotFound : ErrorKind::kDownload;
  return Error(kind, "HTTP " + std::to_string(status) + " for " + std::string(shown));
}

std::optional<uint64_t> ContentRangeStart(std::string_view value) {
  value = TrimSpaces(value);
  constexpr std::string_view kUnit = "bytes ";
  if (!StartsWithNoCase(value, kUnit)) return std::nullopt;
  value.remove_prefix(kUnit.size());
  uint64_t first = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), first);
  if (ec != std::errc() || end == value.data() || end == value.data() + value.size() ||
      *end != '-') {
    return std::nullopt;
  }
  return first;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && StartsWithNoCase(a, b);
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(text[i]) != Lower(prefix[i])) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace mdu::agent
