// Operational modules of repo-server: the per-device rate limiter, publish upload caps, the
// configuration (file + flags, validation, change records) and encrypted online keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "repo-server/config.h"
#include "repo-server/online_key.h"
#include "repo-server/rate_limiter.h"
#include "repo-server/upload_limits.h"
#include "signer/keystore/keystore.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;

// ---- RateLimiter ----

TEST(RateLimiterTest, SpendsTheBurstThenRefillsAtTheRate) {
  double now = 100;
  RateLimiter limiter(RateLimit{/*rate_per_second=*/2, /*burst=*/3}, [&] { return now; });
  EXPECT_TRUE(limiter.Allow("dev-a"));
  EXPECT_TRUE(limiter.Allow("dev-a"));
  EXPECT_TRUE(limiter.Allow("dev-a"));
  EXPECT_FALSE(limiter.Allow("dev-a"));  // burst spent
  EXPECT_TRUE(limiter.Allow("dev-b"));   // another device has its own bucket
  now += 0.5;                            // one token back
  EXPECT_TRUE(limiter.Allow("dev-a"));
  EXPECT_FALSE(limiter.Allow("dev-a"));
  now += 100;  // never more than the burst
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("dev-a"));
  EXPECT_FALSE(limiter.Allow("dev-a"));
}

TEST(RateLimiterTest, ZeroRateDisablesIt) {
  RateLimiter limiter(RateLimit{0, 1});
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Allow("dev"));
}

TEST(RateLimiterTest, ManyIdentitiesStayBoundedAndDecisionsConsistent) {
  double now = 0;
  RateLimiter limiter(RateLimit{1, 1, /*max_keys_per_shard=*/4}, [&] { return now; });
  EXPECT_TRUE(limiter.Allow("victim"));
  EXPECT_FALSE(limiter.Allow("victim"));
  // A stream of other ids, each draining its bucket, is bounded; decisions stay consistent.
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Allow("id-" + std::to_string(i)));
  now += 1;
  EXPECT_TRUE(limiter.Allow("victim"));
}

TEST(RateLimiterTest, SetLimitChangesRateAndBurstForExistingBuckets) {
  double now = 0;
  RateLimiter limiter(RateLimit{1, 2}, [&] { return now; });
  EXPECT_TRUE(limiter.Allow("dev"));
  EXPECT_TRUE(limiter.Allow("dev"));
  EXPECT_FALSE(limiter.Allow("dev"));
  limiter.SetLimit(RateLimit{10, 5});  // SIGHUP: faster refill, bigger burst
  EXPECT_EQ(limiter.limit().burst, 5);
  now += 0.5;  // 5 tokens at the new rate
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Allow("dev")) << i;
  EXPECT_FALSE(limiter.Allow("dev"));
  limiter.SetLimit(RateLimit{0, 1});  // disabled
  EXPECT_FALSE(limiter.enabled());
  EXPECT_TRUE(limiter.Allow("dev"));
}

// ---- RefusalThrottle (audit budget of refused operator credentials) ----

TEST(RefusalThrottleTest, PeerAddressDropsThePort) {
  EXPECT_EQ(RefusalThrottle::PeerAddress("ipv4:10.0.0.7:51234"), "ipv4:10.0.0.7");
  EXPECT_EQ(RefusalThrottle::PeerAddress("ipv6:[::1]:5"), "ipv6:[::1]");
  EXPECT_EQ(RefusalThrottle::PeerAddress("unix:/tmp/s"), "unix:/tmp/s");
}

// Attack: one peer floods bad tokens from ever new ports; another peer keeps its own budget.
TEST(RefusalThrottleTest, AFloodGetsItsBudgetOfRecordsAndOneSummaryPerInterval) {
  double now = 0;
  RefusalThrottle throttle(RateLimit{0.1, 3}, RateLimit{1, 100}, /*interval=*/60,
                           [&] { return now; });
  int recorded = 0;
  for (int i = 0; i < 1000; ++i) {
    recorded += throttle.Admit("ipv4:10.0.0.7:" + std::to_string(1000 + i)) ? 1 : 0;
  }
  EXPECT_EQ(recorded, 3);
  EXPECT_TRUE(throttle.Admit("ipv4:10.0.0.8:1"));  // another peer: its own bucket
  EXPECT_FALSE(throttle.TakeSummary()) << "not due before the interval";
  now += 61;
  auto summary = throttle.TakeSummary();
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->suppressed, 997u);
  EXPECT_EQ(summary->peers, std::vector<std::string>{"ipv4:10.0.0.7"});
  EXPECT_FALSE(throttle.TakeSummary()) << "one summary per interval";
  // 61 s at 0.1/s refill the flooding peer's bucket, but never beyond its burst.
  recorded = 0;
  for (int i = 0; i < 100; ++i) recorded += throttle.Admit("ipv4:10.0.0.7:9") ? 1 : 0;
  EXPECT_EQ(recorded, 3);  // the bucket holds at most the burst
}

// Attack: many addresses, each within its own budget, are capped by the shared bucket.
TEST(RefusalThrottleTest, ManyPeersShareOneCap) {
  double now = 0;
  RefusalThrottle throttle(RateLimit{1, 2}, RateLimit{1, 10}, 60, [&] { return now; });
  int recorded = 0;
  for (int i = 0; i < 500; ++i) {
    recorded += throttle.Admit("ipv4:10.0." + std::to_string(i / 256) + "." +
                               std::to_string(i % 256) + ":1")
                    ? 1
                    : 0;
  }
  EXPECT_EQ(recorded, 10);
  now += 60;
  auto summary = throttle.TakeSummary();
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->suppressed, 490u);
  EXPECT_EQ(summary->peers.size(), RefusalThrottle::kMaxPeers);
}

// ---- UploadBudget ----

TEST(UploadBudgetTest, RefusesTheChunkThatCrossesATargetCap) {
  UploadBudget budget(UploadLimits{/*max_publish_bytes=*/1000, /*max_target_bytes=*/300});
  EXPECT_TRUE(budget.ChargeTarget(std::string(64, 'a'), 200));
  auto over = budget.ChargeTarget(std::string(64, 'a'), 101);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind(), ErrorKind::kLimitExceeded);
  EXPECT_NE(over.error().ToString().find("per target"), std::string::npos);
  EXPECT_TRUE(budget.ChargeTarget(std::string(64, 'b'), 300));  // a new target starts at 0
}

TEST(UploadBudgetTest, RefusesThePublishCrossingTheTotalCap) {
  UploadBudget budget(UploadLimits{1000, 600});
  EXPECT_TRUE(budget.ChargeMetadata("timestamp.json", 300));
  EXPECT_TRUE(budget.ChargeTarget(std::string(64, 'a'), 600));
  auto over = budget.ChargeTarget(std::string(64, 'b'), 101);
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().ToString().find("cap of 1000 bytes"), std::string::npos);
  EXPECT_EQ(budget.total_bytes(), 900u);
  EXPECT_FALSE(budget.ChargeMetadata("x.json", 101));
  EXPECT_TRUE(budget.ChargeMetadata("x.json", 100));
}

// ---- configuration ----

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("repo_server_config_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "root.json", "{}"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Parses argv (after the program name) into `config`; the CLI11 exit code (0 = parsed).
  int Parse(std::vector<std::string> args, ServerConfig& config) {
    CLI::App app;
    AddServerOptions(app, config);
    std::vector<const char*> argv = {"repo-server"};
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return e.get_exit_code() == 0 ? -1 : e.get_exit_code();
    }
    return 0;
  }
  std::vector<std::string> Required() const {
    return {"--data-dir", (dir_ / "db").string(), "--trusted-root", (dir_ / "root.json").string()};
  }

  fs::path dir_;
};

TEST_F(ConfigTest, FileSetsValuesAndFlagsOverrideThem) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml",
                                      "listen = \"127.0.0.1:7000\"\n"
                                      "insecure = true\n"
                                      "device-rate = 5\n"
                                      "max-publish-bytes = 12345\n"));
  ServerConfig config;
  auto args = Required();
  args.insert(args.end(), {"--config", (dir_ / "server.toml").string(), "--device-rate", "7"});
  ASSERT_EQ(Parse(args, config), 0);
  EXPECT_EQ(config.listen, "127.0.0.1:7000");
  EXPECT_TRUE(config.insecure);
  EXPECT_EQ(config.max_publish_bytes, 12345);
  EXPECT_EQ(config.device_rate, 7);  // the flag wins
  EXPECT_TRUE(ValidateConfig(config));
}

// What SIGHUP applies: the same command line parsed again, the file read again, validated.
TEST_F(ConfigTest, ParseServerConfigRereadsTheFileAndValidates) {
  const std::string file = (dir_ / "server.toml").string();
  ASSERT_TRUE(io::WriteFileAtomically(file, "insecure = true\nlisten = \"127.0.0.1:1\"\n"
                                            "max-concurrent-publishes = 2\n"));
  auto args = Required();
  args.insert(args.end(), {"--config", file, "--device-rate", "7"});
  std::vector<char*> argv = {const_cast<char*>("repo-server")};
  for (std::string& arg : args) argv.push_back(arg.data());
  auto parsed = ParseServerConfig(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->max_concurrent_publishes, 2);
  EXPECT_EQ(parsed->device_rate, 7);
  EXPECT_EQ(parsed->config_file, file);
  EXPECT_EQ(parsed->report_batch_max, 256);
  EXPECT_EQ(parsed->publish_idle_timeout, 60);
  ASSERT_TRUE(io::WriteFileAtomically(file, "insecure = true\nlisten = \"127.0.0.1:1\"\n"
                                            "max-concurrent-publishes = 3\n"));
  parsed = ParseServerConfig(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->max_concurrent_publishes, 3);
  // Unknown key, and a contradiction (plaintext off loopback): refused with the reason.
  ASSERT_TRUE(io::WriteFileAtomically(file, "insecure = true\nmax-concurent-publishes = 3\n"));
  parsed = ParseServerConfig(static_cast<int>(argv.size()), argv.data());
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind(), ErrorKind::kInvalidArgument);
  ASSERT_TRUE(io::WriteFileAtomically(file, "insecure = true\nlisten = \"0.0.0.0:1\"\n"));
  parsed = ParseServerConfig(static_cast<int>(argv.size()), argv.data());
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message().find("loopback"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeyInTheFileIsRefused) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "server.toml", "device-rte = 5\n"));
  ServerConfig config;
  auto args = Required();
  args.insert(args.end(), {"--config", (dir_ / "server.toml").string()});
  EXPECT_NE(Parse(args, config), 0);
}

TEST_F(ConfigTest, ValidationRefusesContradictions) {
  auto invalid = [](auto mutate) {
    ServerConfig config;
    config.insecure = true;
    mutate(config);
    return !ValidateConfig(config);
  };
  EXPECT_FALSE(invalid([](ServerConfig&) {}));
  EXPECT_TRUE(invalid([](ServerConfig& c) { c.listen = "0.0.0.0:1"; }));
  EXPECT_TRUE(invalid([](ServerConfig& c) { c.operator_listen = "10.0.0.1:1"; }));
  EXPECT_TRUE(invalid([](ServerConfig& c) { c.client_ca = "ca.pem"; }));
  EXPECT_TRUE(invalid([](ServerConfig& c) { c.crl = "crl.pem"; }));
  EXPECT_TRUE(invalid([](ServerConfig& c) { c.timestamp_key = "ts.key.json"; }));  // no source
  EXPECT_TRUE(invalid([](ServerConfig& c) {
    c.timestamp_key = "ts.key.json";
    c.timestamp_passphrase.env_var = "P";
    c.timestamp_key_insecure_file = "ts.der";
  }));
  EXPECT_FALSE(invalid([](ServerConfig& c) {
    c.timestamp_key = "ts.key.json";
    c.timestamp_passphrase.env_var = "P";
  }));
  EXPECT_TRUE(invalid([](ServerConfig& c) { c.timestamp_passphrase.fd = 3; }));  // no key
  EXPECT_TRUE(invalid([](ServerConfig& c) {
    c.snapshot_key = "s.key.json";
    c.snapshot_passphrase.fd = 3;
  }));  // snapshot without timestamp
  ServerConfig tls;
  tls.tls_cert = "c.pem";
  tls.tls_key = "k.pem";
  EXPECT_FALSE(ValidateConfig(tls));  // TLS without operator credentials
  tls.operator_credentials = "ops.json";
  EXPECT_TRUE(ValidateConfig(tls));
}

TEST_F(ConfigTest, ChangesNameEverySettingThatDiffers) {
  ServerConfig a;
  ServerConfig b;
  b.device_rate = 1;
  b.crl = "/etc/mdu/devices.crl";
  json::Value changes = ConfigChanges(ConfigRecord(a), ConfigRecord(b));
  ASSERT_TRUE(changes.is_object());
  EXPECT_EQ(changes.as_object().size(), 2u);
  ASSERT_NE(changes.Find("crl"), nullptr);
  EXPECT_EQ(changes.Find("crl")->Find("new")->as_string(), "/etc/mdu/devices.crl");
  EXPECT_EQ(changes.Find("device_rate_milli")->Find("old")->as_int(), 20000);
  EXPECT_TRUE(ConfigChanges(ConfigRecord(a), ConfigRecord(a)).as_object().empty());
  // A setting only one side knows (an older server version) counts as changed.
  json::Value older = json::Value::MakeObject({{"listen", json::Value(a.listen)}});
  EXPECT_GT(ConfigChanges(older, ConfigRecord(a)).as_object().size(), 10u);
}

TEST_F(ConfigTest, RecordNamesPassphraseSourcesNeverPassphrases) {
  ServerConfig config;
  config.timestamp_key = "ts.key.json";
  config.timestamp_passphrase.env_var = "MDU_TS_PASS";
  json::Value record = ConfigRecord(config);
  EXPECT_EQ(record.Find("timestamp_passphrase")->as_string(), "env:MDU_TS_PASS");
}

// ---- encrypted online keys ----

class OnlineKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("repo_server_keys_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    auto key = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
    ASSERT_TRUE(key);
    keyid_ = key->public_key().KeyId();
    auto text = signer::EncryptKeyFile(*key, signer::SecureBuffer::CopyOf("correct horse"),
                                       signer::sealing::InteractiveLimits());
    ASSERT_TRUE(text);
    path_ = (dir_ / "timestamp.key.json").string();
    ASSERT_TRUE(io::WriteFileAtomically(path_, *text));
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string path_;
  std::string keyid_;
};

TEST_F(OnlineKeyTest, LoadsFromAnEnvironmentVariableAndUnsetsIt) {
  setenv("MDU_TEST_TS_PASS", "correct horse", 1);
  PassphraseConfig source;
  source.env_var = "MDU_TEST_TS_PASS";
  auto key = LoadOnlineKey(path_, source, "timestamp");
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->public_key().KeyId(), keyid_);
  EXPECT_EQ(std::getenv("MDU_TEST_TS_PASS"), nullptr);
}

TEST_F(OnlineKeyTest, LoadsFromAFileAndADescriptor) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "pass", "correct horse\n"));
  PassphraseConfig file;
  file.file = (dir_ / "pass").string();
  ASSERT_TRUE(LoadOnlineKey(path_, file, "timestamp"));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "correct horse\n", 14), 14);
  close(fds[1]);
  PassphraseConfig fd;
  fd.fd = fds[0];
  auto key = LoadOnlineKey(path_, fd, "timestamp");
  close(fds[0]);
  ASSERT_TRUE(key) << key.error().ToString();
}

TEST_F(OnlineKeyTest, WrongPassphraseIsRefusedWithoutEchoingIt) {
  setenv("MDU_TEST_TS_PASS", "battery staple", 1);
  PassphraseConfig source;
  source.env_var = "MDU_TEST_TS_PASS";
  auto key = LoadOnlineKey(path_, source, "timestamp");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kCrypto);
  std::string message = key.error().ToString();
  EXPECT_NE(message.find("wrong passphrase"), std::string::npos) << message;
  EXPECT_EQ(message.find("battery"), std::string::npos) << message;
}

TEST_F(OnlineKeyTest, TamperedKeyFileIsRefused) {
  auto text = io::ReadFileBounded(path_, 1 << 20);
  ASSERT_TRUE(text);
  size_t at = text->find("\"ciphertext\": \"") + 15;
  (*text)[at] = (*text)[at] == '0' ? '1' : '0';
  ASSERT_TRUE(io::WriteFileAtomically(path_, *text));
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "pass", "correct horse\n"));
  PassphraseConfig file;
  file.file = (dir_ / "pass").string();
  auto key = LoadOnlineKey(path_, file, "timestamp");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kCrypto);
}

TEST_F(OnlineKeyTest, MissingVariableIsAUsageError) {
  unsetenv("MDU_TEST_TS_UNSET");
  PassphraseConfig source;
  source.env_var = "MDU_TEST_TS_UNSET";
  auto key = LoadOnlineKey(path_, source, "timestamp");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().ToString().find("timestamp key"), std::string::npos);
}

}  // namespace
}  // namespace mdu::server
