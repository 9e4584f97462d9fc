// The agent's log: what -v and -vv print on stderr, one line per event,
//   [2026-12-01T19:26:06.123] [info] fetched http://repo/metadata/timestamp.json (312 bytes)
// (local time, level debug, info, warning or error). Off unless SetLevel says otherwise.
//
// A few lines of our own instead of spdlog, with the same line format: the library, its registry
// and its pattern formatter cost 0.45 MiB of the agent's 16 MiB peak RSS
// (scripts/bench_agent_rss.sh) for a handful of log lines; fmt (its formatting) stays.
// Thread-safe: each line is one fwrite to stderr.
#ifndef MDU_CLIENT_AGENT_AGENT_LOG_H_
#define MDU_CLIENT_AGENT_AGENT_LOG_H_

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace mdu::agent::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Lines below `level` are dropped (kOff, the default, drops all of them).
void SetLevel(Level level);
bool Enabled(Level level);

// "[<local time, milliseconds>] [<level>] <message>\n".
std::string FormatLine(Level level, std::string_view message,
                       std::chrono::system_clock::time_point when);
// Writes FormatLine(level, message, now) to `out` if `level` is enabled.
void Write(Level level, std::string_view message, std::FILE* out = stderr);

template <typename... Args>
void Debug(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kDebug)) {
    Write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void Info(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kWarning)) {
    Write(Level::kWarning, fmt::format(format, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void Error(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kError)) {
    Write(Level::kError, fmt::format(format, std::forward<Args>(args)...));
  }
}

}  // namespace mdu::agent::logging

#endif  // MDU_CLIENT_AGENT_AGENT_LOG_H_
