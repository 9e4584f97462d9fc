#include "repo-server/rate_limiter.h"

#include <algorithm>
#include <chrono>

namespace mdu::server {

RateLimiter::RateLimiter(RateLimit limit, SteadySeconds now)
    : limit_{limit.rate_per_second, std::max(limit.burst, 1.0),
             std::max<size_t>(limit.max_keys_per_shard, 1)},
      now_(now ? std::move(now) : SteadySeconds([] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
      })) {}

bool RateLimiter::Allow(std::string_view key) {
  if (!enabled()) return true;
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  double now = now_();
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= limit_.max_keys_per_shard) ForgetIdle(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{limit_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  double elapsed = std::max(0.0, now - bucket.updated);
  bucket.tokens = std::min(limit_.burst, bucket.tokens + elapsed * limit_.rate_per_second);
  bucket.updated = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

void RateLimiter::ForgetIdle(Shard& shard, double now) {
  std::erase_if(shard.buckets, [&](const auto& entry) {
    const Bucket& bucket = entry.second;
    return bucket.tokens + (now - bucket.updated) * limit_.rate_per_second >= limit_.burst;
  });
  // Every key still draining: drop them all rather than grow without bound (they only get a
  // fresh, full bucket, i.e. at most `burst` extra calls each).
  if (shard.buckets.size() >= limit_.max_keys_per_shard) shard.buckets.clear();
}

}  // namespace mdu::server
