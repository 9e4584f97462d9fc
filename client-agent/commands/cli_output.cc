#include "client-agent/commands/cli_output.h"

#include <cstdio>

#include "core/json/writer.h"

namespace mdu::agent::commands {

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string DescribeTransaction(const update::TransactionResult& result) {
  std::string text(update::OutcomeName(result.outcome));
  if (!result.target.name.empty()) {
    text += " " + result.target.version + " (" + result.target.name + ")";
  }
  if (result.reason != update::Reason::kNone) {
    text += ": " + std::string(update::ReasonName(result.reason)) + ": " + result.message;
  }
  return OneLine(text);
}

void PrintJson(const json::Value& value) {
  std::fputs((json::Serialize(value, 1) + "\n").c_str(), stdout);
  std::fflush(stdout);
}

int ReportFailure(bool json, std::string_view command, const Error& error) {
  std::fprintf(stderr, "client-agent: %.*s failed: %s\n", static_cast<int>(command.size()),
               command.data(), OneLine(error.ToString()).c_str());
  if (json) {
    PrintJson(json::Value::MakeObject(
        {{"command", command},
         {"ok", false},
         {"error", json::Value::MakeObject(
                       {{"kind", ErrorKindName(error.kind())}, {"message", error.message()}})}}));
  }
  return 1;
}

}  // namespace mdu::agent::commands
