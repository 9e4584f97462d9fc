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
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

  bool enabled() const { return limit().rate_per_second > 0; }
  RateLimit limit() const;
  // A new rate and burst (SIGHUP reload); buckets keep their tokens, capped at the new burst.
  void SetLimit(RateLimit limit);

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
  void ForgetIdle(Shard& shard, double now, const RateLimit& current);

  mutable std::mutex limit_mu_;
  RateLimit limit_;  // guarded by limit_mu_
  const SteadySeconds now_;
  std::array<Shard, kShards> shards_;
};

// Which refused operator credentials get an audit record of their own, so that a flood of bad
// tokens cannot grow the audit log without bound: a token bucket per peer address (the port is
// dropped: reconnecting does not buy a new bucket) and one shared by all peers (many addresses).
// The refusals over either bucket are only counted; TakeSummary hands out their count (and up to
// 16 of the peers) at most once per `summary_interval_seconds`, for one summary record.
// The refusals themselves still happen: only their records are thinned out.
//
// Thread-safety: all methods may be called from any thread.
class RefusalThrottle {
 public:
  struct Summary {
    uint64_t suppressed = 0;
    std::vector<std::string> peers;  // distinct, at most kMaxPeers
    double seconds = 0;              // since the previous summary (or the first suppression)
  };
  static constexpr size_t kMaxPeers = 16;

  RefusalThrottle(RateLimit per_peer, RateLimit all_peers, double summary_interval_seconds,
                  RateLimiter::SteadySeconds now = {});

  // One refusal from `peer` (gRPC's peer string, e.g. "ipv4:10.0.0.7:51234"): true if it gets
  // its own audit record, false if it is only counted.
  bool Admit(std::string_view peer);
  // The refusals counted since the last summary, once the interval has passed; nullopt if none
  // are due.
  std::optional<Summary> TakeSummary();

  // "ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7", "ipv6:[::1]:5" -> "ipv6:[::1]".
  static std::string PeerAddress(std::string_view peer);

 private:
  RateLimiter per_peer_;
  RateLimiter all_peers_;
  const double interval_;
  const RateLimiter::SteadySeconds now_;
  std::mutex mu_;
  uint64_t suppressed_ = 0;
  std::vector<std::string> peers_;
  double since_ = 0;  // time of the first suppression after the last summary
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_RATE_LIMITER_H_
