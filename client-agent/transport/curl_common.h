// What the HTTP fetcher and the gRPC client share on libcurl: the process-wide initialization
// and the error for a transfer that timed out (same kinds and texts for the same cutoffs).
#ifndef MDU_CLIENT_AGENT_TRANSPORT_CURL_COMMON_H_
#define MDU_CLIENT_AGENT_TRANSPORT_CURL_COMMON_H_

#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/common/error.h"

namespace mdu::agent {

// curl_global_init(CURL_GLOBAL_DEFAULT) once per process (it is not thread-safe on every libcurl
// build); never undone. Returns its result (a CURLcode), the same on every call.
int CurlGlobalInit();

struct CurlCutoffs {
  std::chrono::milliseconds total_timeout{0};  // 0 = none
  uint64_t low_speed_limit = 0;                // bytes/s
  std::chrono::seconds low_speed_time{0};
};

// For CURLE_OPERATION_TIMEDOUT on `curl` (a CURL*): no connection within the connect timeout is
// kDownload ("cannot connect to ..."); the total timeout or the minimum speed is kSlowRetrieval
// ("not complete after N s" / "slower than L bytes/s for T s", with the bytes received).
// libcurl reports all three with the same code; the elapsed times tell them apart.
Error CurlTimeoutError(void* curl, std::string_view shown, std::string_view detail,
                       const CurlCutoffs& cutoffs, uint64_t received);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_CURL_COMMON_H_
