// Small URL helpers shared by the transports. Pure string functions, thread-safe.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_URL_H_
#define MDU_CLIENT_AGENT_TRANSPORT_URL_H_

#include <string>
#include <string_view>

namespace mdu::agent {

// The lowercase scheme of `url` ("https" for "HTTPS://x"); empty if it has none or the scheme
// has characters RFC 3986 does not allow.
std::string UrlScheme(std::string_view url);

// `url` with any "user:password@" replaced by "***@", for messages and logs (never log secrets).
std::string RedactUrl(std::string_view url);

// `url` without trailing slashes ("https://r/metadata/" -> "https://r/metadata").
std::string TrimTrailingSlashes(std::string_view url);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_URL_H_
