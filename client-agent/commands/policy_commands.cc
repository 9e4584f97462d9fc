#include "client-agent/commands/policy_commands.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "client-agent/commands/cli_output.h"
#include "client-agent/update/selection.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::agent::commands {
namespace {

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;

int Fail(const CommandContext& context, std::string_view command, const Error& error) {
  return ReportFailure(context.json, command, error);
}

void Warn(const Status& status) {
  if (!status) {
    std::fprintf(stderr, "client-agent: warning: security event log: %s\n",
                 OneLine(status.error().ToString()).c_str());
  }
}

Result<std::unique_ptr<AgentServices>> OpenServices(const CommandContext& context,
                                                    bool with_installer) {
  if (context.clock == nullptr) return MakeError(ErrorKind::kInternal, "no clock");
  ServicesOptions options = context.services;
  if (!with_installer) options.install_root.clear();
  return AgentServices::Open(options, *context.clock);
}

std::string TrimSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// A refreshed updater over the context's repository; the metadata store lives in `store`.
Result<std::unique_ptr<client::Updater>> Refreshed(const CommandContext& context,
                                                   std::optional<client::FileMetadataStore>& store) {
  const update::OnlineUpdateOptions& repo = context.update;
  if (repo.metadata_dir.empty() || repo.metadata_url.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "needs --metadata-dir and --metadata-url");
  }
  if (context.fetcher == nullptr) return MakeError(ErrorKind::kInternal, "no fetcher");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(repo.metadata_dir / "root.json", ec)) {
    return MakeError(ErrorKind::kNotFound, "metadata directory " + repo.metadata_dir.string() +
                                               " holds no trusted root.json (run init first)");
  }
  MDU_ASSIGN_OR_RETURN(store, client::FileMetadataStore::Open(repo.metadata_dir));
  client::UpdaterConfig config;
  config.metadata_base_url = TrimSlashes(repo.metadata_url);
  config.targets_base_url = TrimSlashes(repo.target_base_url);
  auto updater = std::make_unique<client::Updater>(config, *context.fetcher, *store,
                                                   *context.clock);
  MDU_RETURN_IF_ERROR(updater->Refresh());
  return updater;
}

// Refresh/download failures that stand for an attack become security events.
void RecordError(AgentServices& services, std::string_view command, const Error& error) {
  if (std::optional<events::EventType> type = events::EventForErrorKind(error.kind())) {
    Warn(events::AppendIfConfigured(&services.log(),
                                    {*type, std::string(command), error.ToString()}));
  }
}

json::Value VerdictJson(const policy::Verdict& verdict) {
  return json::Value::MakeObject({{"allowed", verdict.allowed},
                                  {"reason", update::ReasonName(verdict.reason)},
                                  {"message", verdict.message}});
}

// ---- run: signal handling ----

std::atomic<bool> g_stop_requested{false};

void OnStopSignal(int /*signal*/) { g_stop_requested.store(true); }

// Installs SIGTERM/SIGINT handlers for the daemon's lifetime (restored afterwards, so tests
// running the CLI in-process keep their dispositions). No SA_RESTART: a sleeping poll wakes up.
class StopSignals {
 public:
  StopSignals() {
    g_stop_requested.store(false);
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, &old_term_);
    ::sigaction(SIGINT, &action, &old_int_);
  }
  ~StopSignals() {
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  static bool requested() { return g_stop_requested.load(); }

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

void SleepUnlessStopped(std::chrono::seconds delay) {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (!StopSignals::requested() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void WarnReports(const Status& status) {
  if (!status) {
    std::fprintf(stderr, "client-agent: warning: report not queued: %s\n",
                 OneLine(status.error().ToString()).c_str());
  }
}

// One flush of the outbox; false when the report server could not be reached (or the outbox
// could not be read), so the daemon retries with backoff. Reports are never dropped here: they
// leave the outbox only once acknowledged, and a resend is stored once (same report id).
bool FlushForDaemon(const report::Reporting& reporting) {
  Result<report::FlushResult> flushed = report::FlushReports(reporting);
  if (!flushed) {
    std::fprintf(stderr, "client-agent: run: reports not sent: %s\n",
                 OneLine(flushed.error().ToString()).c_str());
    return false;
  }
  if (flushed->rejected > 0) {
    std::fprintf(stderr,
                 "client-agent: run: %d report(s) refused by the server, kept in rejected/\n",
                 flushed->rejected);
  }
  if (flushed->outage) {
    std::fprintf(stderr,
                 "client-agent: run: report server unreachable; %d report(s) wait in the "
                 "outbox: %s\n",
                 flushed->remaining, OneLine(flushed->outage->ToString()).c_str());
    return false;
  }
  return true;
}

// One update cycle of the daemon (or a skipped one outside the maintenance windows); its
// outcome is queued for the report server. Returns the delay before the next cycle.
std::chrono::seconds RunCycle(const CommandContext& context, AgentServices& services,
                              int64_t cycle, int& failures, std::mt19937_64& random) {
  const policy::PollConfig& poll = services.config().poll;
  if (policy::Verdict window = services.policy().CheckWindow(); !window.allowed) {
    std::fprintf(stderr, "client-agent: run: %s\n", window.message.c_str());
    std::chrono::seconds delay = NextPollDelay(poll, 0, random());
    const std::optional<int> opens = policy::MinutesUntilNextWindow(
        services.config().maintenance_windows, policy::ToLocalTime(context.clock->Now()));
    if (opens && *opens > 0) delay = std::min(delay, std::chrono::seconds(*opens * 60));
    return delay;
  }
  update::OnlineUpdateOptions options = context.update;
  services.Configure(options);
  // A stop request is honoured at the next phase boundary: no install starts after it.
  options.admit = [inner = options.admit](const update::Selected& selected)
      -> std::optional<update::Rejection> {
    if (StopSignals::requested()) {
      return update::Rejection{selected.name, update::Reason::kInterrupted,
                               "the agent is stopping; the install waits for the next start"};
    }
    return inner(selected);
  };
  const std::string from_version = context.reporting != nullptr
                                       ? report::InstalledVersion(context.update.state_dir)
                                       : std::string();
  Result<update::OnlineUpdateResult> result =
      update::UpdateOnce(options, *context.fetcher, *context.clock, services.health());
  Warn(services.RecordUpdate(result));
  if (context.reporting != nullptr) {
    WarnReports(result ? report::EnqueueUpdateReports(*context.reporting,
                                                      context.update.state_dir, from_version,
                                                      result->recovered, result->transaction,
                                                      nullptr)
                       : report::EnqueueUpdateReports(*context.reporting,
                                                      context.update.state_dir, from_version,
                                                      std::nullopt, std::nullopt,
                                                      &result.error()));
  }
  if (!result) {
    ++failures;
    std::fprintf(stderr, "client-agent: run: cycle %lld failed: %s\n",
                 static_cast<long long>(cycle), OneLine(result.error().ToString()).c_str());
  } else {
    failures = 0;
    if (result->recovered) std::printf("recovered: %s\n", DescribeTransaction(*result->recovered).c_str());
    if (result->transaction) {
      std::printf("%s\n", DescribeTransaction(*result->transaction).c_str());
    } else {
      std::printf("no update for this device\n");
    }
  }
  std::fflush(stdout);
  return NextPollDelay(poll, failures, random());
}

}  // namespace

std::chrono::seconds NextPollDelay(const policy::PollConfig& poll, int failures,
                                   uint64_t random) {
  int64_t base = poll.interval.count();
  if (failures > 0) {
    constexpr int64_t kFirstRetry = 30;
    base = kFirstRetry;
    for (int i = 1; i < failures && base < poll.max_backoff.count(); ++i) base *= 2;
    base = std::min(base, static_cast<int64_t>(poll.max_backoff.count()));
  }
  const int64_t jitter = poll.jitter.count();
  int64_t delay = base;
  if (jitter > 0) {
    delay += static_cast<int64_t>(random % static_cast<uint64_t>(2 * jitter + 1)) - jitter;
  }
  return std::chrono::seconds(std::max<int64_t>(delay, 1));
}

std::chrono::seconds NextWakeDelay(std::chrono::seconds until_update, int report_failures,
                                   const policy::PollConfig& poll, uint64_t random) {
  if (report_failures <= 0) return until_update;
  return std::min(until_update, NextPollDelay(poll, report_failures, random));
}

int RunEvents(const CommandContext& context) {
  constexpr std::string_view kCommand = "events";
  Result<std::unique_ptr<AgentServices>> services = OpenServices(context, false);
  if (!services) return Fail(context, kCommand, services.error());
  events::SecurityLog& log = (*services)->log();
  std::optional<events::VerifyReport> report;
  if (context.verify) {
    Result<events::VerifyReport> verified = log.Verify();
    if (!verified) return Fail(context, kCommand, verified.error());
    report = *verified;
  }
  // A damaged log is still shown as far as it parses: the evidence matters most then.
  Result<std::vector<events::EventRecord>> records = log.ReadAll();
  if (!records && !(report && !report->ok)) return Fail(context, kCommand, records.error());
  const std::vector<events::EventRecord> shown = records ? *records : std::vector<events::EventRecord>{};
  const bool ok = !report || report->ok;
  if (context.json) {
    json::Array items;
    for (const events::EventRecord& record : shown) items.push_back(events::RecordToJson(record));
    json::Value out =
        json::Value::MakeObject({{"command", kCommand}, {"ok", ok}, {"events", std::move(items)}});
    if (report) {
      json::Value verify = json::Value::MakeObject({{"intact", report->ok},
                                                    {"records", static_cast<int64_t>(report->records)},
                                                    {"torn_tail", report->torn_tail},
                                                    {"problem", report->problem}});
      verify.Set("segments", static_cast<int64_t>(report->segments));
      verify.Set("dropped_through", static_cast<int64_t>(report->dropped_through));
      verify.Set("file", report->file.empty() ? json::Value() : json::Value(report->file));
      verify.Set("bad_line",
                 report->bad_line ? json::Value(static_cast<int64_t>(*report->bad_line)) : json::Value());
      out.Set("verify", std::move(verify));
    }
    PrintJson(out);
  } else {
    for (const events::EventRecord& record : shown) {
      std::printf("%llu %s %s %s: %s\n", static_cast<unsigned long long>(record.seq),
                  metadata::FormatExpires(record.time).c_str(), record.type.c_str(),
                  record.subject.c_str(), OneLine(record.detail).c_str());
    }
    if (report && report->ok) {
      std::printf("verified: %llu records in %llu file(s), hash chain intact%s%s\n",
                  static_cast<unsigned long long>(report->records),
                  static_cast<unsigned long long>(report->segments),
                  report->dropped_through > 0
                      ? (" (records 1-" + std::to_string(report->dropped_through) +
                         " dropped by rotation)")
                            .c_str()
                      : "",
                  report->torn_tail ? " (a torn last line from a crash is ignored)" : "");
    }
  }
  if (!ok) {
    // Recorded after the check, so the tampering itself is in the log from now on.
    Warn(events::AppendIfConfigured(
        &log, {events::EventType::kLogTampered, report->file,
               "line " + std::to_string(report->bad_line.value_or(0)) + ": " + report->problem}));
    std::fprintf(stderr,
                 "client-agent: events failed: the security event log was altered: %s line %llu: "
                 "%s\n",
                 report->file.c_str(), static_cast<unsigned long long>(report->bad_line.value_or(0)),
                 report->problem.c_str());
    return kExitFailure;
  }
  return kExitSuccess;
}

int RunApprove(const CommandContext& context) {
  constexpr std::string_view kCommand = "approve";
  if (context.target.empty()) {
    return Fail(context, kCommand, Error(ErrorKind::kInvalidArgument, "approve needs TARGET"));
  }
  Result<std::unique_ptr<AgentServices>> services = OpenServices(context, false);
  if (!services) return Fail(context, kCommand, services.error());
  Status authorized =
      (*services)->AuthorizeOperator("approve", context.target, context.authorization_file);
  if (!authorized) return Fail(context, kCommand, authorized.error());
  Result<policy::Approval> approval = (*services)->policy().Approve(context.target);
  if (!approval) return Fail(context, kCommand, approval.error());
  if (context.json) {
    PrintJson(json::Value::MakeObject({{"command", kCommand},
                                       {"ok", true},
                                       {"target", approval->target},
                                       {"expires", metadata::FormatExpires(approval->expires)}}));
  } else {
    std::printf("approved %s until %s\n", approval->target.c_str(),
                metadata::FormatExpires(approval->expires).c_str());
  }
  return kExitSuccess;
}

int RunCheck(const CommandContext& context) {
  constexpr std::string_view kCommand = "check";
  Result<std::unique_ptr<AgentServices>> opened = OpenServices(context, false);
  if (!opened) return Fail(context, kCommand, opened.error());
  AgentServices& services = **opened;
  std::optional<client::FileMetadataStore> store;
  Result<std::unique_ptr<client::Updater>> updater = Refreshed(context, store);
  if (!updater) {
    RecordError(services, kCommand, updater.error());
    return Fail(context, kCommand, updater.error());
  }
  std::vector<update::Candidate> candidates;
  if (context.update.target_names.empty()) {
    const metadata::Targets* top = (*updater)->trusted_set()->targets();
    if (top != nullptr) {
      for (const auto& [name, file] : top->targets) candidates.push_back({name, file});
    }
  } else {
    for (const std::string& name : context.update.target_names) {
      Result<std::optional<client::TargetMatch>> info = (*updater)->GetTargetInfo(name);
      if (!info) return Fail(context, kCommand, info.error());
      if (info->has_value()) candidates.push_back({name, (*info)->file});
    }
  }
  Result<update::DeviceState> state = services.store().Load();
  if (!state) return Fail(context, kCommand, state.error());
  const update::DeviceFacts device{
      context.update.hardware_id,
      state->installed ? state->installed->target.version : std::string(), state->security_floor};
  Result<update::SelectionResult> selection = update::SelectTarget(device, candidates);
  if (!selection) return Fail(context, kCommand, selection.error());
  std::optional<policy::Verdict> verdict;
  if (selection->selected) {
    Result<policy::Verdict> checked = services.policy().CheckWithoutHook(selection->selected->name);
    if (!checked) return Fail(context, kCommand, checked.error());
    verdict = *checked;
  }
  if (context.json) {
    json::Array rejected;
    for (const update::Rejection& rejection : selection->rejected) {
      rejected.push_back(json::Value::MakeObject({{"name", rejection.name},
                                                  {"reason", update::ReasonName(rejection.reason)},
                                                  {"message", rejection.message}}));
    }
    json::Value out = json::Value::MakeObject(
        {{"command", kCommand}, {"ok", true}, {"rejected", std::move(rejected)}});
    out.Set("installed", state->installed ? json::Value(state->installed->target.version)
                                          : json::Value());
    if (selection->selected) {
      const update::TargetRecord& record = selection->selected->record;
      out.Set("selected", json::Value::MakeObject(
                              {{"name", record.name},
                               {"version", record.version},
                               {"sha256", record.sha256},
                               {"security_version", record.security_version}}));
      out.Set("policy", VerdictJson(*verdict));
    } else {
      out.Set("selected", json::Value());
      out.Set("policy", json::Value());
    }
    PrintJson(out);
  } else if (!selection->selected) {
    std::printf("no update for this device\n");
  } else {
    const update::TargetRecord& record = selection->selected->record;
    std::printf("update available: %s %s (security_version %lld)\n", record.name.c_str(),
                record.version.c_str(), static_cast<long long>(record.security_version));
    if (verdict->allowed) {
      std::printf("policy: install allowed now (the device busy hook is asked at install)\n");
    } else {
      std::printf("policy: not now: %s: %s\n", std::string(update::ReasonName(verdict->reason)).c_str(),
                  OneLine(verdict->message).c_str());
    }
  }
  return kExitSuccess;
}

int RunDaemon(const CommandContext& context) {
  constexpr std::string_view kCommand = "run";
  Result<std::unique_ptr<AgentServices>> opened = OpenServices(context, true);
  if (!opened) return Fail(context, kCommand, opened.error());
  AgentServices& services = **opened;
  if (services.installer() == nullptr) {
    return Fail(context, kCommand, Error(ErrorKind::kInvalidArgument, "run needs --install-root"));
  }
  if (context.fetcher == nullptr) return Fail(context, kCommand, Error(ErrorKind::kInternal, "no fetcher"));
  StopSignals signals;
  std::mt19937_64 random(std::random_device{}());
  const policy::PollConfig& poll = services.config().poll;
  // What runs now, so the server learns it even if no update ever comes (and reports left from
  // the last run go out first).
  if (context.reporting != nullptr) {
    WarnReports(report::EnqueueInventory(*context.reporting, context.update.state_dir));
  }
  int failures = 0;         // consecutive failed update cycles
  int report_failures = 0;  // consecutive flushes stopped by an unreachable report server
  bool update_due = true;
  auto next_update = std::chrono::steady_clock::now();
  for (int64_t cycle = 1; !StopSignals::requested();) {
    if (update_due) {
      const std::chrono::seconds delay = RunCycle(context, services, cycle, failures, random);
      next_update = std::chrono::steady_clock::now() + delay;
    }
    // Every wake-up flushes the outbox: reports of this cycle, and those an outage kept.
    if (context.reporting != nullptr) {
      report_failures = FlushForDaemon(*context.reporting) ? 0 : report_failures + 1;
    }
    if (update_due && context.max_cycles > 0 && cycle >= context.max_cycles) break;
    if (update_due) ++cycle;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
        next_update - std::chrono::steady_clock::now() + std::chrono::milliseconds(999));
    const std::chrono::seconds wake =
        NextWakeDelay(std::max(left, std::chrono::seconds(0)), report_failures, poll, random());
    if (report_failures > 0 && wake < left) {
      std::fprintf(stderr, "client-agent: run: retrying the reports in %lld s\n",
                   static_cast<long long>(wake.count()));
    }
    SleepUnlessStopped(wake);
    update_due = std::chrono::steady_clock::now() >= next_update;
  }
  if (StopSignals::requested()) std::fprintf(stderr, "client-agent: run: stopped by signal\n");
  return kExitSuccess;
}

int RunSbom(const CommandContext& context) {
  constexpr std::string_view kCommand = "sbom";
  Result<std::unique_ptr<AgentServices>> opened = OpenServices(context, false);
  if (!opened) return Fail(context, kCommand, opened.error());
  AgentServices& services = **opened;
  Result<update::DeviceState> state = services.store().Load();
  if (!state) return Fail(context, kCommand, state.error());
  if (!state->installed) {
    return Fail(context, kCommand, Error(ErrorKind::kNotFound, "nothing is installed"));
  }
  const std::string& name = state->installed->target.name;
  std::optional<client::FileMetadataStore> store;
  Result<std::unique_ptr<client::Updater>> updater = Refreshed(context, store);
  if (!updater) {
    RecordError(services, kCommand, updater.error());
    return Fail(context, kCommand, updater.error());
  }
  Result<std::optional<client::TargetMatch>> release = (*updater)->GetTargetInfo(name);
  if (!release) return Fail(context, kCommand, release.error());
  if (!release->has_value()) {
    return Fail(context, kCommand, Error(ErrorKind::kNotFound,
                                         "the installed target \"" + name +
                                             "\" is no longer listed by the trusted metadata"));
  }
  const json::Value* reference = (*release)->file.custom.Find("sbom");
  const json::Value* sbom_name = reference != nullptr ? reference->Find("name") : nullptr;
  const json::Value* sbom_sha = reference != nullptr ? reference->Find("sha256") : nullptr;
  if (sbom_name == nullptr || !sbom_name->is_string() || sbom_sha == nullptr ||
      !sbom_sha->is_string()) {
    return Fail(context, kCommand,
                Error(ErrorKind::kNotFound, "release \"" + name + "\" references no SBOM"));
  }
  Result<std::optional<client::TargetMatch>> sbom = (*updater)->GetTargetInfo(sbom_name->as_string());
  if (!sbom) return Fail(context, kCommand, sbom.error());
  if (!sbom->has_value()) {
    return Fail(context, kCommand,
                Error(ErrorKind::kNotFound, "SBOM target \"" + sbom_name->as_string() +
                                                "\" is not listed by the trusted metadata"));
  }
  // The release's signed reference pins the SBOM's content, not only its name.
  const std::optional<std::string_view> listed = (*sbom)->file.Sha256();
  if (!listed || *listed != sbom_sha->as_string()) {
    Error mismatch(ErrorKind::kHashMismatch, "SBOM target \"" + sbom_name->as_string() +
                                                 "\" is not the one release \"" + name +
                                                 "\" references");
    RecordError(services, kCommand, mismatch);
    return Fail(context, kCommand, mismatch);
  }
  const std::filesystem::path dir = context.update.state_dir / "sbom";
  if (Status made = io::CreateDirectories(dir); !made) return Fail(context, kCommand, made.error());
  const std::filesystem::path file = dir / client::PercentEncode(sbom_name->as_string());
  Result<bool> cached = (*updater)->IsCachedTargetValid(**sbom, file);
  if (!cached) return Fail(context, kCommand, cached.error());
  if (!*cached) {
    Status downloaded = (*updater)->DownloadTarget(**sbom, file);
    if (!downloaded) {
      RecordError(services, kCommand, downloaded.error());
      return Fail(context, kCommand, downloaded.error());
    }
  }
  Result<std::string> bytes = io::ReadFileBounded(file, 64u << 20);
  if (!bytes) return Fail(context, kCommand, bytes.error());
  const json::Value* format = (*sbom)->file.custom.Find("sbom_format");
  if (context.json) {
    Result<json::Value> document = json::Parse(*bytes);
    if (!document) return Fail(context, kCommand, document.error().WithContext("SBOM"));
    PrintJson(json::Value::MakeObject(
        {{"command", kCommand},
         {"ok", true},
         {"target", name},
         {"sbom", json::Value::MakeObject(
                      {{"name", sbom_name->as_string()},
                       {"sha256", sbom_sha->as_string()},
                       {"format", format != nullptr && format->is_string() ? *format
                                                                           : json::Value()}})},
         {"document", std::move(*document)}}));
  } else {
    std::fwrite(bytes->data(), 1, bytes->size(), stdout);
    if (!bytes->empty() && bytes->back() != '\n') std::fputc('\n', stdout);
  }
  return kExitSuccess;
}

}  // namespace mdu::agent::commands
