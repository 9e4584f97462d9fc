// Whether this build runs under a sanitizer that replaces malloc (AddressSanitizer, the thread
// and memory sanitizers): their allocators ignore mallopt and glibc's heap layout, so allocator
// tuning does nothing there and its tests are skipped.
#ifndef MDU_CORE_COMMON_SANITIZERS_H_
#define MDU_CORE_COMMON_SANITIZERS_H_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MDU_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define MDU_SANITIZER_ALLOCATOR 1
#endif
#endif

namespace mdu {

#if defined(MDU_SANITIZER_ALLOCATOR)
inline constexpr bool kSanitizerAllocator = true;
#else
inline constexpr bool kSanitizerAllocator = false;
#endif

}  // namespace mdu

#endif  // MDU_CORE_COMMON_SANITIZERS_H_
