// make_bench_repo: writes a static, consistent-snapshot TUF repository with N targets to a
// directory, for the refresh comparison (our client-agent vs tuf-js's Updater, scripts/bench.sh).
//
//   make_bench_repo [--with-target-files] <targets> <out_dir>
//
// The repository is the one refresh_bench builds in memory (tests/sim RepositorySimulator: one
// ed25519 key per top-level role, root v1, targets v2 listing <targets> files
// "packages/pkg-<i>.bin" with length, sha256 and sha512), so the in-process and the
// out-of-process figures are about the same bytes. Expiry dates are set ten years after the
// system clock, because the clients read the real clock (the simulator's default is a fixed
// 2025 date). Layout:
//   <out_dir>/metadata/{1.root.json, timestamp.json, N.snapshot.json, N.targets.json, ...}
//   <out_dir>/targets/packages/<sha256>.pkg-<i>.bin   (only with --with-target-files)
// A refresh needs no target files, so they are not written by default (100,000 small files).
//
// Prints one line: the number of targets and the size of the targets role.
// Exit status: 0 on success, 1 on a write failure, 2 on bad usage.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "tests/sim/repository_simulator.h"

namespace {

namespace fs = std::filesystem;

constexpr mdu::metadata::UnixTime kTenYears = 10LL * 365 * 86400;

int Usage() {
  std::fprintf(stderr, "usage: make_bench_repo [--with-target-files] <targets> <out_dir>\n");
  return 2;
}

// Plain writes: this is a benchmark fixture, not trusted state, so no fsync per file.
bool WriteFile(const fs::path& path, std::string_view data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    std::fprintf(stderr, "make_bench_repo: %s: %s\n", path.parent_path().c_str(),
                 ec.message().c_str());
    return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "make_bench_repo: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

int Run(int argc, char** argv) {
  bool with_target_files = false;
  int arg = 1;
  if (arg < argc && std::string_view(argv[arg]) == "--with-target-files") {
    with_target_files = true;
    ++arg;
  }
  if (argc - arg != 2) {
    return Usage();
  }
  char* end = nullptr;
  const long count = std::strtol(argv[arg], &end, 10);
  if (*end != '\0' || count < 0 || count > 10'000'000) {
    return Usage();
  }
  const fs::path out_dir = argv[arg + 1];

  mdu::sim::RepositorySimulator repo;
  const mdu::metadata::UnixTime expires =
      static_cast<mdu::metadata::UnixTime>(std::time(nullptr)) + kTenYears;
  repo.root.common.expires = expires;
  repo.timestamp.common.expires = expires;
  repo.snapshot.common.expires = expires;
  repo.Role("targets").common.expires = expires;
  repo.PublishRoot();  // re-signs root v1 with the new expiry

  for (long i = 0; i < count; ++i) {
    const std::string name = "packages/pkg-" + std::to_string(i) + ".bin";
    repo.AddTarget("targets", name, "content of " + name);
  }
  repo.Role("targets").common.version = 2;
  repo.UpdateSnapshot();

  for (const auto& [path, bytes] : repo.files) {
    const bool is_metadata = path.starts_with("metadata/");
    if (!is_metadata && !with_target_files) {
      continue;
    }
    if (!WriteFile(out_dir / path, bytes)) {
      return 1;
    }
  }
  std::printf("%ld targets, 2.targets.json %zu bytes, in %s\n", count,
              repo.MetadataFile("2.targets.json").size(), out_dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {  // std::filesystem::path, std::bad_alloc
    std::fprintf(stderr, "make_bench_repo: %s\n", e.what());
    return 1;
  }
}
