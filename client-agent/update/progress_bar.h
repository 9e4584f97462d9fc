// A one-line download progress bar for a terminal: name, bar, percentage, bytes, speed, e.g.
//   pump/fw-2.0.bin [##########----------]  50%  512.0/1024.0 MiB  96.3 MiB/s
// Drawn on stderr only when it is a terminal and not silenced (--quiet), so scripts, logs and
// --json output never see it. Redraws at most 10 times a second and always at 100 %.
//
// Thread-safety: none; one download at a time. The bar borrows the FILE it draws on.
#ifndef MDU_CLIENT_AGENT_UPDATE_PROGRESS_BAR_H_
#define MDU_CLIENT_AGENT_UPDATE_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "client-agent/update/staging.h"

namespace mdu::agent::update {

class ProgressBar {
 public:
  // Draws on `out` iff `enabled` (callers pass IsTerminal(out) && !quiet).
  ProgressBar(std::FILE* out, bool enabled) : out_(out), enabled_(enabled) {}
  ~ProgressBar() { Finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  static bool IsTerminal(std::FILE* out);

  void Update(const DownloadProgress& progress);
  // Ends the line if something was drawn.
  void Finish();
  bool enabled() const { return enabled_; }

  // The line for these figures (pure; `width` is the bar's width in characters).
  static std::string Render(std::string_view name, uint64_t done, uint64_t total,
                            double bytes_per_second, int width = 24);

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* out_;
  bool enabled_;
  bool drawn_ = false;
  int attempt_ = 0;
  uint64_t first_done_ = 0;
  Clock::time_point started_{};
  Clock::time_point last_draw_{};
};

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_PROGRESS_BAR_H_
