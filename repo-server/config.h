// The repo-server configuration: every setting, its command-line flag, its key in the
// configuration file, the checks that refuse contradictory combinations, and the record of it
// written to the audit log.
//
// Configuration file (`--config FILE`): TOML key/value lines whose keys are the long flag names
// without the dashes, e.g.
//
//   listen = "0.0.0.0:8443"
//   tls-cert = "/etc/mdu/server.pem"
//   device-rate = 20
//   insecure = false
//
// Flags given on the command line override the file; unknown keys are refused (a misspelt
// setting must not silently fall back to a default). Secrets never appear in it: the
// passphrases of online keys come from an environment variable, a file descriptor or a file
// named here.
//
// Thread-safety: plain data; ConfigRecord/ConfigChanges are pure.
#ifndef MDU_REPO_SERVER_CONFIG_H_
#define MDU_REPO_SERVER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>

#include "core/common/error.h"
#include "core/json/value.h"

namespace CLI {
class App;
}  // namespace CLI

namespace mdu::server {

// Where the passphrase of an encrypted online key comes from (signer/keystore/passphrase.h);
// exactly one must be set when the key is. Never the passphrase itself.
struct PassphraseConfig {
  std::string env_var;
  int fd = -1;
  std::string file;
};

struct ServerConfig {
  std::string config_file;
  // Device listener (DeviceService; with no operator listener also OperatorService).
  std::string listen = "127.0.0.1:8443";
  bool insecure = false;
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca;  // mutual TLS for devices
  std::string crl;        // PEM CRL(s) of the device CA: revoked device certificates
  std::string port_file;
  // Operator listener (OperatorService only, bearer tokens over TLS, no client certificates).
  std::string operator_listen;
  std::string operator_tls_cert;  // default: tls_cert
  std::string operator_tls_key;   // default: tls_key
  std::string operator_port_file;
  std::string operator_credentials;
  // Repository.
  std::string data_dir;
  std::string trusted_root;
  std::string static_mirror_dir;
  // Online keys.
  std::string timestamp_key;  // mdu-encrypted-key v1 file (signer export-online-key)
  PassphraseConfig timestamp_passphrase;
  std::string snapshot_key;  // optional, also re-signs snapshot.json near its expiry
  PassphraseConfig snapshot_passphrase;
  std::string timestamp_key_insecure_file;  // DEVELOPMENT ONLY: unencrypted PKCS#8 DER
  std::string timestamp_key_scheme = "ed25519";
  int64_t timestamp_validity = 24 * 3600L;
  int64_t timestamp_margin = 6 * 3600L;
  int64_t snapshot_validity = 7 * 24 * 3600L;
  int64_t resign_interval = 60;
  int64_t timestamp_history = 0;  // timestamp versions kept (0 = all)
  // Limits.
  int64_t device_max_message_bytes = 64 << 10;
  // A publish message carries one whole metadata file (up to kMaxMetadataFileBytes, 16 MiB)
  // plus its name and framing: 17 MiB lets every legal file through.
  int64_t operator_max_message_bytes = 17 << 20;
  int64_t max_publish_bytes = int64_t{8} << 30;
  int64_t max_target_bytes = int64_t{4} << 30;
  int64_t publish_timeout = 3600;
  double device_rate = 20;
  double device_burst = 100;
  int64_t max_connection_idle = 600;
  int64_t max_concurrent_publishes = 1;  // more publish streams at once: RESOURCE_EXHAUSTED
  int64_t publish_idle_timeout = 60;     // seconds without a message before a publish is ended
  // Refused operator credentials audited one by one per peer address (token bucket); the rest
  // are counted into one summary record per interval.
  double refused_credential_rate = 0.1;
  double refused_credential_burst = 10;
  int64_t audit_summary_interval = 60;
  // Group commit of reports (repo-server/report_writer.h): reports per synced write.
  int64_t report_batch_max = 256;
  // Process.
  int64_t shutdown_grace = 5;
  std::string log_level = "info";
};

// Declares every flag of `repo-server` (and `--config`) on `app`, filling `config`.
void AddServerOptions(CLI::App& app, ServerConfig& config);

// Parses a command line (and the --config file it names) as at start, then ValidateConfig: the
// configuration a SIGHUP reload would apply. kInvalidArgument with the reason. Never prints.
Result<ServerConfig> ParseServerConfig(int argc, char** argv);
using ServerConfigParser = std::function<Result<ServerConfig>()>;

// Combinations the flags alone cannot express: TLS or --insecure on loopback, mutual TLS and
// CRL need TLS, operator credentials with TLS, one passphrase source per key, limits > 0.
// kInvalidArgument saying what to change.
Status ValidateConfig(const ServerConfig& config);

// The configuration as recorded in the audit log's server_start record (paths, addresses and
// limits; passphrase sources by name only).
json::Value ConfigRecord(const ServerConfig& config);

// The settings that differ between two ConfigRecords: {"<key>": {"old": ..., "new": ...}}, keys
// present in only one of them included (null on the other side). Empty object if none.
json::Value ConfigChanges(const json::Value& previous, const json::Value& current);

// "host" of "host:port" / "[v6]:port" (loopback checks: core/common/loopback.h).
std::string HostOf(const std::string& address);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_CONFIG_H_
