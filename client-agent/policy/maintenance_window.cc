#include "client-agent/policy/maintenance_window.h"

#include <ctime>

namespace mdu::agent::policy {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr int kMinutesPerDay = 24 * 60;
constexpr int kMinutesPerWeek = 7 * kMinutesPerDay;

Error Invalid(std::string_view text, std::string_view why) {
  return Error(ErrorKind::kInvalidArgument,
               "maintenance window \"" + std::string(text) + "\": " + std::string(why));
}

std::optional<int> DayIndex(std::string_view name) {
  for (size_t i = 0; i < kDayNames.size(); ++i) {
    if (kDayNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

// "HH:MM" with HH 00..24 (24 only as "24:00").
std::optional<int> ParseClock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return std::nullopt;
  return hours * 60 + minutes;
}

bool ParseDays(std::string_view text, std::array<bool, 7>* days) {
  if (text == "*") {
    days->fill(true);
    return true;
  }
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return false;  // trailing comma
    const size_t dash = item.find('-');
    const std::optional<int> first = DayIndex(item.substr(0, dash));
    const std::optional<int> last =
        dash == std::string_view::npos ? first : DayIndex(item.substr(dash + 1));
    if (!first || !last) return false;
    for (int day = *first;; day = (day + 1) % 7) {  // "Fri-Mon" wraps over the weekend
      (*days)[static_cast<size_t>(day)] = true;
      if (day == *last) break;
    }
  }
  return true;
}

}  // namespace

LocalTime ToLocalTime(metadata::UnixTime time) {
  const std::time_t t = static_cast<std::time_t>(time);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr) return LocalTime{};
  return LocalTime{tm.tm_wday, tm.tm_hour * 60 + tm.tm_min};
}

bool MaintenanceWindow::Contains(LocalTime time) const {
  const int yesterday = (time.weekday + 6) % 7;
  if (end > start) {
    return days[static_cast<size_t>(time.weekday)] && time.minute >= start && time.minute < end;
  }
  // Crosses midnight: the evening part of a listed day or the morning after it.
  return (days[static_cast<size_t>(time.weekday)] && time.minute >= start) ||
         (days[static_cast<size_t>(yesterday)] && time.minute < end);
}

Result<MaintenanceWindow> ParseMaintenanceWindow(std::string_view text) {
  MaintenanceWindow window;
  window.text = std::string(text);
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) {
    return MakeError(Invalid(text, "expected \"<days> <HH:MM>-<HH:MM>\""));
  }
  if (!ParseDays(text.substr(0, space), &window.days)) {
    return MakeError(Invalid(text, "days must be Mon..Sun names, ranges (Mon-Fri), lists or *"));
  }
  const std::string_view range = text.substr(space + 1);
  const size_t dash = range.find('-');
  const std::optional<int> start =
      dash == std::string_view::npos ? std::nullopt : ParseClock(range.substr(0, dash));
  const std::optional<int> end =
      dash == std::string_view::npos ? std::nullopt : ParseClock(range.substr(dash + 1));
  if (!start || !end || *start == kMinutesPerDay) {
    return MakeError(Invalid(text, "times must be HH:MM-HH:MM (00:00 to 24:00)"));
  }
  window.start = *start;
  window.end = *end;
  if (window.start == window.end) {
    return MakeError(Invalid(text, "empty window (start equals end); use 00:00-24:00"));
  }
  return window;
}

bool InsideAnyWindow(std::span<const MaintenanceWindow> windows, LocalTime time) {
  if (windows.empty()) return true;
  for (const MaintenanceWindow& window : windows) {
    if (window.Contains(time)) return true;
  }
  return false;
}

std::optional<int> MinutesUntilNextWindow(std::span<const MaintenanceWindow> windows,
                                          LocalTime time) {
  if (windows.empty()) return std::nullopt;
  for (int ahead = 0; ahead <= kMinutesPerWeek; ++ahead) {
    const int absolute = time.weekday * kMinutesPerDay + time.minute + ahead;
    const LocalTime at{(absolute / kMinutesPerDay) % 7, absolute % kMinutesPerDay};
    if (InsideAnyWindow(windows, at)) return ahead;
  }
  return std::nullopt;
}

}  // namespace mdu::agent::policy
