// Group commit of device reports: concurrent ReportInstallation / ReportSecurityEvent /
// ReportInventory writes share one synced Store::PutReports write instead of one fsync each.
//
// How: reports arriving while a write is in progress queue up; one writer thread takes
// everything queued (up to `max_batch` reports or `max_batch_bytes` of payload) and writes it as
// one batch. A report arriving when nothing is written or queued, while the last write held a
// single report (no concurrency), is written at once on the caller's thread (no hand-off), so
// grouping adds no latency to a lone report; it only collects what piles up behind a sync.
//
// Guarantees: a report's `done` runs only after the batch holding it is durable (synced), with
// the store's per-report answer (true = newly stored; a resent id, also one resent within the
// same batch, gets false and is stored once). If the batch's write fails, every report of that
// batch gets the error. Device records and indexes are written in the same batch (the store's
// contract).
//
// Backpressure: at most `max_queue` reports wait; Submit refuses more (returns false, `done` not
// called) so a flood cannot grow memory; the caller answers RESOURCE_EXHAUSTED.
//
// `max_batch` = 1 turns grouping off: each report is written on the caller's thread with its own
// sync (the behaviour before this module; kept for comparison benchmarks).
//
// Thread-safety: Submit and Write may be called from any thread; Submit may block for one
// synced write when it writes on the caller's thread. `done` runs on the writer thread or on the
// caller's (inside Submit) and must not block for long. Ownership: borrows
// `store`, which must outlive the writer. The destructor writes what is queued, then joins.
#ifndef MDU_REPO_SERVER_REPORT_WRITER_H_
#define MDU_REPO_SERVER_REPORT_WRITER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "core/common/error.h"
#include "repo-server/store.h"

namespace mdu::server {

struct ReportWriterOptions {
  size_t max_batch = 256;  // reports per synced write; 1 = no grouping
  // Payload + certificate bytes per write (a batch holds at least one report).
  size_t max_batch_bytes = size_t{8} << 20;
  size_t max_queue = 8192;  // reports waiting; more are refused
};

class ReportWriter {
 public:
  using Done = std::function<void(Result<bool>)>;

  ReportWriter(Store& store, ReportWriterOptions options);
  ~ReportWriter();
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // Queues `record` (or writes it at once, see above); `done` gets the outcome once its batch is
  // synced. False (and `done` is not called) when `max_queue` reports are already waiting.
  [[nodiscard]] bool Submit(ReportRecord record, Done done);

  // Submit and wait. kLimitExceeded when the queue is full.
  Result<bool> Write(ReportRecord record);

  // Synced writes so far (for tests and benchmarks).
  uint64_t batches_written() const;

  const ReportWriterOptions& options() const { return options_; }

 private:
  struct Pending {
    ReportRecord record;
    Done done;
  };
  void Run();

  Store& store_;
  const ReportWriterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool writing_ = false;         // a write is in progress (writer thread or a caller)
  size_t last_batch_size_ = 0;   // reports in the last write: > 1 means concurrent callers
  uint64_t batches_ = 0;
  std::thread thread_;  // last: started after the fields it uses
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_REPORT_WRITER_H_
