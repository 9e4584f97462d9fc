// What the agent reports after an update, as API messages (proto/mdu/v1/repository.proto), and
// the reporting configuration of the command line: where the outbox is, which device this is,
// how to reach the server and which key signs.
//
// Thread-safety: plain functions and values.
#ifndef MDU_CLIENT_AGENT_REPORT_UPDATE_REPORTS_H_
#define MDU_CLIENT_AGENT_REPORT_UPDATE_REPORTS_H_

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "client-agent/report/outbox.h"
#include "client-agent/report/sender.h"
#include "client-agent/update/device_state.h"
#include "client-agent/update/transaction.h"
#include "core/common/error.h"

namespace mdu::agent::report {

inline constexpr size_t kMaxLogExcerptBytes = 16u << 10;

// The phase a transaction reached, from its outcome and reason code.
wire::InstallPhase PhaseReached(const update::TransactionResult& result);

// A transaction's outcome: error_code is the reason code (client-agent/update/reason.h),
// log_excerpt its message (cut to 16 KiB). `from_version` is what ran before.
wire::InstallationReport InstallationReportFor(const update::TransactionResult& result,
                                               const std::string& device_id,
                                               const std::string& from_version, std::time_t now);
// An update that failed before any transaction (refresh or download): phase DOWNLOAD (or VERIFY
// for verification kinds), error_code the ErrorKindName.
wire::InstallationReport FailedUpdateReport(const Error& error, const std::string& device_id,
                                            const std::string& installed_version, std::time_t now);
// What is installed now: the installed target with its version, security_version, payload
// sha256 and the sha256 of its SBOM (empty when the release references none); the previous
// slot's is not listed: it does not run.
wire::InventoryReport InventoryFor(const update::DeviceState& state, const std::string& device_id,
                                   std::time_t now);

// The command line's reporting options, as given.
struct ReportingFlags {
  std::filesystem::path outbox_dir;  // default: <state-dir>/outbox
  std::string device_id;             // default: the device certificate's urn:mdu:device: id
  std::string server;                // host:port; empty: reports only go to the outbox
  std::string device_cert;           // PEM file: TLS client certificate
  std::string device_key;            // PEM file: its key; signs the reports
  std::string ca_cert;               // PEM file: the server's CA
  std::string server_name;           // TLS name override (tests, IP addresses)
  bool plaintext = false;            // no TLS, unsigned (repo-server --insecure on loopback)
  int timeout_s = 30;
};

// Loaded and checked options. Reporting is on when a device id is known (given, or from the
// certificate).
struct Reporting {
  std::filesystem::path state_dir;  // holds the security event log (may be empty)
  std::filesystem::path outbox_dir;
  std::string device_id;
  std::optional<ReportServerOptions> server;
  std::optional<evidence::DeviceKey> key;
};

// kInvalidArgument for inconsistent flags (TLS without cert/key/CA, a --device-id that is not
// the certificate's), kIo/kCrypto for unreadable files. nullopt when reporting is off.
Result<std::optional<Reporting>> LoadReporting(const ReportingFlags& flags,
                                               const std::filesystem::path& state_dir);

// The installed version recorded in the state directory ("" when none or unreadable).
std::string InstalledVersion(const std::filesystem::path& state_dir);

// Enqueues the reports of one `update` run: the recovered transaction and the new one, or the
// error that ended the run before any transaction (`failure`), then the inventory when a
// transaction ran. `from_version` is the version installed before the run.
Status EnqueueUpdateReports(const Reporting& reporting, const std::filesystem::path& state_dir,
                            const std::string& from_version,
                            const std::optional<update::TransactionResult>& recovered,
                            const std::optional<update::TransactionResult>& transaction,
                            const Error* failure);

// Enqueues an inventory of what the state directory records as installed now (after every
// commit and rollback, and when the daemon starts).
Status EnqueueInventory(const Reporting& reporting, const std::filesystem::path& state_dir);

// Enqueues the security event log's records (client-agent/events/security_log.h) not enqueued
// yet: the outbox keeps the last enqueued seq in `security_events.sent`. Event ids are
// "ev-<seq>-<first 16 hex of the record hash>", so a crash before the cursor is written only
// enqueues duplicates the server stores once.
Status EnqueueSecurityEvents(const Reporting& reporting);

// Enqueues new security events, then sends what the outbox holds (nothing is sent without a
// server).
Result<FlushResult> FlushReports(const Reporting& reporting);

}  // namespace mdu::agent::report

#endif  // MDU_CLIENT_AGENT_REPORT_UPDATE_REPORTS_H_
