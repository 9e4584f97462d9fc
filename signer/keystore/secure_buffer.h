// A small owning buffer for secrets (passphrases, derived keys, PKCS#8 private keys).
//
// Contract: the buffer owns `capacity()` bytes allocated once at construction; it never
// reallocates, so no stale copy of a secret is left behind in freed memory. Its bytes are wiped
// (sodium_memzero, which the compiler may not elide) when the buffer is destroyed, assigned over
// or truncated. The pages are locked in RAM on a best-effort basis (mlock may be refused by
// RLIMIT_MEMLOCK; that is not an error). Move-only: a moved-from buffer is empty. Never print or
// log the contents.
//
// Thread-safety: none beyond a plain value type.
#ifndef MDU_SIGNER_KEYSTORE_SECURE_BUFFER_H_
#define MDU_SIGNER_KEYSTORE_SECURE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mdu::signer {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  // `size` zero bytes.
  explicit SecureBuffer(size_t size);
  static SecureBuffer CopyOf(std::span<const uint8_t> bytes);
  static SecureBuffer CopyOf(std::string_view text);
  // Copies `secret` and wipes it, so the caller is left with zeros (for APIs that hand secrets
  // out in std::vector, such as crypto::PrivateKey::ExportPkcs8Der).
  static SecureBuffer TakeFrom(std::vector<uint8_t>& secret);

  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  ~SecureBuffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  // A view of the bytes as text; valid while the buffer lives and is not modified.
  std::string_view view() const;

  // Shrinks the logical size to `new_size` (<= size()) and wipes the bytes past it.
  void Truncate(size_t new_size);

  // Constant-time comparison of contents (sizes are compared first, which leaks only lengths).
  bool Equals(const SecureBuffer& other) const;

  // Test hook: called with the storage of every buffer after it has been wiped and before it is
  // freed, so a test can observe that the bytes are zero without reading freed memory. Pass
  // nullptr to remove. Not thread-safe; for tests only.
  using WipeObserver = void (*)(const uint8_t* data, size_t capacity);
  static void SetWipeObserverForTesting(WipeObserver observer);

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace mdu::signer

#endif  // MDU_SIGNER_KEYSTORE_SECURE_BUFFER_H_
