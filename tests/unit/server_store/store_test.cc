// The Store contract (repo-server/store.h), run over every backend.
#include "repo-server/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "repo-server/memory_store.h"
#include "repo-server/rocksdb_store.h"
#include "tests/unit/server_store/store_fixture.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;

using testing::StoreBackendName;
using testing::StoreBackends;

class StoreTest : public testing::StoreFixture {
 protected:
  StoreTest() : StoreFixture("server_store") {}

  std::string StageBlob(std::string_view content) {
    auto writer = store_->NewBlob();
    EXPECT_TRUE(writer) << writer.error().ToString();
    // Appends in odd-sized pieces so chunk boundaries fall inside an Append.
    for (size_t i = 0; i < content.size(); i += 300001) {
      EXPECT_TRUE((*writer)->Append(content.substr(i, 300001)));
    }
    auto id = (*writer)->Finish();
    EXPECT_TRUE(id);
    return *id;
  }

  std::string ReadWholeBlob(const BlobInfo& info) {
    std::string out;
    for (uint64_t i = 0; i * info.chunk_bytes < info.length; ++i) {
      auto chunk = store_->ReadBlobChunk(info.blob_id, i);
      EXPECT_TRUE(chunk) << chunk.error().ToString();
      if (!chunk) break;
      out += *chunk;
    }
    return out;
  }
};

TEST_P(StoreTest, EmptyStoreHasNothing) {
  auto current = store_->CurrentVersions();
  ASSERT_TRUE(current);
  EXPECT_TRUE(current->empty());
  auto missing = store_->GetMetadata("root", 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->GetTarget(std::string(64, 'a')).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(*store_->TargetCount(), 0u);
}

TEST_P(StoreTest, CommitStoresMetadataAndCurrentPointers) {
  PublishBatch batch;
  batch.metadata = {{"root", 1, "root-v1"}, {"timestamp", 1, "ts-v1"}, {"targets", 1, "t-v1"}};
  batch.current = {{"root", 1}, {"timestamp", 1}, {"targets", 1}};
  ASSERT_TRUE(store_->Commit(batch));

  PublishBatch next;
  next.metadata = {{"timestamp", 2, "ts-v2"}};
  next.current = {{"timestamp", 2}};
  ASSERT_TRUE(store_->Commit(next));
  Reopen();

  EXPECT_EQ(*store_->GetMetadata("root", 1), "root-v1");
  EXPECT_EQ(*store_->GetMetadata("timestamp", 1), "ts-v1");
  EXPECT_EQ(*store_->GetMetadata("timestamp", 2), "ts-v2");
  auto current = store_->CurrentVersions();
  ASSERT_TRUE(current);
  EXPECT_EQ(*current,
            (std::map<std::string, int64_t>{{"root", 1}, {"targets", 1}, {"timestamp", 2}}));
  auto all = store_->AllMetadata();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 4u);
}

TEST_P(StoreTest, VersionsSortNumericallyAndDelegatedRolesAreSeparate) {
  PublishBatch batch;
  batch.metadata = {{"bins-0", 10, "b10"}, {"bins-0", 9, "b9"}, {"bins", 1, "x"}};
  ASSERT_TRUE(store_->Commit(batch));
  EXPECT_EQ(*store_->GetMetadata("bins-0", 9), "b9");
  EXPECT_EQ(*store_->GetMetadata("bins-0", 10), "b10");
  EXPECT_EQ(*store_->GetMetadata("bins", 1), "x");
  EXPECT_FALSE(store_->GetMetadata("bins", 10));
}

TEST_P(StoreTest, StagedBlobIsInvisibleUntilCommitted) {
  std::string content(3 * kBlobChunkBytes + 12345, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + i / 1000);
  std::string id = StageBlob(content);
  std::string sha(64, 'b');
  EXPECT_EQ(store_->GetTarget(sha).error().kind(), ErrorKind::kNotFound);

  PublishBatch batch;
  batch.targets = {{sha, id, content.size()}};
  batch.metadata = {{"targets", 1, "t"}};
  ASSERT_TRUE(store_->Commit(batch));
  Reopen();
  auto info = store_->GetTarget(sha);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->length, content.size());
  EXPECT_EQ(info->chunk_bytes, kBlobChunkBytes);
  EXPECT_EQ(ReadWholeBlob(*info), content);
  EXPECT_EQ(store_->ReadBlobChunk(info->blob_id, 4).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(*store_->TargetCount(), 1u);
  // A committed blob cannot be discarded.
  EXPECT_EQ(store_->DiscardBlob(info->blob_id).error().kind(), ErrorKind::kInvalidArgument);
}

// GetTarget reads chunks ahead on whichever gRPC thread runs the stream, several streams at
// once: concurrent reads of any chunk return its bytes, the last one exactly the remainder.
TEST_P(StoreTest, ConcurrentChunkReadsReturnTheStoredBytes) {
  std::string content(2 * kBlobChunkBytes + 777, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 13 + i / 4096);
  PublishBatch batch;
  batch.targets = {{std::string(64, 'a'), StageBlob(content), content.size()}};
  ASSERT_TRUE(store_->Commit(batch));
  auto info = store_->GetTarget(std::string(64, 'a'));
  ASSERT_TRUE(info);
  std::vector<std::thread> readers;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (uint64_t k = 0; k < 3; ++k) {
          const uint64_t index = (k + static_cast<uint64_t>(t)) % 3;
          auto chunk = store_->ReadBlobChunk(info->blob_id, index);
          if (!chunk || *chunk != content.substr(index * kBlobChunkBytes, kBlobChunkBytes)) {
            mismatches.fetch_add(1);
          }
        }
      }
    });
  }
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(store_->ReadBlobChunk(info->blob_id, 2)->size(), 777u);
}

TEST_P(StoreTest, EmptyBlobCanBeCommitted) {
  std::string id = StageBlob("");
  PublishBatch batch;
  batch.targets = {{std::string(64, 'e'), id, 0}};
  ASSERT_TRUE(store_->Commit(batch));
  auto info = store_->GetTarget(std::string(64, 'e'));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->length, 0u);
}

TEST_P(StoreTest, CommitNamingUnknownBlobChangesNothing) {
  std::string id = StageBlob("abc");
  PublishBatch batch;
  batch.metadata = {{"targets", 2, "t2"}};
  batch.current = {{"targets", 2}};
  batch.targets = {{std::string(64, 'c'), id, 3}, {std::string(64, 'd'), "no-such-blob", 1}};
  auto status = store_->Commit(batch);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(store_->GetMetadata("targets", 2));
  EXPECT_TRUE(store_->CurrentVersions()->empty());
  EXPECT_FALSE(store_->GetTarget(std::string(64, 'c')));
}

TEST_P(StoreTest, DiscardedBlobIsGone) {
  std::string id = StageBlob(std::string(kBlobChunkBytes + 1, 'x'));
  ASSERT_TRUE(store_->DiscardBlob(id));
  EXPECT_EQ(store_->ReadBlobChunk(id, 0).error().kind(), ErrorKind::kNotFound);
  PublishBatch batch;
  batch.targets = {{std::string(64, 'f'), id, 1}};
  EXPECT_FALSE(store_->Commit(batch));
  EXPECT_TRUE(store_->DiscardBlob("never-existed"));
}

ReportRecord Install(std::string id, std::string device, std::string release, bool success) {
  ReportRecord r;
  r.kind = ReportKind::kInstallation;
  r.id = std::move(id);
  r.device_id = std::move(device);
  r.release = std::move(release);
  r.success = success;
  r.received_time = 1000;
  r.payload = "payload:" + r.id;
  return r;
}

TEST_P(StoreTest, DuplicateReportIdIsStoredOnce) {
  auto first = store_->PutReport(Install("r1", "dev-a", "2.0", true));
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  ReportRecord again = Install("r1", "dev-a", "3.0", false);
  auto second = store_->PutReport(again);
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
  Reopen();
  EXPECT_FALSE(*store_->PutReport(again));
  auto reports = store_->ListReports({});
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].release, "2.0");
  EXPECT_TRUE((*reports)[0].success);
  // The same id as a security event is a different record.
  ReportRecord event = Install("r1", "dev-a", "", false);
  event.kind = ReportKind::kSecurityEvent;
  EXPECT_TRUE(*store_->PutReport(event));
}

TEST_P(StoreTest, ConcurrentDuplicatesAreStoredOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto r = store_->PutReport(Install("r" + std::to_string(i), "dev", "1", true));
        if (r && *r) ++stored;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(stored.load(), 20);
  EXPECT_EQ(store_->ListReports({})->size(), 20u);
}

TEST_P(StoreTest, ReportsFilterAndKeepArrivalOrder) {
  ASSERT_TRUE(store_->PutReport(Install("a", "dev-1", "2.0", true)));
  ASSERT_TRUE(store_->PutReport(Install("b", "dev-2", "2.0", false)));
  ASSERT_TRUE(store_->PutReport(Install("c", "dev-1", "2.1", false)));
  ASSERT_TRUE(store_->PutReport(Install("d", "dev-3", "2.0", false)));
  Reopen();
  ASSERT_TRUE(store_->PutReport(Install("e", "dev-1", "2.2", true)));

  ReportFilter dev1;
  dev1.device_id = "dev-1";
  auto history = store_->ListReports(dev1);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].id, "a");
  EXPECT_EQ((*history)[1].id, "c");
  EXPECT_EQ((*history)[2].id, "e");
  EXPECT_LT((*history)[0].sequence, (*history)[1].sequence);
  EXPECT_LT((*history)[1].sequence, (*history)[2].sequence);
  EXPECT_EQ((*history)[2].payload, "payload:e");

  ReportFilter failures;
  failures.release = "2.0";
  failures.success = false;
  auto failed = store_->ListReports(failures);
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->size(), 2u);
  EXPECT_EQ((*failed)[0].id, "b");
  EXPECT_EQ((*failed)[1].id, "d");
}

TEST_P(StoreTest, DevicesSummarizeTheirLastReport) {
  ASSERT_TRUE(store_->PutReport(Install("a", "dev-1", "2.0", true)));
  ASSERT_TRUE(store_->PutReport(Install("b", "dev-1", "2.1", false)));
  ASSERT_TRUE(store_->PutReport(Install("c", "dev-2", "2.1", true)));
  ReportRecord event = Install("ev", "dev-3", "", false);
  event.kind = ReportKind::kSecurityEvent;
  ASSERT_TRUE(store_->PutReport(event));
  Reopen();
  auto devices = store_->ListDevices();
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 2u);  // security events do not create inventory entries
  EXPECT_EQ((*devices)[0].device_id, "dev-1");
  EXPECT_EQ((*devices)[0].installed_version, "2.0");  // the failed 2.1 did not install
  EXPECT_EQ((*devices)[0].last_report_id, "b");
  EXPECT_FALSE((*devices)[0].last_success);
  EXPECT_EQ((*devices)[0].last_payload, "payload:b");
  EXPECT_EQ((*devices)[1].installed_version, "2.1");
}

TEST_P(StoreTest, AuditRecordsAreListedInSeqOrderAndCommittedWithAPublish) {
  auto empty = store_->LastAudit();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());
  ASSERT_TRUE(store_->AppendAudit({1, "one"}));
  ASSERT_TRUE(store_->AppendAudit({2, "two"}));
  PublishBatch batch;
  batch.metadata.push_back({"root", 1, "root-bytes"});
  batch.current["root"] = 1;
  batch.audit = AuditRecord{3, "three"};
  ASSERT_TRUE(store_->Commit(batch));
  ASSERT_TRUE(store_->AppendAudit({10, "ten"}));
  Reopen();
  auto all = store_->ListAudit(0, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].seq, 1u);
  EXPECT_EQ((*all)[2].bytes, "three");
  EXPECT_EQ((*all)[3].seq, 10u);
  auto page = store_->ListAudit(1, 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 2u);
  EXPECT_EQ((*page)[1].seq, 3u);
  auto last = store_->LastAudit();
  ASSERT_TRUE(last);
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->seq, 10u);
  EXPECT_EQ((*last)->bytes, "ten");
  EXPECT_EQ(*store_->GetMetadata("root", 1), "root-bytes");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, StoreBackends(), StoreBackendName);

// Only a persistent backend has an "interrupted publish" to clean up after.
TEST(RocksDbStoreTest, StagedBlobsOfAnInterruptedPublishAreDroppedAtOpen) {
  fs::path dir = fs::path(::testing::TempDir()) / ("store_gc_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string committed, staged;
  {
    auto store = OpenRocksDbStore(dir);
    ASSERT_TRUE(store);
    auto writer = (*store)->NewBlob();
    ASSERT_TRUE(writer && (*writer)->Append("kept"));
    committed = *(*writer)->Finish();
    PublishBatch batch;
    batch.targets = {{std::string(64, 'k'), committed, 4}};
    ASSERT_TRUE((*store)->Commit(batch));
    auto interrupted = (*store)->NewBlob();
    ASSERT_TRUE(interrupted && (*interrupted)->Append(std::string(kBlobChunkBytes + 5, 's')));
    staged = *(*interrupted)->Finish();
    ASSERT_TRUE((*store)->ReadBlobChunk(staged, 0));
  }  // "crash": closed without commit or discard
  auto reopened = OpenRocksDbStore(dir);
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->ReadBlobChunk(staged, 0).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ((*reopened)->ReadBlobChunk(staged, 1).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(*(*reopened)->ReadBlobChunk(committed, 0), "kept");
  reopened->reset();
  fs::remove_all(dir);
}

TEST(RocksDbStoreTest, SecondOpenOfSameDirectoryFailsWithIo) {
  fs::path dir = fs::path(::testing::TempDir()) / ("store_lock_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto first = OpenRocksDbStore(dir);
  ASSERT_TRUE(first);
  auto second = OpenRocksDbStore(dir);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind(), ErrorKind::kIo);
  first->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mdu::server
