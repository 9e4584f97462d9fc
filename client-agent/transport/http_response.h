// The parts of an HTTP response both HTTP fetchers judge the same way (curl_fetcher.cc on
// libcurl's parsed headers, http1_fetcher.cc on its own): what a status means for the updater,
// where a 206 says its bytes start, and the case-insensitive header matching they need.
// Pure functions; thread-safe.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_HTTP_RESPONSE_H_
#define MDU_CLIENT_AGENT_TRANSPORT_HTTP_RESPONSE_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/common/error.h"

namespace mdu::agent {

// A non-2xx status for `shown` (a redacted URL): 404 and 403 are kNotFound (python-tuf's
// updater treats both as "this file does not exist"; see curl_fetcher.h), any other kDownload.
// Message: "HTTP <status> for <shown>".
Error HttpStatusError(long status, std::string_view shown);

// The first byte position of a "Content-Range: bytes <first>-<last>/<total>" value (leading
// spaces allowed); nullopt when the value does not say where the bytes start.
std::optional<uint64_t> ContentRangeStart(std::string_view value);

// ASCII case-insensitive comparisons, for header names and tokens.
bool EqualsNoCase(std::string_view a, std::string_view b);
bool StartsWithNoCase(std::string_view text, std::string_view prefix);
// Without leading and trailing spaces and tabs.
std::string_view TrimSpaces(std::string_view text);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_HTTP_RESPONSE_H_
