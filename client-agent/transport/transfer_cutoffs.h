// The cutoffs every transport applies to a transfer (total timeout, minimum speed) and the error
// a transfer gets when one of them fires, so that every transport fails with the same kind and
// text for the same cutoff (the agent's logs and its tests do not depend on the transport).
//
//   TransferCutoffError  kSlowRetrieval: "<url>: not complete after N s (B bytes received)" or
//                        "<url>: slower than L bytes/s for T s (B bytes received)".
//   LowSpeedMonitor      libcurl's low_speed_limit/low_speed_time for transports that do their
//                        own I/O: the average speed over a sliding window of low_speed_time.
// Pure code (no I/O, no clock of its own): thread-compatible, callers pass the time.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_TRANSFER_CUTOFFS_H_
#define MDU_CLIENT_AGENT_TRANSPORT_TRANSFER_CUTOFFS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string_view>
#include <utility>

#include "core/common/error.h"

namespace mdu::agent {

struct TransferCutoffs {
  std::chrono::milliseconds total_timeout{0};  // 0 = none
  uint64_t low_speed_limit = 0;                // bytes/s; 0 = no minimum speed
  std::chrono::seconds low_speed_time{0};
};

enum class Cutoff {
  kTotalTimeout,  // the transfer was not complete after total_timeout
  kLowSpeed,      // below low_speed_limit bytes/s for low_speed_time
};

// The kSlowRetrieval error for `which` on the transfer of `shown` (a redacted URL) after
// `received` body bytes.
Error TransferCutoffError(std::string_view shown, Cutoff which, const TransferCutoffs& cutoffs,
                          uint64_t received);

// Tells whether fewer than `limit` bytes/s arrived on average over the last `window` (at least
// `window` after Restart, at most one second more: samples are kept once a second, so memory is
// bounded by the window in seconds). A limit of zero never fires.
class LowSpeedMonitor {
 public:
  using Clock = std::chrono::steady_clock;

  LowSpeedMonitor(uint64_t limit, std::chrono::seconds window) : limit_(limit), window_(window) {}

  // Starts a new window at `now` with `total` bytes counted so far.
  void Restart(Clock::time_point now, uint64_t total);
  // `total`: all bytes counted so far (monotonic). True when the transfer is too slow.
  bool TooSlow(Clock::time_point now, uint64_t total);

 private:
  uint64_t limit_;
  std::chrono::seconds window_;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;  // oldest first, >= 1 s apart
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_TRANSFER_CUTOFFS_H_
