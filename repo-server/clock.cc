#include "repo-server/clock.h"

#include <chrono>

namespace mdu::server {

UnixSeconds SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mdu::server
