// Fetcher: how the updater downloads metadata and targets. One narrow interface so the updater
// never knows about the transport; implementations:
//   FileFetcher        (here) file:// URLs or plain paths: a mounted mirror, a USB offline
//                      bundle, a static TUF tree on disk.
//   an HTTP(S) fetcher  a separate adapter (curl / gRPC) built on the same interface.
//   RepositorySimulator (tests/sim) an in-memory repository for tests and benchmarks.
//
// Contract of Fetch: delivers the body to `sink` in chunks of any size, never more than
// `max_length` bytes in total; fails with
//   kNotFound       the resource does not exist (HTTP 404, missing file): often expected
//   kLimitExceeded  the resource is longer than `max_length` (endless-data attack); the sink
//                   may have received up to max_length bytes, callers discard them
//   kSlowRetrieval  the transfer fell below the minimum speed
//   kDownload       any other transport failure
//   any error the sink returns (then Fetch stops at once).
// Thread-safety: implementation-defined; the updater calls from one thread.
#ifndef MDU_CORE_CLIENT_FETCHER_H_
#define MDU_CORE_CLIENT_FETCHER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace mdu::client {

// Receives consecutive chunks of a download; an error aborts it.
using ChunkSink = std::function<Status(std::string_view chunk)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;

  virtual Status Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) = 0;

  // Convenience: the whole body as a string (at most max_length bytes), same errors as Fetch.
  Result<std::string> FetchBytes(std::string_view url, uint64_t max_length);
};

// Reads `file://<absolute path>` URLs (or plain paths). kNotFound for a missing file, kIo for
// other local errors (as kDownload: the "transport" failed), kLimitExceeded for a file longer
// than max_length (detected before reading it, and again while reading for a growing file).
// Stateless: safe to use from several threads.
class FileFetcher final : public Fetcher {
 public:
  Status Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) override;
};

}  // namespace mdu::client

#endif  // MDU_CORE_CLIENT_FETCHER_H_
