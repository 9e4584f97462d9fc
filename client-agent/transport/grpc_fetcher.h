// GrpcFetcher: the agent's transport to repo-server (proto/mdu/v1/repository.proto,
// DeviceService), implementing core's Fetcher contract (core/client/fetcher.h). gRPC and
// protobuf headers are included only by grpc_fetcher.cc.
//
// URLs (what core's Updater builds from the configured base URLs):
//   grpcs://HOST:PORT/metadata/N.ROLE.json    GetMetadata(role, version N)
//   grpcs://HOST:PORT/metadata/ROLE.json      GetMetadata(role, 0 = current; timestamp.json)
//   grpcs://HOST:PORT/targets/DIR/SHA256.NAME GetTarget(sha256) from the offset (resume)
//   grpcs://HOST:PORT/targets/PATH            GetTarget(path) (repositories without consistent
//                                             snapshots)
// so the base URLs are `grpcs://HOST:PORT/metadata` and `grpcs://HOST:PORT/targets`. Role names
// are percent-decoded. `grpcs` is TLS (mutual when a client certificate is configured);
// `grpc` is plaintext and accepted only for loopback hosts (127.0.0.0/8, ::1, localhost), like
// the server's --insecure.
//
// What a Fetch guarantees, beyond the core contract:
//   - max_length: metadata is one message; the channel refuses messages above 16 MiB + 64 KiB
//     (the server's largest metadata file) and a response above max_length is refused
//     (kLimitExceeded). Targets stream in chunks of at most 1 MiB: a first chunk announcing a
//     total above the limit, or a stream growing past it, is cancelled at once (kLimitExceeded).
//     Chunks must come with consecutive offsets starting at the requested one (kDownload).
//   - Memory: one chunk at a time (plus gRPC's flow-control window), whatever the target size.
//   - Timeouts: every call has a deadline of `total_timeout` (kSlowRetrieval when it passes).
//     A target stream below `low_speed_limit` bytes/s over a `low_speed_time` window is
//     cancelled (kSlowRetrieval). A metadata call's deadline is also capped at the time the
//     largest allowed response takes at the minimum speed (low_speed_time + max_length /
//     low_speed_limit). No connection within `connect_timeout` fails with kDownload.
//   - gRPC status -> ErrorKind: NOT_FOUND -> kNotFound (the end of the root chain);
//     DEADLINE_EXCEEDED -> kSlowRetrieval; RESOURCE_EXHAUSTED -> kLimitExceeded; everything
//     else (UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED, OUT_OF_RANGE, ...) -> kDownload
//     naming the status, the server's message and the URL.
//
// Ownership and threads: the fetcher owns one channel per HOST:PORT (created on first use and
// reused: consecutive requests share one HTTP/2 connection). Fetch may be called from one thread
// at a time. Movable, not copyable.
#ifndef MDU_CLIENT_AGENT_TRANSPORT_GRPC_FETCHER_H_
#define MDU_CLIENT_AGENT_TRANSPORT_GRPC_FETCHER_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent {

struct GrpcFetcherOptions {
  std::chrono::seconds total_timeout{600};  // per call; zero disables it (not recommended)
  std::chrono::seconds connect_timeout{30};
  uint64_t low_speed_limit = 1024;  // bytes/s; zero disables the check
  std::chrono::seconds low_speed_time{30};
  // TLS (grpcs): PEM file of the CAs that issued the server certificate (unset: gRPC's default
  // roots), and the device's certificate chain and private key for mutual TLS (both or none).
  std::optional<std::filesystem::path> ca_file;
  std::optional<std::filesystem::path> client_cert_file;
  std::optional<std::filesystem::path> client_key_file;
  // Name checked against the server certificate instead of HOST (tests, IP-only setups).
  std::optional<std::string> tls_server_name;
};

// The parts of a grpc(s):// URL the fetcher acts on; exposed for tests.
struct GrpcRequest {
  bool tls = true;
  std::string authority;  // HOST:PORT
  enum class Kind { kMetadata, kTarget } kind = Kind::kMetadata;
  std::string role;     // kMetadata
  int64_t version = 0;  // kMetadata; 0 = current
  std::string sha256;   // kTarget, when the name has the consistent-snapshot hash prefix
  std::string path;     // kTarget, otherwise
};
// kInvalidArgument naming what is wrong (scheme, host, path layout, plaintext off loopback).
Result<GrpcRequest> ParseGrpcUrl(std::string_view url);

class GrpcFetcher final : public client::Fetcher {
 public:
  // Reads the TLS files now (kIo/kInvalidArgument naming the file); nothing connects yet.
  static Result<std::unique_ptr<GrpcFetcher>> Create(GrpcFetcherOptions options = {});

  ~GrpcFetcher() override;
  GrpcFetcher(const GrpcFetcher&) = delete;
  GrpcFetcher& operator=(const GrpcFetcher&) = delete;

  Status Fetch(std::string_view url, uint64_t max_length, const client::ChunkSink& sink) override;
  // Targets resume at `offset` (the server streams from there); metadata always restarts at 0.
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const client::StartSink& on_start, const client::ChunkSink& sink) override;

  const GrpcFetcherOptions& options() const { return options_; }

 private:
  struct Impl;  // channels, credentials; defined in the .cc so no gRPC header leaks from here
  GrpcFetcher(GrpcFetcherOptions options, std::unique_ptr<Impl> impl);

  GrpcFetcherOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_GRPC_FETCHER_H_
