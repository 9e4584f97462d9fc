// The group commit of device reports (repo-server/report_writer.h): reports that pile up behind
// a write share the next one, a lone report is written at once, resent ids are stored once
// (within a batch and across batches), a failed write fails every report of its batch, and the
// queue is bounded.
#include "repo-server/report_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "repo-server/memory_store.h"

namespace mdu::server {
namespace {

// A memory store whose PutReports can be held (to let reports pile up) or made to fail, and
// which records the size of every write.
class GatedStore final : public Store {
 public:
  Status Commit(const PublishBatch& batch) override { return inner_->Commit(batch); }
  Result<std::string> GetMetadata(std::string_view role, int64_t version) const override {
    return inner_->GetMetadata(role, version);
  }
  Result<std::map<std::string, int64_t>> CurrentVersions() const override {
    return inner_->CurrentVersions();
  }
  Result<std::vector<MetadataEntry>> AllMetadata() const override {
    return inner_->AllMetadata();
  }
  Result<std::unique_ptr<BlobWriter>> NewBlob() override { return inner_->NewBlob(); }
  Status DiscardBlob(std::string_view blob_id) override { return inner_->DiscardBlob(blob_id); }
  Result<BlobInfo> GetTarget(std::string_view sha256) const override {
    return inner_->GetTarget(sha256);
  }
  Result<uint64_t> TargetCount() const override { return inner_->TargetCount(); }
  Result<std::string> ReadBlobChunk(std::string_view blob_id, uint64_t index) const override {
    return inner_->ReadBlobChunk(blob_id, index);
  }
  Result<std::vector<bool>> PutReports(std::span<const ReportRecord> reports) override {
    {
      std::unique_lock lock(mu_);
      ++entered_;
      entered_cv_.notify_all();
      released_cv_.wait(lock, [this] { return !held_; });
      sizes_.push_back(reports.size());
      if (fail_) return MakeError(ErrorKind::kIo, "rocksdb put report: disk on fire");
    }
    return inner_->PutReports(reports);
  }
  Result<std::vector<ReportRecord>> ListReports(const ReportFilter& filter) const override {
    return inner_->ListReports(filter);
  }
  Result<std::vector<DeviceRecord>> ListDevices() const override { return inner_->ListDevices(); }
  Status AppendAudit(const AuditRecord& record) override { return inner_->AppendAudit(record); }
  Result<std::vector<AuditRecord>> ListAudit(uint64_t after_seq, size_t limit) const override {
    return inner_->ListAudit(after_seq, limit);
  }
  Result<std::optional<AuditRecord>> LastAudit() const override { return inner_->LastAudit(); }

  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    released_cv_.notify_all();
  }
  void Fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  // Waits until `n` writes have started.
  void AwaitEntered(int n) {
    std::unique_lock lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_ >= n; });
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::unique_ptr<Store> inner_ = NewMemoryStore();
  std::mutex mu_;
  std::condition_variable entered_cv_, released_cv_;
  bool held_ = false;
  bool fail_ = false;
  int entered_ = 0;
  std::vector<size_t> sizes_;
};

ReportRecord Report(const std::string& id, const std::string& device = "pump-1") {
  ReportRecord r;
  r.kind = ReportKind::kInstallation;
  r.id = id;
  r.device_id = device;
  r.release = "2.0";
  r.received_time = 1000;
  r.payload = "payload of " + id;
  return r;
}

// Writes from another thread (the writer may write a lone report on the caller's thread, which
// then waits for a held store).
std::future<Result<bool>> WriteInThread(ReportWriter& writer, ReportRecord record) {
  return std::async(std::launch::async,
                    [&writer, record = std::move(record)]() mutable {
                      return writer.Write(std::move(record));
                    });
}

// Submits and hands back a future of the outcome.
std::future<Result<bool>> SubmitAsync(ReportWriter& writer, ReportRecord record) {
  auto promise = std::make_shared<std::promise<Result<bool>>>();
  auto future = promise->get_future();
  bool queued = writer.Submit(std::move(record), [promise](Result<bool> stored) {
    promise->set_value(std::move(stored));
  });
  EXPECT_TRUE(queued);
  return future;
}

TEST(ReportWriterTest, ALoneReportIsWrittenAtOnceAndAcknowledgedAfterItsWrite) {
  GatedStore store;
  ReportWriter writer(store, ReportWriterOptions{});
  auto stored = writer.Write(Report("r-1"));
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  EXPECT_EQ(store.sizes(), std::vector<size_t>{1});
  // Not acknowledged before its write is done: hold the store, the ack must wait.
  store.Hold();
  auto pending = WriteInThread(writer, Report("r-2"));
  store.AwaitEntered(2);
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  store.Release();
  ASSERT_TRUE(pending.get());
}

TEST(ReportWriterTest, ReportsQueuedBehindAWriteShareTheNextOneAndDuplicatesAreStoredOnce) {
  GatedStore store;
  ReportWriter writer(store, ReportWriterOptions{});
  store.Hold();
  auto first = WriteInThread(writer, Report("first"));
  store.AwaitEntered(1);  // the writer is inside the first (held) write
  std::vector<std::future<Result<bool>>> queued;
  for (int i = 0; i < 10; ++i) queued.push_back(SubmitAsync(writer, Report("q-" + std::to_string(i))));
  queued.push_back(SubmitAsync(writer, Report("q-3")));    // same id in the same batch
  queued.push_back(SubmitAsync(writer, Report("first")));  // id of the previous batch
  store.Release();
  ASSERT_TRUE(first.get());
  std::vector<bool> newly;
  for (auto& f : queued) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().ToString();
    newly.push_back(*r);
  }
  std::vector<bool> expected(10, true);
  expected.push_back(false);
  expected.push_back(false);
  EXPECT_EQ(newly, expected);
  EXPECT_EQ(store.sizes(), (std::vector<size_t>{1, 12})) << "one write for the whole queue";
  EXPECT_EQ(writer.batches_written(), 2u);
  EXPECT_EQ(store.ListReports({})->size(), 11u);
  // The last write held many reports: the next lone one queues for the writer thread too (and
  // is written at once, since nothing else is in progress).
  auto next = SubmitAsync(writer, Report("next"));
  ASSERT_TRUE(next.get());
  EXPECT_EQ(store.sizes().back(), 1u);
}

TEST(ReportWriterTest, ALoneReportIsWrittenOnTheCallersThread) {
  GatedStore store;
  ReportWriter writer(store, ReportWriterOptions{});
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  ASSERT_TRUE(writer.Submit(Report("a"), [&](Result<bool> r) {
    ran_on = std::this_thread::get_id();
    EXPECT_TRUE(r && *r);
  }));
  EXPECT_EQ(ran_on, caller) << "no hand-off to the writer thread without concurrency";
}

TEST(ReportWriterTest, AFailedWriteFailsEveryReportOfItsBatchAndOnlyThose) {
  GatedStore store;
  ReportWriter writer(store, ReportWriterOptions{});
  store.Hold();
  auto first = WriteInThread(writer, Report("first"));
  store.AwaitEntered(1);
  store.Fail(true);  // the held write and the next fail
  auto a = SubmitAsync(writer, Report("a"));
  auto b = SubmitAsync(writer, Report("b"));
  store.Release();
  for (auto* f : {&first, &a, &b}) {
    auto r = f->get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), ErrorKind::kIo);
    EXPECT_NE(r.error().message().find("disk on fire"), std::string::npos);
  }
  store.Fail(false);
  auto later = writer.Write(Report("a"));  // nothing of the failed batch was stored
  ASSERT_TRUE(later);
  EXPECT_TRUE(*later);
}

TEST(ReportWriterTest, BatchesAreBoundedInCountAndBytes) {
  GatedStore store;
  ReportWriterOptions options;
  options.max_batch = 4;
  options.max_batch_bytes = 2000;  // "big" alone is over it: a batch holds at least one
  ReportWriter writer(store, options);
  store.Hold();
  auto first = WriteInThread(writer, Report("first"));
  store.AwaitEntered(1);
  std::vector<std::future<Result<bool>>> queued;
  for (int i = 0; i < 6; ++i) queued.push_back(SubmitAsync(writer, Report("n-" + std::to_string(i))));
  ReportRecord big = Report("big");
  big.payload.assign(2500, 'x');
  queued.push_back(SubmitAsync(writer, big));
  store.Release();
  for (auto& f : queued) ASSERT_TRUE(f.get());
  ASSERT_TRUE(first.get());
  // 1 (held), 4 (count cap), 2 small ones (adding "big" would cross the bytes cap), "big" alone.
  EXPECT_EQ(store.sizes(), (std::vector<size_t>{1, 4, 2, 1}));
}

TEST(ReportWriterTest, AFullQueueRefusesInsteadOfGrowing) {
  GatedStore store;
  ReportWriterOptions options;
  options.max_queue = 3;
  ReportWriter writer(store, options);
  store.Hold();
  auto first = WriteInThread(writer, Report("first"));
  store.AwaitEntered(1);  // taken off the queue
  std::vector<std::future<Result<bool>>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(SubmitAsync(writer, Report("q-" + std::to_string(i))));
  bool called = false;
  EXPECT_FALSE(writer.Submit(Report("over"), [&](Result<bool>) { called = true; }));
  auto refused = writer.Write(Report("over"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kLimitExceeded);
  store.Release();
  for (auto& f : queued) ASSERT_TRUE(f.get());
  ASSERT_TRUE(first.get());
  EXPECT_FALSE(called);
}

TEST(ReportWriterTest, WithoutGroupingEachReportIsItsOwnWriteOnTheCallersThread) {
  GatedStore store;
  ReportWriterOptions options;
  options.max_batch = 1;
  ReportWriter writer(store, options);
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  ASSERT_TRUE(writer.Submit(Report("a"), [&](Result<bool> r) {
    ran_on = std::this_thread::get_id();
    EXPECT_TRUE(r && *r);
  }));
  EXPECT_EQ(ran_on, caller);
  EXPECT_FALSE(*writer.Write(Report("a")));
  EXPECT_EQ(store.sizes(), (std::vector<size_t>{1, 1}));
}

// Many threads, many duplicate ids: every id stored exactly once, every report acknowledged,
// exactly one "newly stored" per id, and the device record reflects a stored report.
TEST(ReportWriterTest, ManyThreadsWithDuplicateIdsStoreEachIdOnce) {
  auto store = NewMemoryStore();
  ReportWriter writer(*store, ReportWriterOptions{});
  constexpr int kThreads = 32;
  constexpr int kIds = 200;
  std::atomic<int> newly{0}, acked{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIds; ++i) {
        // Every thread sends every id (in a thread-specific order).
        const int id = (i * 7 + t) % kIds;
        auto r = writer.Write(Report("r-" + std::to_string(id), "pump-" + std::to_string(id % 5)));
        ASSERT_TRUE(r) << r.error().ToString();
        ++acked;
        if (*r) ++newly;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(acked.load(), kThreads * kIds);
  EXPECT_EQ(newly.load(), kIds);
  EXPECT_EQ(store->ListReports({})->size(), static_cast<size_t>(kIds));
  EXPECT_EQ(store->ListDevices()->size(), 5u);
  EXPECT_LT(writer.batches_written(), static_cast<uint64_t>(kThreads * kIds));
}

TEST(ReportWriterTest, DestructionWritesWhatIsQueued) {
  GatedStore store;
  std::future<Result<bool>> first, second;
  {
    ReportWriter writer(store, ReportWriterOptions{});
    store.Hold();
    first = WriteInThread(writer, Report("first"));
    store.AwaitEntered(1);
    second = SubmitAsync(writer, Report("second"));
    store.Release();
  }
  ASSERT_TRUE(first.get());
  ASSERT_TRUE(second.get());
  EXPECT_EQ(store.ListReports({})->size(), 2u);
}

}  // namespace
}  // namespace mdu::server
