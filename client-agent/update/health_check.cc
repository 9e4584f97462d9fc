#include "client-agent/update/health_check.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;  // NOLINT: POSIX

namespace mdu::agent::update {
namespace {

class SpawnAttr {
 public:
  SpawnAttr() { ok_ = ::posix_spawnattr_init(&attr_) == 0; }
  ~SpawnAttr() {
    if (ok_) ::posix_spawnattr_destroy(&attr_);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  bool ok() const { return ok_; }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_{};
  bool ok_ = false;
};

HealthResult Finished(int wait_status, const std::string& program) {
  HealthResult result;
  if (WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
    result.status = result.exit_code == 0 ? HealthStatus::kPassed : HealthStatus::kFailed;
    result.message = program + " exited with status " + std::to_string(result.exit_code);
  } else {
    result.term_signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
    result.status = HealthStatus::kFailed;
    result.message = program + " was killed by signal " + std::to_string(result.term_signal);
  }
  return result;
}

}  // namespace

HealthResult CommandHealthChecker::Run(const std::string& slot) {
  if (config_.argv.empty()) {
    return HealthResult{HealthStatus::kPassed, 0, 0, "no health check configured"};
  }
  return RunProcess(ProcessSpec{config_.argv, {"MDU_SLOT=" + slot}, config_.timeout});
}

HealthResult RunProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return HealthResult{HealthStatus::kError, -1, 0, "no program given"};
  const std::string& program = spec.argv.front();
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  auto overridden = [&spec](const char* entry) {
    for (const std::string& added : spec.env) {
      const size_t eq = added.find('=');
      if (eq != std::string::npos && std::strncmp(entry, added.c_str(), eq + 1) == 0) return true;
    }
    return false;
  };
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!overridden(*e)) envp.push_back(*e);
  }
  for (const std::string& added : spec.env) envp.push_back(const_cast<char*>(added.c_str()));
  envp.push_back(nullptr);

  SpawnAttr attr;
  if (!attr.ok()) return HealthResult{HealthStatus::kError, -1, 0, "posix_spawnattr_init failed"};
  // Own process group, so a timeout kills the check and everything it started; default signal
  // dispositions and an empty mask, whatever the agent uses.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  ::posix_spawnattr_setpgroup(attr.get(), 0);
  ::posix_spawnattr_setsigdefault(attr.get(), &all);
  ::posix_spawnattr_setsigmask(attr.get(), &none);
  ::posix_spawnattr_setflags(attr.get(),
                             static_cast<short>(POSIX_SPAWN_SETPGROUP |  // NOLINT
                                                POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
  pid_t pid = -1;
  const int rc =
      ::posix_spawnp(&pid, program.c_str(), nullptr, attr.get(), argv.data(), envp.data());
  if (rc != 0) {
    return HealthResult{HealthStatus::kError, -1, 0,
                        "cannot start " + program + ": " + std::strerror(rc)};
  }

  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  for (;;) {
    int wait_status = 0;
    const pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) return Finished(wait_status, program);
    if (done < 0 && errno != EINTR) {
      return HealthResult{HealthStatus::kError, -1, 0,
                          "waitpid for " + program + ": " + std::strerror(errno)};
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid, SIGKILL);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  HealthResult result;
  result.status = HealthStatus::kTimedOut;
  result.term_signal = SIGKILL;
  result.message = program + " did not finish within " + std::to_string(spec.timeout.count()) +
                   " ms and was killed";
  return result;
}

}  // namespace mdu::agent::update
