// signer_bench: timings of the signer workspace at scale (a small timing tool, not Google
// Benchmark, because one iteration of "add 100,000 targets and publish" is the measurement).
//
//   signer_bench targets [N]        add N small target files (default 100000), save, sign,
//                                   publish, verify; prints each phase and the peak RSS
//   signer_bench hash FILE [both]   hash FILE with sha256 (or sha256+sha512 in one pass) via
//                                   crypto::HashFile; prints seconds and MiB/s
//   signer_bench ingest FILE [copy] what add-target does: one read, sha256 + sha512 (two
//                                   threads for large files), optionally copying the blob
//
// Used by signer/bench/hash_vs_openssl.sh; figures go to BENCHMARKS.md.
#include <stdlib.h>
#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/crypto/hash.h"
#include "core/crypto/keys.h"
#include "signer/repo/ingest.h"
#include "signer/repo/publish.h"
#include "signer/repo/signing.h"
#include "signer/repo/targets_editor.h"
#include "signer/repo/workspace.h"

namespace {

namespace fs = std::filesystem;
using mdu::signer::repo::UnixTime;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long PeakRssMiB() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

template <class T>
T Check(mdu::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "%s failed: %s\n", what, result.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}
void Check(mdu::Status status, const char* what) {
  if (!status) {
    std::fprintf(stderr, "%s failed: %s\n", what, status.error().ToString().c_str());
    std::exit(1);
  }
}

int BenchTargets(size_t count) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr ? tmpdir : "/tmp") + "/signer-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return 1;
  const fs::path root = pattern;
  const UnixTime now = std::time(nullptr);

  auto t = Clock::now();
  std::vector<mdu::signer::repo::TargetSource> sources;
  sources.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string name =
        "fleet/" + std::to_string(i % 100) + "/pkg-" + std::to_string(i) + ".bin";
    const fs::path file = root / "files" / (std::to_string(i / 1000)) / ("f" + std::to_string(i));
    if (i % 1000 == 0) fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << "payload " << i << " " << std::string(64, 'x');
    sources.push_back({file, name});
  }
  std::printf("setup: wrote %zu input files in %.2f s\n", count, Seconds(t));

  auto key = [] {
    return Check(mdu::crypto::PrivateKey::Generate(mdu::crypto::KeyScheme::kEd25519), "keygen");
  };
  auto root_key = key(), targets_key = key(), snapshot_key = key(), timestamp_key = key();
  mdu::signer::repo::InitSpec spec;
  spec.root = {{root_key.public_key()}, 1};
  spec.targets = {{targets_key.public_key()}, 1};
  spec.snapshot = {{snapshot_key.public_key()}, 1};
  spec.timestamp = {{timestamp_key.public_key()}, 1};
  auto ws = Check(mdu::signer::repo::Workspace::Init(root / "ws", spec, now), "init");
  Check(ws.Save(), "save");

  const auto total = Clock::now();
  t = Clock::now();
  mdu::signer::repo::AddTargetsSpec add;
  add.sources = std::move(sources);
  add.release.version = "1.0.0";
  add.release.hardware_ids = {"hw-a"};
  add.now = now;
  auto added = Check(mdu::signer::repo::AddTargets(ws, add), "add");
  std::printf("add-target: hashed and stored %zu files in %.2f s (peak RSS so far %ld MiB)\n",
              added.size(), Seconds(t), PeakRssMiB());
  t = Clock::now();
  Check(ws.Save(), "save");
  std::printf("save workspace (one transaction, one syncfs): %.2f s\n", Seconds(t));
  t = Clock::now();
  Check(mdu::signer::repo::SignRole(ws, "root", root_key), "sign root");
  Check(mdu::signer::repo::SignRole(ws, "targets", targets_key), "sign targets");
  Check(ws.Save(), "save");
  std::printf("sign root + targets and save: %.2f s\n", Seconds(t));
  t = Clock::now();
  auto report = Check(mdu::signer::repo::Publish(
                          ws, {root / "out", {&snapshot_key}, {&timestamp_key}, now, nullptr}),
                      "publish");
  std::printf("publish (generate, link %zu targets, verify with TrustedSet, swap): %.2f s\n",
              report.target_count, Seconds(t));
  std::printf(
      "TOTAL add+save+sign+publish of %zu targets: %.2f s, peak RSS %ld MiB, "
      "targets.json %ju bytes\n",
      count, Seconds(total), PeakRssMiB(),
      static_cast<uintmax_t>(fs::file_size(root / "out" / "metadata" / "1.targets.json")));
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}

int BenchHash(const std::string& file, bool both) {
  std::vector<mdu::crypto::HashAlgorithm> algorithms = {mdu::crypto::HashAlgorithm::kSha256};
  if (both) algorithms.push_back(mdu::crypto::HashAlgorithm::kSha512);
  const auto t = Clock::now();
  auto digests = Check(mdu::crypto::HashFile(file, algorithms), "hash");
  const double seconds = Seconds(t);
  std::printf("%s %.3f s %.0f MiB/s %s\n", both ? "sha256+sha512" : "sha256", seconds,
              static_cast<double>(digests.length) / (1 << 20) / seconds,
              digests.hex[0].second.c_str());
  return 0;
}

}  // namespace

// What add-target does with one file: one read, sha256 and sha512 (on two threads for large
// files), and with `copy` the copy into a blob directory.
int BenchIngest(const std::string& file, bool copy) {
  mdu::signer::repo::IngestOptions options;
  std::string dir;
  if (copy) {
    dir = (fs::path(file).parent_path() / ".signer-bench-blobs-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) return 1;
    options.blob_dir = dir;
  }
  const auto t = Clock::now();
  auto files = Check(mdu::signer::repo::IngestFiles({file}, options), "ingest");
  const double seconds = Seconds(t);
  std::printf("ingest%s %.3f s %.0f MiB/s %s\n", copy ? "+copy" : "", seconds,
              static_cast<double>(files[0].length) / (1 << 20) / seconds, files[0].sha256.c_str());
  if (copy) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "targets") {
    return BenchTargets(argc > 2 ? std::stoul(argv[2]) : 100000);
  }
  if (mode == "hash" && argc > 2) {
    return BenchHash(argv[2], argc > 3 && std::string(argv[3]) == "both");
  }
  if (mode == "ingest" && argc > 2) {
    return BenchIngest(argv[2], argc > 3 && std::string(argv[3]) == "copy");
  }
  std::fprintf(stderr, "usage: signer_bench targets [N] | hash FILE [both] | ingest FILE [copy]\n");
  return 2;
}
