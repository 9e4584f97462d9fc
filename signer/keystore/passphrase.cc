#include "signer/keystore/passphrase.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

namespace mdu::signer {
namespace {

constexpr std::string_view kHowToSupply =
    "use --passphrase-env VAR, --passphrase-fd N or --passphrase-file PATH";

// Closes a descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

 private:
  int fd_;
};

// Reads one line byte by byte (never past the newline, so the rest of a shared descriptor is
// left for the next reader). `what` names the source in messages; `at_end` is the message when
// the source holds no line at all.
Result<SecureBuffer> ReadLine(int fd, std::string_view what, std::string_view at_end) {
  SecureBuffer line(kMaxPassphraseBytes + 1);
  size_t length = 0;
  bool newline = false;
  while (length < line.size()) {
    uint8_t byte = 0;
    ssize_t n = ::read(fd, &byte, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return MakeError(ErrorKind::kIo, "cannot read the passphrase from " + std::string(what) +
                                           ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    if (byte == '\n') {
      newline = true;
      break;
    }
    line.data()[length++] = byte;
    byte = 0;
  }
  if (!newline && length == 0) {
    return MakeError(ErrorKind::kInvalidArgument, std::string(at_end));
  }
  if (length > kMaxPassphraseBytes) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "the passphrase from " + std::string(what) + " is longer than " +
                         std::to_string(kMaxPassphraseBytes) + " bytes");
  }
  if (length > 0 && line.data()[length - 1] == '\r') {
    --length;
  }
  line.Truncate(length);
  return line;
}

// While echo is off, a signal that ends the process (Ctrl-C, hang-up, kill) must not leave the
// user's terminal without echo: these handlers restore the saved attributes, then re-raise the
// signal with its previous disposition. (SIGTSTP is left alone: the shell restores the terminal
// of a stopped job, and the prompt must still be silent after `fg`.)
constexpr int kRestoreSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
volatile sig_atomic_t g_echo_tty = -1;
termios g_saved_termios{};
struct sigaction g_previous_actions[std::size(kRestoreSignals)];

extern "C" void RestoreTerminalAndReraise(int signal_number) {
  if (g_echo_tty >= 0) {
    ::tcsetattr(g_echo_tty, TCSANOW, &g_saved_termios);
  }
  for (size_t i = 0; i < std::size(kRestoreSignals); ++i) {
    if (kRestoreSignals[i] == signal_number) {
      ::sigaction(signal_number, &g_previous_actions[i], nullptr);
    }
  }
  ::raise(signal_number);
}

// Installs the handlers for the lifetime of the object (one prompt at a time).
class EchoGuard {
 public:
  EchoGuard(int tty, const termios& saved) {
    g_saved_termios = saved;
    g_echo_tty = tty;
    struct sigaction action {};
    action.sa_handler = &RestoreTerminalAndReraise;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kRestoreSignals); ++i) {
      ::sigaction(kRestoreSignals[i], &action, &g_previous_actions[i]);
    }
  }
  EchoGuard(const EchoGuard&) = delete;
  EchoGuard& operator=(const EchoGuard&) = delete;
  ~EchoGuard() {
    for (size_t i = 0; i < std::size(kRestoreSignals); ++i) {
      ::sigaction(kRestoreSignals[i], &g_previous_actions[i], nullptr);
    }
    g_echo_tty = -1;
  }
};

}  // namespace

Result<SecureBuffer> PassphraseFromEnv(std::string_view var) {
  const std::string name(var);
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "environment variable " + name +
                         " (from --passphrase-env) is not set; export it or choose another "
                         "passphrase source");
  }
  std::string_view text(value);
  if (text.size() > kMaxPassphraseBytes) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "the passphrase in environment variable " + name + " is longer than " +
                         std::to_string(kMaxPassphraseBytes) + " bytes");
  }
  return SecureBuffer::CopyOf(text);
}

Result<SecureBuffer> PassphraseFromFd(int fd) {
  const std::string what = "file descriptor " + std::to_string(fd);
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     what +
                         " (from --passphrase-fd) is not open; open it in the calling shell, "
                         "e.g. `3<passphrase.txt`");
  }
  return ReadLine(fd, what,
                  "no passphrase on " + what +
                      " (nothing left to read); write the passphrase followed by a newline");
}

Result<SecureBuffer> PassphraseFromFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                     "cannot open passphrase file " + path.string() + ": " + std::strerror(err));
  }
  FdCloser closer(fd);
  return ReadLine(fd, "passphrase file " + path.string(),
                  "passphrase file " + path.string() + " is empty; write the passphrase in it");
}

Result<SecureBuffer> PromptPassphrase(std::string_view prompt) {
  int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "no terminal to ask for the passphrase on; " + std::string(kHowToSupply));
  }
  FdCloser closer(tty);
  termios saved{};
  if (::tcgetattr(tty, &saved) != 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "cannot turn off echo on the terminal; " + std::string(kHowToSupply));
  }
  EchoGuard guard(tty, saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
  quiet.c_lflag |= ICANON;
  if (::tcsetattr(tty, TCSAFLUSH, &quiet) != 0) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "cannot turn off echo on the terminal; " + std::string(kHowToSupply));
  }
  const std::string text = std::string(prompt) + ": ";
  static_cast<void>(::write(tty, text.data(), text.size()));
  auto line = ReadLine(tty, "the terminal", "no passphrase entered (end of input)");
  ::tcsetattr(tty, TCSAFLUSH, &saved);
  static_cast<void>(::write(tty, "\n", 1));
  return line;
}

Result<SecureBuffer> ObtainPassphrase(const PassphraseSource& source, PassphraseUse use,
                                      std::string_view subject) {
  Result<SecureBuffer> passphrase = MakeError(ErrorKind::kInternal, "no passphrase source");
  if (!source.env_var.empty()) {
    passphrase = PassphraseFromEnv(source.env_var);
  } else if (source.fd >= 0) {
    passphrase = PassphraseFromFd(source.fd);
  } else if (!source.file.empty()) {
    passphrase = PassphraseFromFile(source.file);
  } else {
    std::string prompt = "Enter " + std::string(subject);
    passphrase = PromptPassphrase(prompt);
    if (passphrase && use == PassphraseUse::kCreate && !passphrase->empty()) {
      MDU_ASSIGN_OR_RETURN(SecureBuffer again, PromptPassphrase("Repeat " + std::string(subject)));
      if (!again.Equals(*passphrase)) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "the two passphrases do not match; run the command again");
      }
    }
  }
  if (passphrase && use == PassphraseUse::kCreate && passphrase->empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "empty passphrase refused: a private key must be protected by a passphrase");
  }
  return passphrase;
}

}  // namespace mdu::signer
