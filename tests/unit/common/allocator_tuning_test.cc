// The allocator keeps 1 MiB message buffers in the heap, so a streamed target does not cost a
// page fault per byte.
#include "core/common/allocator_tuning.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mdu {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerAllocator = true;
#else
constexpr bool kSanitizerAllocator = false;
#endif
#else
constexpr bool kSanitizerAllocator = false;
#endif

TEST(AllocatorTuningTest, MessageSizedBlocksComeFromTheHeapAndAreReused) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "glibc only";
#else
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator ignores mallopt";
  ASSERT_TRUE(TuneAllocatorForStreaming());
  const size_t mapped_before = mallinfo2().hblks;
  // The pattern of a stream: a 1 MiB buffer filled, handed on, freed, the next one allocated.
  for (int round = 0; round < 16; ++round) {
    std::vector<void*> blocks;
    for (int i = 0; i < 3; ++i) {
      void* block = std::malloc(1 << 20);
      ASSERT_NE(block, nullptr);
      std::memset(block, round, 1 << 20);
      blocks.push_back(block);
    }
    EXPECT_EQ(mallinfo2().hblks, mapped_before) << "a 1 MiB block was served by mmap";
    for (void* block : blocks) std::free(block);
  }
  // Blocks above the heap limit are still mapped (and returned to the kernel when freed).
  void* big = std::malloc(kHeapServedBlockBytes + (1 << 20));
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mapped_before + 1);
  std::free(big);
#endif
}

}  // namespace
}  // namespace mdu
