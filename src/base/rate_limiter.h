// RateLimiter: a byte budget per second shared by many threads (bandwidth
// limits over all connections of a backend).
//
// Each caller reserves the bytes it is about to move and sleeps until the
// reservation is due, so the long-run rate never exceeds the limit while a
// burst of up to one second's budget may pass at once after an idle spell.
// Reservations are served in the order they were made.
// Thread-safety: Acquire may be called from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "base/mutex.h"

namespace cairn {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `bytes_per_second` > 0. `sleep_until` is how to wait (tests replace it).
  explicit RateLimiter(uint64_t bytes_per_second,
                       std::function<void(Clock::time_point)> sleep_until = {});

  // Returns once `bytes` may be moved.
  void Acquire(uint64_t bytes) EXCLUDES(mu_);

  // The largest slice worth reserving at once: a tenth of a second's budget
  // (at least 1 KiB), so no single wait gets long.
  uint64_t SliceBytes() const;
  uint64_t bytes_per_second() const { return rate_; }

 private:
  const uint64_t rate_;
  std::function<void(Clock::time_point)> sleep_until_;
  Mutex mu_;
  Clock::time_point next_free_ GUARDED_BY(mu_);  // when the budget reserved so far is spent
};

}  // namespace cairn
