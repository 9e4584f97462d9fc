// What every subcommand shares: the global options and the way results and errors are printed.
//
// A subcommand's action returns Result<CommandOutput>; Context::Finish prints it in the form
// the user asked for and records the exit status:
//   default  `text` on stdout (human readable), errors as "signer: error: ..." on stderr;
//   --json   one JSON object on stdout: {"ok": true, ...fields of `json`} or
//            {"ok": false, "error": {"kind": "<ErrorKindName>", "message": "..."}}
//            (the error message also goes to stderr);
//   --quiet  only `quiet_text` (the essential result, e.g. a key ID) on stdout; errors still
//            go to stderr.
// Secrets must never be put into a CommandOutput.
//
// Lifetime: one Context per RunCli call; the streams must outlive it. Not thread-safe.
#ifndef MDU_SIGNER_CLI_CONTEXT_H_
#define MDU_SIGNER_CLI_CONTEXT_H_

#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/json/value.h"

namespace mdu::signer {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string workspace = ".";  // --workspace DIR: where default outputs go (keys/, ...)
  bool json = false;            // --json
  bool quiet = false;           // --quiet
};

struct CommandOutput {
  json::Value json = json::Value::EmptyObject();  // fields besides "ok"; must be an object
  std::string text;                               // human output, newline-terminated
  std::string quiet_text;                         // --quiet output (may be empty)
};

class Context {
 public:
  Context(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  GlobalOptions& options() { return options_; }
  const GlobalOptions& options() const { return options_; }
  std::filesystem::path workspace() const { return options_.workspace; }

  // Prints the result (exit status kExitOk) or the error (kExitFailure).
  void Finish(Result<CommandOutput> result);
  // Prints an error and sets the exit status to `exit_code`.
  void Fail(const Error& error, int exit_code = kExitFailure);
  // Prints only the --json error object on stdout (when --json is set); no stderr line.
  void PrintJsonError(const Error& error);
  // Progress for long operations, on stderr; silent with --quiet or --json.
  void Progress(std::string_view message);

  int exit_code() const { return exit_code_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

 private:
  std::ostream& out_;
  std::ostream& err_;
  GlobalOptions options_;
  int exit_code_ = kExitOk;
};

}  // namespace mdu::signer

#endif  // MDU_SIGNER_CLI_CONTEXT_H_
