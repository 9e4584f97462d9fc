// UniqueFd: owns one POSIX file descriptor and closes it when it goes out of scope, so every
// early error return in the I/O code releases what it opened. Close() reports the error of
// close(2) (on NFS, and with some quotas, that is where a failed write shows); the destructor
// closes silently, for error paths.
// Thread-safety: none (one owner).
#ifndef MDU_CORE_IO_UNIQUE_FD_H_
#define MDU_CORE_IO_UNIQUE_FD_H_

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace mdu::io {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  // Closes now and returns errno of a failed close (0 on success). Never retried on EINTR:
  // on Linux the descriptor is released even when close fails.
  int Close() {
    if (fd_ < 0) return 0;
    return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno;
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  int fd_;
};

}  // namespace mdu::io

#endif  // MDU_CORE_IO_UNIQUE_FD_H_
