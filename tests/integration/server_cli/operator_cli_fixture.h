// What the tests of the operator commands share (cli_test.cc, scale_test.cc): the server fixture
// (tests/integration/server/server_fixture.h) with two operators, alice (publisher) and bob
// (viewer), whose tokens are in alice.token and bob.token; an insecure server started with
// their credentials; the signer's published tree written from the simulator; and the real
// `repo-server` binary run as a child process whose exit status, stdout and stderr are kept.
//
// MDU_REPO_SERVER_BINARY must be defined (as for server_process.h).
#ifndef MDU_TESTS_INTEGRATION_SERVER_CLI_OPERATOR_CLI_FIXTURE_H_
#define MDU_TESTS_INTEGRATION_SERVER_CLI_OPERATOR_CLI_FIXTURE_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "tests/integration/server/server_fixture.h"

extern char** environ;

namespace mdu::server::testing {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class OperatorCliFixture : public ServerFixture {
 protected:
  explicit OperatorCliFixture(std::string prefix) : ServerFixture(std::move(prefix)) {}

  static constexpr const char* kAliceToken = "alice-secret-token-4711";
  static constexpr const char* kBobToken = "bob-secret-token-0815";

  void SetUp() override {
    ServerFixture::SetUp();
    WriteOperators({{"alice", "publisher", kAliceToken}, {"bob", "viewer", kBobToken}});
    ASSERT_TRUE(
        io::WriteFileAtomically(dir_ / "alice.token", std::string(kAliceToken) + "\n", 0600));
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "bob.token", std::string(kBobToken) + "\n", 0600));
  }

  // A plaintext server knowing the operators, with `extra` flags.
  void StartInsecure(const std::vector<std::string>& extra = {}) {
    Start(
        Concat(Concat(InsecureFlags(), {"--operator-credentials", Path("operators.json")}), extra));
  }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The operator listener: its own with --operator-listen, else the shared one.
  std::string OperatorAddress() const {
    return "127.0.0.1:" + std::to_string(operator_port_ != 0 ? operator_port_ : port_);
  }

  // The simulator's served files are the signer's published tree: metadata/N.<role>.json (every
  // version), metadata/timestamp.json, targets/<dir>/<sha256>.<name>. Written over `tree`
  // without deleting what is there, as repeated `signer publish --out` runs leave it.
  std::filesystem::path WriteTree(const std::string& name = "tree") {
    std::filesystem::path tree = dir_ / name;
    for (const auto& [path, bytes] : sim_->files) {
      std::filesystem::create_directories((tree / path).parent_path());
      EXPECT_TRUE(io::WriteFileAtomically(tree / path, bytes));
    }
    return tree;
  }

  // Runs `repo-server args...` with extra environment entries; captures stdout and stderr.
  CliRun Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {MDU_REPO_SERVER_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (const std::string& arg : all) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strings(env);
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const std::string out = Path("cli.out");
    const std::string err = Path("cli.err");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    CliRun run;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      ADD_FAILURE() << "cannot spawn " << argv[0];
      return run;
    }
    run.code = ServerProcess::WaitPid(pid);
    run.out = io::ReadFileBounded(out, 64 << 20).value_or("");
    run.err = io::ReadFileBounded(err, 64 << 20).value_or("");
    return run;
  }

  // `repo-server COMMAND` against the plaintext server's operator listener with `token_file`.
  CliRun Command(const std::string& command, const std::string& token_file,
                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {command,      "--server",     OperatorAddress(),
                                     "--insecure", "--token-file", Path(token_file)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  }

  // The command's stdout as JSON (a test failure and null when it is not).
  static json::Value ParseJson(const CliRun& run) {
    auto parsed = json::Parse(run.out);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().ToString()) << "\n" << run.out << run.err;
    return parsed ? *parsed : json::Value();
  }
};

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_INTEGRATION_SERVER_CLI_OPERATOR_CLI_FIXTURE_H_
