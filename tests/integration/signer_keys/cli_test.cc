// The real `signer` program, run as a child process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json/parser.h"
#include "signer/keystore/keystore.h"
#include "tests/integration/signer_keys/test_util.h"

extern char** environ;

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;
using testing::FileMode;
using testing::ReadAll;
using testing::TempDir;

constexpr std::string_view kPassphrase = "cli-test-passphrase-7f3a";
constexpr std::string_view kOtherPassphrase = "second-passphrase-91c2";

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

struct RunOptions {
  std::vector<std::string> env;  // extra "NAME=value" entries
  std::string fd3_data;          // if non-empty, readable on the child's descriptor 3
  bool detach_terminal = true;   // setsid(): no controlling terminal, so no prompt can hang
};

// In a -DMDU_SANITIZE=ON build the child is instrumented too: a report from it fails the test
// even where a non-zero exit status is the expected outcome.
void ExpectNoSanitizerReport(const std::string& err) {
  EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
  EXPECT_EQ(err.find("runtime error:"), std::string::npos) << err;
}

// Runs the signer with `args`; stdout and stderr are captured through files.
RunResult RunSigner(const std::vector<std::string>& args, const RunOptions& options = {}) {
  TempDir capture;
  const fs::path out_path = capture.path() / "out";
  const fs::path err_path = capture.path() / "err";
  std::vector<std::string> argv_storage = {MDU_SIGNER_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_storage.size());
  for (std::string& arg : argv_storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    env_storage.emplace_back(*e);
  }
  env_storage.insert(env_storage.end(), options.env.begin(), options.env.end());
  std::vector<char*> envp;
  envp.reserve(env_storage.size());
  for (std::string& entry : env_storage) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int pipe_fds[2] = {-1, -1};
  if (!options.fd3_data.empty()) {
    EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    EXPECT_EQ(::write(pipe_fds[1], options.fd3_data.data(), options.fd3_data.size()),
              static_cast<ssize_t>(options.fd3_data.size()));
    ::close(pipe_fds[1]);
  }
  const bool detach = options.detach_terminal;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls.
    if (detach) {
      ::setsid();
    }
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (pipe_fds[0] >= 0) {
      ::dup2(pipe_fds[0], 3);  // dup2 clears FD_CLOEXEC on the copy
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  if (pipe_fds[0] >= 0) {
    ::close(pipe_fds[0]);
  }
  RunResult result;
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadAll(out_path);
  result.err = ReadAll(err_path);
  ExpectNoSanitizerReport(result.err);
  return result;
}

// MDU_CLI_PASS=<value> in the child's environment.
RunOptions PassEnv(std::string_view value = kPassphrase) {
  RunOptions options;
  options.env.push_back("MDU_CLI_PASS=" + std::string(value));
  return options;
}

// `data` readable on the child's descriptor 3.
RunOptions Fd3(std::string data) {
  RunOptions options;
  options.fd3_data = std::move(data);
  return options;
}

void ExpectNoSecret(const RunResult& run) {
  for (std::string_view secret : {kPassphrase, kOtherPassphrase}) {
    EXPECT_EQ(run.out.find(secret), std::string::npos) << "passphrase on stdout";
    EXPECT_EQ(run.err.find(secret), std::string::npos) << "passphrase on stderr";
  }
}

json::Value ParseJsonOutput(const RunResult& run) {
  auto value = json::Parse(run.out);
  if (!value) {
    ADD_FAILURE() << "not JSON: " << run.out;
  }
  return std::move(value).value_or(json::Value());
}

class SignerCliTest : public ::testing::Test {
 protected:
  // keygen in the workspace with fast KDF limits; returns the key ID (from --quiet output).
  std::string Keygen(std::string_view name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--workspace",     dir_.path().string(), "--quiet",     "keygen",           "--name",
        std::string(name), "--kdf-profile",      "interactive", "--passphrase-env", "MDU_CLI_PASS"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult run = RunSigner(args, PassEnv());
    EXPECT_EQ(run.exit_code, 0) << run.err;
    ExpectNoSecret(run);
    std::string keyid = run.out;
    while (!keyid.empty() && keyid.back() == '\n') {
      keyid.pop_back();
    }
    EXPECT_EQ(keyid.size(), 64u) << run.out;
    return keyid;
  }
  fs::path KeyFile(std::string_view name) const {
    return dir_.path() / "keys" / (std::string(name) + ".key.json");
  }

  TempDir dir_;
};

TEST_F(SignerCliTest, HelpWorksForEveryCommand) {
  const std::vector<std::vector<std::string>> commands = {{},
                                                          {"keygen"},
                                                          {"key"},
                                                          {"key", "show"},
                                                          {"key", "change-passphrase"},
                                                          {"key", "export-public"}};
  for (std::vector<std::string> command : commands) {
    command.push_back("--help");
    RunResult run = RunSigner(command);
    EXPECT_EQ(run.exit_code, 0) << command.front();
    EXPECT_NE(run.out.find("Usage:"), std::string::npos) << run.out;
  }
  RunResult top = RunSigner({"--help"});
  for (std::string_view expected : {"keygen", "key", "--workspace", "--json", "--quiet"}) {
    EXPECT_NE(top.out.find(expected), std::string::npos) << expected;
  }
  RunResult keygen = RunSigner({"keygen", "--help"});
  for (std::string_view expected : {"--name", "--scheme", "--out-dir", "--kdf-profile",
                                    "--passphrase-env", "--passphrase-fd", "--passphrase-file"}) {
    EXPECT_NE(keygen.out.find(expected), std::string::npos) << expected;
  }
  RunResult change = RunSigner({"key", "change-passphrase", "--help"});
  EXPECT_NE(change.out.find("--new-passphrase-fd"), std::string::npos);
}

TEST_F(SignerCliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunSigner({}).exit_code, 2);
  EXPECT_EQ(RunSigner({"key"}).exit_code, 2);
  EXPECT_EQ(RunSigner({"keygen"}).exit_code, 2);  // --name is required
  RunResult scheme = RunSigner({"keygen", "--name", "x", "--scheme", "dsa"});
  EXPECT_EQ(scheme.exit_code, 2);
  EXPECT_NE(scheme.err.find("--scheme"), std::string::npos) << scheme.err;
  RunResult both =
      RunSigner({"keygen", "--name", "x", "--passphrase-env", "A", "--passphrase-file", "f"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_.path() / "keys"));
}

TEST_F(SignerCliTest, KeygenThenShow) {
  const std::string keyid = Keygen("root-1");
  EXPECT_EQ(FileMode(KeyFile("root-1")), 0600);
  EXPECT_TRUE(fs::exists(dir_.path() / "keys" / "root-1.pub.json"));

  RunResult show = RunSigner({"key", "show", KeyFile("root-1").string()});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find(keyid), std::string::npos);
  EXPECT_NE(show.out.find("ed25519"), std::string::npos);
  EXPECT_NE(show.out.find("verified: no"), std::string::npos);
  // Never the secret: not even the ciphertext.
  json::Value file = *json::Parse(ReadAll(KeyFile("root-1")));
  EXPECT_EQ(show.out.find(file.Find("ciphertext")->as_string()), std::string::npos);

  RunResult verified =
      RunSigner({"key", "show", KeyFile("root-1").string(), "--verify", "--passphrase-fd", "3"},
                Fd3(std::string(kPassphrase) + "\n"));
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_NE(verified.out.find("verified: yes"), std::string::npos);
  ExpectNoSecret(verified);
}

TEST_F(SignerCliTest, KeygenHumanOutputPrintsTheKeyId) {
  RunResult run = RunSigner({"--workspace", dir_.path().string(), "keygen", "--name", "targets",
                             "--kdf-profile", "interactive", "--passphrase-env", "MDU_CLI_PASS"},
                            PassEnv());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto info = InspectKeyFile(ReadAll(KeyFile("targets")), "targets");
  ASSERT_TRUE(info);
  EXPECT_NE(run.out.find("key ID:      " + info->keyid), std::string::npos) << run.out;
  ExpectNoSecret(run);
}

TEST_F(SignerCliTest, KeygenTwiceRefuses) {
  Keygen("snapshot");
  const std::string before = ReadAll(KeyFile("snapshot"));
  RunResult again = RunSigner({"--workspace", dir_.path().string(), "keygen", "--name", "snapshot",
                               "--kdf-profile", "interactive", "--passphrase-env", "MDU_CLI_PASS"},
                              PassEnv());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(ReadAll(KeyFile("snapshot")), before);
}

TEST_F(SignerCliTest, WrongPassphraseExitsNonZeroAndPrintsNoSecret) {
  Keygen("root-2");
  RunResult run = RunSigner(
      {"key", "show", KeyFile("root-2").string(), "--verify", "--passphrase-env", "MDU_CLI_PASS"},
      PassEnv(kOtherPassphrase));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("wrong passphrase or corrupted key file"), std::string::npos) << run.err;
  ExpectNoSecret(run);
  RunResult export_run = RunSigner({"key", "export-public", KeyFile("root-2").string(), "--out",
                                    "-", "--verify", "--passphrase-env", "MDU_CLI_PASS"},
                                   PassEnv(kOtherPassphrase));
  EXPECT_EQ(export_run.exit_code, 1);
  EXPECT_EQ(export_run.out, "");
  ExpectNoSecret(export_run);
}

TEST_F(SignerCliTest, JsonOutputParses) {
  RunResult keygen = RunSigner(
      {"--json", "--workspace", dir_.path().string(), "keygen", "--name", "timestamp", "--scheme",
       "ecdsa-sha2-nistp256", "--kdf-profile", "interactive", "--passphrase-env", "MDU_CLI_PASS"},
      PassEnv());
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  json::Value generated = ParseJsonOutput(keygen);
  ASSERT_TRUE(generated.is_object());
  EXPECT_TRUE(generated.Find("ok")->as_bool());
  EXPECT_EQ(generated.Find("scheme")->as_string(), "ecdsa-sha2-nistp256");
  const std::string keyid = generated.Find("keyid")->as_string();
  EXPECT_EQ(generated.Find("private_key_file")->as_string(), KeyFile("timestamp").string());
  ExpectNoSecret(keygen);

  RunResult show = RunSigner({"key", "show", "--json", KeyFile("timestamp").string()});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  json::Value shown = ParseJsonOutput(show);
  ASSERT_TRUE(shown.is_object());
  EXPECT_EQ(shown.Find("keyid")->as_string(), keyid);
  EXPECT_FALSE(shown.Find("verified")->as_bool());
  EXPECT_EQ(shown.Find("public")->Find("scheme")->as_string(), "ecdsa-sha2-nistp256");
  EXPECT_EQ(shown.Find("ciphertext"), nullptr);

  RunResult failed = RunSigner({"--json", "key", "show", (dir_.path() / "absent").string()});
  EXPECT_EQ(failed.exit_code, 1);
  json::Value error = ParseJsonOutput(failed);
  ASSERT_TRUE(error.is_object());
  EXPECT_FALSE(error.Find("ok")->as_bool());
  EXPECT_EQ(error.Find("error")->Find("kind")->as_string(), "not_found");

  RunResult usage = RunSigner({"--json", "keygen"});
  EXPECT_EQ(usage.exit_code, 2);
  json::Value usage_error = ParseJsonOutput(usage);
  ASSERT_TRUE(usage_error.is_object());
  EXPECT_EQ(usage_error.Find("error")->Find("kind")->as_string(), "invalid_argument");
}

TEST_F(SignerCliTest, EmptyPassphraseRefusedForKeygen) {
  RunResult run = RunSigner({"--workspace", dir_.path().string(), "keygen", "--name", "root-1",
                             "--kdf-profile", "interactive", "--passphrase-env", "MDU_CLI_PASS"},
                            PassEnv(""));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("empty passphrase"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(KeyFile("root-1")));
}

TEST_F(SignerCliTest, NoTerminalAndNoPassphraseOptionSaysWhatToDo) {
  RunResult run = RunSigner({"--workspace", dir_.path().string(), "keygen", "--name", "root-1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--passphrase-env"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(KeyFile("root-1")));
}

TEST_F(SignerCliTest, ChangePassphraseWithBothOnOneDescriptor) {
  const std::string keyid = Keygen("root-3");
  RunResult change =
      RunSigner({"key", "change-passphrase", KeyFile("root-3").string(), "--passphrase-fd", "3",
                 "--new-passphrase-fd", "3", "--kdf-profile", "interactive"},
                Fd3(std::string(kPassphrase) + "\n" + std::string(kOtherPassphrase) + "\n"));
  ASSERT_EQ(change.exit_code, 0) << change.err;
  ExpectNoSecret(change);
  EXPECT_EQ(FileMode(KeyFile("root-3")), 0600);

  RunResult with_new = RunSigner({"-q", "key", "show", KeyFile("root-3").string(), "--verify",
                                  "--passphrase-env", "MDU_CLI_PASS"},
                                 PassEnv(kOtherPassphrase));
  EXPECT_EQ(with_new.exit_code, 0) << with_new.err;
  EXPECT_EQ(with_new.out, keyid + "\n");
  RunResult with_old = RunSigner(
      {"key", "show", KeyFile("root-3").string(), "--verify", "--passphrase-env", "MDU_CLI_PASS"},
      PassEnv());
  EXPECT_EQ(with_old.exit_code, 1);
}

TEST_F(SignerCliTest, ChangePassphraseWithWrongCurrentLeavesFile) {
  Keygen("targets");
  const std::string before = ReadAll(KeyFile("targets"));
  RunResult change =
      RunSigner({"key", "change-passphrase", KeyFile("targets").string(), "--passphrase-fd", "3",
                 "--new-passphrase-fd", "3", "--kdf-profile", "interactive"},
                Fd3(std::string(kOtherPassphrase) + "\n" + std::string(kOtherPassphrase) + "\n"));
  EXPECT_EQ(change.exit_code, 1);
  EXPECT_NE(change.err.find("wrong passphrase"), std::string::npos);
  EXPECT_EQ(ReadAll(KeyFile("targets")), before);
}

TEST_F(SignerCliTest, ExportPublicWritesTheTufKey) {
  const std::string keyid = Keygen("snapshot", {"--scheme", "rsassa-pss-sha256"});
  const fs::path pub = dir_.path() / "keys" / "snapshot.pub.json";
  const std::string written_by_keygen = ReadAll(pub);
  fs::remove(pub);
  RunResult run = RunSigner({"key", "export-public", KeyFile("snapshot").string(), "--verify",
                             "--passphrase-file", "/dev/stdin"});
  // /dev/stdin is /dev/null in the child: an empty passphrase source is a clear error.
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("empty"), std::string::npos) << run.err;

  RunResult exported = RunSigner({"key", "export-public", KeyFile("snapshot").string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(ReadAll(pub), written_by_keygen);
  auto key = ParsePublicKeyFile(ReadAll(pub), pub.string());
  ASSERT_TRUE(key);
  EXPECT_EQ(key->KeyId(), keyid);

  RunResult to_stdout = RunSigner({"key", "export-public", KeyFile("snapshot").string(), "--out",
                                   "-", "--verify", "--passphrase-env", "MDU_CLI_PASS"},
                                  PassEnv());
  ASSERT_EQ(to_stdout.exit_code, 0) << to_stdout.err;
  EXPECT_EQ(to_stdout.out, written_by_keygen);
  ExpectNoSecret(to_stdout);
}

TEST_F(SignerCliTest, DefaultKdfIsModerateAndRecorded) {
  RunResult run = RunSigner({"--workspace", dir_.path().string(), "keygen", "--name", "moderate",
                             "--passphrase-env", "MDU_CLI_PASS"},
                            PassEnv());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto info = InspectKeyFile(ReadAll(KeyFile("moderate")), "moderate");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->kdf_limits, sealing::ModerateLimits());
}

TEST_F(SignerCliTest, HostileNameIsRejectedWithoutWriting) {
  RunResult run = RunSigner({"--workspace", dir_.path().string(), "keygen", "--name", "../evil",
                             "--passphrase-env", "MDU_CLI_PASS"},
                            PassEnv());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("invalid key name"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_.path() / "evil.key.json"));
  EXPECT_FALSE(fs::exists(dir_.path() / "keys"));
}

TEST_F(SignerCliTest, TamperedFileIsReportedNotCrashed) {
  Keygen("root-1");
  std::string text = ReadAll(KeyFile("root-1"));
  testing::WriteAll(KeyFile("root-1"), text.substr(0, text.size() / 2));
  RunResult run = RunSigner({"--json", "key", "show", KeyFile("root-1").string()});
  EXPECT_EQ(run.exit_code, 1);
  json::Value error = ParseJsonOutput(run);
  ASSERT_TRUE(error.is_object());
  EXPECT_EQ(error.Find("error")->Find("kind")->as_string(), "bad_metadata");
}

// --- The interactive prompt, through a pseudo-terminal ------------------------------------------

// Reads the terminal side until `needle` shows up (true) or the terminal closes / times out.
bool WaitForOutput(int master, std::string* seen, std::string_view needle) {
  while (seen->find(needle) == std::string::npos) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) {
      return false;
    }
    char buffer[256];
    const ssize_t n = ::read(master, buffer, sizeof(buffer));
    if (n <= 0) {
      return false;  // EIO once the child has closed the terminal
    }
    seen->append(buffer, static_cast<size_t>(n));
  }
  return true;
}

struct PtyRun {
  int exit_code = -1;
  std::string terminal;  // everything the program wrote to (and echoed on) the terminal
  std::string err;
  bool echo_on_after = false;  // the terminal's ECHO flag once the program has ended
};

// Runs the signer with a pseudo-terminal as its controlling terminal (stdin is /dev/null, so
// the passphrase can only come from /dev/tty) and types each of `lines` after the prompt that
// precedes it appears.
// With `signal_at_last_prompt`, the last prompt is answered by that signal instead of its line.
PtyRun RunWithTerminal(const std::vector<std::string>& args,
                       const std::vector<std::pair<std::string, std::string>>& prompts_and_lines,
                       int signal_at_last_prompt = 0) {
  PtyRun result;
  TempDir capture;
  const fs::path err_path = capture.path() / "err";
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0 ||
      ::ptsname(master) == nullptr) {
    ADD_FAILURE() << "cannot create a pseudo-terminal";
    return result;
  }
  const std::string slave_name = ::ptsname(master);
  // Reading the master fails with EIO while no slave is open; holding one open here keeps the
  // reads waiting until the child has started and written its prompt.
  const int parent_slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  EXPECT_GE(parent_slave, 0);
  std::vector<std::string> argv_storage = {MDU_SIGNER_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_storage.size());
  for (std::string& arg : argv_storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    const int slave = ::open(slave_name.c_str(), O_RDWR | O_CLOEXEC);
    if (slave < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) {
      ::_exit(126);
    }
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(err_fd, 2);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  ::close(err_fd);
  ::close(null_fd);
  for (const auto& [prompt, line] : prompts_and_lines) {
    if (!WaitForOutput(master, &result.terminal, prompt)) {
      ADD_FAILURE() << "no prompt \"" << prompt << "\"; terminal: " << result.terminal;
      ::kill(pid, SIGKILL);  // it would wait for input forever
      break;
    }
    if (signal_at_last_prompt != 0 && &prompt == &prompts_and_lines.back().first) {
      ::kill(pid, signal_at_last_prompt);
      break;
    }
    const std::string typed = line + "\n";
    EXPECT_EQ(::write(master, typed.data(), typed.size()), static_cast<ssize_t>(typed.size()));
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  termios after{};
  EXPECT_EQ(::tcgetattr(parent_slave, &after), 0);
  result.echo_on_after = (after.c_lflag & ECHO) != 0;
  ::close(parent_slave);
  WaitForOutput(master, &result.terminal, "\x01never\x01");  // drain what is left
  ::close(master);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = ReadAll(err_path);
  ExpectNoSanitizerReport(result.err);
  return result;
}

TEST_F(SignerCliTest, KeygenPromptsTwiceWithoutEcho) {
  PtyRun run = RunWithTerminal({"--workspace", dir_.path().string(), "keygen", "--name", "typed",
                                "--kdf-profile", "interactive"},
                               {{"Enter a new passphrase", std::string(kPassphrase)},
                                {"Repeat a new passphrase", std::string(kPassphrase)}});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.terminal;
  EXPECT_EQ(run.terminal.find(kPassphrase), std::string::npos) << "echoed: " << run.terminal;
  auto key = LoadPrivateKey(KeyFile("typed"), SecureBuffer::CopyOf(kPassphrase));
  EXPECT_TRUE(key) << key.error().ToString();
}

TEST_F(SignerCliTest, KeygenPromptRejectsMismatchedConfirmation) {
  PtyRun run = RunWithTerminal({"--workspace", dir_.path().string(), "keygen", "--name", "typed",
                                "--kdf-profile", "interactive"},
                               {{"Enter a new passphrase", std::string(kPassphrase)},
                                {"Repeat a new passphrase", std::string(kOtherPassphrase)}});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("do not match"), std::string::npos) << run.err;
  EXPECT_EQ(run.terminal.find(kOtherPassphrase), std::string::npos);
  EXPECT_FALSE(fs::exists(KeyFile("typed")));
}

TEST_F(SignerCliTest, InterruptedPromptRestoresEcho) {
  for (int signal_number : {SIGINT, SIGTERM}) {
    PtyRun run = RunWithTerminal({"--workspace", dir_.path().string(), "keygen", "--name", "typed"},
                                 {{"Enter a new passphrase", ""}}, signal_number);
    EXPECT_EQ(run.exit_code, 128 + signal_number) << run.err;
    EXPECT_TRUE(run.echo_on_after) << "terminal left without echo after signal " << signal_number;
    EXPECT_FALSE(fs::exists(KeyFile("typed")));
  }
}

TEST_F(SignerCliTest, ShowVerifyPromptsOnTheTerminal) {
  Keygen("root-1");
  PtyRun run = RunWithTerminal({"key", "show", KeyFile("root-1").string(), "--verify"},
                               {{"Enter passphrase for", std::string(kPassphrase)}});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.terminal.find(kPassphrase), std::string::npos);
}

}  // namespace
}  // namespace mdu::signer
