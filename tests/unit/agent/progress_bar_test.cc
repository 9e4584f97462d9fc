// ProgressBar: the rendered line, silence when disabled (not a terminal, --quiet), redraw in
// place and a final newline.
#include "client-agent/update/progress_bar.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace mdu::agent::update {
namespace {

std::string Contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) out.append(buffer, n);
  return out;
}

TEST(ProgressBarTest, RendersNameBarPercentBytesAndSpeed) {
  const std::string line =
      ProgressBar::Render("pump/fw.bin", 512u << 20, 1024u << 20, 96.5 * (1 << 20), 10);
  EXPECT_EQ(line, "pump/fw.bin [#####-----]  50%  512.0/1024.0 MiB  96.5 MiB/s");
  EXPECT_EQ(ProgressBar::Render("x", 0, 0, 0, 4), "x [####] 100%  0.0/0.0 MiB");
  // Never more than full, whatever it is told.
  EXPECT_EQ(ProgressBar::Render("x", 9, 3, 0, 4), "x [####] 100%  0.0/0.0 MiB");
}

TEST(ProgressBarTest, SilentWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(ProgressBar::IsTerminal(file));
  {
    ProgressBar bar(file, ProgressBar::IsTerminal(file));
    bar.Update(DownloadProgress{"fw", 10, 100, 1});
    bar.Update(DownloadProgress{"fw", 100, 100, 1});
  }
  EXPECT_EQ(Contents(file), "");
  std::fclose(file);
}

TEST(ProgressBarTest, RedrawsInPlaceAndEndsTheLine) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressBar bar(file, true);
    bar.Update(DownloadProgress{"fw", 0, 100, 1});
    bar.Update(DownloadProgress{"fw", 50, 100, 1});   // within 100 ms: skipped
    bar.Update(DownloadProgress{"fw", 100, 100, 1});  // complete: always drawn
  }
  const std::string out = Contents(file);
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_NE(out.find("  0%"), std::string::npos);
  EXPECT_EQ(out.find(" 50%"), std::string::npos);
  EXPECT_NE(out.find("100%"), std::string::npos);
  EXPECT_EQ(out.front(), '\r');
  std::fclose(file);
}

}  // namespace
}  // namespace mdu::agent::update
