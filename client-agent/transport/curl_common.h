// What the HTTP fetcher and the gRPC client share on libcurl: the error for a transfer that timed
// out (same kinds and texts for the same cutoffs). Loading and initializing libcurl: curl_api.h.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_CURL_COMMON_H_
#define MDU_CLIENT_AGENT_TRANSPORT_CURL_COMMON_H_

#include <chrono>
#include <cstdint>
#include <string_view>

#include "client-agent/transport/transfer_cutoffs.h"
#include "core/common/error.h"

namespace mdu::agent {

namespace curl {
struct Api;
}  // namespace curl

// The cutoffs libcurl was given, in the terms every transport shares (transfer_cutoffs.h).
using CurlCutoffs = TransferCutoffs;

// For CURLE_OPERATION_TIMEDOUT on `curl` (a CURL* made by `api`, curl_api.h): no connection
// within the connect timeout is kDownload ("cannot connect to ..."); the total timeout or the
// minimum speed is TransferCutoffError's kSlowRetrieval, the same text Http1Fetcher gives.
// libcurl reports all three with the same code; the elapsed times tell them apart.
Error CurlTimeoutError(const curl::Api& api, void* curl, std::string_view shown,
                       std::string_view detail, const CurlCutoffs& cutoffs, uint64_t received);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_CURL_COMMON_H_
