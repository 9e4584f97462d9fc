#include "repo-server/report_writer.h"

#include <future>
#include <utility>
#include <vector>

namespace mdu::server {

ReportWriter::ReportWriter(Store& store, ReportWriterOptions options)
    : store_(store), options_(options) {
  if (options_.max_batch > 1) thread_ = std::thread([this] { Run(); });
}

ReportWriter::~ReportWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool ReportWriter::Submit(ReportRecord record, Done done) {
  if (options_.max_batch <= 1) {
    // No grouping: the caller's own synced write, as before group commit.
    auto stored = store_.PutReport(record);
    {
      std::lock_guard lock(mu_);
      ++batches_;
    }
    done(std::move(stored));
    return true;
  }
  {
    std::lock_guard lock(mu_);
    // Nothing being written, nothing waiting and no recent sign of concurrency: the caller writes
    // its report itself, saving the hand-off to the writer thread (two thread switches, which
    // cost milliseconds on a loaded machine). Under concurrency (the last batch held more than
    // one report) reports queue for the writer thread instead, so they keep sharing writes.
    const bool write_here = !writing_ && queue_.empty() && last_batch_size_ <= 1;
    if (!write_here) {
      if (queue_.size() >= options_.max_queue) return false;
      queue_.push_back(Pending{std::move(record), std::move(done)});
      wake_.notify_one();
      return true;
    }
    writing_ = true;
  }
  auto stored = store_.PutReport(record);
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    ++batches_;
    last_batch_size_ = 1;
    wake_.notify_one();  // under the lock: the destructor may be waiting for this write
  }
  done(std::move(stored));
  return true;
}

Result<bool> ReportWriter::Write(ReportRecord record) {
  std::promise<Result<bool>> outcome;
  std::future<Result<bool>> future = outcome.get_future();
  if (!Submit(std::move(record),
              [&outcome](Result<bool> stored) { outcome.set_value(std::move(stored)); })) {
    return MakeError(ErrorKind::kLimitExceeded,
                     "report queue full (" + std::to_string(options_.max_queue) + " waiting)");
  }
  return future.get();
}

uint64_t ReportWriter::batches_written() const {
  std::lock_guard lock(mu_);
  return batches_;
}

void ReportWriter::Run() {
  std::vector<ReportRecord> records;
  std::vector<Done> dones;
  for (;;) {
    records.clear();
    dones.clear();
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return !writing_ && (stopping_ || !queue_.empty()); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      size_t bytes = 0;
      while (!queue_.empty() && records.size() < options_.max_batch) {
        const ReportRecord& next = queue_.front().record;
        const size_t size = next.payload.size() + next.certificate_pem.size();
        if (!records.empty() && bytes + size > options_.max_batch_bytes) break;
        bytes += size;
        records.push_back(std::move(queue_.front().record));
        dones.push_back(std::move(queue_.front().done));
        queue_.pop_front();
      }
      writing_ = true;
    }
    // Outside the lock: reports arriving now queue up for the next batch.
    auto stored = store_.PutReports(records);
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      ++batches_;
      last_batch_size_ = records.size();
    }
    for (size_t i = 0; i < dones.size(); ++i) {
      if (stored) {
        dones[i]((*stored)[i]);
      } else {
        dones[i](MakeError(stored.error()));
      }
    }
  }
}

}  // namespace mdu::server
