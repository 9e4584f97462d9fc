// The hash-chained audit log over the in-memory store (the RocksDB backend passes the same
// Store contract in tests/unit/server_store; the real binary is tested in
// tests/integration/server/auth_grpc_test.cc).
#include "repo-server/audit_log.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/json/parser.h"
#include "repo-server/clock.h"
#include "repo-server/memory_store.h"

namespace mdu::server {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::Open(*store_, clock_);
    ASSERT_TRUE(log);
    log_ = std::move(*log);
  }
  void AppendSeveral() {
    ASSERT_TRUE(log_->Append("server", "server_start", json::Value::EmptyObject()));
    ASSERT_TRUE(log_->Append("alice", "credential_used",
                             json::Value::MakeObject({{"method", json::Value("Publish")}})));
    clock_.Set(2000);
    ASSERT_TRUE(log_->Append("alice", "publish_accepted",
                             json::Value::MakeObject({{"note", json::Value("a\nb\"c")}})));
    ASSERT_TRUE(log_->Append("bob", "publish_rejected",
                             json::Value::MakeObject({{"reason", json::Value("viewer")}})));
  }
  std::string Record(uint64_t seq) {
    auto records = store_->ListAudit(seq - 1, 1);
    EXPECT_TRUE(records && records->size() == 1 && (*records)[0].seq == seq);
    return records && !records->empty() ? (*records)[0].bytes : std::string();
  }

  FakeClock clock_{1000};
  std::unique_ptr<Store> store_ = NewMemoryStore();
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, RecordsAreCanonicalJsonChainedByHash) {
  AppendSeveral();
  auto summary = VerifyAuditChain(*store_);
  ASSERT_TRUE(summary) << summary.error().ToString();
  EXPECT_EQ(summary->records, 4u);
  EXPECT_EQ(summary->head_hash, log_->head_hash());
  EXPECT_EQ(summary->head_hash, AuditRecordHash(Record(4)));
  EXPECT_EQ(Record(1),
            "{\"action\":\"server_start\",\"actor\":\"server\",\"detail\":{},\"prev_hash\":\"" +
                std::string(64, '0') + "\",\"seq\":1,\"time\":1000}");
  auto third = json::Parse(Record(3));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->Find("prev_hash")->as_string(), AuditRecordHash(Record(2)));
  EXPECT_EQ(third->Find("time")->as_int(), 2000);
  EXPECT_EQ(third->Find("actor")->as_string(), "alice");
  // Control characters and quotes in client-supplied text stay parseable.
  EXPECT_EQ(third->Find("detail")->Find("note")->as_string(), "a\\x0ab\"c");
}

TEST_F(AuditLogTest, ReopenedLogContinuesTheChain) {
  AppendSeveral();
  auto reopened = AuditLog::Open(*store_, clock_);
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->head_hash(), log_->head_hash());
  ASSERT_TRUE((*reopened)->Append("server", "server_start", json::Value::EmptyObject()));
  auto summary = VerifyAuditChain(*store_);
  ASSERT_TRUE(summary) << summary.error().ToString();
  EXPECT_EQ(summary->records, 5u);
}

TEST_F(AuditLogTest, ModifiedRecordBreaksTheChainNamingIt) {
  AppendSeveral();
  std::string second = Record(2);
  size_t at = second.find("Publish");
  ASSERT_NE(at, std::string::npos);
  second.replace(at, 7, "Destroy");  // still canonical JSON, only the content changed
  ASSERT_TRUE(store_->AppendAudit({2, second}));
  auto summary = VerifyAuditChain(*store_);
  ASSERT_FALSE(summary);
  EXPECT_EQ(summary.error().kind(), ErrorKind::kHashMismatch);
  EXPECT_NE(summary.error().message().find("record 2 was modified"), std::string::npos)
      << summary.error().ToString();
}

TEST_F(AuditLogTest, RemovedReorderedOrMalformedRecordsAreReported) {
  AppendSeveral();
  // A gap: record 5 appended as 6.
  ASSERT_TRUE(store_->AppendAudit({6, Record(1)}));
  auto gap = VerifyAuditChain(*store_);
  ASSERT_FALSE(gap);
  EXPECT_NE(gap.error().message().find("audit record 6"), std::string::npos)
      << gap.error().ToString();

  auto store = NewMemoryStore();
  ASSERT_TRUE(store->AppendAudit({1, Record(1)}));
  ASSERT_TRUE(store->AppendAudit({2, "{\"not\": \"canonical\"}"}));
  auto malformed = VerifyAuditChain(*store);
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_NE(malformed.error().message().find("audit record 2"), std::string::npos);

  // Record 2 stored under seq 3 (moved).
  auto moved = NewMemoryStore();
  ASSERT_TRUE(moved->AppendAudit({1, Record(1)}));
  ASSERT_TRUE(moved->AppendAudit({2, Record(3)}));
  auto bad = VerifyAuditChain(*moved);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("audit record 2"), std::string::npos)
      << bad.error().ToString();
}

TEST_F(AuditLogTest, FailedWriterDoesNotAdvanceTheChain) {
  AppendSeveral();
  std::string head = log_->head_hash();
  auto failed = log_->AppendWith(
      "alice", "publish_accepted", json::Value::EmptyObject(),
      [](const AuditRecord&) -> Status { return MakeError(ErrorKind::kIo, "disk full"); });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "disk full");
  EXPECT_EQ(log_->head_hash(), head);
  ASSERT_TRUE(log_->Append("server", "after", json::Value::EmptyObject()));
  auto summary = VerifyAuditChain(*store_);
  ASSERT_TRUE(summary) << summary.error().ToString();
  EXPECT_EQ(summary->records, 5u);
}

TEST(AuditChain, EmptyLogVerifies) {
  auto store = NewMemoryStore();
  auto summary = VerifyAuditChain(*store);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->records, 0u);
  EXPECT_EQ(summary->head_hash, std::string(64, '0'));
}

}  // namespace
}  // namespace mdu::server
