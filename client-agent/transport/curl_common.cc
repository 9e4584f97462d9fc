#include "client-agent/transport/curl_common.h"

#include <curl/curl.h>

#include <mutex>
#include <string>

namespace mdu::agent {

int CurlGlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

Error CurlTimeoutError(void* curl, std::string_view shown, std::string_view detail,
                       const CurlCutoffs& cutoffs, uint64_t received) {
  curl_off_t connect_time = 0;
  curl_off_t total_time = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_time);
  curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total_time);
  if (connect_time == 0) {
    return Error(ErrorKind::kDownload,
                 "cannot connect to " + std::string(shown) + ": " + std::string(detail));
  }
  // libcurl's timer may stop a little before the configured total, hence the slack.
  constexpr curl_off_t kSlackMicros = 250000;
  const int64_t total_ms = cutoffs.total_timeout.count();
  const bool total_exceeded =
      total_ms > 0 && total_time + kSlackMicros >= static_cast<curl_off_t>(total_ms) * 1000;
  const std::string reason =
      total_exceeded ? "not complete after " + std::to_string((total_ms + 999) / 1000) + " s"
                     : "slower than " + std::to_string(cutoffs.low_speed_limit) + " bytes/s for " +
                           std::to_string(cutoffs.low_speed_time.count()) + " s";
  return Error(ErrorKind::kSlowRetrieval, std::string(shown) + ": " + reason + " (" +
                                              std::to_string(received) + " bytes received)");
}

}  // namespace mdu::agent
