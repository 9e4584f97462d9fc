#include "signer/cli/cli.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "signer/cli/commands.h"
#include "signer/cli/context.h"
#include "signer/pkcs11/module.h"

namespace mdu::signer {
namespace {

using RegisterFunction = void (*)(CLI::App&, Context&);

// Every top-level subcommand, in the order `signer --help` lists them.
constexpr RegisterFunction kCommandRegistry[] = {
    RegisterKeygenCommand,
    RegisterKeyCommand,
    RegisterInitCommand,
    RegisterTargetCommands,
    RegisterDelegateCommands,
    RegisterSignCommands,
    RegisterRotateCommands,
    RegisterStatusCommand,
    RegisterPublishCommands,
    RegisterAuthorizeCommands,
};

constexpr const char* kDescription =
    "signer: the offline signing tool of the release engineer.\n"
    "Generates and manages the TUF signing keys of a secure-update repository. Private keys are\n"
    "stored encrypted (Argon2id + XChaCha20-Poly1305) in <name>.key.json files; public keys in\n"
    "TUF format in <name>.pub.json files. Passphrases are read from the terminal (no echo), or\n"
    "from --passphrase-env VAR, --passphrase-fd N or --passphrase-file PATH; they are never\n"
    "printed or logged.\n"
    "Hardware keys: every --key option (and keygen --pkcs11) also takes an RFC 7512 PKCS#11 URI,\n"
    "e.g. 'pkcs11:token=release-hsm;object=root-1', so root and targets keys can live only in an\n"
    "HSM or smart card; the passphrase options then give the token's user PIN.";

constexpr const char* kFooter =
    "Run `signer <command> --help` for the options of a command.\n"
    "Global options may be given before or after the command.\n"
    "Exit status: 0 success, 1 the command failed (reason on stderr; with --json also\n"
    "{\"ok\": false, \"error\": {\"kind\", \"message\"}} on stdout), 2 usage error.";

}  // namespace

int RunCli(int argc, char** argv) { return RunCli(argc, argv, std::cout, std::cerr); }

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  Context ctx(out, err);
  try {
    CLI::App app(kDescription, "signer");
    app.footer(kFooter);
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", "signer " + std::string(MDU_SIGNER_VERSION));
    GlobalOptions& options = ctx.options();
    app.add_option("--workspace", options.workspace,
                   "Directory of the signing workspace; default outputs go below it "
                   "(keys in <workspace>/keys)")
        ->type_name("DIR")
        ->capture_default_str();
    app.add_flag("--json", options.json,
                 "Print one JSON object on stdout (for other programs); human output off");
    app.add_flag("-q,--quiet", options.quiet,
                 "Print only the essential result (e.g. a key ID); errors still go to stderr");
    app.add_option_function<std::string>(
           "--pkcs11-module",
           [](const std::string& path) { pkcs11::SetModulePathOverride(path); },
           "PKCS#11 module for keys named by pkcs11: URIs (instead of a key file); default "
           "$MDU_PKCS11_MODULE, else /usr/lib/softhsm/libsofthsm2.so")
        ->type_name("PATH");
    for (RegisterFunction register_command : kCommandRegistry) {
      register_command(app, ctx);
    }

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // --help and --version are "errors" with exit code 0; usage errors print a hint.
      const int code = app.exit(e, out, err);
      if (code == 0) {
        return kExitOk;
      }
      ctx.PrintJsonError(Error(ErrorKind::kInvalidArgument, e.what()));
      return kExitUsage;
    }
    return ctx.exit_code();
  } catch (const std::exception& e) {
    // A bug (or out of memory): report it rather than terminate with a core dump.
    ctx.Fail(Error(ErrorKind::kInternal, std::string("unexpected failure: ") + e.what()));
    return kExitFailure;
  }
}

}  // namespace mdu::signer
