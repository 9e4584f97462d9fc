// server_load: the load generator of scripts/bench_server.sh (issue 4 benchmarks). It prepares a
// signed release, publishes it, and drives repo-server with the gRPC callback (async) client
// API, so one client thread keeps many requests in flight and the generator is not the
// bottleneck. Figures are printed as "key=value" lines for the script to parse.
//
//   server_load make-release --dir D [--target-size BYTES]
//       a fresh simulated repository (tests/sim) whose targets role lists one target
//       "bench/payload.bin" of BYTES pseudo-random bytes: D/root.json (the trust anchor),
//       D/upload/<file> (metadata to publish), D/target (sha256 and length). The target's
//       content is regenerated from its length, never stored.
//   server_load publish --server HOST:PORT --dir D
//   server_load metadata --server HOST:PORT [--role timestamp] [--concurrency 64]
//                        [--duration 10] [--channels 1]
//       GetMetadata with exactly `concurrency` calls in flight (a completed call starts the
//       next); prints requests/s and latency percentiles.
//   server_load target --server HOST:PORT --sha256 HEX
//       streams the target once, discarding the bytes; prints MiB/s.
//   server_load reports --server HOST:PORT [--concurrency 64] [--duration 10]
//       ReportInstallation with unique report ids from 1,000 simulated devices; prints
//       reports/s (each newly stored).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/common/allocator_tuning.h"
#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "mdu/v1/repository.grpc.pb.h"
#include "tests/sim/repository_simulator.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kChunk = 1u << 20;
constexpr const char* kTargetPath = "bench/payload.bin";

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "server_load: %s\n", message.c_str());
  std::exit(1);
}

// --name value pairs after the mode.
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 2; i + 1 < argc; i += 2) {
      std::string name = argv[i];
      if (name.rfind("--", 0) != 0) Fail("expected --option value, got " + name);
      values_[name.substr(2)] = argv[i + 1];
    }
    if (argc % 2 != 0) Fail("options come in --name value pairs");
  }
  std::string Str(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    if (fallback.empty()) Fail("--" + name + " is required");
    return fallback;
  }
  int64_t Int(const std::string& name, int64_t fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : std::stoll(it->second);
  }

 private:
  std::map<std::string, std::string> values_;
};

// Chunk `index` of the deterministic target content (1 MiB except the last).
void FillChunk(uint64_t index, uint64_t length, std::string& out) {
  out.resize(static_cast<size_t>(std::min(kChunk, length - index * kChunk)));
  uint64_t x = (index + 1) * 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < out.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (size_t b = 0; b < 8 && i + b < out.size(); ++b) out[i + b] = static_cast<char>(x >> (8 * b));
  }
}

std::shared_ptr<grpc::Channel> Connect(const std::string& server, int index = 0) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  // The client side of a fast target stream (/work/notes/stream-client-args.md): a fixed 8 MiB
  // receive window (BDP probing off: its pings would replace the window) and 1 MiB frames.
  // Overrides: MDU_BENCH_WINDOW (bytes), MDU_BENCH_BDP=1 (gRPC's default growing window,
  // starting at 64 KiB), MDU_BENCH_FRAME (largest HTTP/2 frame the server may send us).
  auto env_int = [](const char* name, int fallback) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::atoi(value) : fallback;
  };
  const int bdp = env_int("MDU_BENCH_BDP", 0);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, bdp);
  if (bdp == 0 || std::getenv("MDU_BENCH_WINDOW") != nullptr) {
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, env_int("MDU_BENCH_WINDOW", 8 << 20));
  }
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, env_int("MDU_BENCH_FRAME", 1 << 20));
  // A distinct argument per index gives each channel its own TCP connection.
  args.SetInt("mdu.bench.channel", index);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

int MakeRelease(const Args& args) {
  const fs::path dir = args.Str("dir");
  const uint64_t size = static_cast<uint64_t>(args.Int("target-size", 1ll << 30));
  fs::create_directories(dir / "upload");
  mdu::sim::RepositorySimulator sim;
  const auto expires = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() +
                       30 * 86400;
  sim.root.common.expires = expires;
  sim.timestamp.common.expires = expires;
  sim.snapshot.common.expires = expires;
  sim.Role("targets").common.expires = expires;
  sim.PublishRoot();
  // The target is listed with its hashes but never held in memory as a whole.
  const mdu::crypto::HashAlgorithm algorithms[] = {mdu::crypto::HashAlgorithm::kSha256,
                                                   mdu::crypto::HashAlgorithm::kSha512};
  mdu::crypto::MultiHasher hasher(algorithms);
  std::string chunk;
  for (uint64_t index = 0; index * kChunk < size; ++index) {
    FillChunk(index, size, chunk);
    hasher.Update({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
  }
  mdu::metadata::TargetFile file;
  file.length = static_cast<int64_t>(size);
  file.hashes = hasher.FinishHex();
  std::sort(file.hashes.begin(), file.hashes.end());
  const std::string sha256 = file.hashes.front().second;
  sim.Role("targets").targets[kTargetPath] = file;
  sim.Role("targets").common.version = 2;
  sim.UpdateSnapshot();

  auto write = [](const fs::path& path, const std::string& bytes) {
    if (!mdu::io::WriteFileAtomically(path, bytes)) Fail("cannot write " + path.string());
  };
  write(dir / "root.json", sim.MetadataFile("1.root.json"));
  for (const std::string& name : {std::string("timestamp.json"),
                                 std::to_string(sim.snapshot.common.version) + ".snapshot.json",
                                 std::string("2.targets.json")}) {
    write(dir / "upload" / name, sim.MetadataFile(name));
  }
  write(dir / "target", sha256 + " " + std::to_string(size) + "\n");
  std::printf("target_sha256=%s\ntarget_bytes=%llu\ntarget_url_path=%s\n", sha256.c_str(),
              static_cast<unsigned long long>(size),
              sim.TargetPath("targets", kTargetPath).c_str());
  return 0;
}

int Publish(const Args& args) {
  const fs::path dir = args.Str("dir");
  auto target = mdu::io::ReadFileBounded(dir / "target", 200);
  if (!target) Fail("no " + (dir / "target").string());
  const std::string sha256 = target->substr(0, 64);
  const uint64_t size = std::stoull(target->substr(65));
  auto stub = v1::OperatorService::NewStub(Connect(args.Str("server")));
  grpc::ClientContext context;
  v1::PublishResponse response;
  auto stream = stub->Publish(&context, &response);
  v1::PublishRequest request;
  request.mutable_header()->set_description("bench release");
  stream->Write(request);
  for (const auto& entry : fs::directory_iterator(dir / "upload")) {
    auto bytes = mdu::io::ReadFileBounded(entry.path(), 4u << 20);
    if (!bytes) Fail("cannot read " + entry.path().string());
    request.Clear();
    request.mutable_metadata()->set_name(entry.path().filename().string());
    request.mutable_metadata()->set_content(*bytes);
    if (!stream->Write(request)) break;
  }
  std::string chunk;
  for (uint64_t index = 0; index * kChunk < size; ++index) {
    FillChunk(index, size, chunk);
    request.Clear();
    request.mutable_target()->set_sha256(sha256);
    request.mutable_target()->set_offset(index * kChunk);
    request.mutable_target()->set_data(chunk);
    if (!stream->Write(request)) break;
  }
  request.Clear();
  request.mutable_commit();
  stream->Write(request);
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok()) Fail("publish failed: " + status.error_message());
  std::printf("published=1\ntargets_stored=%llu\n",
              static_cast<unsigned long long>(response.targets_stored()));
  return 0;
}

// Keeps `concurrency` unary calls in flight until the deadline, from gRPC's callback threads.
// Each completed call records its latency and starts the next one.
class ClosedLoop {
 public:
  using StartFn = std::function<void(int slot, std::function<void(bool ok)> done)>;

  ClosedLoop(int concurrency, double seconds, StartFn start)
      : concurrency_(concurrency), start_(std::move(start)),
        deadline_(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(seconds))) {
    latencies_.resize(static_cast<size_t>(concurrency));
  }

  void Run() {
    begin_ = Clock::now();
    for (int slot = 0; slot < concurrency_; ++slot) Issue(slot);
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return active_ == 0; });
    end_ = Clock::now();
  }

  void Print(const char* what) const {
    std::vector<uint32_t> all;
    for (const auto& slot : latencies_) all.insert(all.end(), slot.begin(), slot.end());
    std::sort(all.begin(), all.end());
    const double seconds = std::chrono::duration<double>(end_ - begin_).count();
    auto pct = [&](double p) {
      return all.empty() ? 0u : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
    };
    std::printf("%s_ok=%zu\n%s_errors=%llu\nseconds=%.3f\n%s_per_s=%.0f\n", what, all.size(),
                what, static_cast<unsigned long long>(errors_.load()), seconds, what,
                static_cast<double>(all.size()) / seconds);
    std::printf("latency_us_p50=%u\nlatency_us_p90=%u\nlatency_us_p99=%u\nlatency_us_max=%u\n",
                pct(0.5), pct(0.9), pct(0.99), all.empty() ? 0u : all.back());
  }

 private:
  void Issue(int slot) {
    {
      std::lock_guard lock(mutex_);
      ++active_;
    }
    const Clock::time_point started = Clock::now();
    start_(slot, [this, slot, started](bool ok) {
      const Clock::time_point now = Clock::now();
      if (ok) {
        latencies_[static_cast<size_t>(slot)].push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - started).count()));
      } else {
        errors_.fetch_add(1);
      }
      if (now < deadline_ && errors_.load() < 100) Issue(slot);
      std::lock_guard lock(mutex_);
      if (--active_ == 0) done_cv_.notify_all();
    });
  }

  const int concurrency_;
  StartFn start_;
  const Clock::time_point deadline_;
  Clock::time_point begin_, end_;
  std::vector<std::vector<uint32_t>> latencies_;  // per slot: one writer at a time
  std::atomic<uint64_t> errors_{0};
  std::mutex mutex_;
  std::condition_variable done_cv_;
  int active_ = 0;
};

// One call's state; the slot reuses it (a ClientContext is single-use, so it is rebuilt).
struct MetadataCall {
  std::unique_ptr<grpc::ClientContext> context;
  grpc::ByteBuffer response;
};

int Metadata(const Args& args) {
  const int concurrency = static_cast<int>(args.Int("concurrency", 64));
  const int channel_count = static_cast<int>(args.Int("channels", 1));
  const std::string server = args.Str("server");
  v1::GetMetadataRequest request;
  request.set_role(args.Str("role", "timestamp"));
  request.set_version(args.Int("version", 0));
  // Serialized once; every call sends the same bytes (raw ByteBuffer, generic stub).
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes.data(), bytes.size());
  const grpc::ByteBuffer request_buffer(&slice, 1);
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int i = 0; i < channel_count; ++i) {
    stubs.push_back(std::make_unique<grpc::GenericStub>(Connect(server, i)));
  }
  // Warm up the connections (and check the call works) before the clock starts.
  for (auto& stub : stubs) {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
    grpc::Status result;
    stub->UnaryCall(&context, "/mdu.v1.DeviceService/GetMetadata", grpc::StubOptions(),
                    &request_buffer, &response, [&](grpc::Status s) {
                      std::lock_guard lock(m);
                      result = std::move(s);
                      finished = true;
                      cv.notify_all();
                    });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return finished; });
    if (!result.ok()) Fail("GetMetadata: " + result.error_message());
  }
  std::vector<MetadataCall> calls(static_cast<size_t>(concurrency));
  ClosedLoop loop(concurrency, static_cast<double>(args.Int("duration", 10)),
                  [&](int slot, std::function<void(bool)> done) {
                    MetadataCall& call = calls[static_cast<size_t>(slot)];
                    call.context = std::make_unique<grpc::ClientContext>();
                    call.response.Clear();
                    stubs[static_cast<size_t>(slot % channel_count)]->UnaryCall(
                        call.context.get(), "/mdu.v1.DeviceService/GetMetadata",
                        grpc::StubOptions(), &request_buffer, &call.response,
                        [done = std::move(done)](const grpc::Status& s) { done(s.ok()); });
                  });
  loop.Run();
  loop.Print("requests");
  return 0;
}

int Target(const Args& args) {
  auto stub = v1::DeviceService::NewStub(Connect(args.Str("server")));
  v1::GetTargetRequest request;
  request.set_sha256(args.Str("sha256"));
  grpc::ClientContext context;
  const Clock::time_point begin = Clock::now();
  auto reader = stub->GetTarget(&context, request);
  v1::TargetChunk chunk;
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  while (reader->Read(&chunk)) {
    if (chunk.offset() != bytes) Fail("chunk at offset " + std::to_string(chunk.offset()));
    bytes += chunk.data().size();
    ++chunks;
  }
  grpc::Status status = reader->Finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  if (!status.ok()) Fail("GetTarget: " + status.error_message());
  std::printf("bytes=%llu\nchunks=%llu\nseconds=%.3f\nmib_per_s=%.1f\n",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(chunks),
              seconds, static_cast<double>(bytes) / (1 << 20) / seconds);
  return 0;
}

struct ReportCall {
  grpc::ClientContext context;
  v1::InstallationReport report;
  v1::ReportAck ack;
};

int Reports(const Args& args) {
  const int concurrency = static_cast<int>(args.Int("concurrency", 64));
  auto stub = v1::DeviceService::NewStub(Connect(args.Str("server")));
  const std::string run = std::to_string(
      std::chrono::system_clock::now().time_since_epoch().count());
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> duplicates{0};
  ClosedLoop loop(concurrency, static_cast<double>(args.Int("duration", 10)),
                  [&](int, std::function<void(bool)> done) {
                    auto* call = new ReportCall;
                    const uint64_t n = next.fetch_add(1);
                    call->report.set_report_id("bench-" + run + "-" + std::to_string(n));
                    call->report.set_device_id("device-" + std::to_string(n % 1000));
                    call->report.set_target(kTargetPath);
                    call->report.set_from_version("1.0.0");
                    call->report.set_to_version("1.1.0");
                    call->report.set_phase(v1::INSTALL_PHASE_COMPLETE);
                    call->report.set_success(true);
                    call->report.set_log_excerpt(std::string(200, 'l'));
                    stub->async()->ReportInstallation(
                        &call->context, &call->report, &call->ack,
                        [call, &duplicates, done = std::move(done)](const grpc::Status& s) {
                          if (s.ok() && !call->ack.newly_stored()) duplicates.fetch_add(1);
                          if (!s.ok()) {
                            std::fprintf(stderr, "report: %s\n", s.error_message().c_str());
                          }
                          delete call;
                          done(s.ok());
                        });
                  });
  loop.Run();
  loop.Print("reports");
  std::printf("reports_duplicate=%llu\n", static_cast<unsigned long long>(duplicates.load()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mdu::TuneAllocatorForStreaming();  // as repo-server and client-agent do
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: server_load make-release|publish|metadata|target|reports "
                 "[--option value ...] (see the header of repo-server/bench/server_load.cc)\n");
    return 2;
  }
  const std::string mode = argv[1];
  const Args args(argc, argv);
  if (mode == "make-release") return MakeRelease(args);
  if (mode == "publish") return Publish(args);
  if (mode == "metadata") return Metadata(args);
  if (mode == "target") return Target(args);
  if (mode == "reports") return Reports(args);
  Fail("unknown mode " + mode);
}
