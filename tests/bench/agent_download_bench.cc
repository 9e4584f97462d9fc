// agent_download_bench: the pieces of scripts/bench_agent_download.sh (a 1 GiB target over gRPC
// from repo-server and over HTTP from nginx, downloaded and verified into the agent's staging
// area, next to `curl URL | openssl dgst -sha256`).
//
//   agent_download_bench make-repo OUT_DIR SIZE_MIB [--sha512]
//       A consistent-snapshot TUF repository (tests/sim keys, expiring in ten years) whose
//       targets role lists one target "big.bin" of SIZE_MIB MiB of pseudo-random bytes, with
//       its sha256 (and sha512 with --sha512). The target is streamed to
//       OUT_DIR/targets/<sha256>.big.bin, never held in memory. Prints the target URL path.
//   agent_download_publish HOST:PORT REPO_DIR
//       Publishes REPO_DIR (metadata/ and targets/) to a repo-server (plaintext, loopback) in
//       1 MiB chunks. A separate program built from this file with MDU_BENCH_PUBLISH: the fetch
//       side must not link gRPC (client-agent speaks gRPC over libcurl, and its peak RSS is part
//       of the measurement).
//   agent_download_bench fetch METADATA_URL TARGETS_URL ROOT_FILE STATE_DIR
//       What the agent does for a download: trust ROOT_FILE, refresh, resolve "big.bin", and
//       stage it verified (client-agent/update/staging.h) over the agent's transports (http,
//       grpc over libcurl's HTTP/2, as client-agent). Prints the seconds the download took.
// Exit status: 0 on success, 1 on failure, 2 on bad usage.
#ifdef MDU_BENCH_PUBLISH
#include <grpcpp/grpcpp.h>
#endif

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "client-agent/transport/scheme_fetcher.h"
#include "client-agent/update/staging.h"
#include "core/client/clock.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/common/allocator_tuning.h"
#include "core/common/hex.h"
#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "tests/sim/repository_simulator.h"
#ifdef MDU_BENCH_PUBLISH
#include "mdu/v1/repository.grpc.pb.h"
#endif

namespace {

namespace fs = std::filesystem;
using namespace mdu;  // NOLINT: a small tool

constexpr uint64_t kMiB = 1 << 20;

int Usage() {
  std::fprintf(stderr,
               "usage: agent_download_bench make-repo OUT_DIR SIZE_MIB [--sha512]\n"
               "       agent_download_publish HOST:PORT REPO_DIR\n"
               "       agent_download_bench fetch METADATA_URL TARGETS_URL ROOT_FILE STATE_DIR\n");
  return 2;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "agent_download_bench: %s\n", what.c_str());
  return 1;
}

#ifndef MDU_BENCH_PUBLISH
int MakeRepo(const fs::path& out, uint64_t size_mib, bool sha512) {
  fs::create_directories(out / "targets");
  fs::create_directories(out / "metadata");
  const fs::path tmp = out / "targets" / "big.bin.tmp";
  std::vector<crypto::HashAlgorithm> algorithms = {crypto::HashAlgorithm::kSha256};
  if (sha512) algorithms.push_back(crypto::HashAlgorithm::kSha512);
  crypto::MultiHasher hasher(algorithms);
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    std::string block(kMiB, '\0');
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < size_mib; ++i) {
      for (size_t j = 0; j + 8 <= block.size(); j += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(block.data() + j, &x, 8);
      }
      hasher.Update(AsBytes(block));
      file.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    if (!file) return Fail("cannot write " + tmp.string());
  }
  metadata::TargetFile target;
  target.length = static_cast<int64_t>(size_mib * kMiB);
  for (const auto& [name, hex] : hasher.FinishHex()) target.hashes.emplace_back(name, hex);

  sim::RepositorySimulator repo;
  const metadata::UnixTime expires =
      static_cast<metadata::UnixTime>(std::time(nullptr)) + 10LL * 365 * 86400;
  repo.root.common.expires = expires;
  repo.timestamp.common.expires = expires;
  repo.snapshot.common.expires = expires;
  repo.Role("targets").common.expires = expires;
  repo.PublishRoot();
  repo.Role("targets").targets.insert_or_assign("big.bin", target);
  repo.Role("targets").common.version = 2;
  repo.UpdateSnapshot();
  // What a client needs (and the server accepts in one publish): the roots, timestamp.json
  // and the snapshot and targets versions it names.
  std::vector<std::string> names = {"timestamp.json"};
  for (int64_t v = 1; v <= repo.root.common.version; ++v) {
    names.push_back(std::to_string(v) + ".root.json");
  }
  names.push_back(std::to_string(repo.timestamp.snapshot_meta.version) + ".snapshot.json");
  for (const auto& [name, meta] : repo.snapshot.meta) {
    names.push_back(std::to_string(meta.version) + "." + name);
  }
  for (const std::string& name : names) {
    if (!io::WriteFileAtomically(out / "metadata" / name, repo.MetadataFile(name))) {
      return Fail("cannot write " + name);
    }
  }
  const std::string name = std::string(*target.Sha256()) + ".big.bin";
  fs::rename(tmp, out / "targets" / name);
  std::printf("targets/%s\n", name.c_str());
  return 0;
}

#else
int Publish(const std::string& server, const fs::path& repo) {
  auto channel = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto stub = v1::OperatorService::NewStub(channel);
  grpc::ClientContext context;
  v1::PublishResponse response;
  auto stream = stub->Publish(&context, &response);
  v1::PublishRequest request;
  request.mutable_header()->set_description("agent download benchmark");
  stream->Write(request);
  for (const auto& entry : fs::directory_iterator(repo / "metadata")) {
    const std::string file = entry.path().filename().string();
    // The consistent-snapshot names only (the server refuses unversioned copies).
    if (file != "timestamp.json" && !std::isdigit(static_cast<unsigned char>(file[0]))) continue;
    Result<std::string> bytes = io::ReadFileBounded(entry.path(), 16 * kMiB);
    if (!bytes) return Fail(bytes.error().ToString());
    request.Clear();
    request.mutable_metadata()->set_name(entry.path().filename().string());
    request.mutable_metadata()->set_content(*bytes);
    stream->Write(request);
  }
  for (const auto& entry : fs::directory_iterator(repo / "targets")) {
    const std::string name = entry.path().filename().string();
    std::ifstream in(entry.path(), std::ios::binary);
    std::string block(kMiB, '\0');
    for (uint64_t offset = 0;; offset += kMiB) {
      in.read(block.data(), static_cast<std::streamsize>(block.size()));
      const auto count = static_cast<size_t>(in.gcount());
      if (count == 0) break;
      request.Clear();
      request.mutable_target()->set_sha256(name.substr(0, 64));
      request.mutable_target()->set_offset(offset);
      request.mutable_target()->set_data(block.data(), count);
      if (!stream->Write(request)) break;
    }
  }
  request.Clear();
  request.mutable_commit();
  stream->Write(request);
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) return Fail("publish: " + status.error_message());
  return 0;
}

#endif

#ifndef MDU_BENCH_PUBLISH
int Fetch(const std::string& metadata_url, const std::string& targets_url, const fs::path& root,
          const fs::path& state_dir) {
  Result<client::FileMetadataStore> store = client::FileMetadataStore::Open(state_dir / "md");
  if (!store) return Fail(store.error().ToString());
  Result<std::string> root_bytes = io::ReadFileBounded(root, 512000);
  if (!root_bytes) return Fail(root_bytes.error().ToString());
  if (Status stored = store->Store("root", *root_bytes); !stored) {
    return Fail(stored.error().ToString());
  }
  Result<std::unique_ptr<agent::SchemeFetcher>> fetcher = agent::MakeDefaultFetcher();
  if (!fetcher) return Fail(fetcher.error().ToString());
  const client::SystemClock clock;
  client::UpdaterConfig config;
  config.metadata_base_url = metadata_url;
  config.targets_base_url = targets_url;
  client::Updater updater(config, **fetcher, *store, clock);
  Result<std::optional<client::TargetMatch>> match = updater.GetTargetInfo("big.bin");
  if (!match) return Fail(match.error().ToString());
  if (!match->has_value()) return Fail("big.bin is not listed");
  Result<agent::update::StagingArea> area = agent::update::StagingArea::Open(state_dir);
  if (!area) return Fail(area.error().ToString());
  const auto start = std::chrono::steady_clock::now();
  Result<agent::update::StageResult> staged = area->Stage(updater, **match);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!staged) return Fail(staged.error().ToString());
  if (staged->failure) return Fail(staged->failure->error.ToString());
  std::printf("%.3f s, %.1f MiB/s, %s\n", seconds,
              static_cast<double>((*match)->file.length) / kMiB / seconds, staged->file.c_str());
  return 0;
}

int Run(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string_view mode = argv[1];
  if (mode == "make-repo" && (argc == 4 || argc == 5)) {
    const bool sha512 = argc == 5 && std::string_view(argv[4]) == "--sha512";
    return MakeRepo(argv[2], std::strtoull(argv[3], nullptr, 10), sha512);
  }
  if (mode == "fetch" && argc == 6) return Fetch(argv[2], argv[3], argv[4], argv[5]);
  return Usage();
}
#else
int Run(int argc, char** argv) {
  if (argc == 3) return Publish(argv[1], argv[2]);
  return Usage();
}
#endif

}  // namespace

int main(int argc, char** argv) {
  // As client-agent's main does (client-agent/main.cc): its allocator settings, and an exit
  // without the libraries' cleanup.
#ifdef MDU_BENCH_PUBLISH
  mdu::TuneAllocatorForStreaming();  // 1 MiB publish messages, one after the other
#else
  mdu::TuneAllocatorForSmallFootprint();
#endif
  int status = 1;
  try {
    status = Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agent_download_bench: %s\n", e.what());
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return status;
#else
  std::fflush(nullptr);
  ::_exit(status);
#endif
}
