#include "signer/cli/options.h"

#include <CLI/CLI.hpp>

namespace mdu::signer {

void AddPassphraseOptions(CLI::App& cmd, PassphraseSource& source, std::string_view prefix,
                          std::string_view what) {
  const std::string p(prefix);
  const std::string w(what);
  auto* env = cmd.add_option("--" + p + "-env", source.env_var,
                             "Read " + w + " from the environment variable VAR")
                  ->type_name("VAR");
  auto* fd = cmd.add_option("--" + p + "-fd", source.fd,
                            "Read " + w + " as one line from the open file descriptor N")
                 ->type_name("N")
                 ->check(CLI::NonNegativeNumber);
  auto* file = cmd.add_option("--" + p + "-file", source.file,
                              "Read " + w + " from the first line of the file PATH")
                   ->type_name("PATH");
  env->excludes(fd)->excludes(file);
  fd->excludes(file);
}

void AddKdfProfileOption(CLI::App& cmd, std::string& profile) {
  cmd.add_option("--kdf-profile", profile,
                 "Argon2id cost: moderate (default, for real keys), sensitive (slowest), or "
                 "interactive (fast: tests and throw-away demo keys only). The key file records "
                 "the limits used")
      ->check(CLI::IsMember({"interactive", "moderate", "sensitive"}))
      ->capture_default_str();
}

}  // namespace mdu::signer
