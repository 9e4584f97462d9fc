// AsideTask: the same result on a thread or inline; on a thread the work really runs beside the
// caller; the destructor waits for work whose result nobody took.
#include "core/common/aside_task.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace mdu {
namespace {

TEST(AsideTaskTest, SameResultOnAThreadAndInline) {
  for (bool on_thread : {true, false}) {
    AsideTask<std::string> task([] { return std::string(100, 'x'); }, on_thread);
    EXPECT_EQ(task.Get(), std::string(100, 'x')) << on_thread;
  }
}

TEST(AsideTaskTest, InlineWorkIsDoneWhenTheConstructorReturns) {
  bool done = false;
  AsideTask<int> task(
      [&done] {
        done = true;
        return 1;
      },
      /*on_thread=*/false);
  EXPECT_TRUE(done);
  EXPECT_EQ(task.Get(), 1);
}

TEST(AsideTaskTest, ThreadWorkRunsWhileTheCallerGoesOn) {
  // The work waits for a signal the caller gives only after construction: inline, it would
  // time out and report false.
  std::promise<void> go;
  std::shared_future<void> signal = go.get_future().share();
  AsideTask<bool> task(
      [signal] {
        return signal.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
      },
      /*on_thread=*/true);
  go.set_value();
  EXPECT_TRUE(task.Get());
}

TEST(AsideTaskTest, DestructorWaitsForWorkNobodyTook) {
  std::atomic<bool> finished{false};
  {
    AsideTask<int> task(
        [&finished] {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          finished = true;
          return 0;
        },
        /*on_thread=*/true);
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace mdu
