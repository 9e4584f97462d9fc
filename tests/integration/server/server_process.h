// The real repo-server binary as a child process, for the integration tests. MDU_REPO_SERVER_BINARY
// must be defined (the CMakeLists passes $<TARGET_FILE:repo-server>).
//
// Ownership: one ServerProcess owns one child; the destructor stops it with SIGTERM.
#ifndef MDU_TESTS_INTEGRATION_SERVER_SERVER_PROCESS_H_
#define MDU_TESTS_INTEGRATION_SERVER_SERVER_PROCESS_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/io/file.h"

namespace mdu::server::testing {

class ServerProcess {
 public:
  // Starts repo-server with `dir`/db, `dir`/root.json as trusted root, `dir`/port as port file,
  // then `flags` (listener, TLS, ...).
  ServerProcess(const std::filesystem::path& dir, const std::vector<std::string>& flags)
      : dir_(dir) {
    std::filesystem::remove(dir_ / "port");
    std::vector<std::string> args = {MDU_REPO_SERVER_BINARY,
                                     "--data-dir",
                                     (dir_ / "db").string(),
                                     "--trusted-root",
                                     (dir_ / "root.json").string(),
                                     "--port-file",
                                     (dir_ / "port").string(),
                                     "--log-level",
                                     "warn",
                                     "--shutdown-grace",
                                     "1"};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = Spawn(args);
  }
  ~ServerProcess() { Stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  static pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    return pid;
  }

  // Waits for `pid` to exit; its exit code, or 128 + signal.
  static int WaitPid(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Waits for this server to exit by itself (e.g. refusing its flags); its exit code.
  int Wait() {
    int code = WaitPid(pid_);
    pid_ = 0;
    return code;
  }

  // Waits for the port file; 0 if the server exited or did not come up in time.
  int Port() {
    for (int i = 0; i < 400; ++i) {
      auto text = io::ReadFileBounded(dir_ / "port", 64);
      if (text && !text->empty()) return std::stoi(*text);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  // The child's pid (0 once it has exited), e.g. to send it SIGHUP.
  pid_t pid() const { return pid_; }

  // kill -9: no chance to clean up.
  void Kill() {
    if (pid_ == 0) return;
    kill(pid_, SIGKILL);
    WaitPid(pid_);
    pid_ = 0;
  }

  // Sends SIGTERM and returns the exit code (-1 if not running).
  int Stop() {
    if (pid_ == 0) return -1;
    kill(pid_, SIGTERM);
    return Wait();
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = 0;
};

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_INTEGRATION_SERVER_SERVER_PROCESS_H_
