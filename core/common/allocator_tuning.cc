#include "core/common/allocator_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mdu {

bool TuneAllocatorForStreaming() {
#if defined(__GLIBC__)
  // Setting either one also turns off glibc's adaptive thresholds, which is the point: the
  // adaptive mmap threshold follows the last freed block and made the fault count vary by run.
  const bool mmap_set = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapServedBlockBytes)) == 1;
  const bool trim_set = mallopt(M_TRIM_THRESHOLD, static_cast<int>(kKeptFreeHeapBytes)) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

}  // namespace mdu
