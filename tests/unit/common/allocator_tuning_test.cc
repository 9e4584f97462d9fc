// The allocator keeps 1 MiB message buffers in the heap, so a streamed target does not cost a
// page fault per byte.
#include "core/common/allocator_tuning.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/common/sanitizers.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mdu {
namespace {

TEST(AllocatorTuningTest, SmallFootprintMapsLargeBlocksAndReturnsThemWhenFreed) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "glibc only";
#else
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator ignores mallopt";
  ASSERT_TRUE(TuneAllocatorForSmallFootprint());
  // Mapping is how the heap grows past the threshold: free heap kept from before (up to 16 MiB
  // under TuneAllocatorForStreaming) would serve these blocks first. A program calls the tuning
  // first thing in main, on an empty heap; this test runs first (and ctest runs each test in its
  // own process) for the same start.
  const size_t mapped_before = mallinfo2().hblks;
  // A download pipeline block (128 KiB) and a held gRPC chunk (1 MiB): each mapped, and gone
  // (not kept in the heap) once freed.
  for (size_t size : {size_t{128} << 10, size_t{1} << 20, kMappedBlockBytes}) {
    void* block = std::malloc(size);
    ASSERT_NE(block, nullptr);
    std::memset(block, 1, size);
    EXPECT_EQ(mallinfo2().hblks, mapped_before + 1) << size << " bytes came from the heap";
    std::free(block);
    EXPECT_EQ(mallinfo2().hblks, mapped_before) << size << " bytes still mapped after free";
  }
  // Small allocations still come from the heap.
  void* small = std::malloc(kMappedBlockBytes / 2);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
  std::free(small);
#endif
}

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
