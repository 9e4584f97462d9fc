// GrpcFetcher: the agent's transport to repo-server (proto/mdu/v1/repository.proto,
// DeviceService), implementing core's Fetcher contract (core/client/fetcher.h). The calls go
// over libcurl's HTTP/2 (GrpcClient, grpc_call.h): the agent links no gRPC library.
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
//   - max_length: metadata is one message; messages above 16 MiB + 64 KiB (the server's largest
//     metadata file) are refused from their prefix, and a response above max_length is refused
//     (kLimitExceeded). Targets stream in chunks of at most 1 MiB: a first chunk announcing a
//     total above the limit, or a stream growing past it, is cancelled at once (kLimitExceeded).
//   - Chunks must come with consecutive offsets starting at the requested one, and must decode
//     (grpc_wire.h). A chunk at another offset or a malformed chunk stream is data that is not
//     the signed target, sent by a broken or hostile server: kHashMismatch, which the agent logs
//     as a hash_mismatch security event (at once, also when a retry from byte 0 then succeeds:
//     update/staging.h), and the partial download is discarded. The HTTP fetcher treats a 206
//     at another offset the same way.
//   - Memory: the chunk `data` goes to the sink straight from libcurl's 128 KiB receive buffer
//     (in pieces as they arrive), whatever the target size. Only the first chunk of a call is
//     held (at most 1 MiB, once) until its total_length, which protobuf writes after the data,
//     has been checked against the limit.
//   - Timeouts: every call has a deadline of `total_timeout` (kSlowRetrieval when it passes;
//     sent to the server as grpc-timeout). A call below `low_speed_limit` bytes/s over
//     `low_speed_time` is cancelled (kSlowRetrieval). A metadata call's deadline is also capped
//     at the time the largest allowed response takes at the minimum speed (low_speed_time +
//     max_length / low_speed_limit). No connection within `connect_timeout` fails with kDownload.
//   - A call that ends without a gRPC status (a truncated stream) is never complete: kDownload.
//   - gRPC status -> ErrorKind: NOT_FOUND -> kNotFound (the end of the root chain);
//     DEADLINE_EXCEEDED -> kSlowRetrieval; RESOURCE_EXHAUSTED -> kLimitExceeded; everything
//     else (UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED, OUT_OF_RANGE, ...) -> kDownload
//     naming the status, the server's message and the URL.
//
// Ownership and threads: the fetcher owns one libcurl handle whose connection cache keeps one
// HTTP/2 connection per HOST:PORT, reused by consecutive requests. Fetch may be called from one
// thread at a time. Not copyable.
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
  // TLS (grpcs): PEM file of the CAs that issued the server certificate (unset: the system
  // store), and the device's certificate chain and private key for mutual TLS (both or none).
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
  // Reads the TLS files now (kIo/kInvalidArgument naming the file); nothing connects yet. The
  // private key stays in memory only inside the GrpcClient, which wipes it on destruction.
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
  struct Impl;  // the GrpcClient
  GrpcFetcher(GrpcFetcherOptions options, std::unique_ptr<Impl> impl);

  GrpcFetcherOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TRANSPORT_GRPC_FETCHER_H_
