// Allocator settings for programs that move large payloads in ~1 MiB pieces (gRPC target
// streams on the server, the agent and the benchmark client).
#ifndef MDU_CORE_COMMON_ALLOCATOR_TUNING_H_
#define MDU_CORE_COMMON_ALLOCATOR_TUNING_H_

#include <cstddef>

namespace mdu {

// Largest block glibc's malloc is told to serve from the heap instead of a fresh mmap.
inline constexpr std::size_t kHeapServedBlockBytes = std::size_t{4} << 20;
// Free memory at the top of the heap that is kept instead of handed back to the kernel.
inline constexpr std::size_t kKeptFreeHeapBytes = std::size_t{16} << 20;

// Keeps 1 MiB message buffers in the heap and reused. With glibc's defaults each 1 MiB receive
// or send buffer was a fresh mmap (or a heap top trimmed after every free), so every byte of a
// streamed target cost a page fault: a 256 MiB stream took 29,000 faults and 2 to 6 times the
// time, varying from run to run with the allocator's adaptive threshold. Peak memory does not
// grow: the buffers are the same, they are only reused. Call once, early in main.
// Returns false where the allocator does not support it (not glibc); harmless then.
bool TuneAllocatorForStreaming();

}  // namespace mdu

#endif  // MDU_CORE_COMMON_ALLOCATOR_TUNING_H_
