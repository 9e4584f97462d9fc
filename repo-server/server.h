// The repo-server program as a library function, so tests can run it in-process and main()
// stays one line. Parses the command line and --config file (repo-server/config.h), opens the
// store, verifies it against the configured trusted root, serves DeviceService and
// OperatorService (on one listener, or two with --operator-listen), gRPC health and
// reflection, re-signs timestamp.json (and snapshot.json) on schedule with online keys from
// encrypted key files, and shuts down gracefully on SIGTERM or SIGINT.
//
// Returns the process exit code: 0 after a clean shutdown (or --help), 1 on a usage or startup
// error (printed to stderr / the log with the reason).
#ifndef MDU_REPO_SERVER_SERVER_H_
#define MDU_REPO_SERVER_SERVER_H_

namespace mdu::server {

int RunRepoServer(int argc, char** argv);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_SERVER_H_
