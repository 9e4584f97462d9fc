#include "client-agent/transport/transfer_cutoffs.h"

#include <string>

namespace mdu::agent {

Error TransferCutoffError(std::string_view shown, Cutoff which, const TransferCutoffs& cutoffs,
                          uint64_t received) {
  const int64_t total_ms = cutoffs.total_timeout.count();
  const std::string reason =
      which == Cutoff::kTotalTimeout
          ? "not complete after " + std::to_string((total_ms + 999) / 1000) + " s"
          : "slower than " + std::to_string(cutoffs.low_speed_limit) + " bytes/s for " +
                std::to_string(cutoffs.low_speed_time.count()) + " s";
  return Error(ErrorKind::kSlowRetrieval, std::string(shown) + ": " + reason + " (" +
                                              std::to_string(received) + " bytes received)");
}

void LowSpeedMonitor::Restart(Clock::time_point now, uint64_t total) {
  samples_.clear();
  samples_.emplace_back(now, total);
}

bool LowSpeedMonitor::TooSlow(Clock::time_point now, uint64_t total) {
  if (limit_ == 0) return false;
  if (samples_.empty()) samples_.emplace_back(now, total);
  const Clock::time_point window_start = now - window_;
  // Keep as the oldest sample the last one at or before the window's start.
  while (samples_.size() >= 2 && samples_[1].first <= window_start) samples_.pop_front();
  bool too_slow = false;
  if (samples_.front().first <= window_start) {
    const auto elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - samples_.front().first);
    const uint64_t bytes = total - samples_.front().second;
    // bytes / elapsed < limit, without division (elapsed >= window > 0).
    too_slow = static_cast<long double>(bytes) * 1000 <
               static_cast<long double>(limit_) * static_cast<long double>(elapsed_ms.count());
  }
  if (now - samples_.back().first >= std::chrono::seconds(1)) samples_.emplace_back(now, total);
  return too_slow;
}

}  // namespace mdu::agent
