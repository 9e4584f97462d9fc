// Report ingestion into RocksDB through the server's report intake (repo-server/device_evidence.h):
// unsigned reports (the --insecure path) next to reports signed over a fresh nonce with ECDSA
// P-256 and Ed25519 device keys (nonce issue + consume, signature verification with the
// certificate, synced RocksDB write with its indexes). The device certificates are made with the
// openssl CLI in a temporary directory. Run:
//   build/tests/bench/report_ingest_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/io/file.h"
#include "proto/report_signing.h"
#include "repo-server/clock.h"
#include "repo-server/device_evidence.h"
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

}  // namespace
}  // namespace mdu::server

BENCHMARK_MAIN();
