// measure: runs a command and writes its wall time, CPU time (user + system, from wait4's
// rusage) and peak RSS to a file, with microsecond resolution (/usr/bin/time prints 10 ms,
// too coarse for a 30 ms refresh). Used by scripts/bench.sh for both sides of a comparison.
//
//   measure <out_file> <command> [args...]
//   out_file: "<wall_s> <cpu_s> <user_s> <sys_s> <maxrss_kib>\n"
//
// The command's stdout and stderr are passed through. Exit status: the command's (128 + signal
// if it was killed), 2 on bad usage, 127 if it cannot be started.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace {

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

int Run(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: measure <out_file> <command> [args...]\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("measure: fork");
    return 127;
  }
  if (pid == 0) {
    ::execvp(argv[2], argv + 2);
    std::fprintf(stderr, "measure: cannot run %s: %s\n", argv[2], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      std::perror("measure: wait4");
      return 127;
    }
  }
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  const double user = Seconds(usage.ru_utime);
  const double sys = Seconds(usage.ru_stime);
  std::FILE* out = std::fopen(argv[1], "w");
  if (out == nullptr) {
    std::fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], std::strerror(errno));
    return 2;
  }
  std::fprintf(out, "%.6f %.6f %.6f %.6f %ld\n", wall.count(), user + sys, user, sys,
               usage.ru_maxrss);
  std::fclose(out);
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
