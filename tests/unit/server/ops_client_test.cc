// The operator client's pure parts: token sources, connection option policy, the local check
// of a published tree, and output formatting (including terminal-safe text).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "repo-server/ops_client/connection.h"
#include "repo-server/ops_client/format.h"
#include "repo-server/ops_client/publish_tree.h"
#include "repo-server/ops_client/token.h"
#include "repo-server/ops_client/uploader.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/support/test_dir.h"

namespace mdu::ops {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;

class OpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::mdu::testing::FreshTestDir("ops_client");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The simulator's served files are the signer's tree layout.
  fs::path WriteTree(const sim::RepositorySimulator& sim) {
    fs::path tree = dir_ / "tree";
    for (const auto& [path, bytes] : sim.files) {
      fs::create_directories((tree / path).parent_path());
      EXPECT_TRUE(io::WriteFileAtomically(tree / path, bytes));
    }
    return tree;
  }

  fs::path dir_;
};

// ---- token ----

TEST_F(OpsClientTest, TokenFileFirstLineTrimmed) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "t", "  secret-1 \r\nignored\n", 0600));
  auto token = ReadTokenFile(dir_ / "t");
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_EQ(token->AuthorizationHeader(), "Bearer secret-1");
}

TEST_F(OpsClientTest, TokenFileReadableByOthersIsRefusedWithoutShowingIt) {
  for (int mode : {0644, 0660, 0604, 0640}) {
    ASSERT_TRUE(io::WriteFileAtomically(dir_ / "t", "secret-2\n", mode));
    auto token = ReadTokenFile(dir_ / "t");
    ASSERT_FALSE(token) << mode;
    EXPECT_EQ(token.error().kind(), ErrorKind::kPolicy);
    EXPECT_NE(token.error().message().find("chmod 600"), std::string::npos);
    EXPECT_EQ(token.error().message().find("secret-2"), std::string::npos);
  }
}

TEST_F(OpsClientTest, TokenFileMustHoldAPrintableToken) {
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "empty", "\n", 0600));
  EXPECT_EQ(ReadTokenFile(dir_ / "empty").error().kind(), ErrorKind::kInvalidArgument);
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "space", "two words\n", 0600));
  EXPECT_EQ(ReadTokenFile(dir_ / "space").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ReadTokenFile(dir_ / "missing").error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(ReadTokenFile(dir_).error().kind(), ErrorKind::kInvalidArgument);  // a directory
  ASSERT_TRUE(io::WriteFileAtomically(dir_ / "big", std::string(kMaxTokenBytes + 1, 'a'), 0600));
  EXPECT_EQ(ReadTokenFile(dir_ / "big").error().kind(), ErrorKind::kLimitExceeded);
}

TEST_F(OpsClientTest, TokenFromEnvironmentIsUnsetOnceRead) {
  ASSERT_EQ(setenv("MDU_OPS_TEST_TOKEN", "secret-3", 1), 0);
  auto token = TakeTokenFromEnv("MDU_OPS_TEST_TOKEN");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->AuthorizationHeader(), "Bearer secret-3");
  EXPECT_EQ(getenv("MDU_OPS_TEST_TOKEN"), nullptr);
  EXPECT_EQ(TakeTokenFromEnv("MDU_OPS_TEST_TOKEN").error().kind(), ErrorKind::kNotFound);
}

// ---- connection options ----

TEST(ConnectionOptionsTest, ServerAddressForms) {
  EXPECT_EQ(*HostOfServer("repo.example.com:9443"), "repo.example.com");
  EXPECT_EQ(*HostOfServer("[::1]:9443"), "::1");
  for (const char* bad : {"repo.example.com", "repo:0", "repo:70000", "repo:x", ":80", "::1:80",
                          "https://repo:443", "unix:/tmp/s", "[::1]9443"}) {
    EXPECT_FALSE(HostOfServer(bad)) << bad;
  }
}

TEST(ConnectionOptionsTest, PolicyOfTheCombinations) {
  ConnectionOptions ok;
  ok.server = "127.0.0.1:5000";
  ok.insecure = true;
  EXPECT_TRUE(ValidateConnectionOptions(ok));
  ConnectionOptions remote = ok;
  remote.server = "10.0.0.5:5000";
  EXPECT_FALSE(ValidateConnectionOptions(remote));
  remote.insecure = false;
  EXPECT_FALSE(ValidateConnectionOptions(remote));  // neither TLS nor --insecure
  remote.ca_cert = "ca.pem";
  EXPECT_TRUE(ValidateConnectionOptions(remote));
  ConnectionOptions both = remote;
  both.insecure = true;
  EXPECT_FALSE(ValidateConnectionOptions(both));
  ConnectionOptions tokens = remote;
  tokens.token_file = "a";
  tokens.token_env = "B";
  EXPECT_FALSE(ValidateConnectionOptions(tokens));
  ConnectionOptions timeout = remote;
  timeout.timeout_seconds = 0;
  EXPECT_FALSE(ValidateConnectionOptions(timeout));
}

TEST(ConnectionOptionsTest, PublishDeadlineGrowsWithTheBytes) {
  EXPECT_EQ(PublishDeadline(std::chrono::seconds(30), 0), std::chrono::seconds(30));
  EXPECT_EQ(PublishDeadline(std::chrono::seconds(30), 4096ull << 20), std::chrono::seconds(4126));
}

// ---- the local tree ----

TEST_F(OpsClientTest, TreeHoldsOnlyTheCurrentRepository) {
  auto sim = server::testing::MakeSim(4102444800);  // 2100
  sim->AddDelegation("targets", "pumps", {"pump/*"});
  sim->AddTarget("pumps", "pump/fw.bin", server::testing::Content(3000, 1));
  sim->UpdateSnapshot();
  sim->AddTarget("targets", "top.bin", server::testing::Content(10, 2));
  sim->AddTarget("targets", "same.bin", server::testing::Content(3000, 1));  // same content
  sim->BumpRoot();
  sim->UpdateSnapshot();
  fs::path tree = WriteTree(*sim);

  auto read = ReadPublishTree(tree);
  ASSERT_TRUE(read) << read.error().ToString();
  std::vector<std::string> names;
  for (const auto& file : read->metadata) names.push_back(file.name);
  const std::string snapshot = std::to_string(sim->snapshot.common.version) + ".snapshot.json";
  const std::string targets = std::to_string(sim->Role("targets").common.version) + ".targets.json";
  const std::string pumps = std::to_string(sim->Role("pumps").common.version) + ".pumps.json";
  EXPECT_EQ(names, (std::vector<std::string>{"1.root.json", "2.root.json", pumps, snapshot,
                                             targets, "timestamp.json"}));
  EXPECT_GT(read->skipped_files, 0u);  // the older snapshot/targets versions
  ASSERT_EQ(read->blobs.size(), 2u);    // fw.bin and same.bin share their content
  EXPECT_EQ(read->blob_bytes, 3010u);
  EXPECT_EQ(read->versions.at("root"), 2);
  EXPECT_EQ(read->versions.at("timestamp"), sim->timestamp.common.version);

  auto trimmed = ReadPublishTree(tree, 1);
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(trimmed->metadata.front().name, "2.root.json");
}

TEST_F(OpsClientTest, TreeProblemsAreListedTogether) {
  auto sim = server::testing::MakeSim(4102444800);
  sim->AddTarget("targets", "a/missing.bin", server::testing::Content(100, 1));
  sim->AddTarget("targets", "short.bin", server::testing::Content(100, 2));
  sim->UpdateSnapshot();
  fs::path tree = WriteTree(*sim);
  auto sha = [&](const char* name) {
    return std::string(*sim->Role("targets").targets.at(name).Sha256());
  };
  fs::remove(tree / "targets" / "a" / (sha("a/missing.bin") + ".missing.bin"));
  ASSERT_TRUE(io::WriteFileAtomically(tree / "targets" / (sha("short.bin") + ".short.bin"), "x"));
  ASSERT_TRUE(io::WriteFileAtomically(tree / "metadata" / "README", "x"));
  auto read = ReadPublishTree(tree);
  ASSERT_FALSE(read);
  const std::string& message = read.error().message();
  EXPECT_NE(message.find("nothing was uploaded"), std::string::npos);
  EXPECT_NE(message.find("target a/missing.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("has 1 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("metadata/README"), std::string::npos) << message;
}

TEST_F(OpsClientTest, TreeWithoutMetadataOrWithABrokenChainIsRefused) {
  EXPECT_FALSE(ReadPublishTree(dir_ / "nothing"));
  fs::create_directories(dir_ / "empty");
  EXPECT_NE(ReadPublishTree(dir_ / "empty").error().message().find("metadata/"),
            std::string::npos);
  auto sim = server::testing::MakeSim(4102444800);
  sim->BumpRoot();
  sim->BumpRoot();
  sim->UpdateSnapshot();
  fs::path tree = WriteTree(*sim);
  fs::remove(tree / "metadata" / "2.root.json");
  auto read = ReadPublishTree(tree);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message().find("2.root.json is missing"), std::string::npos)
      << read.error().message();
  fs::remove(tree / "metadata" / "timestamp.json");
  EXPECT_NE(ReadPublishTree(tree).error().message().find("timestamp.json is missing"),
            std::string::npos);
}

TEST_F(OpsClientTest, HostileTargetPathsAreRefused) {
  auto sim = server::testing::MakeSim(4102444800);
  sim->AddTarget("targets", "ok.bin", server::testing::Content(10, 1));
  sim->UpdateSnapshot();
  fs::path tree = WriteTree(*sim);
  // A targets role naming ../../etc/passwd must not make the client read outside the tree. The
  // signature no longer matches, but the local check runs before any verification.
  metadata::TargetFile file;
  file.length = 10;
  file.hashes = {{"sha256", std::string(64, 'a')}};
  sim->Role("targets").targets.emplace("../../../etc/passwd", file);
  sim->UpdateSnapshot();
  tree = WriteTree(*sim);
  auto read = ReadPublishTree(tree);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message().find("../../../etc/passwd"), std::string::npos)
      << read.error().message();
}

TEST(TargetFilePathTest, ConsistentSnapshotNames) {
  EXPECT_EQ(TargetFilePath("fw.bin", "ab"), "ab.fw.bin");
  EXPECT_EQ(TargetFilePath("pump/v2/fw.bin", "ab"), "pump/v2/ab.fw.bin");
}

// ---- formatting ----

TEST(FormatTest, TimesAreUtcIso8601) {
  EXPECT_EQ(FormatTime(0), "-");
  EXPECT_EQ(FormatTime(1767225600), "2026-01-01T00:00:00Z");
}

TEST(FormatTest, DeviceTextCannotDriveTheTerminal) {
  EXPECT_EQ(Printable("ok \x1b[2J\x07 done"), "ok \\x1b[2J\\x07 done");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\xc3\xa9");          // UTF-8 kept
  EXPECT_EQ(Printable("\xc2\x9b" "31m"), "\\xc2\\x9b31m");     // C1 CSI escaped
  EXPECT_EQ(Printable("\xff\xfe"), "\\xff\\xfe");              // not UTF-8
  EXPECT_EQ(Printable("\xe2\x82"), "\\xe2\\x82");              // truncated sequence
  EXPECT_EQ(FirstLine("first\nsecond"), "first ...");
  EXPECT_EQ(FirstLine("only"), "only");
  EXPECT_EQ(FirstLine("abcdef", 3), "abc ...");
  Table table({"A", "B"});
  table.AddRow({"x\ny", "1"});
  EXPECT_EQ(table.Render(), "A       B\nx\\x0ay  1\n");
}

TEST(FormatTest, NamesOfPhasesAndEvidence) {
  EXPECT_EQ(PhaseName(v1::INSTALL_PHASE_HEALTH_CHECK), "health_check");
  EXPECT_EQ(PhaseName(v1::INSTALL_PHASE_COMPLETE), "complete");
  EXPECT_EQ(EvidenceName(v1::EVIDENCE_VERIFIED), "verified");
  EXPECT_EQ(EvidenceName(v1::EVIDENCE_UNVERIFIED), "unverified");
}

TEST(FormatTest, JsonOfAHistoryParsesAndKeepsEveryField) {
  v1::DeviceHistory history;
  v1::StoredReport* stored = history.add_reports();
  stored->mutable_report()->set_report_id("r-1");
  stored->mutable_report()->set_log_excerpt("line 1\n\x1b[2J line 2");
  stored->mutable_report()->set_signature("\x01\x02");
  stored->set_received_time(1767225600);
  stored->set_evidence(v1::EVIDENCE_VERIFIED);
  stored->set_certificate_sha256("ab");
  v1::StoredSecurityEvent* event = history.add_security_events();
  event->mutable_event()->set_kind("bad_version");
  auto parsed = json::Parse(JsonDocument(HistoryJson("pump-1", history)));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  const json::Value& report = parsed->Find("reports")->as_array()[0];
  EXPECT_EQ(report.Find("log_excerpt")->as_string(), "line 1\n\x1b[2J line 2");
  EXPECT_EQ(report.Find("received_time")->as_string(), "2026-01-01T00:00:00Z");
  EXPECT_TRUE(report.Find("device_time")->is_null());
  EXPECT_EQ(report.Find("evidence")->as_string(), "verified");
  EXPECT_EQ(report.Find("signature")->as_string(), "0102");
  EXPECT_TRUE(report.Find("device_certificate")->is_null());
  EXPECT_EQ(parsed->Find("security_events")->as_array()[0].Find("kind")->as_string(),
            "bad_version");
  const std::string text = HistoryText("pump-1", history);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("verified"), std::string::npos);
}

TEST(FormatTest, AuditRecordsAreParsed) {
  v1::AuditRecordEntry entry;
  entry.set_seq(3);
  entry.set_sha256("cd");
  entry.set_record(
      R"({"action":"publish_accepted","actor":"alice","detail":{"n":1},"prev_hash":"x","seq":3,"time":1767225600})");
  v1::AuditRecordEntry broken;
  broken.set_seq(4);
  broken.set_record("not json \x1b");
  auto parsed = json::Parse(JsonDocument(AuditJson({entry, broken})));
  ASSERT_TRUE(parsed);
  const auto& records = parsed->Find("records")->as_array();
  EXPECT_EQ(records[0].Find("record")->Find("actor")->as_string(), "alice");
  EXPECT_EQ(records[1].Find("record")->as_string(), "not json \\x1b");
  const std::string text = AuditText({entry, broken});
  EXPECT_NE(text.find("2026-01-01T00:00:00Z"), std::string::npos) << text;
  EXPECT_NE(text.find("publish_accepted"), std::string::npos);
  EXPECT_NE(text.find("(unparsable)"), std::string::npos);
}

}  // namespace
}  // namespace mdu::ops
