// Page advice is given only for large buffers and never breaks the memory it advises.
#include "core/common/page_advice.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/common/allocator_tuning.h"
#include "core/common/sanitizers.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mdu {
namespace {

bool ThpAvailable() {
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(mode, line) && line.find("[never]") == std::string::npos;
}

TEST(PageAdviceTest, SmallOrNullBuffersAreNeverAdvised) {
  auto small = std::make_unique<char[]>(kHugePageAdviceMinBytes - 1);
  EXPECT_FALSE(AdviseHugePages(small.get(), kHugePageAdviceMinBytes - 1));
  EXPECT_FALSE(AdviseHugePages(nullptr, std::size_t{64} << 20));
}

TEST(PageAdviceTest, LargeBufferIsAdvisedAndStaysUsable) {
  constexpr std::size_t kSize = std::size_t{16} << 20;
  auto buffer = std::make_unique<char[]>(kSize);
  const bool advised = AdviseHugePages(buffer.get() + 1, kSize - 1);  // unaligned on purpose
#if defined(__linux__)
  if (ThpAvailable()) {
    EXPECT_TRUE(advised);
  }
#endif
  std::memset(buffer.get(), 0x5a, kSize);
  EXPECT_EQ(buffer[0], 0x5a);
  EXPECT_EQ(buffer[kSize - 1], 0x5a);
}

// The scope grows the heap for a parse and then puts the program's allocator policy back: a
// 1 MiB block after it is still served from the heap as TuneAllocatorForStreaming asked.
TEST(PageAdviceTest, ScopedHeapServesSmallBlocksAndRestoresThePolicy) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "glibc only";
#else
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator ignores mallopt";
  ASSERT_TRUE(TuneAllocatorForStreaming());
  {
    ScopedHugePageHeap scope(std::size_t{48} << 20);
    EXPECT_EQ(scope.active(), ThpAvailable());
    std::vector<std::unique_ptr<std::string>> pieces;
    for (int i = 0; i < 100000; ++i) {
      pieces.push_back(std::make_unique<std::string>(100, static_cast<char>('a' + i % 26)));
    }
    EXPECT_EQ((*pieces.back())[0], static_cast<char>('a' + 99999 % 26));
  }
  EXPECT_FALSE(ScopedHugePageHeap(std::size_t{1} << 20).active());  // small: nothing to do
  const size_t mapped_before = mallinfo2().hblks;
  void* block = std::malloc(std::size_t{1} << 20);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
  std::free(block);
#endif
}

// Scopes share the process-wide padding: an inner (or another thread's) scope ending must not
// hand back the heap an outer scope prepared for its parse.
TEST(PageAdviceTest, NestedScopesKeepTheHeapUntilTheLastEnds) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "glibc only";
#else
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator ignores mallopt";
  if (!ThpAvailable()) GTEST_SKIP() << "transparent huge pages are off";
  ASSERT_TRUE(TuneAllocatorForStreaming());
  constexpr std::size_t kPrepared = std::size_t{48} << 20;
  ScopedHugePageHeap outer(kPrepared);
  ASSERT_TRUE(outer.active());
  ASSERT_GE(mallinfo2().arena, kPrepared);
  { ScopedHugePageHeap inner(std::size_t{8} << 20); }
  // A block freed into the top of the heap is where glibc trims: the outer padding must hold.
  void* block = std::malloc(std::size_t{1} << 20);
  ASSERT_NE(block, nullptr);
  std::free(block);
  EXPECT_GE(mallinfo2().arena, kPrepared);
#endif
}

TEST(PageAdviceTest, HugePageBlocksAreAlignedWholeAndWritable) {
  for (std::size_t bytes : {kHugePageBlockMinBytes, kHugePageBlockMinBytes + 1,
                            (std::size_t{5} << 20) + 17}) {
    auto* block = static_cast<unsigned char*>(MapHugePageBlock(bytes));
    ASSERT_NE(block, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % kHugePageBlockMinBytes, 0u);
    std::memset(block, 0xA5, bytes);  // every byte asked for is there
    EXPECT_EQ(block[bytes - 1], 0xA5);
    UnmapHugePageBlock(block, bytes);
  }
}

TEST(PageAdviceTest, HugePageStringHoldsLargeAndSmallContent) {
  HugePageString large(std::size_t{3} << 20, 'x');
  large += "tail";
  EXPECT_EQ(large.size(), (std::size_t{3} << 20) + 4);
  EXPECT_EQ(large.substr(large.size() - 5), "xtail");
  if (!kSanitizerAllocator) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(large.data()) % kHugePageBlockMinBytes, 0u);
  }
  HugePageString small = "small";  // heap memory, like std::string
  small.append(large, 0, 3);
  EXPECT_EQ(small, "smallxxx");
  HugePageString moved = std::move(large);
  EXPECT_EQ(moved.size(), (std::size_t{3} << 20) + 4);
}

}  // namespace
}  // namespace mdu
