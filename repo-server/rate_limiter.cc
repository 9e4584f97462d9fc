#include "repo-server/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace mdu::server {

RateLimiter::RateLimiter(RateLimit limit, SteadySeconds now)
    : limit_{limit.rate_per_second, std::max(limit.burst, 1.0),
             std::max<size_t>(limit.max_keys_per_shard, 1)},
      now_(now ? std::move(now) : SteadySeconds([] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
      })) {}

RateLimit RateLimiter::limit() const {
  std::lock_guard lock(limit_mu_);
  return limit_;
}

void RateLimiter::SetLimit(RateLimit limit) {
  std::lock_guard lock(limit_mu_);
  limit_.rate_per_second = limit.rate_per_second;
  limit_.burst = std::max(limit.burst, 1.0);
}

bool RateLimiter::Allow(std::string_view key) {
  const RateLimit current = limit();  // one consistent copy per call (SetLimit may run)
  if (current.rate_per_second <= 0) return true;
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  double now = now_();
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= current.max_keys_per_shard) ForgetIdle(shard, now, current);
    it = shard.buckets.emplace(std::string(key), Bucket{current.burst, now}).first;
  }
  Bucket& bucket = it->second;
  double elapsed = std::max(0.0, now - bucket.updated);
  bucket.tokens = std::min(current.burst, bucket.tokens + elapsed * current.rate_per_second);
  bucket.updated = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

void RateLimiter::ForgetIdle(Shard& shard, double now, const RateLimit& current) {
  std::erase_if(shard.buckets, [&](const auto& entry) {
    const Bucket& bucket = entry.second;
    return bucket.tokens + (now - bucket.updated) * current.rate_per_second >= current.burst;
  });
  // Every key still draining: drop them all rather than grow without bound (they only get a
  // fresh, full bucket, i.e. at most `burst` extra calls each).
  if (shard.buckets.size() >= current.max_keys_per_shard) shard.buckets.clear();
}


RefusalThrottle::RefusalThrottle(RateLimit per_peer, RateLimit all_peers,
                                 double summary_interval_seconds, RateLimiter::SteadySeconds now)
    : per_peer_(per_peer, now),
      all_peers_(all_peers, now),
      interval_(summary_interval_seconds),
      now_(now ? std::move(now) : RateLimiter::SteadySeconds([] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
      })) {}

std::string RefusalThrottle::PeerAddress(std::string_view peer) {
  size_t colon = peer.rfind(':');
  size_t bracket = peer.rfind(']');
  // "ipv6:[::1]:5": the port follows the bracket; "ipv4:a.b.c.d:p": the last colon; anything
  // else (unix sockets, no port) stays whole.
  if (bracket != std::string_view::npos) return std::string(peer.substr(0, bracket + 1));
  if (colon != std::string_view::npos && peer.find(':') != colon) {
    return std::string(peer.substr(0, colon));
  }
  return std::string(peer);
}

bool RefusalThrottle::Admit(std::string_view peer) {
  const std::string address = PeerAddress(peer);
  if (per_peer_.Allow(address) && all_peers_.Allow("*")) return true;
  std::lock_guard lock(mu_);
  if (suppressed_++ == 0) since_ = now_();
  if (peers_.size() < kMaxPeers &&
      std::find(peers_.begin(), peers_.end(), address) == peers_.end()) {
    peers_.push_back(address);
  }
  return false;
}

std::optional<RefusalThrottle::Summary> RefusalThrottle::TakeSummary() {
  std::lock_guard lock(mu_);
  if (suppressed_ == 0) return std::nullopt;
  const double now = now_();
  if (now - since_ < interval_) return std::nullopt;
  Summary summary{suppressed_, std::move(peers_), now - since_};
  suppressed_ = 0;
  peers_.clear();
  return summary;
}

}  // namespace mdu::server
