// Health check after activation (issue 5): a configured command with a timeout. The command runs
// in its own process group (posix_spawn, no shell); when the timeout passes, the whole group is
// killed with SIGKILL and reaped, so a hung check can never hang the agent or leave children.
//
// HealthChecker is the interface the transaction calls; CommandHealthChecker is the production
// implementation; tests may substitute their own.
// Thread-safety: Run may be called from one thread at a time per object.
#ifndef MDU_CLIENT_AGENT_UPDATE_HEALTH_CHECK_H_
#define MDU_CLIENT_AGENT_UPDATE_HEALTH_CHECK_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/common/error.h"

namespace mdu::agent::update {

enum class HealthStatus {
  kPassed,    // exit status 0
  kFailed,    // non-zero exit status, or killed by a signal
  kTimedOut,  // still running at the deadline; killed
  kError,     // could not be started (missing program, spawn failure)
};

struct HealthResult {
  HealthStatus status = HealthStatus::kError;
  int exit_code = -1;   // when it exited
  int term_signal = 0;  // when a signal ended it (SIGKILL after a timeout)
  std::string message;  // human-readable summary
};

// A child process run to completion or killed at a deadline: the mechanism behind the health
// check, the script installer and the "device busy" hook. argv[0] is searched in PATH (no shell);
// `env` entries ("NAME=value") are added to the agent's environment, replacing variables of the
// same name. The child gets its own process group; at the timeout the whole group is killed with
// SIGKILL and reaped. Never throws; spawn failures are kError.
struct ProcessSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{60000};
};
HealthResult RunProcess(const ProcessSpec& spec);

class HealthChecker {
 public:
  virtual ~HealthChecker() = default;
  // Checks the activated installation in `slot`.
  virtual HealthResult Run(const std::string& slot) = 0;
};

struct HealthCheckConfig {
  std::vector<std::string> argv;  // argv[0] is the program (PATH is searched); empty: always pass
  std::chrono::milliseconds timeout{60000};
};

class CommandHealthChecker final : public HealthChecker {
 public:
  explicit CommandHealthChecker(HealthCheckConfig config) : config_(std::move(config)) {}
  // Runs argv with MDU_SLOT=<slot> added to the environment.
  HealthResult Run(const std::string& slot) override;

 private:
  HealthCheckConfig config_;
};

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_HEALTH_CHECK_H_
