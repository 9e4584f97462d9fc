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
//     "poll": {"interval_s": 3600, "jitter_s": 300, "max_backoff_s": 21600}   // `run`
//   }
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
#include <string>
#include <string_view>
#include <vector>

#include "client-agent/policy/maintenance_window.h"
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

  bool operator_required() const { return !operator_keys.empty(); }
};

Result<AgentConfig> ParseAgentConfig(std::string_view bytes);
// Reads and parses `path` (at most 1 MiB).
Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path);

}  // namespace mdu::agent::policy

#endif  // MDU_CLIENT_AGENT_POLICY_AGENT_CONFIG_H_
