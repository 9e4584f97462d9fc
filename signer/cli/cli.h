// The `signer` command line: the offline tool of the release engineer.
//
// RunCli builds the CLI11 application, registers every subcommand (see commands.h), parses
// argv, runs the chosen command and returns the process exit status. It never throws: CLI11's
// exceptions are caught here, at its edge.
//
// Exit status: 0 success; 1 the command failed (message on stderr; with --json also a JSON
// object on stdout); 2 usage error (bad or missing options and arguments).
#ifndef MDU_SIGNER_CLI_CLI_H_
#define MDU_SIGNER_CLI_CLI_H_

#include <ostream>

namespace mdu::signer {

int RunCli(int argc, char** argv);
// Same, writing to the given streams instead of std::cout/std::cerr (for in-process tests).
int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace mdu::signer

#endif  // MDU_SIGNER_CLI_CLI_H_
