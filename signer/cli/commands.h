// One registration function per top-level subcommand. Each lives in its own file
// signer/cli/<name>_command.cc and adds its CLI::App subcommand, options and callback.
//
// To add a subcommand `foo`:
//   1. write signer/cli/foo_command.cc defining `void RegisterFooCommand(CLI::App&, Context&)`:
//        auto* cmd = app.add_subcommand("foo", "one-line description");
//        auto opts = std::make_shared<FooOptions>();   // options must outlive parsing
//        cmd->add_option("--bar", opts->bar, "...");
//        cmd->callback([&ctx, opts] { ctx.Finish(RunFoo(ctx, *opts)); });
//      where RunFoo returns Result<CommandOutput> and never throws;
//   2. declare it below and add it to kCommandRegistry in cli.cc (one line each);
//   3. add the file to mdu_signer in signer/CMakeLists.txt.
// Shared option groups (passphrase sources, KDF profile) are in options.h.
#ifndef MDU_SIGNER_CLI_COMMANDS_H_
#define MDU_SIGNER_CLI_COMMANDS_H_

#include "signer/cli/context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace mdu::signer {

void RegisterKeygenCommand(CLI::App& app, Context& ctx);  // keygen_command.cc
void RegisterKeyCommand(CLI::App& app, Context& ctx);     // key_command.cc: key show|...
void RegisterInitCommand(CLI::App& app, Context& ctx);      // init_command.cc
void RegisterTargetCommands(CLI::App& app, Context& ctx);   // target_command.cc: add-target|...
void RegisterDelegateCommands(CLI::App& app, Context& ctx); // delegate_command.cc
void RegisterSignCommands(CLI::App& app, Context& ctx);     // sign_command.cc: sign|*-request|...
void RegisterRotateCommands(CLI::App& app, Context& ctx);   // rotate_command.cc: rotate-root|...
void RegisterStatusCommand(CLI::App& app, Context& ctx);    // status_command.cc
void RegisterPublishCommands(CLI::App& app, Context& ctx);  // publish_command.cc
void RegisterAuthorizeCommands(CLI::App& app, Context& ctx);  // authorize_command.cc

}  // namespace mdu::signer

#endif  // MDU_SIGNER_CLI_COMMANDS_H_
