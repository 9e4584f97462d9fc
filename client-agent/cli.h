// The command line of client-agent. main() only calls RunCli, so tests can drive the whole
// program in-process.
//
// Plain, scriptable TUF client mode (issue 5), global options before the subcommand:
//   client-agent --metadata-dir MD init ROOT_FILE
//   client-agent --metadata-url URL --metadata-dir MD refresh
//   client-agent --metadata-url URL --metadata-dir MD --target-name NAME [--target-name N2 ...]
//                --target-dir TD --target-base-url TURL download
// Exit status: exactly 0 on success, 1 on any failure (including usage errors); a failure
// prints one line on stderr naming what failed ("client-agent: refresh failed: expired: ...").
// --json prints one JSON object on stdout (also on failure: {"ok": false, "error": {...}});
// -v / -vv log requests and decisions to stderr (agent_log.h). --help works on every command.
//
// Thread-safety: not reentrant (it configures the process-wide logger).
#ifndef MDU_CLIENT_AGENT_CLI_H_
#define MDU_CLIENT_AGENT_CLI_H_

namespace mdu::agent {

int RunCli(int argc, char** argv);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_CLI_H_
