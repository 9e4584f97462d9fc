// ChunkPipeline: hands the bytes of a download from the thread that receives them to one worker
// thread that consumes them (hashes and writes them), so receiving overlaps hashing and writing.
// Used by Updater::DownloadTargetResumable.
//
// Memory is fixed when the pipeline starts: `buffers` blocks of `buffer_size` bytes, whatever the
// size of the download. Push copies the received bytes into the block being filled (one memcpy,
// no allocation); a full block goes to the worker, which sees large blocks (few big writes) even
// when the transport delivers small chunks. When every block waits for the worker, Push blocks:
// a slow disk slows the receiver down instead of letting memory grow.
//
// Errors: the first error the consumer returns stops the worker; every later Push and Finish
// return it, so the receiver aborts its transfer at its next chunk. Blocks after the failed one
// are never consumed. Cancel (or destroying the pipeline without Finish) drops what is queued:
// the worker finishes the block it is consuming and stops; Push then fails with kInternal
// ("cancelled"). kInternal too if the worker thread cannot be started.
//
// Threads: Push, Finish and Cancel are called from one thread (the receiver); the consumer runs
// on the worker thread, one block at a time, in order. Finish and Cancel join the worker, so what
// the consumer wrote is visible to the caller afterwards. Not copyable, not movable.
#ifndef MDU_CORE_CLIENT_CHUNK_PIPELINE_H_
#define MDU_CORE_CLIENT_CHUNK_PIPELINE_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "core/common/error.h"

namespace mdu::client {

// The defaults hold 512 KiB in flight: 4 x 256 KiB cost 0.5 MiB more peak RSS for no measurable
// CPU gain, while 3 blocks or a smaller curl read buffer cost CPU (BENCHMARKS.md, agent
// download).
struct ChunkPipelineOptions {
  size_t buffers = 4;               // at least 2 (one filling, one being consumed)
  size_t buffer_size = 128 * 1024;  // at least 1
};

class ChunkPipeline {
 public:
  using Consumer = std::function<Status(std::string_view block)>;

  // Allocates the blocks and starts the worker. kInvalidArgument for unusable options.
  static Result<std::unique_ptr<ChunkPipeline>> Start(ChunkPipelineOptions options,
                                                      Consumer consumer);
  ~ChunkPipeline();  // Cancel()
  ChunkPipeline(const ChunkPipeline&) = delete;
  ChunkPipeline& operator=(const ChunkPipeline&) = delete;

  // Queues a copy of `data`; blocks while every block is queued. The consumer's error if it
  // failed.
  Status Push(std::string_view data);
  // Queues the partly filled block, waits until the consumer has taken everything and stops the
  // worker. The consumer's first error, if any. Push must not be called afterwards.
  Status Finish();
  // Drops the queued blocks and stops the worker (after the block it is consuming). Idempotent.
  void Cancel();

  // Bytes the consumer accepted so far (final after Finish or Cancel).
  uint64_t consumed() const;

 private:
  ChunkPipeline(ChunkPipelineOptions options, Consumer consumer);
  void Work();
  Status Publish();  // hands the block being filled to the worker
  Status FailureLocked() const;

  const ChunkPipelineOptions options_;
  Consumer consumer_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> sizes_;  // bytes in each queued block

  // Receiver-side state (only the receiver thread touches these).
  size_t tail_ = 0;           // the block being filled, when filling_
  bool filling_ = false;
  size_t fill_size_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable work_;   // the worker waits for blocks
  std::condition_variable space_;  // the receiver waits for a free block
  size_t head_ = 0;                // the oldest queued block
  size_t queued_ = 0;
  bool finishing_ = false;
  bool cancelled_ = false;
  bool stopped_ = false;  // the worker has returned
  std::optional<Error> failure_;
  uint64_t consumed_ = 0;

  std::thread worker_;
};

}  // namespace mdu::client

#endif  // MDU_CORE_CLIENT_CHUNK_PIPELINE_H_
