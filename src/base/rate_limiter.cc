#include "base/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace cairn {

RateLimiter::RateLimiter(uint64_t bytes_per_second,
                         std::function<void(Clock::time_point)> sleep_until)
    : rate_(std::max<uint64_t>(1, bytes_per_second)),
      sleep_until_(std::move(sleep_until)),
      next_free_(Clock::now()) {
  if (!sleep_until_) sleep_until_ = [](Clock::time_point t) { std::this_thread::sleep_until(t); };
}

uint64_t RateLimiter::SliceBytes() const { return std::max<uint64_t>(1024, rate_ / 10); }

void RateLimiter::Acquire(uint64_t bytes) {
  using std::chrono::nanoseconds;
  const auto cost = nanoseconds(static_cast<int64_t>(static_cast<long double>(bytes) * 1e9L /
                                                     static_cast<long double>(rate_)));
  Clock::time_point start;
  {
    MutexLock lock(mu_);
    const Clock::time_point now = Clock::now();
    // Unused budget accrues for at most one second (the burst allowance).
    next_free_ = std::max(next_free_, now - std::chrono::seconds(1));
    start = next_free_;
    next_free_ += cost;
  }
  // The bytes may go once the budget before them is spent.
  if (start > Clock::now()) sleep_until_(start);
}

}  // namespace cairn
