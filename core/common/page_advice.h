// Advice to the kernel about the pages of large, short-lived working buffers: a targets role as
// received (30 MB for 100,000 targets), its canonical form, the JSON tree of it. Touching such a
// buffer 4 KiB page by page costs one page fault per page; where a fault is expensive (a virtual
// machine: about 15 us each on the machine of BENCHMARKS.md section 3) that was half of a
// refresh. Huge pages make a 30 MB buffer 15 faults instead of 7,500; prefaulting a range makes
// it one system call.
#ifndef MDU_CORE_COMMON_PAGE_ADVICE_H_
#define MDU_CORE_COMMON_PAGE_ADVICE_H_

#include <cstddef>
#include <memory>
#include <new>
#include <string>

#include "core/common/sanitizers.h"

namespace mdu {

// Buffers smaller than this are never advised: a huge page for a small file would make the
// resident size grow by up to 2 MiB for nothing, and the device's memory budget is 16 MiB.
inline constexpr std::size_t kHugePageAdviceMinBytes = std::size_t{4} << 20;

// Advises the kernel to back the whole 2 MiB-aligned pages inside [data, data + size) with
// transparent huge pages. Advice only: without THP support, with THP off, or for a range too
// small, nothing changes; errors are ignored. Call before the range is first written.
// Returns whether advice was given (for tests).
bool AdviseHugePages(const void* data, std::size_t size);

// Makes the pages of [data, data + size) present and writable in one system call
// (MADV_POPULATE_WRITE, Linux 5.14), for a buffer about to be written in full. Only for ranges
// the caller will fill: populated pages count as resident. Advice only, errors ignored; returns
// whether the kernel did it (for tests).
bool PrefaultForWrite(void* data, std::size_t size);
// Below this a range is left to fault page by page: not worth a system call.
inline constexpr std::size_t kPrefaultMinBytes = std::size_t{256} << 10;

// For the duration of the scope, makes the next `bytes` of small allocations of the calling
// thread's malloc arena come from heap memory advised for huge pages. A parse of a 30 MB
// targets role allocates a 65 MB tree in 500,000 pieces: page by page that is 16,000 faults,
// with huge pages about 40. glibc only: the heap is grown by `bytes` at once (blocks requested
// and given back while top padding keeps them from being trimmed), the new range is advised,
// and the mmap threshold is put back to the program's (TunedMmapThreshold) at the end.
// The settings are process-wide; scopes on several threads share them (the padding lasts until
// the last one ends). Elsewhere, under sanitizers, for small sizes or without THP it does nothing.
class ScopedHugePageHeap {
 public:
  explicit ScopedHugePageHeap(std::size_t bytes);
  ~ScopedHugePageHeap();
  ScopedHugePageHeap(const ScopedHugePageHeap&) = delete;
  ScopedHugePageHeap& operator=(const ScopedHugePageHeap&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
};

// A mapping of its own for a block of `bytes` (rounded up to 2 MiB), aligned to 2 MiB and
// advised for huge pages before anything touches it; nullptr if the mapping fails. glibc's own
// mappings for big blocks cannot get huge pages in time: they are not aligned, and malloc writes
// its header into the first page before the caller could advise it. Release with the same size.
void* MapHugePageBlock(std::size_t bytes);
void UnmapHugePageBlock(void* block, std::size_t bytes) noexcept;
// Blocks from this size on are worth a mapping of their own (one huge page or more).
inline constexpr std::size_t kHugePageBlockMinBytes = std::size_t{2} << 20;

// Allocator for multi-megabyte working buffers written front to back (the canonical form of a
// large role): blocks of kHugePageBlockMinBytes and more come from MapHugePageBlock, smaller
// ones (and all of them under sanitizers, which must see every allocation) from the heap.
// Resident size: a block's last huge page counts whole once touched (at most 2 MiB more than
// the bytes written), which is why only short-lived buffers use it.
template <class T>
class HugePageAllocator {
 public:
  using value_type = T;
  HugePageAllocator() noexcept = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: allocator rebinding

  T* allocate(std::size_t n) {
    if (!kSanitizerAllocator && n * sizeof(T) >= kHugePageBlockMinBytes) {
      if (void* block = MapHugePageBlock(n * sizeof(T))) return static_cast<T*>(block);
      throw std::bad_alloc();  // as std::allocator would
    }
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* block, std::size_t n) noexcept {
    if (!kSanitizerAllocator && n * sizeof(T) >= kHugePageBlockMinBytes) {
      UnmapHugePageBlock(block, n * sizeof(T));
      return;
    }
    std::allocator<T>().deallocate(block, n);
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

using HugePageString = std::basic_string<char, std::char_traits<char>, HugePageAllocator<char>>;

}  // namespace mdu

#endif  // MDU_CORE_COMMON_PAGE_ADVICE_H_
