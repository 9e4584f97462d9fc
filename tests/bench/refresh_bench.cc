// Client refresh cost on large repositories, through the Updater with the in-memory simulator
// as fetcher and an in-memory store (so the figures are verification cost, not I/O).
//
//   BM_FullRefresh/N          root, timestamp, snapshot and a top-level targets role with N
//                             targets, from a store that holds only the root.
//   BM_UpdateTargetsOnly/N    TrustedSet::UpdateTargets alone (parse, canonicalize, verify,
//                             typed model) on the N-target role.
//
// The same repository, written to disk by make_bench_repo, is what scripts/bench.sh refreshes
// over loopback HTTP with client-agent and with tuf-js.
//
// Run: build/tests/bench/refresh_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

#include "core/client/clock.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/trust/trusted_set.h"
#include "tests/sim/repository_simulator.h"

namespace {

using mdu::sim::RepositorySimulator;

// Building and signing a 100,000-target repository takes a while: one per size, kept.
RepositorySimulator& Repository(int targets) {
  static std::map<int, std::unique_ptr<RepositorySimulator>> cache;
  auto& repo = cache[targets];
  if (!repo) {
    repo = std::make_unique<RepositorySimulator>();
    for (int i = 0; i < targets; ++i) {
      const std::string name = "packages/pkg-" + std::to_string(i) + ".bin";
      repo->AddTarget("targets", name, "content of " + name);
    }
    repo->Role("targets").common.version = 2;
    repo->UpdateSnapshot();
  }
  return *repo;
}

void BM_FullRefresh(benchmark::State& state) {
  RepositorySimulator& repo = Repository(static_cast<int>(state.range(0)));
  const std::string root = repo.MetadataFile("1.root.json");
  mdu::client::FakeClock clock(mdu::sim::kNow);
  mdu::client::UpdaterConfig config;
  config.metadata_base_url = std::string(RepositorySimulator::kMetadataUrl);
  config.targets_base_url = std::string(RepositorySimulator::kTargetsUrl);
  for (auto _ : state) {
    mdu::client::MemoryMetadataStore store;
    (void)store.Store("root", root);
    mdu::client::Updater updater(config, repo, store, clock);
    mdu::Status status = updater.Refresh();
    if (!status) {
      state.SkipWithError(status.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(store);
  }
  // Throughput in bytes of the targets role (the bulk of the metadata).
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(repo.MetadataFile("2.targets.json").size()));
  state.SetLabel(std::to_string(repo.MetadataFile("2.targets.json").size() / 1024) +
                 " KiB targets.json");
}
BENCHMARK(BM_FullRefresh)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_UpdateTargetsOnly(benchmark::State& state) {
  RepositorySimulator& repo = Repository(static_cast<int>(state.range(0)));
  auto created = mdu::trust::TrustedSet::Create(repo.MetadataFile("1.root.json"), mdu::sim::kNow);
  if (!created) {
    state.SkipWithError(created.error().ToString().c_str());
    return;
  }
  mdu::trust::TrustedSet set = std::move(created).value();
  (void)set.UpdateTimestamp(repo.MetadataFile("timestamp.json"));
  (void)set.UpdateSnapshot(
      repo.MetadataFile(std::to_string(repo.snapshot.common.version) + ".snapshot.json"));
  const std::string bytes = repo.MetadataFile("2.targets.json");
  for (auto _ : state) {
    auto result = set.UpdateTargets(bytes);
    if (!result) {
      state.SkipWithError(result.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(*result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_UpdateTargetsOnly)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
