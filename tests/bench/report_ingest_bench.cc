// Report ingestion into RocksDB through the server's report intake (repo-server/device_evidence.h):
// unsigned reports (the --insecure path) next to reports signed over a fresh nonce with ECDSA
// P-256 and Ed25519 device keys (nonce issue + consume, signature verification with the
// certificate, synced RocksDB write with its indexes). The device certificates are made with the
// openssl CLI in a temporary directory. BM_ConcurrentReports: 1 and 64 concurrent writers with
// and without group commit (repo-server/report_writer.h). Run:
//   build/tests/bench/report_ingest_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/io/file.h"
#include "mdu/v1/repository.pb.h"
#include "proto/report_signing.h"
#include "repo-server/clock.h"
#include "repo-server/device_evidence.h"
#include "repo-server/report_writer.h"
#include "repo-server/rocksdb_store.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 ("report_ingest_bench_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// kind: 0 unsigned, 1 ECDSA P-256, 2 Ed25519.
void BM_IngestReport(benchmark::State& state) {
  const int kind = static_cast<int>(state.range(0));
  const fs::path dir = TempDir(std::to_string(kind));
  std::string cert_pem;
  std::optional<evidence::DeviceKey> key;
  if (kind != 0) {
    const std::string newkey =
        kind == 1 ? "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1" : "-newkey ed25519";
    const std::string command = "cd '" + dir.string() + "' && openssl req -x509 " + newkey +
                                " -nodes -keyout d.key -out d.pem -days 2 -subj /CN=d "
                                "-addext subjectAltName=URI:urn:mdu:device:pump-1 >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) {
      state.SkipWithError("openssl failed");
      return;
    }
    cert_pem = *io::ReadFileBounded(dir / "d.pem", 1 << 16);
    auto loaded = evidence::DeviceKey::FromPem(*io::ReadFileBounded(dir / "d.key", 1 << 16));
    if (!loaded) {
      state.SkipWithError("key");
      return;
    }
    key.emplace(std::move(*loaded));
  }
  auto store = OpenRocksDbStore(dir / "db");
  if (!store) {
    state.SkipWithError("store");
    return;
  }
  SystemClock clock;
  ReportIntake intake(**store, clock, /*require_signatures=*/kind != 0);
  int64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();  // the device's side: building and signing the report
    v1::InstallationReport report;
    report.set_report_id("r-" + std::to_string(n++));
    report.set_device_id("pump-1");
    report.set_target("pump/firmware.bin");
    report.set_to_version("2.0");
    report.set_phase(v1::INSTALL_PHASE_COMPLETE);
    report.set_success(true);
    report.set_log_excerpt(std::string(512, 'x'));
    if (key) {
      report.set_nonce(intake.IssueNonce("pump-1")->nonce);
      report.set_signature(*key->Sign(evidence::SigningPayload(report)));
    }
    state.ResumeTiming();
    ReportRecord record;
    record.id = report.report_id();
    record.device_id = report.device_id();
    record.release = report.to_version();
    record.success = true;
    record.payload = report.SerializeAsString();
    auto stored = intake.Accept(std::move(record), report.nonce(), report.signature(),
                                evidence::SigningPayload(report), cert_pem);
    if (!stored || !*stored) state.SkipWithError("not stored");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kind == 0 ? "unsigned" : kind == 1 ? "ecdsa-p256" : "ed25519");
  store->reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_IngestReport)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

// Unsigned reports from 1 or 64 concurrent callers through the ReportWriter
// (repo-server/report_writer.h) into one RocksDB store: arg 0 = max_batch (1: every report its
// own synced write, the behaviour before group commit; 256: group commit). items_per_second is
// the server-wide report rate (real time).
struct SharedStore {
  fs::path dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<ReportWriter> writer;
};
SharedStore* shared_store = nullptr;

void BM_ConcurrentReports(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_store = new SharedStore;
    shared_store->dir = TempDir("concurrent");
    auto store = OpenRocksDbStore(shared_store->dir / "db");
    if (!store) {
      state.SkipWithError("store");
      return;
    }
    shared_store->store = std::move(*store);
    ReportWriterOptions options;
    options.max_batch = static_cast<size_t>(state.range(0));
    shared_store->writer = std::make_unique<ReportWriter>(*shared_store->store, options);
  }
  int64_t n = 0;
  for (auto _ : state) {
    ReportRecord record;
    record.id = "r-" + std::to_string(state.thread_index()) + "-" + std::to_string(n++);
    record.device_id = "pump-" + std::to_string(state.thread_index());
    record.release = "2.0";
    record.payload = std::string(600, 'x');
    auto stored = shared_store->writer->Write(std::move(record));
    if (!stored || !*stored) state.SkipWithError("not stored");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["batches"] = static_cast<double>(shared_store->writer->batches_written());
    shared_store->writer.reset();
    shared_store->store.reset();
    fs::remove_all(shared_store->dir);
    delete shared_store;
    shared_store = nullptr;
  }
}
BENCHMARK(BM_ConcurrentReports)
    ->ArgName("max_batch")
    ->Arg(1)
    ->Arg(256)
    ->Threads(1)
    ->Threads(64)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mdu::server

BENCHMARK_MAIN();
