#include "client-agent/agent_log.h"

#include <atomic>
#include <ctime>

namespace mdu::agent::logging {
namespace {

std::atomic<Level> g_level{Level::kOff};

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
    case Level::kOff:
      break;
  }
  return "off";
}

}  // namespace

void SetLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }

bool Enabled(Level level) {
  return level != Level::kOff && level >= g_level.load(std::memory_order_relaxed);
}

std::string FormatLine(Level level, std::string_view message,
                       std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[32];
  const size_t length = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &local);
  std::string line;
  line.reserve(length + message.size() + 24);
  line += '[';
  line.append(stamp, length);
  line += fmt::format(".{:03d}] [", static_cast<int>(millis < 0 ? millis + 1000 : millis));
  line += LevelName(level);
  line += "] ";
  line += message;
  line += '\n';
  return line;
}

void Write(Level level, std::string_view message, std::FILE* out) {
  if (!Enabled(level)) return;
  const std::string line = FormatLine(level, message, std::chrono::system_clock::now());
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace mdu::agent::logging
