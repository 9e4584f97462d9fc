// The policy, event and daemon commands through the real client-agent binary: an install
// outside the maintenance window is refused and logged, a tampered event log is detected, a
// rollback without (or with a forged or expired) operator authorization is refused and logged,
// approval, check, the script installer selected by the config, `run` stopping on SIGTERM, and
// `sbom` against a repository (built with the repository simulator) whose release references a
// signed SBOM target.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "client-agent/commands/policy_commands.h"
#include "client-agent/policy/operator_auth.h"
#include "core/crypto/hash.h"
#include "core/crypto/keys.h"
#include "core/json/writer.h"
#include "tests/sim/repository_simulator.h"
#include "tests/unit/agent/test_http_server.h"
#include "tests/unit/agent/update_flow_fixture.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::WriteFile;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class AgentCommandsTest : public agent::testing::UpdateFlowTest {
 protected:
  pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> all = UpdateFlowArgs(MDU_CLIENT_AGENT);
    if (fs::exists(config_)) all.insert(all.end(), {"--config", config_.string()});
    all.insert(all.end(), args.begin(), args.end());
    return UpdateFlowTest::Spawn(all);
  }
  Outcome Finish(pid_t pid) {
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    Outcome run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.out = Stdout();
    run.err = Stderr();
    return run;
  }
  Outcome Agent(std::vector<std::string> args) { return Finish(Spawn(std::move(args))); }
  void Init() {
    const Outcome init = Agent({"init", (kRepo / "metadata/1.root.json").string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  void Config(const std::string& json) { WriteFile(config_, json); }
  // A window on a day that is not today (local time), so "now" is outside it.
  static std::string WindowNotToday() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    return std::string(kDays[(tm.tm_wday + 3) % 7]) + " 02:00-04:00";
  }

  fs::path config_ = tmp_.path() / "agent.json";
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(AgentCommandsTest, InstallOutsideTheWindowIsRefusedAndLogged) {
  Init();
  Config(R"({"maintenance_windows": [")" + WindowNotToday() + R"("]})");
  Outcome run = Agent({"--json", "update"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_TRUE(Contains(run.out, "\"reason\": \"outside_maintenance_window\"")) << run.out;
  EXPECT_FALSE(fs::exists(tmp_.path() / "install" / "current"));

  run = Agent({"--json", "events", "--verify"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "\"type\": \"policy_refused\"")) << run.out;
  EXPECT_TRUE(Contains(run.out, "\"intact\": true")) << run.out;

  // Inside a window covering every minute of the week the same update goes through.
  Config(R"({"maintenance_windows": ["* 00:00-24:00"]})");
  run = Agent({"update"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "committed 1.0.0")) << run.out;
}

TEST_F(AgentCommandsTest, TamperedEventLogIsDetected) {
  Init();
  Config(R"({"maintenance_windows": [")" + WindowNotToday() + R"("]})");
  ASSERT_EQ(Agent({"update"}).exit_code, 1);
  ASSERT_EQ(Agent({"update"}).exit_code, 1);
  const fs::path log = tmp_.path() / "state" / "security_events.log";
  std::string text = ReadFile(log);
  const size_t at = text.find("outside the maintenance windows");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 7, "INSIDE ");  // hide what happened
  WriteFile(log, text);

  Outcome run = Agent({"events", "--verify"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "altered")) << run.err;
  EXPECT_TRUE(Contains(run.err, "line 1")) << run.err;
  run = Agent({"--json", "events", "--verify"});
  EXPECT_TRUE(Contains(run.out, "\"intact\": false")) << run.out;
  // Without --verify the records are still listed.
  run = Agent({"events"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "policy_refused")) << run.out;
}

class OperatorCommandsTest : public AgentCommandsTest {
 protected:
  void SetUp() override {
    operator_key_.emplace(std::move(*crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519)));
    Config(R"({"device_id": "pump-0001", "operator_keys": [)" +
           json::Canonical(operator_key_->public_key().ToTuf()) + "]}");
  }
  std::string Authorization(const crypto::Signer& signer, std::string action, int64_t issued,
                            int64_t expires, std::string device = "pump-0001") {
    const policy::Authorization auth{std::move(action), std::move(device), std::nullopt, issued,
                                     expires};
    Result<std::string> bytes = policy::SignAuthorization(auth, signer);
    EXPECT_TRUE(bytes);
    const fs::path file = tmp_.path() / ("auth-" + std::to_string(++count_) + ".json");
    WriteFile(file, bytes ? *bytes : "");
    return file.string();
  }
  std::string Events() { return Agent({"--json", "events", "--verify"}).out; }

  std::optional<crypto::PrivateKey> operator_key_;
  int count_ = 0;
};

TEST_F(OperatorCommandsTest, RollbackWithoutAuthorizationIsRefusedAndLogged) {
  Init();
  Outcome run = Agent({"rollback"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "requires an operator authorization")) << run.err;
  EXPECT_TRUE(Contains(Events(), "\"type\": \"unauthorized_command\"")) << Events();
}

TEST_F(OperatorCommandsTest, EventLogRotatesAndStillVerifiesAcrossSegments) {
  Init();
  const std::vector<std::string> small = {"--event-log-max-bytes", "8192",
                                          "--event-log-segments", "2"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), small.begin(), small.end());
    return args;
  };
  for (int i = 0; i < 30; ++i) ASSERT_EQ(Agent(with({"rollback"})).exit_code, 1);
  const fs::path state = tmp_.path() / "state";
  EXPECT_TRUE(fs::exists(state / "security_events.anchor"));  // the oldest segment was dropped
  Outcome run = Agent(with({"--json", "events", "--verify"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "\"intact\": true")) << run.out;
  EXPECT_TRUE(Contains(run.out, "\"segments\": 2")) << run.out;
  EXPECT_FALSE(Contains(run.out, "\"dropped_through\": 0")) << run.out;
  // Tampering in the closed segment is found and named.
  fs::path closed;
  for (const auto& entry : fs::directory_iterator(state)) {
    if (entry.path().filename().string().starts_with("security_events.log.")) closed = entry.path();
  }
  ASSERT_FALSE(closed.empty());
  std::string text = ReadFile(closed);
  const size_t at = text.find("requires");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 8, "REQUIRES");
  WriteFile(closed, text);
  run = Agent(with({"events", "--verify"}));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, closed.filename().string())) << run.err;
}

// The cap of the event log from the config file (same bounds as the command line).
TEST_F(OperatorCommandsTest, EventLogCapFromTheConfigFile) {
  Init();
  const std::string keys = json::Canonical(operator_key_->public_key().ToTuf());
  Config(R"({"device_id": "pump-0001", "operator_keys": [)" + keys +
         R"(], "event_log": {"max_bytes": 8192, "segments": 2}})");
  for (int i = 0; i < 30; ++i) ASSERT_EQ(Agent({"rollback"}).exit_code, 1);
  EXPECT_TRUE(fs::exists(tmp_.path() / "state" / "security_events.anchor"));
  Outcome run = Agent({"--json", "events", "--verify"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "\"intact\": true")) << run.out;
  EXPECT_TRUE(Contains(run.out, "\"segments\": 2")) << run.out;

  // Outside the bounds: refused with the field named, in the file and on the command line.
  Config(R"({"device_id": "pump-0001", "operator_keys": [)" + keys +
         R"(], "event_log": {"max_bytes": 100}})");
  run = Agent({"rollback"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "event_log.max_bytes")) << run.err;
  Config("{}");
  run = Agent({"--event-log-segments", "1", "events"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "--event-log-segments must be from 2 to 1000")) << run.err;
}

TEST_F(OperatorCommandsTest, ForgedExpiredOrForeignAuthorizationIsRefused) {
  Init();
  const int64_t now = std::time(nullptr);
  Result<crypto::PrivateKey> attacker = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
  ASSERT_TRUE(attacker);
  struct Case {
    std::string file;
    std::string why;
  };
  const std::vector<Case> cases = {
      {Authorization(*attacker, "rollback", now - 60, now + 600), "no valid signature"},
      {Authorization(*operator_key_, "rollback", now - 1200, now - 600), "expired"},
      {Authorization(*operator_key_, "rollback", now - 60, now + 600, "pump-0002"), "for device"},
      {Authorization(*operator_key_, "approve", now - 60, now + 600), "authorizes"},
  };
  for (const Case& c : cases) {
    Outcome run = Agent({"--authorization", c.file, "rollback"});
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(Contains(run.err, c.why)) << run.err;
  }
  const std::string events = Events();
  size_t refusals = 0;
  for (size_t at = events.find("unauthorized_command"); at != std::string::npos;
       at = events.find("unauthorized_command", at + 1)) {
    ++refusals;
  }
  EXPECT_EQ(refusals, cases.size()) << events;
  EXPECT_TRUE(Contains(events, "\"intact\": true")) << events;
}

TEST_F(OperatorCommandsTest, ValidAuthorizationLetsTheRollbackProceed) {
  Init();
  ASSERT_EQ(Agent({"update"}).exit_code, 0);
  const int64_t now = std::time(nullptr);
  Outcome run = Agent({"--authorization", Authorization(*operator_key_, "rollback", now - 60, now + 600),
                   "--json", "rollback"});
  // Authorized; only one version was ever installed, so there is nothing to go back to.
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.out, "nothing_to_roll_back")) << run.out << run.err;
  EXPECT_FALSE(Contains(Events(), "unauthorized_command"));
}

TEST_F(AgentCommandsTest, ApprovalGatesTheInstallAndCheckShowsTheVerdict) {
  Init();
  Config(R"({"require_approval": true})");
  Outcome run = Agent({"--json", "check"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "\"name\": \"manifest.txt\"")) << run.out;
  EXPECT_TRUE(Contains(run.out, "\"reason\": \"approval_required\"")) << run.out;
  EXPECT_FALSE(fs::exists(tmp_.path() / "install" / "current"));  // check installs nothing

  run = Agent({"--json", "update"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.out, "approval_required")) << run.out;

  run = Agent({"approve", "manifest.txt"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = Agent({"check"});
  EXPECT_TRUE(Contains(run.out, "policy: install allowed now")) << run.out;
  run = Agent({"update"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "committed 1.0.0")) << run.out;
  EXPECT_FALSE(fs::exists(tmp_.path() / "state" / "approval.json"));  // consumed
  run = Agent({"check"});
  EXPECT_TRUE(Contains(run.out, "no update for this device")) << run.out;
}

TEST_F(AgentCommandsTest, BusyHookPostponesTheInstall) {
  Init();
  Config(R"({"busy_hook": {"command": ["/bin/sh", "-c", "exit 10"]}})");
  Outcome run = Agent({"--json", "update"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.out, "\"reason\": \"device_busy\"")) << run.out;
  EXPECT_FALSE(fs::exists(tmp_.path() / "install" / "current"));
}

TEST_F(AgentCommandsTest, ScriptInstallerSelectedByTheConfig) {
  Init();
  const fs::path script = tmp_.path() / "vendor-install";
  WriteFile(script, "#!/bin/sh\necho \"$1 $MDU_SLOT\" >> \"$MDU_WORK_DIR/stages.log\"\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  const fs::path backed_up = tmp_.path() / "pump.conf";
  WriteFile(backed_up, "rate=1\n");
  Config(R"({"installer": {"type": "script", "path": ")" + script.string() +
         R"(", "timeout_s": 10}, "config_backup": [")" + backed_up.string() + R"("]})");
  Outcome run = Agent({"update"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ReadFile(tmp_.path() / "install" / "stages.log"),
            "download a\ninstall a\nactivate a\nhealth-check a\ncommit a\n");
  EXPECT_TRUE(fs::exists(tmp_.path() / "state" / "config-backup" / "manifest.json"));
}

TEST_F(AgentCommandsTest, RunStopsOnSigterm) {
  Init();
  Config(R"({"poll": {"interval_s": 3600, "jitter_s": 0}})");
  const pid_t pid = Spawn({"run"});
  // Wait for the first cycle to finish (it prints its outcome), then ask the daemon to stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!Contains(ReadFile(tmp_.path() / "stdout"), "committed") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  const auto stopping = std::chrono::steady_clock::now();
  const Outcome run = Finish(pid);
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(5));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "committed 1.0.0")) << run.out;
  EXPECT_TRUE(Contains(run.err, "stopped by signal")) << run.err;
}

TEST_F(AgentCommandsTest, RunFinishesTheTransactionWhenStoppedDuringIt) {
  Init();
  // SIGTERM arrives during the health check: the install commits, then the daemon exits.
  const Outcome run = Agent({"--health-check", "kill -TERM $PPID; sleep 1", "run"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "committed 1.0.0")) << run.out;
  EXPECT_TRUE(Contains(run.err, "stopped by signal")) << run.err;
}

TEST_F(AgentCommandsTest, RunBacksOffWhenTheServerIsDown) {
  Init();
  metadata_url_ = "http://127.0.0.1:1/metadata";
  Config(R"({"poll": {"interval_s": 1, "jitter_s": 0}})");
  const Outcome run = Agent({"--connect-timeout", "1", "run", "--max-cycles", "1"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.err, "cycle 1 failed: download")) << run.err;
}

// A source that trickles: every attempt gets a few bytes (progress, so the count of attempts
// without progress never runs out), then falls below the minimum speed. The configured cap of
// attempts in all ends the update as a clear failure instead of retrying for ever.
TEST_F(AgentCommandsTest, TricklingDownloadGivesUpAfterTheConfiguredAttempts) {
  Init();
  agent::testing::TestHttpServer server([](const std::string& path) {
    agent::testing::TestResponse response;
    const fs::path file = kRepo / "targets" / path.substr(1);
    if (path.find("..") != std::string::npos || !fs::is_regular_file(file)) {
      response.status = 404;
      return response;
    }
    response.body = ReadFile(file);
    response.mode = agent::testing::TestResponse::Mode::kTrickle;
    response.trickle_interval = std::chrono::milliseconds(200);
    return response;
  });
  targets_url_ = server.Url("");
  Config(R"({"download": {"attempts": 5, "max_attempts": 3, "backoff_s": 0}})");
  const auto start = std::chrono::steady_clock::now();
  const Outcome run =
      Agent({"--min-speed", "1000", "--min-speed-time", "1", "--quiet", "--json", "update"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_TRUE(Contains(run.out, "\"reason\": \"download_failed\"")) << run.out;
  EXPECT_TRUE(Contains(run.out, "gave up after 3 attempts")) << run.out;
  EXPECT_TRUE(Contains(run.out, "slow_retrieval")) << run.out;
  EXPECT_EQ(server.requests(), 3);  // the targets; metadata came from file://
  EXPECT_FALSE(fs::exists(tmp_.path() / "install" / "current"));
  // The failure is the recorded last result (what the report outbox sends).
  const Outcome status = Agent({"status"});
  EXPECT_TRUE(Contains(status.out, "download_failed")) << status.out;
}

// A malicious mirror answers the resume of a cut download with another range than asked (the
// whole file, labelled as starting at byte 0), once, then serves correctly. The agent refuses
// those bytes, starts over from byte 0 and installs the verified file, and the event log holds
// the refusal: a recovered download is not a silent one.
TEST_F(AgentCommandsTest, WrongRangeOnResumeIsLoggedThoughTheRetryInstalls) {
  Init();
  std::vector<std::string> ranges;
  agent::testing::TestHttpServer server([&](const agent::testing::TestRequest& request) {
    agent::testing::TestResponse response;
    const fs::path file = kRepo / "targets" / request.path.substr(1);
    if (request.path.find("..") != std::string::npos || !fs::is_regular_file(file)) {
      response.status = 404;
      return response;
    }
    response.body = ReadFile(file);
    const std::string size = std::to_string(response.body.size());
    ranges.push_back(request.range);
    if (ranges.size() == 1) response.cut_after = 20;  // leaves a partial download
    if (ranges.size() == 2) {
      response.status = 206;
      response.headers = {{"Content-Range", "bytes 0-" +
                                                std::to_string(response.body.size() - 1) + "/" +
                                                size}};
    }
    return response;
  });
  targets_url_ = server.Url("");
  Config(R"({"download": {"attempts": 2, "max_attempts": 10, "backoff_s": 0}})");
  const Outcome run = Agent({"--quiet", "update"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(ranges, (std::vector<std::string>{"", "bytes=20-", ""}));
  ASSERT_TRUE(State().installed);
  EXPECT_EQ(State().installed->target.version, "1.0.0");
  const Outcome events = Agent({"events", "--verify"});
  EXPECT_EQ(events.exit_code, 0) << events.err;
  EXPECT_TRUE(Contains(events.out, "hash_mismatch")) << events.out;
  EXPECT_TRUE(Contains(events.out, "answered 206 with bytes from 0, asked for bytes from 20"))
      << events.out;
}

TEST(PollDelayTest, IntervalWithJitterAndExponentialBackoff) {
  policy::PollConfig poll;
  poll.interval = std::chrono::seconds(3600);
  poll.jitter = std::chrono::seconds(300);
  poll.max_backoff = std::chrono::seconds(600);
  for (uint64_t random : {0u, 1u, 300u, 599u, 600u, 12345u}) {
    const int64_t delay = commands::NextPollDelay(poll, 0, random).count();
    EXPECT_GE(delay, 3300);
    EXPECT_LE(delay, 3900);
  }
  EXPECT_EQ(commands::NextPollDelay(poll, 0, 300).count(), 3600);  // the middle of the range
  poll.jitter = std::chrono::seconds(0);
  EXPECT_EQ(commands::NextPollDelay(poll, 1, 7).count(), 30);
  EXPECT_EQ(commands::NextPollDelay(poll, 2, 7).count(), 60);
  EXPECT_EQ(commands::NextPollDelay(poll, 4, 7).count(), 240);
  EXPECT_EQ(commands::NextPollDelay(poll, 5, 7).count(), 480);
  EXPECT_EQ(commands::NextPollDelay(poll, 6, 7).count(), 600);   // capped
  EXPECT_EQ(commands::NextPollDelay(poll, 60, 7).count(), 600);  // no overflow
  poll.max_backoff = std::chrono::seconds(10);
  EXPECT_EQ(commands::NextPollDelay(poll, 1, 7).count(), 10);
}

TEST(PollDelayTest, ReportRetriesWakeTheDaemonBeforeTheNextCycle) {
  policy::PollConfig poll;
  poll.interval = std::chrono::seconds(3600);
  poll.jitter = std::chrono::seconds(0);
  poll.max_backoff = std::chrono::seconds(600);
  const std::chrono::seconds until_update(3000);
  EXPECT_EQ(commands::NextWakeDelay(until_update, 0, poll, 7), until_update);  // nothing waits
  EXPECT_EQ(commands::NextWakeDelay(until_update, 1, poll, 7).count(), 30);
  EXPECT_EQ(commands::NextWakeDelay(until_update, 3, poll, 7).count(), 120);
  EXPECT_EQ(commands::NextWakeDelay(until_update, 30, poll, 7).count(), 600);  // capped
  // Never later than the update cycle itself.
  EXPECT_EQ(commands::NextWakeDelay(std::chrono::seconds(20), 3, poll, 7).count(), 20);
}

// ---- sbom ----

class SbomCommandTest : public AgentCommandsTest {
 protected:
  void SetUp() override {
    constexpr int64_t kFar = 4'102'444'800;  // 2100-01-01
    sim_.root.common.expires = kFar;
    sim_.PublishRoot();
    sim_.timestamp.common.expires = kFar;
    sim_.snapshot.common.expires = kFar;
    sim_.Role("targets").common.expires = kFar;
    const std::string sbom = R"({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})";
    sim_.AddTarget("targets", "pump/fw.bin.sbom.json", sbom,
                   json::Value::MakeObject({{"sbom_for", "pump/fw.bin"},
                                            {"sbom_format", "CycloneDX"}}));
    sim_.AddTarget("targets", "pump/fw.bin", "firmware 2.0\n",
                   json::Value::MakeObject(
                       {{"version", "2.0.0"},
                        {"hardware_ids", json::Array{json::Value("pump-x2")}},
                        {"sbom", json::Value::MakeObject({{"name", "pump/fw.bin.sbom.json"},
                                                          {"sha256", crypto::Sha256Hex(sbom)}})}}));
    sim_.UpdateSnapshot();
    for (const auto& [path, bytes] : sim_.files) {
      fs::create_directories((tmp_.path() / "repo" / path).parent_path());
      WriteFile(tmp_.path() / "repo" / path, bytes);
    }
    metadata_url_ = "file://" + (tmp_.path() / "repo" / "metadata").string();
    targets_url_ = "file://" + (tmp_.path() / "repo" / "targets").string();
    hardware_id_ = "pump-x2";
    const Outcome init = Agent({"init", (tmp_.path() / "repo" / "metadata" / "1.root.json").string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  sim::RepositorySimulator sim_;
};

TEST_F(SbomCommandTest, ShowsTheVerifiedSbomOfTheInstalledRelease) {
  Outcome run = Agent({"sbom"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "nothing is installed")) << run.err;
  run = Agent({"update"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "committed 2.0.0 (pump/fw.bin)")) << run.out;
  run = Agent({"--json", "sbom"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "\"format\": \"CycloneDX\"")) << run.out;
  EXPECT_TRUE(Contains(run.out, "\"bomFormat\": \"CycloneDX\"")) << run.out;
  // The installed-target record keeps the signed SBOM reference (for the inventory reports).
  run = Agent({"--json", "status"});
  EXPECT_TRUE(Contains(run.out, "\"name\": \"pump/fw.bin.sbom.json\"")) << run.out;
  run = Agent({"sbom"});
  EXPECT_TRUE(Contains(run.out, "\"specVersion\": \"1.5\"")) << run.out;
}

TEST_F(SbomCommandTest, TamperedSbomOnTheMirrorIsRefused) {
  ASSERT_EQ(Agent({"update"}).exit_code, 0);
  const std::string served = sim_.TargetPath("targets", "pump/fw.bin.sbom.json");
  WriteFile(tmp_.path() / "repo" / served, R"({"bomFormat": "CycloneDX", "components": ["evil"]})");
  Outcome run = Agent({"sbom"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "length_mismatch") || Contains(run.err, "hash_mismatch")) << run.err;
  EXPECT_TRUE(Contains(Agent({"events"}).out, "hash_mismatch"));
}

}  // namespace
}  // namespace mdu::agent
