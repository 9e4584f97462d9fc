#include "client-agent/report/update_reports.h"

#include <cstdlib>
#include <utility>

#include "client-agent/events/security_log.h"
#include "core/client/clock.h"
#include "core/io/file.h"

namespace mdu::agent::report {
namespace {

using update::Reason;

constexpr uint64_t kMaxPemBytes = 64u << 10;
constexpr std::string_view kDeviceUriPrefix = "urn:mdu:device:";

std::string Excerpt(std::string text) {
  if (text.size() > kMaxLogExcerptBytes) text.resize(kMaxLogExcerptBytes);
  return text;
}

Result<std::string> ReadPem(const std::string& path, std::string_view what) {
  auto bytes = io::ReadFileBounded(path, kMaxPemBytes);
  if (!bytes) return MakeError(bytes.error().WithContext(std::string(what) + " " + path));
  return std::move(*bytes);
}

}  // namespace

wire::InstallPhase PhaseReached(const update::TransactionResult& result) {
  if (result.outcome == update::Outcome::kCommitted) return wire::INSTALL_PHASE_COMPLETE;
  switch (result.reason) {
    case Reason::kDownloadFailed:
    case Reason::kDownloadRejected:
      return wire::INSTALL_PHASE_DOWNLOAD;
    case Reason::kHardwareMismatch:
    case Reason::kNotNewer:
    case Reason::kDowngrade:
    case Reason::kIncompatibleVersion:
    case Reason::kSecurityFloor:
    case Reason::kBadCustomMetadata:
    case Reason::kHashMismatch:
      return wire::INSTALL_PHASE_VERIFY;
    case Reason::kInstallFailed:
    case Reason::kActivateFailed:
      return wire::INSTALL_PHASE_INSTALL;
    case Reason::kHealthCheckFailed:
    case Reason::kHealthCheckTimeout:
    case Reason::kHealthCheckError:
      return wire::INSTALL_PHASE_HEALTH_CHECK;
    case Reason::kInterrupted:
    case Reason::kManualRollback:
      return wire::INSTALL_PHASE_ROLLBACK;
    default:  // admission and policy refusals: verified and staged, not installed
      return wire::INSTALL_PHASE_STAGE;
  }
}

wire::InstallationReport InstallationReportFor(const update::TransactionResult& result,
                                               const std::string& device_id,
                                               const std::string& from_version, std::time_t now) {
  wire::InstallationReport report;
  report.set_device_id(device_id);
  report.set_target(result.target.name);
  report.set_from_version(from_version);
  report.set_to_version(result.target.version);
  report.set_phase(PhaseReached(result));
  report.set_success(result.outcome == update::Outcome::kCommitted);
  if (result.reason != Reason::kNone) {
    report.set_error_code(std::string(update::ReasonName(result.reason)));
  }
  report.set_log_excerpt(
      Excerpt(std::string(update::OutcomeName(result.outcome)) + ": " + result.message));
  report.set_device_time(static_cast<int64_t>(now));
  return report;
}

wire::InstallationReport FailedUpdateReport(const Error& error, const std::string& device_id,
                                            const std::string& installed_version, std::time_t now) {
  wire::InstallationReport report;
  report.set_device_id(device_id);
  report.set_from_version(installed_version);
  switch (error.kind()) {
    case ErrorKind::kDownload:
    case ErrorKind::kSlowRetrieval:
    case ErrorKind::kNotFound:
    case ErrorKind::kIo:
      report.set_phase(wire::INSTALL_PHASE_DOWNLOAD);
      break;
    default:  // the metadata or the download did not verify
      report.set_phase(wire::INSTALL_PHASE_VERIFY);
      break;
  }
  report.set_success(false);
  report.set_error_code(std::string(ErrorKindName(error.kind())));
  report.set_log_excerpt(Excerpt(error.ToString()));
  report.set_device_time(static_cast<int64_t>(now));
  return report;
}

wire::InventoryReport InventoryFor(const update::DeviceState& state, const std::string& device_id,
                                   std::time_t now) {
  wire::InventoryReport inventory;
  inventory.set_device_id(device_id);
  inventory.set_device_time(static_cast<int64_t>(now));
  if (state.installed) {
    wire::InstalledTarget* target = inventory.add_installed();
    target->set_name(state.installed->target.name);
    target->set_version(state.installed->target.version);
    target->set_security_version(state.installed->target.security_version);
    target->set_sha256(state.installed->target.sha256);
    target->set_sbom_sha256(state.installed->target.sbom_sha256);
  }
  return inventory;
}

Result<std::optional<Reporting>> LoadReporting(const ReportingFlags& flags,
                                               const std::filesystem::path& state_dir) {
  Reporting reporting;
  reporting.state_dir = state_dir;
  reporting.device_id = flags.device_id;
  std::string cert_pem;
  if (!flags.device_cert.empty()) {
    MDU_ASSIGN_OR_RETURN(cert_pem, ReadPem(flags.device_cert, "device certificate"));
    auto cert = evidence::DeviceCertificate::FromPem(cert_pem);
    if (!cert)
      return MakeError(cert.error().WithContext("device certificate " + flags.device_cert));
    std::string from_cert;
    for (const std::string& uri : cert->uris()) {
      if (uri.starts_with(kDeviceUriPrefix)) from_cert = uri.substr(kDeviceUriPrefix.size());
    }
    if (reporting.device_id.empty()) reporting.device_id = from_cert;
    if (!from_cert.empty() && from_cert != reporting.device_id) {
      return MakeError(
          ErrorKind::kInvalidArgument,
          "--device-id " + reporting.device_id + " is not the certificate's (" + from_cert + ")");
    }
  }
  if (reporting.device_id.empty()) {
    if (!flags.server.empty()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "--report-server needs --device-id or a --device-cert naming "
                       "urn:mdu:device:<id>");
    }
    return std::optional<Reporting>();
  }
  if (!flags.outbox_dir.empty()) {
    reporting.outbox_dir = flags.outbox_dir;
  } else if (!state_dir.empty()) {
    reporting.outbox_dir = state_dir / "outbox";
  } else {
    return MakeError(ErrorKind::kInvalidArgument, "reports need --outbox-dir or --state-dir");
  }
  if (!flags.device_key.empty()) {
    MDU_ASSIGN_OR_RETURN(std::string key_pem, ReadPem(flags.device_key, "device key"));
    auto key = evidence::DeviceKey::FromPem(key_pem);
    if (!key) return MakeError(key.error().WithContext("device key " + flags.device_key));
    reporting.key = std::move(*key);
    if (!flags.plaintext) {
      // Keep the PEM for the TLS client identity as well.
      ReportServerOptions server;
      server.client_key_pem = std::move(key_pem);
      reporting.server = std::move(server);
    }
  }
  if (!flags.server.empty()) {
    ReportServerOptions server = reporting.server.value_or(ReportServerOptions{});
    server.address = flags.server;
    server.plaintext = flags.plaintext;
    server.timeout = std::chrono::seconds(flags.timeout_s > 0 ? flags.timeout_s : 30);
    server.server_name_override = flags.server_name;
    if (!flags.plaintext) {
      if (flags.device_cert.empty() || flags.device_key.empty() || flags.ca_cert.empty()) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "--report-server over TLS needs --device-cert, --device-key and "
                         "--ca-cert (or --report-plaintext for a loopback test server)");
      }
      server.client_cert_pem = cert_pem;
      MDU_ASSIGN_OR_RETURN(server.ca_cert_pem, ReadPem(flags.ca_cert, "CA certificate"));
    }
    reporting.server = std::move(server);
  } else {
    reporting.server.reset();
  }
  return std::optional<Reporting>(std::move(reporting));
}

std::string InstalledVersion(const std::filesystem::path& state_dir) {
  auto store = update::StateStore::Open(state_dir);
  if (!store) return {};
  auto state = store->Load();
  if (!state || !state->installed) return {};
  return state->installed->target.version;
}

Status EnqueueUpdateReports(const Reporting& reporting, const std::filesystem::path& state_dir,
                            const std::string& from_version,
                            const std::optional<update::TransactionResult>& recovered,
                            const std::optional<update::TransactionResult>& transaction,
                            const Error* failure) {
  MDU_ASSIGN_OR_RETURN(Outbox outbox, Outbox::Open(reporting.outbox_dir));
  const std::time_t now = std::time(nullptr);
  std::string before = from_version;
  for (const auto* result : {&recovered, &transaction}) {
    if (!result->has_value() || (*result)->stopped_at) continue;
    MDU_RETURN_IF_ERROR(
        outbox.Enqueue(InstallationReportFor(**result, reporting.device_id, before, now)));
    if ((*result)->outcome == update::Outcome::kCommitted) before = (*result)->target.version;
  }
  if (failure != nullptr) {
    MDU_RETURN_IF_ERROR(
        outbox.Enqueue(FailedUpdateReport(*failure, reporting.device_id, before, now)));
  }
  if (recovered || transaction) MDU_RETURN_IF_ERROR(EnqueueInventory(reporting, state_dir));
  return EnqueueSecurityEvents(reporting);
}

Status EnqueueInventory(const Reporting& reporting, const std::filesystem::path& state_dir) {
  MDU_ASSIGN_OR_RETURN(Outbox outbox, Outbox::Open(reporting.outbox_dir));
  MDU_ASSIGN_OR_RETURN(update::StateStore store, update::StateStore::Open(state_dir));
  MDU_ASSIGN_OR_RETURN(update::DeviceState state, store.Load());
  MDU_RETURN_IF_ERROR(
      outbox.Enqueue(InventoryFor(state, reporting.device_id, std::time(nullptr))));
  return {};
}

Status EnqueueSecurityEvents(const Reporting& reporting) {
  if (reporting.state_dir.empty() ||
      !std::filesystem::exists(reporting.state_dir / events::SecurityLog::kLogFile)) {
    return {};
  }
  MDU_ASSIGN_OR_RETURN(Outbox outbox, Outbox::Open(reporting.outbox_dir));
  const std::filesystem::path cursor_file = reporting.outbox_dir / "security_events.sent";
  uint64_t sent = 0;
  if (auto cursor = io::ReadFileBounded(cursor_file, 64)) {
    sent = std::strtoull(cursor->c_str(), nullptr, 10);
  } else if (cursor.error().kind() != ErrorKind::kNotFound) {
    return MakeError(cursor.error());
  }
  const client::SystemClock clock;
  events::SecurityLog log(reporting.state_dir, clock);
  MDU_ASSIGN_OR_RETURN(std::vector<events::EventRecord> records, log.ReadAfter(sent));
  if (records.empty()) return {};
  for (const events::EventRecord& record : records) {
    wire::SecurityEvent event;
    event.set_event_id("ev-" + std::to_string(record.seq) + "-" + record.hash.substr(0, 16));
    event.set_device_id(reporting.device_id);
    event.set_kind(record.type.substr(0, 1024));
    event.set_subject(record.subject.substr(0, 1024));
    event.set_detail(Excerpt(record.detail));
    event.set_device_time(record.time);
    MDU_RETURN_IF_ERROR(outbox.Enqueue(std::move(event)));
  }
  return io::WriteFileAtomically(cursor_file, std::to_string(records.back().seq) + "\n");
}

Result<FlushResult> FlushReports(const Reporting& reporting) {
  if (!reporting.server) return FlushResult{};
  MDU_RETURN_IF_ERROR(EnqueueSecurityEvents(reporting));
  MDU_ASSIGN_OR_RETURN(Outbox outbox, Outbox::Open(reporting.outbox_dir));
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<ReportChannel> channel,
                       NewGrpcReportChannel(*reporting.server));
  return FlushOutbox(outbox, *channel, reporting.key ? &*reporting.key : nullptr);
}

}  // namespace mdu::agent::report
