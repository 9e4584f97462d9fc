// Where a passphrase comes from: an interactive prompt on the controlling terminal (no echo),
// an environment variable named by the user, an inherited file descriptor, or a file.
//
// A passphrase is one line: reading stops at the first '\n' (a trailing '\r' is dropped too),
// so `printf 'old\nnew\n' | signer ... --passphrase-fd 0 --new-passphrase-fd 0` works: each
// read takes exactly one line and nothing more. At most kMaxPassphraseBytes bytes.
// Passphrases live only in SecureBuffer; nothing here prints or logs them.
//
// Thread-safety: the prompt changes terminal attributes; do not prompt from two threads.
#ifndef MDU_SIGNER_KEYSTORE_PASSPHRASE_H_
#define MDU_SIGNER_KEYSTORE_PASSPHRASE_H_

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "signer/keystore/secure_buffer.h"

namespace mdu::signer {

inline constexpr size_t kMaxPassphraseBytes = 1024;

// At most one of env_var, fd and file is set; none set means "prompt on the terminal".
struct PassphraseSource {
  std::string env_var;         // --passphrase-env VAR
  int fd = -1;                 // --passphrase-fd N
  std::filesystem::path file;  // --passphrase-file PATH

  bool interactive() const { return env_var.empty() && fd < 0 && file.empty(); }
};

enum class PassphraseUse {
  kUnlock,  // decrypt an existing key: prompt once
  kCreate,  // protect a new key: prompt twice (must match); empty refused from every source
};

// Obtains a passphrase from `source`. `subject` names what it is for in the prompt, e.g.
// "passphrase for keys/root-1.key.json". Errors (kInvalidArgument unless stated) say how to fix
// the invocation: unset variable, closed descriptor, no terminal, mismatch, empty, too long;
// kNotFound/kIo for an unreadable file.
Result<SecureBuffer> ObtainPassphrase(const PassphraseSource& source, PassphraseUse use,
                                      std::string_view subject);

// The individual sources (ObtainPassphrase dispatches to them).
Result<SecureBuffer> PassphraseFromEnv(std::string_view var);
Result<SecureBuffer> PassphraseFromFd(int fd);
Result<SecureBuffer> PassphraseFromFile(const std::filesystem::path& path);
// Opens /dev/tty, turns echo off while reading, restores the terminal afterwards.
Result<SecureBuffer> PromptPassphrase(std::string_view prompt);

}  // namespace mdu::signer

#endif  // MDU_SIGNER_KEYSTORE_PASSPHRASE_H_
