#include "client-agent/transport/curl_common.h"

#include <string>

#include "client-agent/transport/curl_api.h"

namespace mdu::agent {

Error CurlTimeoutError(const curl::Api& api, void* curl, std::string_view shown,
                       std::string_view detail, const CurlCutoffs& cutoffs, uint64_t received) {
  curl_off_t connect_time = 0;
  curl_off_t total_time = 0;
  api.easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_time);
  api.easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total_time);
  if (connect_time == 0) {
    return Error(ErrorKind::kDownload,
                 "cannot connect to " + std::string(shown) + ": " + std::string(detail));
  }
  // libcurl's timer may stop a little before the configured total, hence the slack.
  constexpr curl_off_t kSlackMicros = 250000;
  const int64_t total_ms = cutoffs.total_timeout.count();
  const bool total_exceeded =
      total_ms > 0 && total_time + kSlackMicros >= static_cast<curl_off_t>(total_ms) * 1000;
  return TransferCutoffError(shown, total_exceeded ? Cutoff::kTotalTimeout : Cutoff::kLowSpeed,
                             cutoffs, received);
}

}  // namespace mdu::agent
