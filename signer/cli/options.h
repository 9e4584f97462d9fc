// Option groups shared by several subcommands.
#ifndef MDU_SIGNER_CLI_OPTIONS_H_
#define MDU_SIGNER_CLI_OPTIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
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

// Passphrase sources for a repeatable key option (e.g. several --snapshot-key for a threshold
// above 1): each of --<prefix>-env, -fd, -file may be repeated; only one kind per command.
struct PassphraseList {
  std::vector<std::string> env_vars;
  std::vector<int> fds;
  std::vector<std::string> files;

  // One source per key: none given, every key prompts; one given, it serves every key; else
  // exactly one per key, in the order of the keys. `option` names the key option in errors.
  Result<std::vector<PassphraseSource>> ForKeys(size_t key_count, std::string_view option) const;
};

void AddPassphraseListOptions(CLI::App& cmd, PassphraseList& list, std::string_view prefix,
                              std::string_view what);

// Adds --kdf-profile interactive|moderate|sensitive (default moderate) filling `profile`.
void AddKdfProfileOption(CLI::App& cmd, std::string& profile);

}  // namespace mdu::signer

#endif  // MDU_SIGNER_CLI_OPTIONS_H_
