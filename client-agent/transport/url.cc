#include "client-agent/transport/url.h"

#include <cctype>

namespace mdu::agent {

std::string UrlScheme(std::string_view url) {
  const size_t end = url.find("://");
  if (end == std::string_view::npos || end == 0) return {};
  std::string scheme(url.substr(0, end));
  for (char& c : scheme) {
    const auto byte = static_cast<unsigned char>(c);
    if (!std::isalnum(byte) && c != '+' && c != '-' && c != '.') return {};
    c = static_cast<char>(std::tolower(byte));
  }
  return scheme;
}

std::string RedactUrl(std::string_view url) {
  const size_t start = url.find("://");
  if (start == std::string_view::npos) return std::string(url);
  const size_t authority = start + 3;
  const size_t authority_end = url.find_first_of("/?#", authority);
  const std::string_view host_part =
      url.substr(authority, authority_end == std::string_view::npos ? std::string_view::npos
                                                                    : authority_end - authority);
  const size_t at = host_part.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, authority));
  out += "***@";
  out += url.substr(authority + at + 1);
  return out;
}

std::string TrimTrailingSlashes(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

}  // namespace mdu::agent
