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
//
// Contract of FetchFrom (resumable downloads): like Fetch, but asks for the resource starting at
// byte `offset`. `on_start` is called exactly once, before the first chunk (and before a
// successful return even when no chunk follows), with the offset the delivered bytes start at:
// `offset` when the source resumed there, or 0 when it could not and sends the whole resource
// again (an HTTP server ignoring Range, a transport without offsets). The caller must then
// throw away what it had. A source answering at any other start is never delivered: its bytes
// are not the resource from `offset` (a broken or hostile server), so it fails with
// kHashMismatch like data that does not match the signed hashes (the updater then discards the
// partial file; the client agent logs a hash_mismatch security event).
// `max_length` limits the whole resource: at most max_length - start bytes reach the sink. An
// error returned by on_start aborts the fetch like a sink error. The default implementation
// restarts from 0 (Fetch, with on_start(0) before its first chunk). Wrappers must forward
// FetchFrom, or resume silently becomes a restart.
// Thread-safety: implementation-defined; the updater calls from one thread.
#ifndef MDU_CORE_CLIENT_FETCHER_H_
#define MDU_CORE_CLIENT_FETCHER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/common/page_advice.h"

namespace mdu::client {

// Receives consecutive chunks of a download; an error aborts it.
using ChunkSink = std::function<Status(std::string_view chunk)>;
// Told where the delivered bytes start (see FetchFrom).
using StartSink = std::function<Status(uint64_t start_offset)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;

  virtual Status Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) = 0;

  // See the file comment. Fetchers that can resume override it.
  virtual Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                           const StartSink& on_start, const ChunkSink& sink);

  // Convenience: the whole body as a string (at most max_length bytes), same errors as Fetch.
  Result<std::string> FetchBytes(std::string_view url, uint64_t max_length);
  // The same for a document that may run to megabytes (snapshot, a targets role): from 2 MiB
  // its buffer is huge pages (core/common/page_advice.h), written without a fault per 4 KiB.
  Result<HugePageString> FetchDocument(std::string_view url, uint64_t max_length);
};

// Reads `file://<absolute path>` URLs (or plain paths). kNotFound for a missing file, kIo for
// other local errors (as kDownload: the "transport" failed), kLimitExceeded for a file longer
// than max_length (detected before reading it, and again while reading for a growing file).
// FetchFrom seeks to the offset (kDownload if the file is shorter than the offset).
// Stateless: safe to use from several threads.
class FileFetcher final : public Fetcher {
 public:
  Status Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) override;
  Status FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                   const StartSink& on_start, const ChunkSink& sink) override;
};

}  // namespace mdu::client

#endif  // MDU_CORE_CLIENT_FETCHER_H_
