// ChunkPipeline: order and block sizes, back-pressure (memory stays bounded), a consumer error
// stopping the receiver, cancellation dropping queued blocks, invalid options.
#include "core/client/chunk_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/test_util.h"

namespace mdu::client {
namespace {

using namespace std::chrono_literals;

// Blocks the consumer until Open() (a latch the test controls).
class Gate {
 public:
  void Wait() { opened_.wait(); }
  void Open() { promise_.set_value(); }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_ = promise_.get_future().share();
};

TEST(ChunkPipelineTest, DeliversEverythingInOrderInFullBlocks) {
  std::vector<std::string> blocks;  // touched by the worker only until Finish joins it
  auto pipeline = ChunkPipeline::Start({.buffers = 3, .buffer_size = 8},
                                       [&](std::string_view block) -> Status {
                                         blocks.emplace_back(block);
                                         return {};
                                       });
  ASSERT_OK(pipeline);
  std::string sent;
  for (int i = 0; i < 20; ++i) {
    const std::string chunk(static_cast<size_t>(i % 5), static_cast<char>('a' + i));
    sent += chunk;
    ASSERT_OK((*pipeline)->Push(chunk));
  }
  ASSERT_OK((*pipeline)->Push(std::string(30, 'Z')));  // larger than a block
  sent += std::string(30, 'Z');
  ASSERT_OK((*pipeline)->Finish());
  std::string received;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i + 1 < blocks.size()) {
      EXPECT_EQ(blocks[i].size(), 8u) << "block " << i;
    }
    received += blocks[i];
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ((*pipeline)->consumed(), sent.size());
}

TEST(ChunkPipelineTest, PushBlocksWhileEveryBufferWaits) {
  Gate gate;
  auto pipeline = ChunkPipeline::Start({.buffers = 2, .buffer_size = 4},
                                       [&](std::string_view) -> Status {
                                         gate.Wait();
                                         return {};
                                       });
  ASSERT_OK(pipeline);
  std::atomic<bool> pushed{false};
  std::thread receiver([&] {
    // Two full blocks fill both buffers; the ninth byte needs a free one.
    EXPECT_OK((*pipeline)->Push("123456789"));
    pushed = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(pushed.load()) << "memory would grow with a slow consumer";
  gate.Open();
  receiver.join();
  EXPECT_TRUE(pushed.load());
  ASSERT_OK((*pipeline)->Finish());
  EXPECT_EQ((*pipeline)->consumed(), 9u);
}

TEST(ChunkPipelineTest, ConsumerErrorStopsTheReceiver) {
  int calls = 0;
  auto pipeline = ChunkPipeline::Start({.buffers = 2, .buffer_size = 4},
                                       [&](std::string_view) -> Status {
                                         if (++calls == 2) {
                                           return MakeError(ErrorKind::kIo, "disk full");
                                         }
                                         return {};
                                       });
  ASSERT_OK(pipeline);
  Status pushed;
  uint64_t pushed_bytes = 0;
  for (int i = 0; i < 1000 && pushed; ++i) {
    pushed = (*pipeline)->Push("abcd");
    if (pushed) pushed_bytes += 4;
  }
  EXPECT_ERROR_KIND(pushed, ErrorKind::kIo);
  // Stopped within the buffers in flight, not at the end of the data.
  EXPECT_LE(pushed_bytes, 4u * 4);
  EXPECT_ERROR_KIND((*pipeline)->Finish(), ErrorKind::kIo);
  EXPECT_EQ(calls, 2);  // nothing after the failed block is consumed
  EXPECT_EQ((*pipeline)->consumed(), 4u);
}

TEST(ChunkPipelineTest, CancelDropsQueuedBlocks) {
  Gate gate;
  std::atomic<int> calls{0};
  auto pipeline = ChunkPipeline::Start({.buffers = 3, .buffer_size = 4},
                                       [&](std::string_view) -> Status {
                                         ++calls;
                                         gate.Wait();
                                         return {};
                                       });
  ASSERT_OK(pipeline);
  ASSERT_OK((*pipeline)->Push("aaaabbbbcccc"));  // three blocks queued, the first being consumed
  while (calls.load() == 0) std::this_thread::sleep_for(1ms);
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.Open();
  });
  (*pipeline)->Cancel();  // waits for the block in the consumer, drops the other two
  opener.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ((*pipeline)->consumed(), 4u);
  EXPECT_ERROR_KIND((*pipeline)->Push("x"), ErrorKind::kInternal);
  (*pipeline)->Cancel();  // idempotent
}

TEST(ChunkPipelineTest, DestroyingWithoutFinishStopsTheWorker) {
  std::atomic<int> calls{0};
  {
    auto pipeline = ChunkPipeline::Start({.buffers = 2, .buffer_size = 4},
                                         [&](std::string_view) -> Status {
                                           ++calls;
                                           return {};
                                         });
    ASSERT_OK(pipeline);
    ASSERT_OK((*pipeline)->Push("ab"));  // a partly filled block is never consumed
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(ChunkPipelineTest, RefusesUnusableOptions) {
  auto consumer = [](std::string_view) -> Status { return {}; };
  EXPECT_ERROR_KIND(ChunkPipeline::Start({.buffers = 1, .buffer_size = 4}, consumer),
                    ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(ChunkPipeline::Start({.buffers = 2, .buffer_size = 0}, consumer),
                    ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(ChunkPipeline::Start({}, nullptr), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mdu::client
