// The hash-chained security event log: appends, verification, and the attacks it must reveal
// (an edited, deleted, reordered or cut-off record), plus the outbox interface.
#include "client-agent/events/security_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/client/clock.h"
#include "core/json/parser.h"
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

// ---- rotation ----

class SecurityLogRotationTest : public ::testing::Test {
 protected:
  // 4 KiB segments (the minimum), 3 files: the active one and two closed segments.
  static constexpr LogLimits kLimits{.max_bytes = 12u << 10, .max_segments = 3};

  void AppendMany(int count) {
    for (int i = 0; i < count; ++i) {
      clock_.Advance(1);
      Result<EventRecord> record = log_.Append(
          {EventType::kHashMismatch, "fw-" + std::to_string(i) + ".bin", std::string(300, 'x')});
      ASSERT_TRUE(record) << record.error().ToString();
    }
  }
  std::vector<std::filesystem::path> ClosedSegments() const {
    std::vector<std::filesystem::path> segments;
    for (const auto& entry : std::filesystem::directory_iterator(tmp_.path())) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with(std::string(SecurityLog::kLogFile) + ".")) {
        segments.push_back(entry.path());
      }
    }
    std::sort(segments.begin(), segments.end());
    return segments;
  }
  VerifyReport Verify() {
    Result<VerifyReport> report = log_.Verify();
    EXPECT_TRUE(report) << report.error().ToString();
    return report ? *report : VerifyReport{};
  }

  TempDir tmp_;
  client::FakeClock clock_{1'800'000'000};
  SecurityLog log_{tmp_.path(), clock_, kLimits};
};

TEST_F(SecurityLogRotationTest, RotatesIntoBoundedSegmentsAndTheChainContinues) {
  AppendMany(12);  // about 450 bytes a record: more than one 4 KiB segment
  ASSERT_EQ(ClosedSegments().size(), 1u);
  EXPECT_LE(std::filesystem::file_size(ClosedSegments()[0]), 4096u);
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.file << ": " << report.problem;
  EXPECT_EQ(report.records, 12u);
  EXPECT_EQ(report.segments, 2u);
  EXPECT_EQ(report.dropped_through, 0u);
  // The first record of the new active file chains onto the closed segment's last one.
  Result<std::vector<EventRecord>> records = log_.ReadAll();
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 12u);
  for (size_t i = 1; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].seq, i + 1);
    EXPECT_EQ((*records)[i].prev, (*records)[i - 1].hash);
  }
  // The outbox reads across segments.
  Result<std::vector<EventRecord>> after = log_.ReadAfter(3);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), 9u);
}

TEST_F(SecurityLogRotationTest, DropsTheOldestSegmentAndRecordsWhereTheChainStarts) {
  AppendMany(60);
  EXPECT_EQ(ClosedSegments().size(), 2u);  // never more than max_segments files
  uint64_t total = 0;
  for (const auto& segment : ClosedSegments()) total += std::filesystem::file_size(segment);
  total += std::filesystem::file_size(tmp_.path() / SecurityLog::kLogFile);
  EXPECT_LE(total, kLimits.max_bytes);
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.file << ": " << report.problem;
  EXPECT_GT(report.dropped_through, 0u);
  EXPECT_EQ(report.dropped_through + report.records, 60u);
  const std::string anchor = ReadFile(tmp_.path() / SecurityLog::kAnchorFile);
  EXPECT_TRUE(anchor.starts_with(std::to_string(report.dropped_through) + " ")) << anchor;
  Result<std::vector<EventRecord>> records = log_.ReadAll();
  ASSERT_TRUE(records);
  EXPECT_EQ(records->front().seq, report.dropped_through + 1);
  EXPECT_EQ(records->back().seq, 60u);
}

TEST_F(SecurityLogRotationTest, DetectsADeletedMiddleSegment) {
  // Three closed segments kept, so one in the middle can go.
  log_ = SecurityLog(tmp_.path(), clock_, LogLimits{.max_bytes = 16u << 10, .max_segments = 4});
  AppendMany(40);
  std::vector<std::filesystem::path> closed = ClosedSegments();
  ASSERT_EQ(closed.size(), 3u);
  std::filesystem::remove(closed[1]);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.file, closed[2].filename().string());
  EXPECT_EQ(report.bad_line, 1u);
  EXPECT_NE(report.problem.find("segment was removed"), std::string::npos) << report.problem;
}

TEST_F(SecurityLogRotationTest, DetectsADeletedOldestSegment) {
  AppendMany(60);
  std::vector<std::filesystem::path> closed = ClosedSegments();
  ASSERT_EQ(closed.size(), 2u);
  std::filesystem::remove(closed[0]);  // not by rotation: the anchor still points before it
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.file, closed[1].filename().string());
}

TEST_F(SecurityLogRotationTest, DetectsTamperingInAClosedSegment) {
  AppendMany(30);
  std::vector<std::filesystem::path> closed = ClosedSegments();
  ASSERT_FALSE(closed.empty());
  std::string text = ReadFile(closed[0]);
  const size_t at = text.find("fw-");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 3, "FW-");
  WriteFile(closed[0], text);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.file, closed[0].filename().string());
  EXPECT_NE(report.problem.find("altered"), std::string::npos) << report.problem;
}

TEST_F(SecurityLogRotationTest, DetectsARenamedSegment) {
  AppendMany(12);
  std::vector<std::filesystem::path> closed = ClosedSegments();
  ASSERT_EQ(closed.size(), 1u);
  // A segment cannot be passed off as starting elsewhere (e.g. to reorder segments).
  std::filesystem::rename(closed[0], tmp_.path() / (std::string(SecurityLog::kLogFile) +
                                                   ".00000000000000000002"));
  EXPECT_FALSE(Verify().ok);
}

TEST_F(SecurityLogRotationTest, CrashesDuringRotationLeaveAVerifiableLog) {
  AppendMany(20);
  std::vector<std::filesystem::path> closed = ClosedSegments();
  ASSERT_EQ(closed.size(), 2u);
  const std::string oldest = ReadFile(closed[0]);
  AppendMany(20);  // drops the oldest segment
  ASSERT_TRUE(std::filesystem::exists(tmp_.path() / SecurityLog::kAnchorFile));
  ASSERT_FALSE(std::filesystem::exists(closed[0]));
  // A crash between writing the anchor and removing the segment: the leftover is ignored.
  WriteFile(closed[0], oldest);
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.file << ": " << report.problem;
  // A crash right after the active file was closed, before the next record was written: the
  // next record chains onto the closed segment.
  const std::string active = ReadFile(tmp_.path() / SecurityLog::kLogFile);
  Result<json::Value> first = json::Parse(active.substr(0, active.find('\n')));
  ASSERT_TRUE(first);
  const std::string seq = std::to_string(first->Find("seq")->as_int());
  std::filesystem::rename(tmp_.path() / SecurityLog::kLogFile,
                          tmp_.path() / (std::string(SecurityLog::kLogFile) + "." +
                                         std::string(20 - seq.size(), '0') + seq));
  report = Verify();
  EXPECT_TRUE(report.ok) << report.file << ": " << report.problem;
  const uint64_t last = report.dropped_through + report.records;
  Result<EventRecord> next = log_.Append({EventType::kBadSignature, "root", "after the crash"});
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(next->seq, last + 1);
  report = Verify();
  EXPECT_TRUE(report.ok) << report.file << ": " << report.problem;
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
