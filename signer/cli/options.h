// Option groups shared by several subcommands.
#ifndef MDU_SIGNER_CLI_OPTIONS_H_
#define MDU_SIGNER_CLI_OPTIONS_H_

#include <string>
#include <string_view>

#include "signer/keystore/passphrase.h"

namespace CLI {
class App;
}  // namespace CLI

namespace mdu::signer {

// Adds --<prefix>-env VAR, --<prefix>-fd N and --<prefix>-file PATH (mutually exclusive) that
// fill `source`; `what` completes the help text ("the key's passphrase"). `source` must outlive
// parsing. With none given, the passphrase is asked for on the terminal.
void AddPassphraseOptions(CLI::App& cmd, PassphraseSource& source, std::string_view prefix,
                          std::string_view what);

// Adds --kdf-profile interactive|moderate|sensitive (default moderate) filling `profile`.
void AddKdfProfileOption(CLI::App& cmd, std::string& profile);

}  // namespace mdu::signer

#endif  // MDU_SIGNER_CLI_OPTIONS_H_
