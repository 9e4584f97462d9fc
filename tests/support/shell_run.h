// Runs a program through /bin/sh for the tests of command-line programs: every argument quoted,
// stdin from /dev/null, stdout and stderr captured through files in a test directory.
#ifndef MDU_TESTS_SUPPORT_SHELL_RUN_H_
#define MDU_TESTS_SUPPORT_SHELL_RUN_H_

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/io/file.h"

namespace mdu::testing {

// `arg` as one single-quoted shell word.
inline std::string ShellQuote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CliRun {
  int status = -1;  // exit code; -1 if the program did not exit
  std::string out, err;
};

// Runs `args` (args[0] the program) and waits; its output goes through <dir>/stdout and
// <dir>/stderr, which the shell always creates.
inline CliRun RunCaptured(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  std::string command;
  for (const auto& arg : args) command += (command.empty() ? "" : " ") + ShellQuote(arg);
  const std::filesystem::path out = dir / "stdout", err = dir / "stderr";
  command += " </dev/null >" + ShellQuote(out.string()) + " 2>" + ShellQuote(err.string());
  CliRun run;
  const int raw = std::system(command.c_str());
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  for (auto [path, text] : {std::pair{out, &run.out}, std::pair{err, &run.err}}) {
    auto bytes = io::ReadFileBounded(path, 64 << 20);
    EXPECT_TRUE(bytes) << path;
    if (bytes) *text = *bytes;
  }
  return run;
}

}  // namespace mdu::testing

#endif  // MDU_TESTS_SUPPORT_SHELL_RUN_H_
