// Maintenance windows (issue 5, policies): a medical device installs only when the hospital
// allows it, e.g. at night when no therapy is scheduled. A window is written
//
//   "<days> <HH:MM>-<HH:MM>"    days: "Mon", "Mon-Fri", "Sat,Sun", "Fri-Mon", "Mon,Wed-Fri", "*"
//
// in the device's local time. The start is inclusive, the end exclusive. An end at or before the
// start crosses midnight and belongs to the day it starts on ("Fri 22:00-02:00" includes Saturday
// 01:00). "00:00-24:00" is the whole day. Several windows may be configured; being inside any one
// is enough; no window configured means "always" (the default, which keeps the unattended demo
// working).
//
// Pure functions over a broken-down local time (the caller converts the clock with localtime_r),
// so tests pin any weekday and minute. Thread-safety: plain values.
#ifndef MDU_CLIENT_AGENT_POLICY_MAINTENANCE_WINDOW_H_
#define MDU_CLIENT_AGENT_POLICY_MAINTENANCE_WINDOW_H_

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/metadata/metadata.h"

namespace mdu::agent::policy {

struct LocalTime {
  int weekday = 0;  // 0 = Sunday ... 6 = Saturday (struct tm's tm_wday)
  int minute = 0;   // minutes since local midnight, 0..1439
};

// The local time of a Unix time, through localtime_r (so TZ applies).
LocalTime ToLocalTime(metadata::UnixTime time);

struct MaintenanceWindow {
  std::array<bool, 7> days{};  // indexed by weekday (0 = Sunday)
  int start = 0;               // minutes since midnight
  int end = 0;                 // exclusive; <= start: crosses midnight
  std::string text;            // as configured, for messages

  bool Contains(LocalTime time) const;
};

// kInvalidArgument naming the problem for anything not in the format above.
Result<MaintenanceWindow> ParseMaintenanceWindow(std::string_view text);

// True when `windows` is empty or one contains `time`.
bool InsideAnyWindow(std::span<const MaintenanceWindow> windows, LocalTime time);

// Minutes from `time` until the next window opens (0 when inside one); empty without windows.
std::optional<int> MinutesUntilNextWindow(std::span<const MaintenanceWindow> windows,
                                          LocalTime time);

}  // namespace mdu::agent::policy

#endif  // MDU_CLIENT_AGENT_POLICY_MAINTENANCE_WINDOW_H_
