// The server's source of time, behind an interface so tests drive the timestamp re-signer and
// the publish expiry checks with a fake clock.
// Thread-safety: both implementations may be read from any thread; FakeClock's setters are
// atomic.
#ifndef MDU_REPO_SERVER_CLOCK_H_
#define MDU_REPO_SERVER_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace mdu::server {

using UnixSeconds = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixSeconds Now() const = 0;  // seconds since the Unix epoch, UTC
};

class SystemClock final : public Clock {
 public:
  UnixSeconds Now() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixSeconds now) : now_(now) {}
  UnixSeconds Now() const override { return now_.load(); }
  void Set(UnixSeconds now) { now_.store(now); }
  void Advance(int64_t seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<UnixSeconds> now_;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_CLOCK_H_
