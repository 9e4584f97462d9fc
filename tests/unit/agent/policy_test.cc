// Device policies: maintenance windows, the agent config, operator authorizations (forged,
// expired, replayed elsewhere) and install admission (window, approval, busy hook).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "client-agent/policy/agent_config.h"
#include "client-agent/policy/install_policy.h"
#include "client-agent/policy/maintenance_window.h"
#include "client-agent/policy/operator_auth.h"
#include "core/client/clock.h"
#include "core/crypto/keys.h"
#include "core/json/writer.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::policy {
namespace {

using agent::testing::TempDir;
using update::Reason;

constexpr int kSun = 0, kMon = 1, kFri = 5, kSat = 6;

MaintenanceWindow Window(std::string_view text) {
  Result<MaintenanceWindow> window = ParseMaintenanceWindow(text);
  EXPECT_TRUE(window) << text << ": " << window.error().ToString();
  return window ? *window : MaintenanceWindow{};
}

TEST(MaintenanceWindowTest, WeekdayRange) {
  const MaintenanceWindow w = Window("Mon-Fri 02:00-04:00");
  EXPECT_TRUE(w.Contains({kMon, 120}));
  EXPECT_TRUE(w.Contains({kFri, 239}));
  EXPECT_FALSE(w.Contains({kFri, 240}));  // end is exclusive
  EXPECT_FALSE(w.Contains({kMon, 119}));
  EXPECT_FALSE(w.Contains({kSat, 150}));
  EXPECT_FALSE(w.Contains({kSun, 150}));
}

TEST(MaintenanceWindowTest, CrossesMidnightAndWrapsOverTheWeekend) {
  const MaintenanceWindow w = Window("Fri 22:00-02:00");
  EXPECT_TRUE(w.Contains({kFri, 23 * 60}));
  EXPECT_TRUE(w.Contains({kSat, 60}));  // the morning after Friday
  EXPECT_FALSE(w.Contains({kFri, 60}));  // Friday morning belongs to Thursday's window
  const MaintenanceWindow weekend = Window("Sat-Sun 00:00-24:00");
  EXPECT_TRUE(weekend.Contains({kSun, 1439}));
  EXPECT_FALSE(weekend.Contains({kMon, 0}));
  const MaintenanceWindow wrap = Window("Fri-Mon 10:00-11:00");
  EXPECT_TRUE(wrap.Contains({kSun, 630}));
  EXPECT_FALSE(wrap.Contains({3, 630}));
  EXPECT_TRUE(Window("Mon,Wed-Thu 10:00-11:00").Contains({4, 600}));
  EXPECT_TRUE(Window("* 10:00-11:00").Contains({2, 600}));
}

TEST(MaintenanceWindowTest, RejectsMalformedWindows) {
  for (const char* text : {"", "Mon", "Mon 02:00", "Mon 2:00-04:00", "Mon 02:00-04:60",
                           "Mon 25:00-26:00", "Monday 02:00-04:00", "Mon- 02:00-04:00",
                           "Mon, 02:00-04:00", "Mon 02:00-02:00", "Mon 24:00-01:00",
                           "Mon 02:00-04:00x"}) {
    EXPECT_FALSE(ParseMaintenanceWindow(text)) << text;
  }
}

TEST(MaintenanceWindowTest, NoWindowsMeansAlwaysAndNextWindow) {
  EXPECT_TRUE(InsideAnyWindow({}, {kMon, 0}));
  EXPECT_EQ(MinutesUntilNextWindow({}, {kMon, 0}), std::nullopt);
  const std::vector<MaintenanceWindow> windows = {Window("Mon-Fri 02:00-04:00")};
  EXPECT_EQ(MinutesUntilNextWindow(windows, {kMon, 60}), 60);
  EXPECT_EQ(MinutesUntilNextWindow(windows, {kMon, 150}), 0);
  EXPECT_EQ(MinutesUntilNextWindow(windows, {kSat, 120}), 2 * 24 * 60);
}

TEST(PolicyReasonTest, NewReasonsHaveStableNames) {
  for (Reason reason : {Reason::kOutsideMaintenanceWindow, Reason::kApprovalRequired,
                        Reason::kDeviceBusy, Reason::kVetoedByDevice, Reason::kUnauthorized}) {
    EXPECT_NE(update::ReasonName(reason), "unknown");
    EXPECT_EQ(update::ReasonFromName(update::ReasonName(reason)), reason);
  }
  EXPECT_EQ(update::ReasonName(Reason::kOutsideMaintenanceWindow), "outside_maintenance_window");
}

TEST(AgentConfigTest, EmptyConfigKeepsDefaults) {
  Result<AgentConfig> config = ParseAgentConfig("{}");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_TRUE(config->maintenance_windows.empty());
  EXPECT_FALSE(config->require_approval);
  EXPECT_FALSE(config->operator_required());
  EXPECT_EQ(config->installer.type, "ab-dir");
  EXPECT_TRUE(config->config_backup.empty());
}

TEST(AgentConfigTest, ParsesEveryField) {
  Result<crypto::PrivateKey> key = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
  ASSERT_TRUE(key);
  const std::string text =
      R"({"device_id": "pump-0001", "maintenance_windows": ["Mon-Fri 02:00-04:00", "Sat 00:00-24:00"],
          "require_approval": true, "approval_ttl_s": 600,
          "busy_hook": {"command": ["/bin/true"], "timeout_s": 5},
          "operator_keys": [)" +
      json::Canonical(key->public_key().ToTuf()) + R"(], "operator_auth_max_lifetime_s": 900,
          "installer": {"type": "script", "path": "/opt/vendor/install", "timeout_s": 30},
          "config_backup": ["/etc/pump.conf"],
          "poll": {"interval_s": 60, "jitter_s": 5, "max_backoff_s": 600}})";
  Result<AgentConfig> config = ParseAgentConfig(text);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->device_id, "pump-0001");
  EXPECT_EQ(config->maintenance_windows.size(), 2u);
  EXPECT_TRUE(config->require_approval);
  EXPECT_EQ(config->approval_ttl.count(), 600);
  EXPECT_EQ(config->busy_hook.command, std::vector<std::string>{"/bin/true"});
  EXPECT_TRUE(config->operator_required());
  EXPECT_EQ(config->operator_auth_max_lifetime_s, 900);
  EXPECT_EQ(config->installer.type, "script");
  EXPECT_EQ(config->installer.timeout.count(), 30);
  EXPECT_EQ(config->config_backup.size(), 1u);
  EXPECT_EQ(config->poll.interval.count(), 60);
}

TEST(AgentConfigTest, RejectsTyposAndUnsafeValues) {
  for (const char* text :
       {R"({"maintenance_window": ["Mon 02:00-04:00"]})",  // typo: must not be ignored
        R"({"maintenance_windows": ["Mon 02:00"]})", R"({"require_approval": "yes"})",
        R"({"installer": {"type": "script"}})", R"({"installer": {"type": "flash"}})",
        R"({"installer": {"type": "script", "path": "relative"}})",
        R"({"config_backup": ["etc/x"]})", R"({"poll": {"interval_s": 0}})",
        R"({"operator_keys": []})", R"({"busy_hook": {"command": []}})", "[]", "{"}) {
    EXPECT_FALSE(ParseAgentConfig(text)) << text;
  }
}

TEST(AgentConfigTest, DownloadRetriesAndEventLogCapComeFromTheFile) {
  Result<AgentConfig> defaults = ParseAgentConfig("{}");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->download.max_attempts, 5);
  EXPECT_EQ(defaults->download.max_total_attempts, 50);
  EXPECT_EQ(defaults->download.initial_backoff, std::chrono::seconds(2));
  EXPECT_EQ(defaults->download.max_backoff, std::chrono::seconds(60));
  EXPECT_EQ(defaults->event_log.max_bytes, events::LogLimits::kDefaultMaxBytes);
  EXPECT_EQ(defaults->event_log.max_segments, 4u);

  Result<AgentConfig> config = ParseAgentConfig(
      R"({"download": {"attempts": 2, "max_attempts": 7, "backoff_s": 0, "max_backoff_s": 5},
          "event_log": {"max_bytes": 65536, "segments": 3}})");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->download.max_attempts, 2);
  EXPECT_EQ(config->download.max_total_attempts, 7);
  EXPECT_EQ(config->download.initial_backoff, std::chrono::seconds(0));
  EXPECT_EQ(config->download.max_backoff, std::chrono::seconds(5));
  EXPECT_EQ(config->event_log.max_bytes, 65536u);
  EXPECT_EQ(config->event_log.max_segments, 3u);

  // Absent fields keep their defaults.
  config = ParseAgentConfig(R"({"download": {"max_attempts": 9}, "event_log": {}})");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->download.max_attempts, 5);
  EXPECT_EQ(config->download.max_total_attempts, 9);
  EXPECT_EQ(config->event_log.max_bytes, events::LogLimits::kDefaultMaxBytes);
}

TEST(AgentConfigTest, DownloadAndEventLogLimitsOutsideTheirBoundsAreRejected) {
  for (const char* text :
       {R"({"download": {"attempts": 0}})", R"({"download": {"attempts": 1001}})",
        R"({"download": {"max_attempts": 0}})", R"({"download": {"max_attempts": 10001}})",
        R"({"download": {"backoff_s": -1}})", R"({"download": {"backoff_s": 3601}})",
        R"({"download": {"max_backoff_s": 86401}})", R"({"download": {"attempts": "5"}})",
        R"({"download": {"retries": 5}})", R"({"download": 5})",
        R"({"event_log": {"max_bytes": 8191}})", R"({"event_log": {"max_bytes": 1073741825}})",
        R"({"event_log": {"segments": 1}})", R"({"event_log": {"segments": 1001}})",
        R"({"event_log": {"max_bytes": 1.5}})", R"({"event_log": {"size": 1}})"}) {
    Result<AgentConfig> config = ParseAgentConfig(text);
    ASSERT_FALSE(config) << text;
    EXPECT_NE(config.error().message().find("agent config"), std::string::npos)
        << config.error().ToString();
  }
  Result<AgentConfig> config = ParseAgentConfig(R"({"event_log": {"segments": 1}})");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("event_log.segments\" must be an integer from 2 to 1000"),
            std::string::npos)
      << config.error().ToString();
  // The bounds themselves are accepted.
  EXPECT_TRUE(ParseAgentConfig(
      R"({"download": {"attempts": 1000, "max_attempts": 1, "backoff_s": 3600,
                       "max_backoff_s": 0}, "event_log": {"max_bytes": 8192, "segments": 2}})"));
}

TEST(AgentConfigTest, CommandLineOverridesTheFileWithinTheSameBounds) {
  Result<AgentConfig> config = ParseAgentConfig(
      R"({"download": {"attempts": 2, "max_attempts": 7}, "event_log": {"segments": 3}})");
  ASSERT_TRUE(config);
  CommandLineLimits limits;
  limits.download_max_attempts = 3;
  limits.retry_max_backoff_s = 10;
  limits.event_log_max_bytes = 8192;
  ASSERT_TRUE(ApplyCommandLine(limits, &*config));
  EXPECT_EQ(config->download.max_attempts, 2);        // from the file
  EXPECT_EQ(config->download.max_total_attempts, 3);  // the command line wins
  EXPECT_EQ(config->download.max_backoff, std::chrono::seconds(10));
  EXPECT_EQ(config->event_log.max_bytes, 8192u);
  EXPECT_EQ(config->event_log.max_segments, 3u);

  for (auto set : std::vector<void (*)(CommandLineLimits&)>{
           [](CommandLineLimits& l) { l.download_attempts = 0; },
           [](CommandLineLimits& l) { l.download_max_attempts = 10001; },
           [](CommandLineLimits& l) { l.retry_backoff_s = -1; },
           [](CommandLineLimits& l) { l.retry_max_backoff_s = 86401; },
           [](CommandLineLimits& l) { l.event_log_max_bytes = 0; },
           [](CommandLineLimits& l) { l.event_log_segments = 1; }}) {
    CommandLineLimits bad;
    set(bad);
    AgentConfig untouched;
    Status applied = ApplyCommandLine(bad, &untouched);
    ASSERT_FALSE(applied);
    EXPECT_EQ(applied.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(applied.error().message().find(" must be from "), std::string::npos)
        << applied.error().ToString();
  }
}

class OperatorAuthTest : public ::testing::Test {
 protected:
  OperatorAuthTest()
      : key_(std::move(*crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519))),
        keys_{key_.public_key()} {}

  Authorization Good() const {
    return Authorization{"rollback", "pump-0001", std::nullopt, kNow - 60, kNow + 600};
  }
  AuthorizationRequest Request() const {
    return AuthorizationRequest{"rollback", "pump-0001", "", kNow, 3600};
  }
  std::string Sign(const Authorization& auth, const crypto::Signer& signer) const {
    Result<std::string> bytes = SignAuthorization(auth, signer);
    EXPECT_TRUE(bytes);
    return bytes ? *bytes : std::string();
  }
  void ExpectRefused(const std::string& bytes, const AuthorizationRequest& request,
                     std::string_view why) {
    Result<Authorization> verified = VerifyAuthorization(bytes, keys_, request);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().kind(), ErrorKind::kPolicy) << verified.error().ToString();
    EXPECT_NE(verified.error().message().find(why), std::string::npos)
        << verified.error().message();
  }

  static constexpr metadata::UnixTime kNow = 1'800'000'000;
  crypto::PrivateKey key_;
  std::vector<crypto::PublicKey> keys_;
};

TEST_F(OperatorAuthTest, AcceptsAValidAuthorization) {
  Result<Authorization> verified = VerifyAuthorization(Sign(Good(), key_), keys_, Request());
  ASSERT_TRUE(verified) << verified.error().ToString();
  EXPECT_EQ(verified->action, "rollback");
}

TEST_F(OperatorAuthTest, RejectsForgedSignature) {
  Result<crypto::PrivateKey> attacker = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
  ASSERT_TRUE(attacker);
  ExpectRefused(Sign(Good(), *attacker), Request(), "no valid signature");
}

TEST_F(OperatorAuthTest, RejectsAlteredBody) {
  std::string bytes = Sign(Good(), key_);
  const size_t at = bytes.find("pump-0001");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 9, "pump-0002");  // re-target someone else's authorization
  AuthorizationRequest request = Request();
  request.device = "pump-0002";
  ExpectRefused(bytes, request, "no valid signature");
}

TEST_F(OperatorAuthTest, RejectsExpired) {
  AuthorizationRequest late = Request();
  late.now = kNow + 600;
  ExpectRefused(Sign(Good(), key_), late, "expired");
}

TEST_F(OperatorAuthTest, RejectsOtherDeviceActionOrTarget) {
  AuthorizationRequest other = Request();
  other.device = "pump-0002";
  ExpectRefused(Sign(Good(), key_), other, "for device");
  AuthorizationRequest install = Request();
  install.action = "install";
  ExpectRefused(Sign(Good(), key_), install, "authorizes");
  Authorization targeted = Good();
  targeted.target = "fw-1.bin";
  AuthorizationRequest wrong_target = Request();
  wrong_target.target = "fw-2.bin";
  ExpectRefused(Sign(targeted, key_), wrong_target, "for target");
}

TEST_F(OperatorAuthTest, RejectsLongLivedAndFutureAuthorizations) {
  Authorization forever = Good();
  forever.expires = kNow + 10 * 365 * 86400;
  ExpectRefused(Sign(forever, key_), Request(), "lifetime");
  Authorization future = Good();
  future.issued = kNow + 3600;
  future.expires = kNow + 3700;
  ExpectRefused(Sign(future, key_), Request(), "future");
}

TEST_F(OperatorAuthTest, RejectsWithoutConfiguredKeysAndGarbage) {
  EXPECT_FALSE(VerifyAuthorization(Sign(Good(), key_), {}, Request()));
  EXPECT_FALSE(VerifyAuthorization("not json", keys_, Request()));
  EXPECT_FALSE(VerifyAuthorization("{}", keys_, Request()));
}

class InstallPolicyTest : public ::testing::Test {
 protected:
  // 2027-01-04 is a Monday; TZ=UTC keeps local time equal to UTC for the test.
  static constexpr metadata::UnixTime kMonday0300 = 1'799'020'800 + 3 * 3600;
  InstallPolicyTest() { ::setenv("TZ", "UTC", 1); ::tzset(); }

  TempDir tmp_;
  AgentConfig config_;
  client::FakeClock clock_{kMonday0300};
  InstallPolicy policy_{config_, tmp_.path(), clock_};
};

TEST_F(InstallPolicyTest, WeekdayOfTheFixture) {
  const LocalTime local = ToLocalTime(kMonday0300);
  EXPECT_EQ(local.weekday, kMon);
  EXPECT_EQ(local.minute, 180);
}

TEST_F(InstallPolicyTest, RefusesOutsideTheWindow) {
  config_.maintenance_windows = {Window("Mon-Fri 02:00-04:00")};
  Result<Verdict> inside = policy_.Admit("fw.bin", "2.0");
  ASSERT_TRUE(inside);
  EXPECT_TRUE(inside->allowed) << inside->message;
  clock_.Advance(3600);  // 04:00
  Result<Verdict> outside = policy_.Admit("fw.bin", "2.0");
  ASSERT_TRUE(outside);
  EXPECT_FALSE(outside->allowed);
  EXPECT_EQ(outside->reason, Reason::kOutsideMaintenanceWindow);
  EXPECT_NE(outside->message.find("next opens in"), std::string::npos) << outside->message;
}

TEST_F(InstallPolicyTest, ApprovalBindsTheTargetExpiresAndIsConsumed) {
  config_.require_approval = true;
  config_.approval_ttl = std::chrono::seconds(600);
  EXPECT_EQ(policy_.Admit("fw.bin", "2.0")->reason, Reason::kApprovalRequired);
  ASSERT_TRUE(policy_.Approve("other.bin"));
  EXPECT_EQ(policy_.Admit("fw.bin", "2.0")->reason, Reason::kApprovalRequired);
  ASSERT_TRUE(policy_.Approve("fw.bin"));
  EXPECT_TRUE(policy_.Admit("fw.bin", "2.0")->allowed);
  clock_.Advance(600);
  EXPECT_EQ(policy_.Admit("fw.bin", "2.0")->reason, Reason::kApprovalRequired);
  ASSERT_TRUE(policy_.Approve("fw.bin"));
  ASSERT_TRUE(policy_.ConsumeApproval("fw.bin"));
  EXPECT_EQ(policy_.Admit("fw.bin", "2.0")->reason, Reason::kApprovalRequired);
}

TEST_F(InstallPolicyTest, BusyHookExitCodes) {
  auto verdict_for = [&](const std::string& script) {
    config_.busy_hook.command = {"/bin/sh", "-c", script};
    config_.busy_hook.timeout = std::chrono::seconds(1);
    Result<Verdict> verdict = policy_.Admit("fw.bin", "2.0");
    EXPECT_TRUE(verdict);
    return verdict ? *verdict : Verdict{};
  };
  EXPECT_TRUE(verdict_for("test \"$MDU_TARGET\" = fw.bin && test \"$MDU_VERSION\" = 2.0").allowed);
  EXPECT_EQ(verdict_for("exit 10").reason, Reason::kDeviceBusy);
  EXPECT_EQ(verdict_for("exit 20").reason, Reason::kVetoedByDevice);
  EXPECT_EQ(verdict_for("exit 3").reason, Reason::kDeviceBusy);  // unclear: postpone
  EXPECT_EQ(verdict_for("sleep 30").reason, Reason::kDeviceBusy);
  config_.busy_hook.command = {"/nonexistent/busy-hook"};
  EXPECT_EQ(policy_.Admit("fw.bin", "2.0")->reason, Reason::kDeviceBusy);
}

TEST_F(InstallPolicyTest, NoPoliciesAllowEverything) {
  Result<Verdict> verdict = policy_.Admit("fw.bin", "2.0");
  ASSERT_TRUE(verdict);
  EXPECT_TRUE(verdict->allowed);
}

}  // namespace
}  // namespace mdu::agent::policy
