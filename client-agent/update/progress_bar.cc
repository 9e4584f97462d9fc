#include "client-agent/update/progress_bar.h"

#include <unistd.h>

#include <algorithm>

namespace mdu::agent::update {
namespace {

std::string Format(const char* format, double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

std::string Size(uint64_t bytes) {
  return Format("%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

bool ProgressBar::IsTerminal(std::FILE* out) { return out != nullptr && ::isatty(::fileno(out)); }

std::string ProgressBar::Render(std::string_view name, uint64_t done, uint64_t total,
                                double bytes_per_second, int width) {
  const double fraction =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * width);
  std::string line(name.substr(0, 40));
  line += " [" + std::string(static_cast<size_t>(filled), '#') +
          std::string(static_cast<size_t>(width - filled), '-') + "] ";
  line += Format("%3.0f%%", fraction * 100.0);
  line += "  " + Size(done) + "/" + Size(total) + " MiB";
  if (bytes_per_second > 0) {
    line += "  " + Format("%.1f", bytes_per_second / (1024.0 * 1024.0)) + " MiB/s";
  }
  return line;
}

void ProgressBar::Update(const DownloadProgress& progress) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (progress.attempt != attempt_) {  // a new attempt: speed counts from here
    attempt_ = progress.attempt;
    first_done_ = progress.done;
    started_ = now;
  }
  const bool complete = progress.done >= progress.total;
  if (drawn_ && !complete && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double speed = seconds > 0.2 && progress.done > first_done_
                           ? static_cast<double>(progress.done - first_done_) / seconds
                           : 0.0;
  // \r and erase-to-end: the line is redrawn in place.
  std::fprintf(out_, "\r%s\x1b[K",
               Render(progress.target, progress.done, progress.total, speed).c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (!drawn_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace mdu::agent::update
