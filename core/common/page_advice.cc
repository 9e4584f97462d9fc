#include "core/common/page_advice.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include "core/common/allocator_tuning.h"
#include "core/common/sanitizers.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mdu {
namespace {

constexpr std::uintptr_t kHugePageBytes = std::uintptr_t{2} << 20;

// The open ScopedHugePageHeap scopes of the process and the top padding they asked for.
struct HeapScopes {
  std::mutex mutex;
  std::size_t active = 0;  // guarded by mutex
  std::size_t pad = 0;     // guarded by mutex
};
[[maybe_unused]] HeapScopes scopes;

// Whether the kernel honours MADV_HUGEPAGE ("always" or "madvise" mode); read once.
[[maybe_unused]] bool TransparentHugePagesAdvisable() {
  static const bool advisable = [] {
    std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    return std::getline(mode, line) && line.find("[never]") == std::string::npos;
  }();
  return advisable;
}

}  // namespace

bool AdviseHugePages(const void* data, std::size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (data == nullptr || size < kHugePageAdviceMinBytes) return false;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (start + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const std::uintptr_t end = (start + size) & ~(kHugePageBytes - 1);
  if (end <= begin) return false;
  return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0;
#else
  (void)data;
  (void)size;
  return false;
#endif
}

bool PrefaultForWrite(void* data, std::size_t size) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  constexpr std::uintptr_t kPageBytes = 4096;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  // Whole pages inside the range only: the pages at the ends may belong to other objects.
  const std::uintptr_t begin = (start + kPageBytes - 1) & ~(kPageBytes - 1);
  const std::uintptr_t end = (start + size) & ~(kPageBytes - 1);
  if (data == nullptr || end <= begin) return false;
  return madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) == 0;
#else
  (void)data;
  (void)size;
  return false;
#endif
}

namespace {

std::size_t HugePageBlockLength(std::size_t bytes) {
  return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
}

}  // namespace

void* MapHugePageBlock(std::size_t bytes) {
  const std::size_t length = HugePageBlockLength(bytes);
  if (length < bytes) return nullptr;  // overflow
  // Map one huge page more than needed, then cut the ends so the block starts on a boundary.
  const std::size_t span = length + kHugePageBytes;
  void* mapped = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t begin = (start + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (begin > start) munmap(mapped, begin - start);
  const std::uintptr_t tail = start + span - (begin + length);
  if (tail > 0) munmap(reinterpret_cast<void*>(begin + length), tail);
  void* block = reinterpret_cast<void*>(begin);
#if defined(MADV_HUGEPAGE)
  madvise(block, length, MADV_HUGEPAGE);  // advice only: without THP these stay small pages
#endif
  return block;
}

void UnmapHugePageBlock(void* block, std::size_t bytes) noexcept {
  if (block != nullptr) munmap(block, HugePageBlockLength(bytes));
}

ScopedHugePageHeap::ScopedHugePageHeap(std::size_t bytes) {
#if defined(__GLIBC__) && defined(__linux__) && !defined(MDU_SANITIZER_ALLOCATOR)
  // Largest block glibc serves from the heap when asked to (its M_MMAP_THRESHOLD maximum is
  // 32 MiB on 64-bit), and a bound on what one scope prepares.
  constexpr std::size_t kProbeBytes = std::size_t{30} << 20;
  constexpr std::size_t kMaxBytes = std::size_t{256} << 20;
  if (bytes < kHugePageAdviceMinBytes || !TransparentHugePagesAdvisable()) return;
  bytes = std::min(bytes, kMaxBytes);
  // The settings are process-wide: scopes on several threads (repo-server parsing two large
  // publishes) share them, and the padding stays until the last scope ends.
  std::lock_guard lock(scopes.mutex);
  // Top padding keeps the probes' memory at the top of the heap when they are freed.
  const std::size_t pad = std::max(bytes, scopes.pad);
  if (mallopt(M_TOP_PAD, static_cast<int>(pad)) != 1) return;
  scopes.pad = pad;
  ++scopes.active;
  active_ = true;
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kProbeBytes + (std::size_t{1} << 20)));
  std::array<void*, kMaxBytes / kProbeBytes + 1> probes{};
  std::size_t count = 0;
  for (std::size_t left = bytes; left > 0 && count < probes.size();) {
    const std::size_t size = std::min(left, kProbeBytes);
    void* probe = std::malloc(size);
    if (probe == nullptr) break;
    AdviseHugePages(probe, size);
    // The head before the first 2 MiB boundary gets no huge page; the allocations about to
    // come are carved from it first, so it is prefaulted in one call instead.
    const auto start = reinterpret_cast<std::uintptr_t>(probe);
    const std::uintptr_t head = ((start + kHugePageBytes - 1) & ~(kHugePageBytes - 1)) - start;
    PrefaultForWrite(probe, std::min(head, size));
    probes[count++] = probe;
    left -= size;
  }
  for (std::size_t i = count; i > 0; --i) std::free(probes[i - 1]);
  // Back to the program's policy (or glibc's minimum threshold when it set none).
  constexpr std::size_t kGlibcDefaultMmapThreshold = std::size_t{128} << 10;
  const std::size_t tuned = TunedMmapThreshold();
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(tuned != 0 ? tuned : kGlibcDefaultMmapThreshold));
#else
  (void)bytes;
#endif
}

ScopedHugePageHeap::~ScopedHugePageHeap() {
#if defined(__GLIBC__) && defined(__linux__) && !defined(MDU_SANITIZER_ALLOCATOR)
  // glibc's default top padding; memory above the trim threshold goes back at the next free.
  constexpr int kDefaultTopPadBytes = 128 * 1024;
  if (!active_) return;
  std::lock_guard lock(scopes.mutex);
  if (--scopes.active == 0) {
    scopes.pad = 0;
    mallopt(M_TOP_PAD, kDefaultTopPadBytes);
  }
#endif
}

}  // namespace mdu
