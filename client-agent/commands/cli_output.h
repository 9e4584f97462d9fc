// What every client-agent command prints: JSON objects on stdout (--json) and a one-line
// failure on stderr, so scripts and operators see the same shape from every subcommand.
#ifndef MDU_CLIENT_AGENT_COMMANDS_CLI_OUTPUT_H_
#define MDU_CLIENT_AGENT_COMMANDS_CLI_OUTPUT_H_

#include <string>
#include <string_view>

#include "client-agent/update/transaction.h"
#include "core/common/error.h"
#include "core/json/value.h"

namespace mdu::agent::commands {

// Folds line breaks so an error stays one log line.
std::string OneLine(std::string text);

// One line for a transaction's outcome: "committed 2.0.0 (pump/fw.bin)",
// "rolled_back 2.0.0 (pump/fw.bin): health_check_failed: ...".
std::string DescribeTransaction(const update::TransactionResult& result);

// Pretty-prints `value` on stdout and flushes (callers may exit right after).
void PrintJson(const json::Value& value);

// Prints "client-agent: COMMAND failed: ..." on stderr and, with `json`, the failure object
// {"command", "ok": false, "error": {"kind", "message"}} on stdout. Returns exit status 1.
int ReportFailure(bool json, std::string_view command, const Error& error);

}  // namespace mdu::agent::commands

#endif  // MDU_CLIENT_AGENT_COMMANDS_CLI_OUTPUT_H_
