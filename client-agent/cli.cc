#include "client-agent/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client-agent/agent_log.h"
#include "client-agent/commands/agent_services.h"
#include "client-agent/commands/cli_output.h"
#include "client-agent/commands/policy_commands.h"
#include "client-agent/install/ab_dir_installer.h"
#include "client-agent/policy/agent_config.h"
#include "client-agent/report/update_reports.h"
#include "client-agent/transport/scheme_fetcher.h"
#include "client-agent/transport/url.h"
#include "client-agent/tuf_client.h"
#include "client-agent/update/device_state.h"
#include "client-agent/update/health_check.h"
#include "client-agent/update/online_update.h"
#include "client-agent/update/progress_bar.h"
#include "client-agent/update/transaction.h"
#include "core/client/clock.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::agent {
namespace {

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;

struct CliOptions {
  std::string metadata_dir;
  std::string metadata_url;
  std::vector<std::string> target_names;
  std::string target_dir;
  std::string target_base_url;
  std::string root_file;
  bool json = false;
  int verbosity = 0;
  int64_t timeout_s = 600;
  int64_t connect_timeout_s = 30;
  int64_t min_speed = 1024;
  int64_t min_speed_time_s = 30;
  std::string ca_file;
  std::string proxy;
  // Update flow.
  std::string state_dir;
  std::string install_root;
  std::string hardware_id;
  std::string health_check;  // run with /bin/sh -c
  int64_t health_timeout_s = 60;
  // Policies, events and the daemon (client-agent/commands).
  std::string config_file;
  std::string authorization_file;
  bool verify_events = false;
  std::string approve_target;
  int64_t max_cycles = 0;
  // Device reports (client-agent/report/).
  report::ReportingFlags reporting;
  // Downloads (client-agent/update/staging.h, transport/grpc_fetcher.h).
  bool quiet = false;
  // Download retries and the event log cap: given here, they override the config file.
  policy::CommandLineLimits limits;
  std::string tls_server_name;
};

// The config file (if any) with the limits given on the command line applied over it.
Result<policy::AgentConfig> EffectiveConfig(const CliOptions& options) {
  policy::AgentConfig config;
  if (!options.config_file.empty()) {
    MDU_ASSIGN_OR_RETURN(config, policy::LoadAgentConfig(options.config_file));
  }
  MDU_RETURN_IF_ERROR(policy::ApplyCommandLine(options.limits, &config));
  return config;
}

// Retries and the progress bar of a download (the bar draws only on a terminal, not --quiet
// nor --json).
update::StageOptions StagingOf(const policy::AgentConfig& config, update::ProgressBar* bar) {
  update::StageOptions staging;
  staging.retry = config.download;
  if (bar != nullptr && bar->enabled()) {
    staging.progress = [bar](const update::DownloadProgress& progress) { bar->Update(progress); };
  }
  return staging;
}

bool ShowProgress(const CliOptions& options) {
  return !options.quiet && !options.json && update::ProgressBar::IsTerminal(stderr);
}

// Logs every request the updater makes (URLs without credentials, never bodies).
class LoggingFetcher final : public client::Fetcher {
 public:
  explicit LoggingFetcher(client::Fetcher& inner) : inner_(inner) {}

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override {
    return FetchFrom(
        url, 0, max_length, [](uint64_t) -> Status { return {}; }, sink);
  }

  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override {
    const std::string shown = RedactUrl(url);
    logging::Debug("GET {} from byte {} (at most {} bytes)", shown, offset, max_length);
    uint64_t received = 0;
    Status status = inner_.FetchFrom(url, offset, max_length, on_start,
                                     [&](std::string_view chunk) {
                                       received += chunk.size();
                                       return sink(chunk);
                                     });
    if (status) {
      logging::Info("fetched {} ({} bytes)", shown, received);
    } else if (status.error().kind() == ErrorKind::kNotFound) {
      logging::Info("not found: {}", shown);  // expected at the end of the root chain
    } else {
      logging::Warn("{}: {}", shown, status.error().ToString());
    }
    return status;
  }

 private:
  client::Fetcher& inner_;
};

void ConfigureLogging(int verbosity) {
  logging::SetLevel(verbosity >= 2   ? logging::Level::kDebug
                    : verbosity == 1 ? logging::Level::kInfo
                                     : logging::Level::kOff);
}

using commands::DescribeTransaction;
using commands::PrintJson;

json::Value VersionsJson(const TrustedVersions& versions) {
  return json::Value::MakeObject({{"root", versions.root},
                                  {"timestamp", versions.timestamp},
                                  {"snapshot", versions.snapshot},
                                  {"targets", versions.targets}});
}

// Reports a failure: one line on stderr, and the JSON object with --json.
int Fail(const CliOptions& options, std::string_view command, const Error& error) {
  return commands::ReportFailure(options.json, command, error);
}

// An option a command cannot do without.
struct Needed {
  const std::string& value;
  std::string_view option;  // "--metadata-dir"
};

// "COMMAND needs OPTION" for the first needed option left empty.
Status Require(std::string_view command, std::initializer_list<Needed> needed) {
  for (const Needed& each : needed) {
    if (each.value.empty()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       std::string(command) + " needs " + std::string(each.option));
    }
  }
  return {};
}

Result<std::unique_ptr<client::Fetcher>> MakeFetcher(const CliOptions& options) {
  if (options.timeout_s < 0 || options.connect_timeout_s < 0 || options.min_speed < 0 ||
      options.min_speed_time_s < 0) {
    return MakeError(ErrorKind::kInvalidArgument, "timeouts and speeds must not be negative");
  }
  CurlFetcherOptions transport;
  transport.total_timeout = std::chrono::seconds(options.timeout_s);
  transport.connect_timeout = std::chrono::seconds(options.connect_timeout_s);
  transport.low_speed_limit = static_cast<uint64_t>(options.min_speed);
  transport.low_speed_time = std::chrono::seconds(options.min_speed_time_s);
  if (!options.ca_file.empty()) transport.ca_file = options.ca_file;
  if (!options.proxy.empty()) transport.proxy = options.proxy;
  // grpc(s):// to repo-server: same limits; mutual TLS with the device identity.
  GrpcFetcherOptions grpc;
  grpc.total_timeout = transport.total_timeout;
  grpc.connect_timeout = transport.connect_timeout;
  grpc.low_speed_limit = transport.low_speed_limit;
  grpc.low_speed_time = transport.low_speed_time;
  const std::string& grpc_ca =
      options.ca_file.empty() ? options.reporting.ca_cert : options.ca_file;
  if (!grpc_ca.empty()) grpc.ca_file = grpc_ca;
  if (!options.reporting.device_cert.empty()) {
    grpc.client_cert_file = options.reporting.device_cert;
  }
  if (!options.reporting.device_key.empty()) grpc.client_key_file = options.reporting.device_key;
  if (!options.tls_server_name.empty()) grpc.tls_server_name = options.tls_server_name;
  MDU_ASSIGN_OR_RETURN(std::unique_ptr<SchemeFetcher> fetcher,
                       MakeDefaultFetcher(std::move(transport), std::move(grpc)));
  return std::unique_ptr<client::Fetcher>(std::move(fetcher));
}

RepositoryLocation LocationOf(const CliOptions& options) {
  return RepositoryLocation{.metadata_dir = options.metadata_dir,
                            .metadata_url = options.metadata_url,
                            .target_base_url = options.target_base_url};
}

int RunInit(const CliOptions& options) {
  constexpr std::string_view kCommand = "init";
  if (Status ok = Require(kCommand, {{options.metadata_dir, "--metadata-dir"}}); !ok) {
    return Fail(options, kCommand, ok.error());
  }
  const client::SystemClock clock;
  Result<int64_t> version = InitTrustedRoot(options.metadata_dir, options.root_file, clock);
  if (!version) return Fail(options, kCommand, version.error());
  logging::Info("trusting root version {} from {}", *version, options.root_file);
  if (options.json) {
    PrintJson(json::Value::MakeObject({{"command", kCommand},
                                       {"ok", true},
                                       {"metadata_dir", options.metadata_dir},
                                       {"root_version", *version}}));
  } else {
    std::printf("trusted root version %lld stored in %s\n", static_cast<long long>(*version),
                options.metadata_dir.c_str());
  }
  return kExitSuccess;
}

int RunRefresh(const CliOptions& options) {
  constexpr std::string_view kCommand = "refresh";
  if (Status ok = Require(kCommand, {{options.metadata_dir, "--metadata-dir"},
                                     {options.metadata_url, "--metadata-url"}});
      !ok) {
    return Fail(options, kCommand, ok.error());
  }
  Result<std::unique_ptr<client::Fetcher>> transport = MakeFetcher(options);
  if (!transport) return Fail(options, kCommand, transport.error());
  LoggingFetcher fetcher(**transport);
  const client::SystemClock clock;  // read now: libfaketime can shift it
  Result<TrustedVersions> versions = RefreshMetadata(LocationOf(options), fetcher, clock);
  if (!versions) return Fail(options, kCommand, versions.error());
  if (options.json) {
    PrintJson(json::Value::MakeObject(
        {{"command", kCommand}, {"ok", true}, {"trusted", VersionsJson(*versions)}}));
  } else {
    std::printf("trusted: root v%lld, timestamp v%lld, snapshot v%lld, targets v%lld\n",
                static_cast<long long>(versions->root), static_cast<long long>(versions->timestamp),
                static_cast<long long>(versions->snapshot),
                static_cast<long long>(versions->targets));
  }
  return kExitSuccess;
}

int RunDownload(const CliOptions& options) {
  constexpr std::string_view kCommand = "download";
  if (Status ok = Require(kCommand, {{options.metadata_dir, "--metadata-dir"},
                                     {options.metadata_url, "--metadata-url"},
                                     {options.target_dir, "--target-dir"},
                                     {options.target_base_url, "--target-base-url"}});
      !ok) {
    return Fail(options, kCommand, ok.error());
  }
  if (options.target_names.empty()) {
    return Fail(options, kCommand,
                Error(ErrorKind::kInvalidArgument, "download needs at least one --target-name"));
  }
  Result<std::unique_ptr<client::Fetcher>> transport = MakeFetcher(options);
  if (!transport) return Fail(options, kCommand, transport.error());
  LoggingFetcher fetcher(**transport);
  const client::SystemClock clock;
  TrustedVersions versions;
  Result<std::vector<TargetResult>> results = DownloadTargets(
      LocationOf(options), options.target_names, options.target_dir, fetcher, clock, &versions);
  if (!results) return Fail(options, kCommand, results.error());
  json::Array targets;
  for (const TargetResult& result : *results) {
    if (options.json) {
      targets.push_back(json::Value::MakeObject({{"name", result.name},
                                                 {"role", result.role},
                                                 {"length", result.length},
                                                 {"file", result.file.string()},
                                                 {"downloaded", result.downloaded}}));
    } else {
      std::printf("%s %s -> %s\n", result.downloaded ? "downloaded" : "up to date",
                  result.name.c_str(), result.file.c_str());
    }
  }
  if (options.json) {
    PrintJson(json::Value::MakeObject({{"command", kCommand},
                                       {"ok", true},
                                       {"trusted", VersionsJson(versions)},
                                       {"targets", std::move(targets)}}));
  }
  return kExitSuccess;
}

json::Value TargetJson(const update::TargetRecord& target) {
  return json::Value::MakeObject({{"name", target.name},
                                  {"version", target.version},
                                  {"sha256", target.sha256},
                                  {"security_version", target.security_version}});
}

json::Value TransactionJson(const update::TransactionResult& result) {
  return json::Value::MakeObject({{"outcome", update::OutcomeName(result.outcome)},
                                  {"reason", update::ReasonName(result.reason)},
                                  {"message", result.message},
                                  {"target", TargetJson(result.target)}});
}

// A refused or rolled-back transaction: one line on stderr, exit 1 (the JSON, if asked for,
// was already printed with "ok": false).
int TransactionFailed(std::string_view command, const update::TransactionResult& result) {
  std::fprintf(stderr, "client-agent: %.*s failed: %s\n", static_cast<int>(command.size()),
               command.data(), DescribeTransaction(result).c_str());
  return kExitFailure;
}

// Member by member: the struct keeps growing hooks with defaults.
update::OnlineUpdateOptions UpdateOptionsOf(const CliOptions& options) {
  update::OnlineUpdateOptions update_options;
  update_options.metadata_dir = options.metadata_dir;
  update_options.metadata_url = options.metadata_url;
  update_options.target_base_url = options.target_base_url;
  update_options.state_dir = options.state_dir;
  update_options.install_root = options.install_root;
  update_options.hardware_id = options.hardware_id;
  update_options.target_names = options.target_names;
  return update_options;
}

commands::ServicesOptions ServicesOptionsOf(const CliOptions& options,
                                            const policy::AgentConfig& config) {
  return commands::ServicesOptions{
      .config = config,
      .state_dir = options.state_dir,
      .install_root = options.install_root,
      .health_check = options.health_check,
      .health_timeout = std::chrono::seconds(options.health_timeout_s)};
}

// Runs one of the commands of client-agent/commands with the global options.
int RunAgentCommand(const CliOptions& options, std::string_view command, bool needs_network,
                    int (*run)(const commands::CommandContext&)) {
  if (Status ok = Require(command, {{options.state_dir, "--state-dir"}}); !ok) {
    return Fail(options, command, ok.error());
  }
  std::unique_ptr<client::Fetcher> transport;
  std::optional<LoggingFetcher> fetcher;
  if (needs_network) {
    Result<std::unique_ptr<client::Fetcher>> made = MakeFetcher(options);
    if (!made) return Fail(options, command, made.error());
    transport = std::move(*made);
    fetcher.emplace(*transport);
  }
  Result<policy::AgentConfig> config = EffectiveConfig(options);
  if (!config) return Fail(options, command, config.error());
  const client::SystemClock clock;
  commands::CommandContext context;
  context.services = ServicesOptionsOf(options, *config);
  context.update = UpdateOptionsOf(options);
  context.authorization_file = options.authorization_file;
  context.json = options.json;
  context.verify = options.verify_events;
  context.target = options.approve_target;
  context.max_cycles = options.max_cycles;
  update::ProgressBar bar(stderr, ShowProgress(options));
  context.update.staging = StagingOf(*config, &bar);
  context.fetcher = fetcher ? &*fetcher : nullptr;
  context.clock = &clock;
  // The daemon reports like `update` (outbox, flushed every cycle).
  Result<std::optional<report::Reporting>> reporting = std::optional<report::Reporting>();
  if (command == "run") reporting = report::LoadReporting(options.reporting, options.state_dir);
  if (!reporting) return Fail(options, command, reporting.error());
  context.reporting = *reporting ? &**reporting : nullptr;
  return run(context);
}

void LogFlush(const Result<report::FlushResult>& flushed) {
  if (!flushed) {
    logging::Error("reports not sent: {}", flushed.error().ToString());
    return;
  }
  if (flushed->outage) {
    logging::Warn("report server unreachable; {} report(s) wait in the outbox: {}",
                 flushed->remaining, flushed->outage->ToString());
  }
  if (flushed->rejected > 0) {
    logging::Error("{} report(s) refused by the server, kept in the outbox's rejected/",
                  flushed->rejected);
  }
  logging::Info("reports: {} sent, {} already stored", flushed->sent, flushed->duplicates);
}

// Every outcome goes to the outbox first; delivery is attempted at once and otherwise later.
void ReportUpdate(const report::Reporting& reporting, const CliOptions& options,
                  const std::string& from_version,
                  const Result<update::OnlineUpdateResult>& result) {
  Status queued =
      result ? report::EnqueueUpdateReports(reporting, options.state_dir, from_version,
                                            result->recovered, result->transaction, nullptr)
             : report::EnqueueUpdateReports(reporting, options.state_dir, from_version,
                                            std::nullopt, std::nullopt, &result.error());
  if (!queued) logging::Error("report not queued: {}", queued.error().ToString());
  LogFlush(report::FlushReports(reporting));
}

int RunReportFlush(const CliOptions& options) {
  constexpr std::string_view kCommand = "report flush";
  auto reporting = report::LoadReporting(options.reporting, options.state_dir);
  if (!reporting) return Fail(options, kCommand, reporting.error());
  if (!*reporting || !(*reporting)->server) {
    return Fail(options, kCommand,
                Error(ErrorKind::kInvalidArgument,
                      "needs --report-server and the device identity (--device-id or "
                      "--device-cert)"));
  }
  Result<report::FlushResult> flushed = report::FlushReports(**reporting);
  if (!flushed) return Fail(options, kCommand, flushed.error());
  if (options.json) {
    json::Value out = json::Value::MakeObject(
        {{"command", kCommand},
         {"ok", !flushed->outage},
         {"sent", static_cast<int64_t>(flushed->sent)},
         {"duplicates", static_cast<int64_t>(flushed->duplicates)},
         {"rejected", static_cast<int64_t>(flushed->rejected)},
         {"remaining", static_cast<int64_t>(flushed->remaining)}});
    PrintJson(out);
  } else {
    std::printf("%d sent, %d already stored, %d rejected, %d waiting\n", flushed->sent,
                flushed->duplicates, flushed->rejected, flushed->remaining);
  }
  if (flushed->outage) return Fail(options, kCommand, *flushed->outage);
  return kExitSuccess;
}

int RunUpdate(const CliOptions& options) {
  constexpr std::string_view kCommand = "update";
  if (Status ok = Require(kCommand, {{options.metadata_dir, "--metadata-dir"},
                                     {options.metadata_url, "--metadata-url"},
                                     {options.target_base_url, "--target-base-url"},
                                     {options.state_dir, "--state-dir"},
                                     {options.install_root, "--install-root"},
                                     {options.hardware_id, "--hardware-id"}});
      !ok) {
    return Fail(options, kCommand, ok.error());
  }
  if (options.health_timeout_s <= 0) {
    return Fail(options, kCommand,
                Error(ErrorKind::kInvalidArgument, "--health-timeout must be positive"));
  }
  Result<std::unique_ptr<client::Fetcher>> transport = MakeFetcher(options);
  if (!transport) return Fail(options, kCommand, transport.error());
  LoggingFetcher fetcher(**transport);
  const client::SystemClock clock;
  Result<policy::AgentConfig> config = EffectiveConfig(options);
  if (!config) return Fail(options, kCommand, config.error());
  Result<std::unique_ptr<commands::AgentServices>> services =
      commands::AgentServices::Open(ServicesOptionsOf(options, *config), clock);
  if (!services) return Fail(options, kCommand, services.error());
  update::OnlineUpdateOptions update_options = UpdateOptionsOf(options);
  (*services)->Configure(update_options);
  update::ProgressBar bar(stderr, ShowProgress(options));
  update_options.staging = StagingOf(*config, &bar);
  auto reporting = report::LoadReporting(options.reporting, options.state_dir);
  if (!reporting) return Fail(options, kCommand, reporting.error());
  const std::string from_version =
      *reporting ? report::InstalledVersion(options.state_dir) : std::string();
  Result<update::OnlineUpdateResult> result =
      update::UpdateOnce(update_options, fetcher, clock, (*services)->health());
  if (Status logged = (*services)->RecordUpdate(result); !logged) {
    logging::Warn("security event log: {}", logged.error().ToString());
  }
  if (*reporting) ReportUpdate(**reporting, options, from_version, result);
  if (!result) return Fail(options, kCommand, result.error());

  if (result->recovered) {
    logging::Warn("recovered an interrupted transaction: {}",
                 DescribeTransaction(*result->recovered));
  }
  for (const update::Rejection& rejection : result->selection.rejected) {
    logging::Info("not eligible: {}: {}: {}", rejection.name, update::ReasonName(rejection.reason),
                 rejection.message);
  }
  const bool ok =
      !result->transaction || result->transaction->outcome == update::Outcome::kCommitted;
  if (options.json) {
    json::Array rejected;
    for (const update::Rejection& rejection : result->selection.rejected) {
      rejected.push_back(json::Value::MakeObject({{"name", rejection.name},
                                                  {"reason", update::ReasonName(rejection.reason)},
                                                  {"message", rejection.message}}));
    }
    json::Value out = json::Value::MakeObject({{"command", kCommand},
                                               {"ok", ok},
                                               {"rejected", std::move(rejected)}});
    out.Set("recovered", result->recovered ? TransactionJson(*result->recovered) : json::Value());
    out.Set("result", result->transaction ? TransactionJson(*result->transaction) : json::Value());
    PrintJson(out);
  }
  if (!result->transaction) {
    if (!options.json) std::printf("no update for this device\n");
    return kExitSuccess;
  }
  if (!ok) return TransactionFailed(kCommand, *result->transaction);
  if (!options.json) std::printf("%s\n", DescribeTransaction(*result->transaction).c_str());
  return kExitSuccess;
}

int RunStatus(const CliOptions& options) {
  constexpr std::string_view kCommand = "status";
  if (Status ok = Require(kCommand, {{options.state_dir, "--state-dir"}}); !ok) {
    return Fail(options, kCommand, ok.error());
  }
  Result<update::StateStore> store = update::StateStore::Open(options.state_dir);
  if (!store) return Fail(options, kCommand, store.error());
  Result<update::DeviceState> state = store->Load();
  if (!state) return Fail(options, kCommand, state.error());
  if (state->floor_restored) {
    logging::Warn("state.json held a lower security floor than its second copy; restored {}",
                 state->security_floor);
  }
  if (options.json) {
    Result<json::Value> parsed = json::Parse(update::SerializeState(*state));
    if (!parsed) return Fail(options, kCommand, parsed.error());
    PrintJson(json::Value::MakeObject({{"command", kCommand},
                                       {"ok", true},
                                       {"state", std::move(*parsed)},
                                       {"floor_restored", state->floor_restored}}));
    return kExitSuccess;
  }
  auto show = [](const char* label, const std::optional<update::Installation>& installation) {
    if (installation) {
      std::printf("%s: %s %s (security_version %lld, slot %s)\n", label,
                  installation->target.name.c_str(), installation->target.version.c_str(),
                  static_cast<long long>(installation->target.security_version),
                  installation->slot.c_str());
    } else {
      std::printf("%s: none\n", label);
    }
  };
  show("installed", state->installed);
  show("previous", state->previous);
  std::printf("security floor: %lld\n", static_cast<long long>(state->security_floor));
  if (state->pending) {
    std::printf("pending: %s %s (phase %s; run update or rollback to recover)\n",
                state->pending->target.name.c_str(), state->pending->target.version.c_str(),
                std::string(update::PhaseName(state->pending->phase)).c_str());
  } else {
    std::printf("pending: none\n");
  }
  if (state->last_result) {
    update::TransactionResult last{state->last_result->outcome, state->last_result->reason,
                                   state->last_result->message, state->last_result->target,
                                   std::nullopt};
    std::printf("last result: %s\n", DescribeTransaction(last).c_str());
  } else {
    std::printf("last result: none\n");
  }
  return kExitSuccess;
}

int RunRollback(const CliOptions& options) {
  constexpr std::string_view kCommand = "rollback";
  if (Status ok = Require(kCommand, {{options.state_dir, "--state-dir"},
                                     {options.install_root, "--install-root"}});
      !ok) {
    return Fail(options, kCommand, ok.error());
  }
  const client::SystemClock clock;
  Result<policy::AgentConfig> config = EffectiveConfig(options);
  if (!config) return Fail(options, kCommand, config.error());
  Result<std::unique_ptr<commands::AgentServices>> services =
      commands::AgentServices::Open(ServicesOptionsOf(options, *config), clock);
  if (!services) return Fail(options, kCommand, services.error());
  // Manual rollbacks need an authorized operator when operator keys are configured.
  if (Status authorized =
          (*services)->AuthorizeOperator("rollback", "", options.authorization_file);
      !authorized) {
    return Fail(options, kCommand, authorized.error());
  }
  auto reporting = report::LoadReporting(options.reporting, options.state_dir);
  if (!reporting) return Fail(options, kCommand, reporting.error());
  const std::string from_version =
      *reporting ? report::InstalledVersion(options.state_dir) : std::string();
  std::unique_ptr<update::UpdateTransaction> owned = (*services)->MakeTransaction();
  update::UpdateTransaction& transaction = *owned;
  Result<std::optional<update::TransactionResult>> recovered = transaction.Recover();
  if (!recovered) return Fail(options, kCommand, recovered.error());
  if (recovered->has_value()) {
    logging::Warn("recovered an interrupted transaction: {}", DescribeTransaction(**recovered));
  }
  Result<update::TransactionResult> result = transaction.RollbackToPrevious();
  if (!result) return Fail(options, kCommand, result.error());
  if (Status logged = (*services)->RecordTransaction(*result, kCommand); !logged) {
    logging::Warn("security event log: {}", logged.error().ToString());
  }
  // Reported like an update: the outcome, then the inventory (now the previous release). A
  // refusal about no target (nothing to roll back to) is not an installation.
  if (*reporting && !result->target.name.empty()) {
    Status queued = report::EnqueueUpdateReports(**reporting, options.state_dir, from_version,
                                                 *recovered, *result, nullptr);
    if (!queued) logging::Error("report not queued: {}", queued.error().ToString());
    LogFlush(report::FlushReports(**reporting));
  }
  const bool ok = result->outcome == update::Outcome::kCommitted;
  if (options.json) {
    PrintJson(json::Value::MakeObject(
        {{"command", kCommand}, {"ok", ok}, {"result", TransactionJson(*result)}}));
  }
  if (!ok) return TransactionFailed(kCommand, *result);
  if (!options.json) std::printf("%s\n", DescribeTransaction(*result).c_str());
  return kExitSuccess;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CliOptions options;
  CLI::App app{
      "client-agent: the device side of the medical-device update system.\n"
      "TUF client mode: init (trust a root file), refresh (update trusted metadata),\n"
      "download (refresh, then fetch verified targets).\n"
      "Update flow: update (one shot), status, rollback.\n"
      "Exit status 0 on success, 1 on failure."};
  app.name("client-agent");
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too

  app.add_option("--metadata-dir", options.metadata_dir,
                 "directory of the trusted metadata (root.json, timestamp.json, ...)");
  app.add_option("--metadata-url", options.metadata_url,
                 "base URL of the repository's metadata (http://, https:// or file://)");
  // Exactly one value per occurrence, taken verbatim: a target may be called "refresh" or "-x".
  app.add_option("--target-name", options.target_names,
                 "target path to download (repeat the option for several)")
      ->allow_extra_args(false);
  app.add_option("--target-dir", options.target_dir, "directory that receives the targets");
  app.add_option("--target-base-url", options.target_base_url, "base URL of the targets");
  app.add_flag("--json", options.json, "print the result as one JSON object on stdout");
  app.add_flag("-v,--verbose", options.verbosity,
               "log to stderr (-v requests and results, -vv every decision)");
  app.add_option("--timeout", options.timeout_s,
                 "seconds a single download may take in total (0: no limit)")
      ->capture_default_str();
  app.add_option("--connect-timeout", options.connect_timeout_s,
                 "seconds to establish a connection")
      ->capture_default_str();
  app.add_option("--min-speed", options.min_speed,
                 "bytes/s below which a download is aborted (slow retrieval; 0: off)")
      ->capture_default_str();
  app.add_option("--min-speed-time", options.min_speed_time_s,
                 "seconds a download may stay below --min-speed")
      ->capture_default_str();
  app.add_option("--ca-file", options.ca_file,
                 "PEM file of trusted CAs for https (default: system)");
  app.add_option("--proxy", options.proxy,
                 "HTTP(S) proxy URL (environment proxy variables are ignored)");
  app.add_option("--state-dir", options.state_dir,
                 "device state directory (state.json, security_floor, staging/)");
  app.add_option("--install-root", options.install_root,
                 "ab-dir installer root (slot-a, slot-b, current)");
  app.add_option("--hardware-id", options.hardware_id, "this device's hardware id");
  app.add_option("--health-check", options.health_check,
                 "command run with /bin/sh -c after activation (MDU_SLOT names the slot); "
                 "exit 0 commits, anything else rolls back (default: none, always passes)");
  app.add_option("--health-timeout", options.health_timeout_s,
                 "seconds the health check may run before it is killed and the update rolled "
                 "back")
      ->capture_default_str();

  app.add_flag("-q,--quiet", options.quiet, "no download progress bar on the terminal");
  app.add_option("--tls-server-name", options.tls_server_name,
                 "name expected in the grpcs:// repository's certificate (default: its host)");
  app.add_option("--config", options.config_file,
                 "agent config (JSON): maintenance windows, approval, busy hook, operator keys, "
                 "installer, configuration backup, polling (default: none of them)");
  // Limits with a config-file twin: only a value given here overrides the file (bounds are
  // checked in policy::ApplyCommandLine, the same as for the file).
  for (const policy::LimitOption& limit : policy::LimitOptions()) {
    std::optional<int64_t>& given = options.limits.*limit.given;
    app.add_option_function<int64_t>(
        std::string(limit.flag), [&given](const int64_t& value) { given = value; },
        std::string(limit.help));
  }
  app.add_option("--authorization", options.authorization_file,
                 "operator authorization file for rollback/approve (when operator keys are "
                 "configured)");

  app.add_option("--report-server", options.reporting.server,
                 "repo-server HOST:PORT that receives the device's reports (mutual TLS)");
  app.add_option("--device-id", options.reporting.device_id,
                 "this device's id (default: the --device-cert's urn:mdu:device:<id>)");
  app.add_option("--device-cert", options.reporting.device_cert,
                 "PEM device certificate (TLS client identity)");
  app.add_option("--device-key", options.reporting.device_key,
                 "PEM private key of --device-cert; signs every report");
  app.add_option("--ca-cert", options.reporting.ca_cert, "PEM CA of the report server");
  app.add_option("--report-server-name", options.reporting.server_name,
                 "TLS name expected in the report server's certificate (default: its host)");
  app.add_flag("--report-plaintext", options.reporting.plaintext,
               "no TLS to the report server (only for repo-server --insecure on loopback)");
  app.add_option("--outbox-dir", options.reporting.outbox_dir,
                 "pending reports (default: <state-dir>/outbox)");

  CLI::App* init = app.add_subcommand("init", "trust ROOT_FILE as the first root (no network)");
  init->add_option("ROOT_FILE", options.root_file, "root metadata shipped with the device")
      ->required();
  CLI::App* refresh = app.add_subcommand(
      "refresh", "update the trusted metadata from --metadata-url (TUF client workflow)");
  refresh->footer(
      "Needs the global options --metadata-url and --metadata-dir (before 'refresh').\n");
  init->footer("Needs the global option --metadata-dir (before 'init').\n");
  CLI::App* download = app.add_subcommand(
      "download", "refresh, then download each --target-name verified into --target-dir");
  download->footer(
      "Each target is stored as --target-dir/<target path percent-encoded> (python-tuf's\n"
      "quote(path, '')); a copy there whose length and hashes match is not fetched again.\n"
      "Global options (--metadata-url, --target-name, ...) come before the subcommand: see\n"
      "client-agent --help.\n");

  CLI::App* update_cmd = app.add_subcommand(
      "update", "one update: recover, refresh, select, download verified, install, check, "
                "commit or roll back");
  update_cmd->footer(
      "Needs --metadata-dir, --metadata-url, --target-base-url, --state-dir, --install-root and\n"
      "--hardware-id (before 'update'). Candidates: the --target-name targets, else every target\n"
      "of the top-level targets role. Exit 0 when committed or nothing is eligible, 1 when the\n"
      "update was refused or rolled back (reason code on stderr and in --json).\n");
  CLI::App* status_cmd = app.add_subcommand(
      "status", "installed and previous version, security floor, pending transaction, last "
                "result (read-only)");
  status_cmd->footer("Needs --state-dir (before 'status').\n");
  CLI::App* rollback_cmd = app.add_subcommand(
      "rollback", "go back to the previous installation kept in the other slot");
  rollback_cmd->footer(
      "Needs --state-dir and --install-root (before 'rollback'). Refused below the security\n"
      "floor. Runs the health check like an update.\n");

  CLI::App* events_cmd = app.add_subcommand(
      "events", "the security event log (hash-chained); --verify checks the chain");
  events_cmd->add_flag("--verify", options.verify_events,
                       "check the hash chain and the head; exit 1 if the log was altered");
  events_cmd->footer("Needs --state-dir (before 'events').\n");
  CLI::App* approve_cmd =
      app.add_subcommand("approve", "local operator approval to install TARGET (require_approval)");
  approve_cmd->add_option("TARGET", options.approve_target, "target path to approve")->required();
  approve_cmd->footer(
      "Needs --state-dir (and --authorization with operator keys configured).\n");
  CLI::App* check_cmd = app.add_subcommand(
      "check", "is an update available, which would be selected, the policy verdict (no install)");
  check_cmd->footer(
      "Needs --metadata-dir, --metadata-url, --state-dir and --hardware-id (before 'check').\n");
  CLI::App* run_cmd = app.add_subcommand(
      "run", "daemon: update every poll interval (jitter, backoff); SIGTERM stops it safely");
  run_cmd->add_option("--max-cycles", options.max_cycles,
                      "stop after this many update cycles (0: run until SIGTERM)")
      ->capture_default_str();
  run_cmd->footer("Needs the options of 'update'; polling comes from --config.\n");
  CLI::App* sbom_cmd = app.add_subcommand(
      "sbom", "the verified SBOM (its own signed target) of the installed release");
  sbom_cmd->footer(
      "Needs --metadata-dir, --metadata-url, --target-base-url and --state-dir.\n");

  CLI::App* report_cmd = app.add_subcommand("report", "device reports (outbox)");
  CLI::App* report_flush = report_cmd->add_subcommand(
      "flush", "send the reports waiting in the outbox (signed, each stored once)");
  report_cmd->require_subcommand(1);
  report_flush->footer(
      "Needs --report-server and --device-cert/--device-key/--ca-cert (or --device-id with\n"
      "--report-plaintext). Exit 0 when the outbox is empty afterwards, 1 when the server was\n"
      "unreachable (reports stay and are sent by the next flush or update).\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);  // prints help (code 0) or the usage error
    return code == 0 ? kExitSuccess : kExitFailure;
  }

  ConfigureLogging(options.verbosity);
  try {
    if (init->parsed()) return RunInit(options);
    if (refresh->parsed()) return RunRefresh(options);
    if (download->parsed()) return RunDownload(options);
    if (update_cmd->parsed()) return RunUpdate(options);
    if (status_cmd->parsed()) return RunStatus(options);
    if (rollback_cmd->parsed()) return RunRollback(options);
    if (report_flush->parsed()) return RunReportFlush(options);
    if (events_cmd->parsed()) return RunAgentCommand(options, "events", false, commands::RunEvents);
    if (approve_cmd->parsed()) {
      return RunAgentCommand(options, "approve", false, commands::RunApprove);
    }
    if (check_cmd->parsed()) return RunAgentCommand(options, "check", true, commands::RunCheck);
    if (run_cmd->parsed()) return RunAgentCommand(options, "run", true, commands::RunDaemon);
    if (sbom_cmd->parsed()) return RunAgentCommand(options, "sbom", true, commands::RunSbom);
  } catch (const std::exception& error) {
    // Nothing of ours throws; this is the edge for std::bad_alloc and library surprises.
    return Fail(options, "client-agent", Error(ErrorKind::kInternal, error.what()));
  }
  return kExitFailure;
}

}  // namespace mdu::agent
