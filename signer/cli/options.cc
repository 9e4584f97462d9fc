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

void AddPassphraseListOptions(CLI::App& cmd, PassphraseList& list, std::string_view prefix,
                              std::string_view what) {
  const std::string p(prefix);
  const std::string w(what);
  const std::string repeat = "; repeat in the order of the keys, or give once for all";
  auto* env = cmd.add_option("--" + p + "-env", list.env_vars,
                             "Read " + w + " from the environment variable VAR" + repeat)
                  ->type_name("VAR");
  auto* fd = cmd.add_option("--" + p + "-fd", list.fds,
                            "Read " + w + " as one line from the open file descriptor N" + repeat)
                 ->type_name("N")
                 ->check(CLI::NonNegativeNumber);
  auto* file = cmd.add_option("--" + p + "-file", list.files,
                              "Read " + w + " from the first line of the file PATH" + repeat)
                   ->type_name("PATH");
  env->excludes(fd)->excludes(file);
  fd->excludes(file);
}

Result<std::vector<PassphraseSource>> PassphraseList::ForKeys(size_t key_count,
                                                              std::string_view option) const {
  const size_t given = env_vars.size() + fds.size() + files.size();
  if (given > 1 && given != key_count) {
    return MakeError(ErrorKind::kInvalidArgument,
                     std::to_string(given) + " passphrase sources for " +
                         std::to_string(key_count) + " " + std::string(option) +
                         " key(s): give one for all keys or one per key, in the same order");
  }
  std::vector<PassphraseSource> out(key_count);
  for (size_t i = 0; i < key_count; ++i) {
    const size_t k = given == 1 ? 0 : i;
    if (!env_vars.empty()) out[i].env_var = env_vars[k];
    if (!fds.empty()) out[i].fd = fds[k];
    if (!files.empty()) out[i].file = files[k];
  }
  return out;
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
