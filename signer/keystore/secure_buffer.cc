#include "signer/keystore/secure_buffer.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

#include "signer/keystore/sealing.h"

namespace mdu::signer {
namespace {
SecureBuffer::WipeObserver g_wipe_observer = nullptr;
}  // namespace

SecureBuffer::SecureBuffer(size_t size) : size_(size), capacity_(size) {
  if (size == 0) {
    return;
  }
  data_ = new uint8_t[size]();
  sealing::LockMemory(data_, capacity_);
}

SecureBuffer SecureBuffer::CopyOf(std::span<const uint8_t> bytes) {
  SecureBuffer buffer(bytes.size());
  if (buffer.data_ != nullptr) {
    std::memcpy(buffer.data_, bytes.data(), bytes.size());
  }
  return buffer;
}

SecureBuffer SecureBuffer::CopyOf(std::string_view text) {
  return CopyOf(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

SecureBuffer SecureBuffer::TakeFrom(std::vector<uint8_t>& secret) {
  SecureBuffer buffer = CopyOf(std::span<const uint8_t>(secret));
  sealing::SecureZero(secret.data(), secret.size());
  return buffer;
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SecureBuffer::~SecureBuffer() { Release(); }

void SecureBuffer::Release() {
  if (data_ == nullptr) {
    return;
  }
  sealing::SecureZero(data_, capacity_);
  if (g_wipe_observer != nullptr) {
    g_wipe_observer(data_, capacity_);
  }
  sealing::UnlockMemory(data_, capacity_);
  delete[] data_;
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

std::string_view SecureBuffer::view() const {
  if (data_ == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(data_), size_};
}

void SecureBuffer::Truncate(size_t new_size) {
  assert(new_size <= size_);
  new_size = std::min(new_size, size_);
  if (data_ != nullptr) {
    sealing::SecureZero(data_ + new_size, capacity_ - new_size);
  }
  size_ = new_size;
}

bool SecureBuffer::Equals(const SecureBuffer& other) const {
  if (size_ != other.size_) {
    return false;
  }
  if (size_ == 0) {
    return true;
  }
  return sealing::ConstantTimeEquals(span(), other.span());
}

void SecureBuffer::SetWipeObserverForTesting(WipeObserver observer) { g_wipe_observer = observer; }

}  // namespace mdu::signer
