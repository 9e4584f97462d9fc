// The commands of issue 5 that live outside cli.cc (which only declares their options and
// calls these): events, approve, check, run (the daemon) and sbom. Each returns the process exit
// status (0 success, 1 failure) and prints like the other commands: one line on stderr per
// failure, one JSON object on stdout with --json.
//
// Ownership: the context borrows fetcher and clock for the duration of the call.
#ifndef MDU_CLIENT_AGENT_COMMANDS_POLICY_COMMANDS_H_
#define MDU_CLIENT_AGENT_COMMANDS_POLICY_COMMANDS_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "client-agent/commands/agent_services.h"
#include "client-agent/report/update_reports.h"
#include "client-agent/update/online_update.h"
#include "core/client/clock.h"
#include "core/client/fetcher.h"

namespace mdu::agent::commands {

struct CommandContext {
  ServicesOptions services;
  update::OnlineUpdateOptions update;  // repository, state, install root, hardware id, names
  std::filesystem::path authorization_file;
  bool json = false;
  bool verify = false;     // events --verify
  std::string target;      // approve TARGET
  int64_t max_cycles = 0;  // run: stop after this many cycles (tests); 0: until SIGTERM
  client::Fetcher* fetcher = nullptr;  // check, run, sbom
  // run: where reports go (client-agent/report); null when reporting is off.
  const report::Reporting* reporting = nullptr;
  const client::Clock* clock = nullptr;
};

// `events [--verify]`: the security event log; --verify checks the hash chain (exit 1 and a
// log_tampered event when it is broken).
int RunEvents(const CommandContext& context);
// `approve TARGET`: records a local operator approval (operator authorization "approve" when
// operator keys are configured).
int RunApprove(const CommandContext& context);
// `check`: refresh, selection and the policy verdict (window, approval); installs nothing.
int RunCheck(const CommandContext& context);
// `run`: the daemon (see policy_commands.cc for the loop).
int RunDaemon(const CommandContext& context);
// `sbom`: the verified SBOM of the installed release.
int RunSbom(const CommandContext& context);

// Exposed for tests: the next poll delay. interval +- jitter (uniform), or after `failures`
// consecutive failed cycles min(max_backoff, 30 s * 2^(failures-1)) + jitter, never below 1 s.
std::chrono::seconds NextPollDelay(const policy::PollConfig& poll, int failures, uint64_t random);

// Exposed for tests: how long the daemon sleeps before it wakes up again. `until_update` is the
// time left before the next update cycle; after `report_failures` consecutive flushes stopped by
// an unreachable report server it wakes earlier, after NextPollDelay(poll, report_failures), to
// flush the outbox again (without an update cycle).
std::chrono::seconds NextWakeDelay(std::chrono::seconds until_update, int report_failures,
                                   const policy::PollConfig& poll, uint64_t random);

}  // namespace mdu::agent::commands

#endif  // MDU_CLIENT_AGENT_COMMANDS_POLICY_COMMANDS_H_
