// The hash-chained security event log: appends, verification, and the attacks it must reveal
// (an edited, deleted, reordered or cut-off record), plus the outbox interface.
#include "client-agent/events/security_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/client/clock.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::events {
namespace {

using agent::testing::ReadFile;
using agent::testing::TempDir;
using agent::testing::WriteFile;

class SecurityLogTest : public ::testing::Test {
 protected:
  void AppendThree() {
    ASSERT_TRUE(log_.Append({EventType::kBadSignature, "timestamp", "threshold not met"}));
    clock_.Advance(10);
    ASSERT_TRUE(log_.Append({EventType::kRollbackAttempt, "fw.bin", "below the floor"}));
    clock_.Advance(10);
    ASSERT_TRUE(log_.Append({EventType::kExpiredMetadata, "snapshot", "expired"}));
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    const std::string text = ReadFile(tmp_.path() / SecurityLog::kLogFile);
    size_t start = 0;
    while (start < text.size()) {
      const size_t end = text.find('\n', start);
      lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }
  void WriteLines(const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    WriteFile(tmp_.path() / SecurityLog::kLogFile, text);
  }
  VerifyReport Verify() {
    Result<VerifyReport> report = log_.Verify();
    EXPECT_TRUE(report) << report.error().ToString();
    return report ? *report : VerifyReport{};
  }

  TempDir tmp_;
  client::FakeClock clock_{1'800'000'000};
  SecurityLog log_{tmp_.path(), clock_};
};

TEST_F(SecurityLogTest, AppendsChainedRecords) {
  AppendThree();
  Result<std::vector<EventRecord>> records = log_.ReadAll();
  ASSERT_TRUE(records) << records.error().ToString();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].seq, 1u);
  EXPECT_EQ((*records)[0].prev, std::string(64, '0'));
  EXPECT_EQ((*records)[1].prev, (*records)[0].hash);
  EXPECT_EQ((*records)[2].prev, (*records)[1].hash);
  EXPECT_EQ((*records)[1].type, "rollback_attempt");
  EXPECT_EQ((*records)[1].time, 1'800'000'010);
  EXPECT_EQ(ReadFile(tmp_.path() / SecurityLog::kHeadFile), "3 " + (*records)[2].hash + "\n");
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 3u);
}

TEST_F(SecurityLogTest, EmptyLogVerifies) {
  EXPECT_TRUE(Verify().ok);
  Result<std::vector<EventRecord>> records = log_.ReadAll();
  ASSERT_TRUE(records);
  EXPECT_TRUE(records->empty());
}

TEST_F(SecurityLogTest, DetectsEditedRecord) {
  AppendThree();
  std::vector<std::string> lines = Lines();
  const size_t at = lines[1].find("below the floor");
  ASSERT_NE(at, std::string::npos);
  lines[1].replace(at, 5, "above");
  WriteLines(lines);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_line, 2u);
  EXPECT_NE(report.problem.find("altered"), std::string::npos) << report.problem;
}

TEST_F(SecurityLogTest, DetectsDeletedRecord) {
  AppendThree();
  std::vector<std::string> lines = Lines();
  lines.erase(lines.begin() + 1);
  WriteLines(lines);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_line, 2u);
}

TEST_F(SecurityLogTest, DetectsReorderedRecords) {
  AppendThree();
  std::vector<std::string> lines = Lines();
  std::swap(lines[1], lines[2]);
  WriteLines(lines);
  EXPECT_FALSE(Verify().ok);
}

TEST_F(SecurityLogTest, DetectsRecordsCutOffTheEnd) {
  AppendThree();
  std::vector<std::string> lines = Lines();
  lines.resize(1);  // the last two records removed; the head still names record 3
  WriteLines(lines);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("head"), std::string::npos) << report.problem;
}

TEST_F(SecurityLogTest, DetectsRecomputedHashWithoutChain) {
  // An attacker who edits a record and recomputes its own hash still breaks the next prev.
  AppendThree();
  Result<std::vector<EventRecord>> records = log_.ReadAll();
  ASSERT_TRUE(records);
  const std::filesystem::path other_dir = tmp_.path() / "other";
  std::filesystem::create_directories(other_dir);
  client::FakeClock other_clock(1'800'000'000);
  SecurityLog forged(other_dir, other_clock);
  ASSERT_TRUE(forged.Append({EventType::kBadSignature, "timestamp", "nothing happened"}));
  std::vector<std::string> lines = Lines();
  lines[0] = ReadFile(other_dir / SecurityLog::kLogFile);
  lines[0].pop_back();
  WriteLines(lines);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_line, 2u);
}

TEST_F(SecurityLogTest, TornTailIsNotTamperingAndIsCutByTheNextAppend) {
  AppendThree();
  const std::string path = (tmp_.path() / SecurityLog::kLogFile).string();
  WriteFile(path, ReadFile(path) + "{\"detail\":\"half");
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_TRUE(report.torn_tail);
  Result<EventRecord> fourth = log_.Append({EventType::kHashMismatch, "fw.bin", "sha256"});
  ASSERT_TRUE(fourth) << fourth.error().ToString();
  EXPECT_EQ(fourth->seq, 4u);
  report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_FALSE(report.torn_tail);
  EXPECT_EQ(report.records, 4u);
}

TEST_F(SecurityLogTest, HeadOneBehindAfterACrashIsAccepted) {
  AppendThree();
  Result<std::vector<EventRecord>> records = log_.ReadAll();
  ASSERT_TRUE(records);
  WriteFile(tmp_.path() / SecurityLog::kHeadFile, "2 " + (*records)[1].hash + "\n");
  EXPECT_TRUE(Verify().ok);
  WriteFile(tmp_.path() / SecurityLog::kHeadFile, "1 " + (*records)[0].hash + "\n");
  EXPECT_FALSE(Verify().ok);
}

TEST_F(SecurityLogTest, OutboxInterface) {
  std::vector<uint64_t> notified;
  log_.set_on_append([&](const EventRecord& record) { notified.push_back(record.seq); });
  AppendThree();
  EXPECT_EQ(notified, (std::vector<uint64_t>{1, 2, 3}));
  Result<std::vector<EventRecord>> unsent = log_.ReadAfter(1);
  ASSERT_TRUE(unsent);
  ASSERT_EQ(unsent->size(), 2u);
  EXPECT_EQ((*unsent)[0].seq, 2u);
  const json::Value json = RecordToJson((*unsent)[0]);
  ASSERT_NE(json.Find("hash"), nullptr);
  EXPECT_EQ(json.Find("type")->as_string(), "rollback_attempt");
}

TEST_F(SecurityLogTest, LogFilesArePrivate) {
  AppendThree();
  const auto perms = std::filesystem::status(tmp_.path() / SecurityLog::kLogFile).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
}

TEST(SecurityEventsTest, ErrorKindsMapToEvents) {
  EXPECT_EQ(EventForErrorKind(ErrorKind::kUnsignedMetadata), EventType::kBadSignature);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kBadVersion), EventType::kRollbackAttempt);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kExpired), EventType::kExpiredMetadata);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kHashMismatch), EventType::kHashMismatch);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kLengthMismatch), EventType::kHashMismatch);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kLimitExceeded), EventType::kOversizedDownload);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kDownload), std::nullopt);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kEqualVersion), std::nullopt);
  EXPECT_EQ(EventForErrorKind(ErrorKind::kNotFound), std::nullopt);
  for (int i = 0; i <= static_cast<int>(EventType::kLogTampered); ++i) {
    const auto type = static_cast<EventType>(i);
    EXPECT_EQ(EventTypeFromName(EventTypeName(type)), type);
  }
}

}  // namespace
}  // namespace mdu::agent::events
