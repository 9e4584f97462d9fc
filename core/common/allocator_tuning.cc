#include "core/common/allocator_tuning.h"

#include <atomic>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mdu {
namespace {

std::atomic<std::size_t> tuned_mmap_threshold{0};

}  // namespace

bool TuneAllocatorForStreaming() {
#if defined(__GLIBC__)
  // Setting either one also turns off glibc's adaptive thresholds, which is the point: the
  // adaptive mmap threshold follows the last freed block and made the fault count vary by run.
  const bool mmap_set = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapServedBlockBytes)) == 1;
  if (mmap_set) tuned_mmap_threshold = kHeapServedBlockBytes;
  const bool trim_set = mallopt(M_TRIM_THRESHOLD, static_cast<int>(kKeptFreeHeapBytes)) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

bool TuneAllocatorForSmallFootprint() {
#if defined(__GLIBC__)
  const bool mmap_set = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMappedBlockBytes)) == 1;
  if (mmap_set) tuned_mmap_threshold = kMappedBlockBytes;
  const bool trim_set = mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimmedHeapBytes)) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

std::size_t TunedMmapThreshold() { return tuned_mmap_threshold; }

}  // namespace mdu
