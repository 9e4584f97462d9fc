// nginx (Debian's /usr/sbin/nginx) as a child process serving one directory on a loopback port,
// for the static-mirror test. Everything nginx writes (config, pid file, logs, temp dirs) stays
// in a directory the test owns; `daemon off; master_process off` keeps it one process, our child.
//
// Stopping: the destructor sends SIGTERM and, after 5 s, SIGKILL. The child also asks the kernel
// for SIGKILL when the test process dies (PR_SET_PDEATHSIG), so a crashed or killed test never
// leaves nginx running.
//
// Ownership: one NginxProcess owns one child. Thread-safety: none.
#ifndef MDU_TESTS_INTEGRATION_SERVER_MIRROR_NGINX_PROCESS_H_
#define MDU_TESTS_INTEGRATION_SERVER_MIRROR_NGINX_PROCESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/io/file.h"

namespace mdu::server::testing {

class NginxProcess {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";

  // Serves `root` (followed through symlinks on every request: no open_file_cache) from
  // 127.0.0.1 on an ephemeral port, with its files in `work`. Check port() != 0.
  NginxProcess(const std::filesystem::path& work, const std::filesystem::path& root)
      : work_(work) {
    std::filesystem::create_directories(work_);
    // The port is picked by binding port 0 and closing; another process may take it before
    // nginx binds it, so a start that fails is retried on a new port.
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      int port = FreeLoopbackPort();
      if (port == 0) continue;
      if (!WriteConfig(root, port)) return;
      pid_ = Spawn();
      if (pid_ > 0 && WaitAccepting(port)) {
        port_ = port;
      } else {
        Stop();
      }
    }
  }
  ~NginxProcess() { Stop(); }
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // error.log and the startup output, for failure messages.
  std::string Log() const {
    std::string out;
    for (const char* name : {"stderr.log", "error.log"}) {
      auto text = io::ReadFileBounded(work_ / name, 1u << 16);
      if (text) out += *text;
    }
    return out;
  }
  std::string AccessLog() const {
    auto text = io::ReadFileBounded(work_ / "access.log", 1u << 20);
    return text ? *text : std::string();
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  static int FreeLoopbackPort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t length = sizeof addr;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
  }

  bool WriteConfig(const std::filesystem::path& root, int port) const {
    const std::string w = work_.string();
    std::string config =
        "daemon off;\n"
        "master_process off;\n"
        "worker_processes 1;\n"
        "pid " + w + "/nginx.pid;\n"
        "error_log " + w + "/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "  access_log " + w + "/access.log;\n"
        "  client_body_temp_path " + w + "/body;\n"
        "  proxy_temp_path " + w + "/proxy;\n"
        "  fastcgi_temp_path " + w + "/fastcgi;\n"
        "  uwsgi_temp_path " + w + "/uwsgi;\n"
        "  scgi_temp_path " + w + "/scgi;\n"
        "  types { application/json json; }\n"
        "  default_type application/octet-stream;\n"
        "  server {\n"
        "    listen 127.0.0.1:" + std::to_string(port) + ";\n"
        "    root " + root.string() + ";\n"
        "  }\n"
        "}\n";
    return static_cast<bool>(io::WriteFileAtomically(work_ / "nginx.conf", config));
  }

  pid_t Spawn() const {
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<std::string> args = {kBinary, "-p", work_.string(), "-c",
                                     (work_ / "nginx.conf").string(), "-e",
                                     (work_ / "error.log").string()};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = (work_ / "stderr.log").string();
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the test died before prctl took effect
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }

  // True once nginx accepts connections on `port`; false if it exited or took over 10 s.
  bool WaitAccepting(int port) {
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return false;
      }
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port));
      bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
      if (connected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::filesystem::path work_;
  pid_t pid_ = 0;
  int port_ = 0;
};

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_INTEGRATION_SERVER_MIRROR_NGINX_PROCESS_H_
