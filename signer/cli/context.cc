#include "signer/cli/context.h"

#include <utility>

#include "core/json/writer.h"

namespace mdu::signer {

void Context::Finish(Result<CommandOutput> result) {
  if (!result) {
    Fail(result.error());
    return;
  }
  CommandOutput& output = *result;
  if (options_.json) {
    json::Value object =
        output.json.is_object() ? std::move(output.json) : json::Value::EmptyObject();
    object.Set("ok", json::Value(true));
    out_ << json::Serialize(object, 2) << '\n';
  } else if (options_.quiet) {
    out_ << output.quiet_text;
  } else {
    out_ << output.text;
  }
  out_.flush();
  exit_code_ = kExitOk;
}

void Context::PrintJsonError(const Error& error) {
  if (options_.json) {
    json::Value object = json::Value::MakeObject({
        {"ok", json::Value(false)},
        {"error", json::Value::MakeObject({
                      {"kind", json::Value(ErrorKindName(error.kind()))},
                      {"message", json::Value(error.message())},
                  })},
    });
    out_ << json::Serialize(object, 2) << '\n';
    out_.flush();
  }
}

void Context::Fail(const Error& error, int exit_code) {
  PrintJsonError(error);
  err_ << "signer: error: " << error.message() << '\n';
  err_.flush();
  exit_code_ = exit_code;
}

void Context::Progress(std::string_view message) {
  if (options_.quiet || options_.json) {
    return;
  }
  err_ << message << '\n';
  err_.flush();
}

}  // namespace mdu::signer
