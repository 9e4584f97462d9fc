// The agent's configuration file (`client-agent --config FILE`, JSON): device policies, the
// installer backend, configuration files to back up and the daemon's polling. Every field is
// optional; an absent file or field keeps the behaviour of an agent without configuration
// (install whenever asked, no approval, no busy hook, manual commands open, ab-dir installer),
// which is what the demo and the existing tests use. Unknown fields are errors: a mistyped
// security setting must not be silently ignored.
//
//   {
//     "device_id": "pump-0001",                       // for operator authorizations
//     "maintenance_windows": ["Mon-Fri 02:00-04:00", "Sat,Sun 00:00-24:00"],  // local time
//     "require_approval": true,                       // `client-agent approve TARGET` first
//     "approval_ttl_s": 86400,                        // an approval expires after this
//     "busy_hook": {"command": ["/usr/libexec/pump/busy"], "timeout_s": 10},
//     "operator_keys": [{"keytype": "ed25519", "scheme": "ed25519",
//                        "keyval": {"public": "<hex>"}}],   // manual commands need a token
//     "operator_auth_max_lifetime_s": 3600,
//     "installer": {"type": "script", "path": "/usr/libexec/vendor/mdu-install",
//                   "timeout_s": 600},                // or {"type": "ab-dir"} (default)
//     "config_backup": ["/etc/pump/pump.conf"],       // backed up before install, restored on
//                                                     // rollback
//     "poll": {"interval_s": 3600, "jitter_s": 300, "max_backoff_s": 21600},  // `run`
//     "download": {"attempts": 5, "max_attempts": 50,  // retries of a target download
//                  "backoff_s": 2, "max_backoff_s": 60},
//     "event_log": {"max_bytes": 16777216, "segments": 4}  // security event log size cap
//   }
//
// "download" and "event_log" have command-line twins (--download-attempts,
// --download-max-attempts, --retry-backoff, --retry-max-backoff, --event-log-max-bytes,
// --event-log-segments); a value given on the command line wins over the file
// (ApplyCommandLine). Both are checked against the same bounds (LimitOptions() below): a value
// outside them is an error, never silently clamped.
//
// With "operator_keys" present, `rollback` and `approve` require `--authorization FILE` (see
// operator_auth.h); without them they stay open (the unattended default).
//
// Errors: kNotFound when the file does not exist, kBadMetadata/kInvalidArgument naming the
// field otherwise. Thread-safety: plain values.
#ifndef MDU_CLIENT_AGENT_POLICY_AGENT_CONFIG_H_
#define MDU_CLIENT_AGENT_POLICY_AGENT_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client-agent/events/security_log.h"
#include "client-agent/policy/maintenance_window.h"
#include "client-agent/update/staging.h"
#include "core/common/error.h"
#include "core/crypto/keys.h"

namespace mdu::agent::policy {

struct BusyHookConfig {
  std::vector<std::string> command;  // empty: no hook
  std::chrono::seconds timeout{10};
};

struct InstallerConfig {
  std::string type = "ab-dir";  // "ab-dir" or "script"
  std::string path;             // the vendor executable (script)
  std::chrono::seconds timeout{600};
};

struct PollConfig {
  std::chrono::seconds interval{3600};
  std::chrono::seconds jitter{300};
  std::chrono::seconds max_backoff{6 * 3600};
};

struct AgentConfig {
  std::string device_id;
  std::vector<MaintenanceWindow> maintenance_windows;
  bool require_approval = false;
  std::chrono::seconds approval_ttl{24 * 3600};
  BusyHookConfig busy_hook;
  std::vector<crypto::PublicKey> operator_keys;
  int64_t operator_auth_max_lifetime_s = 3600;
  InstallerConfig installer;
  std::vector<std::filesystem::path> config_backup;
  PollConfig poll;
  // Retries of a target download (update/staging.h): attempts without progress, attempts in
  // all (a trickling source ends there), first delay and its cap.
  update::RetryPolicy download;
  events::LogLimits event_log;  // size cap and segments of the security event log

  bool operator_required() const { return !operator_keys.empty(); }
};

// Values given on the command line (unset: not given); each set one overrides the file's.
struct CommandLineLimits {
  std::optional<int64_t> download_attempts;
  std::optional<int64_t> download_max_attempts;
  std::optional<int64_t> retry_backoff_s;
  std::optional<int64_t> retry_max_backoff_s;
  std::optional<int64_t> event_log_max_bytes;
  std::optional<int64_t> event_log_segments;
};

// A tunable limit with a config-file field and a command-line twin: the one place that names it
// and bounds it. The file and the command line both refuse a value outside [min, max] by name.
struct LimitOption {
  std::string_view section;  // the config file's object: "download"
  std::string_view key;      // its field: "attempts" (the config key "download.attempts")
  std::string_view flag;     // the command line's option: "--download-attempts"
  int64_t min;
  int64_t max;
  std::string_view help;                              // the option's --help text
  std::optional<int64_t> CommandLineLimits::*given;   // where the command line's value goes
  void (*store)(AgentConfig& config, int64_t value);  // writes a value within [min, max]
};

// Every limit, in the order the file's fields are checked. Static storage: the span never dangles.
std::span<const LimitOption> LimitOptions();

Result<AgentConfig> ParseAgentConfig(std::string_view bytes);
// Writes the given command-line values into `config`; kInvalidArgument naming the option for a
// value outside its bound.
Status ApplyCommandLine(const CommandLineLimits& limits, AgentConfig* config);
// Reads and parses `path` (at most 1 MiB).
Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path);

}  // namespace mdu::agent::policy

#endif  // MDU_CLIENT_AGENT_POLICY_AGENT_CONFIG_H_
