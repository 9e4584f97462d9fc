// RateLimiter: one token bucket per key (the device id of a client certificate), so a device
// that floods the server is answered RESOURCE_EXHAUSTED while the others are served.
//
// Each key may spend `burst` calls at once and regains `rate_per_second` calls per second. The
// buckets live in a fixed number of shards (one mutex each) so concurrent devices rarely
// contend; a shard forgets its buckets that are full again (idle keys) once it holds more than
// `max_keys_per_shard`, so memory is bounded however many ids are presented.
//
// Time comes from a callback (steady seconds) so tests control it.
// Thread-safety: Allow may be called from any thread.
#ifndef MDU_REPO_SERVER_RATE_LIMITER_H_
#define MDU_REPO_SERVER_RATE_LIMITER_H_

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mdu::server {

struct RateLimit {
  double rate_per_second = 0;  // 0 disables the limiter (Allow always true)
  double burst = 1;            // bucket size, >= 1
  size_t max_keys_per_shard = 4096;
};

class RateLimiter {
 public:
  using SteadySeconds = std::function<double()>;

  // `now` defaults to std::chrono::steady_clock.
  explicit RateLimiter(RateLimit limit, SteadySeconds now = {});

  bool enabled() const { return limit_.rate_per_second > 0; }
  const RateLimit& limit() const { return limit_; }

  // Takes one token from `key`'s bucket; false (and nothing taken) if it is empty.
  bool Allow(std::string_view key);

 private:
  struct Bucket {
    double tokens = 0;
    double updated = 0;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr size_t kShards = 16;

  // Drops buckets that have refilled completely: forgetting them changes no decision.
  void ForgetIdle(Shard& shard, double now);

  const RateLimit limit_;
  const SteadySeconds now_;
  std::array<Shard, kShards> shards_;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_RATE_LIMITER_H_
