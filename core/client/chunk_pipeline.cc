#include "core/client/chunk_pipeline.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

namespace mdu::client {

Result<std::unique_ptr<ChunkPipeline>> ChunkPipeline::Start(ChunkPipelineOptions options,
                                                            Consumer consumer) {
  if (options.buffers < 2 || options.buffer_size == 0 || !consumer) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "a chunk pipeline needs at least 2 buffers of at least 1 byte and a consumer");
  }
  std::unique_ptr<ChunkPipeline> pipeline(new ChunkPipeline(options, std::move(consumer)));
  try {
    pipeline->worker_ = std::thread([p = pipeline.get()] { p->Work(); });
  } catch (const std::system_error& e) {
    return MakeError(ErrorKind::kInternal,
                     std::string("cannot start the download worker thread: ") + e.what());
  }
  return pipeline;
}

ChunkPipeline::ChunkPipeline(ChunkPipelineOptions options, Consumer consumer)
    : options_(options), consumer_(std::move(consumer)), sizes_(options.buffers, 0) {
  blocks_.reserve(options_.buffers);
  // Not zeroed: every byte the consumer sees was copied in by Push.
  for (size_t i = 0; i < options_.buffers; ++i) {
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(options_.buffer_size));
  }
}

ChunkPipeline::~ChunkPipeline() { Cancel(); }

Status ChunkPipeline::FailureLocked() const {
  if (failure_) return MakeError(*failure_);
  if (cancelled_) return MakeError(ErrorKind::kInternal, "the download pipeline was cancelled");
  return {};
}

Status ChunkPipeline::Publish() {
  std::lock_guard<std::mutex> lock(mutex_);
  MDU_RETURN_IF_ERROR(FailureLocked());
  sizes_[tail_] = fill_size_;
  ++queued_;
  tail_ = (tail_ + 1) % options_.buffers;
  filling_ = false;
  fill_size_ = 0;
  work_.notify_one();
  return {};
}

Status ChunkPipeline::Push(std::string_view data) {
  while (!data.empty()) {
    if (!filling_) {
      // Claim the next free block: the one after the queued ones.
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] { return queued_ < options_.buffers || failure_ || cancelled_; });
      MDU_RETURN_IF_ERROR(FailureLocked());
      filling_ = true;
      fill_size_ = 0;
    }
    const size_t take = std::min(data.size(), options_.buffer_size - fill_size_);
    std::memcpy(blocks_[tail_].get() + fill_size_, data.data(), take);
    fill_size_ += take;
    data.remove_prefix(take);
    if (fill_size_ == options_.buffer_size) MDU_RETURN_IF_ERROR(Publish());
  }
  // Report a consumer failure at once, even when this chunk fitted into the current block.
  std::lock_guard<std::mutex> lock(mutex_);
  return FailureLocked();
}

Status ChunkPipeline::Finish() {
  if (filling_ && fill_size_ > 0) {
    if (Status published = Publish(); !published) {
      Cancel();
      return published;
    }
  }
  {
    std::unique_lock<std::mutex> lock(mutex_);
    finishing_ = true;
    work_.notify_one();
    space_.wait(lock, [&] { return stopped_; });
  }
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  return FailureLocked();
}

void ChunkPipeline::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopped_ && !finishing_) cancelled_ = true;
    work_.notify_one();
    space_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

uint64_t ChunkPipeline::consumed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return consumed_;
}

void ChunkPipeline::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return queued_ > 0 || finishing_ || cancelled_; });
    if (cancelled_ || (queued_ == 0 && finishing_)) break;
    const size_t index = head_;
    const size_t size = sizes_[index];
    lock.unlock();
    // The receiver never touches a queued block, so it is read without the lock.
    Status consumed = consumer_(std::string_view(blocks_[index].get(), size));
    lock.lock();
    if (!consumed) {
      failure_ = std::move(consumed).error();
      break;
    }
    consumed_ += size;
    head_ = (head_ + 1) % options_.buffers;
    --queued_;
    space_.notify_one();
  }
  stopped_ = true;
  space_.notify_all();
}

}  // namespace mdu::client
