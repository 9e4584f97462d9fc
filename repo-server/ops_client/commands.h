// The operator commands of the repo-server program: clients of a running server's
// OperatorService (README "Operator commands"):
//
//   repo-server publish      CONNECTION [--description TEXT] [--json] REPO_DIR
//   repo-server status       CONNECTION [--json]
//   repo-server devices      CONNECTION [--json]
//   repo-server history      CONNECTION DEVICE_ID [--json]
//   repo-server failures     CONNECTION RELEASE [--json]
//   repo-server find-devices CONNECTION [--target T] [--version V] [--sbom-sha256 H]
//                                       [--sha256 H] [--json]
//   repo-server audit list   CONNECTION [--after SEQ] [--limit N] [--json]
//
//   CONNECTION = --server HOST:PORT (--ca-cert PEM [--tls-server-name NAME] | --insecure)
//                [--token-file FILE | --token-env VAR] [--timeout SECONDS]
//
// Exit status: 0 success; 1 for everything else (usage, a local problem, the server refused,
// not found, unreachable), with a message on stderr naming the server and the gRPC status.
// Results go to stdout (a table, or JSON with --json); progress and errors to stderr.
#ifndef MDU_REPO_SERVER_OPS_CLIENT_COMMANDS_H_
#define MDU_REPO_SERVER_OPS_CLIENT_COMMANDS_H_

namespace mdu::ops {

// True when argv (the whole command line, argv[0] the program) names an operator command; the
// server's own `audit verify` is not one.
bool IsOperatorCommand(int argc, char** argv);

// Runs the command named by argv[1] (and argv[2] for `audit list`); the exit status.
int RunOperatorCommand(int argc, char** argv);

}  // namespace mdu::ops

#endif  // MDU_REPO_SERVER_OPS_CLIENT_COMMANDS_H_
