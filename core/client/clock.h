// Clock: the client's source of "the latest known time" (TUF 5.1), behind an interface so tests
// pin time and freeze attacks can be simulated. Thread-safety: SystemClock is stateless;
// FakeClock is a plain value (no synchronization).
#ifndef MDU_CORE_CLIENT_CLOCK_H_
#define MDU_CORE_CLIENT_CLOCK_H_

#include "core/metadata/metadata.h"

namespace mdu::client {

using metadata::UnixTime;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixTime Now() const = 0;  // seconds since the Unix epoch, UTC
};

class SystemClock final : public Clock {
 public:
  UnixTime Now() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixTime now) : now_(now) {}
  UnixTime Now() const override { return now_; }
  void Set(UnixTime now) { now_ = now; }
  void Advance(int64_t seconds) { now_ += seconds; }

 private:
  UnixTime now_;
};

}  // namespace mdu::client

#endif  // MDU_CORE_CLIENT_CLOCK_H_
