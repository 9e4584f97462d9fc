// Allocator settings: for programs that move large payloads in ~1 MiB pieces (gRPC target
// streams on the server), and for the device agent's small footprint.
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

// Blocks from this size up are mapped on their own (and unmapped when freed) under
// TuneAllocatorForSmallFootprint; free memory at the heap top beyond kTrimmedHeapBytes is returned.
inline constexpr std::size_t kMappedBlockBytes = std::size_t{64} << 10;
inline constexpr std::size_t kTrimmedHeapBytes = std::size_t{128} << 10;

// Memory over reuse, for client-agent: its large buffers (the download pipeline's blocks,
// libcurl's receive buffer, the held first gRPC chunk, the 1 MiB buffer that re-hashes a staged
// file) are allocated once per download or check, never per chunk, so mapping each one costs a
// few page faults, and freeing it gives its pages back at once. Under TuneAllocatorForStreaming
// they stayed resident for the rest of the run (heap kept up to 16 MiB): +0.5 MiB at the peak of
// `client-agent update` (scripts/bench_agent_rss.sh). Not for a program that allocates 1 MiB per
// streamed chunk (repo-server): that one wants TuneAllocatorForStreaming. Call once, early in
// main. Returns false where the allocator does not support it (not glibc).
bool TuneAllocatorForSmallFootprint();

// The mmap threshold the last successful Tune* call set, or 0 when none did (glibc's adaptive
// default). Code that changes the threshold for a moment (ScopedHugePageHeap) puts this back.
std::size_t TunedMmapThreshold();

}  // namespace mdu

#endif  // MDU_CORE_COMMON_ALLOCATOR_TUNING_H_
