#include "base/rate_limiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace cairn {
namespace {

using Clock = RateLimiter::Clock;
using std::chrono::milliseconds;

TEST(RateLimiterTest, ABurstOfOneSecondPassesThenTheRateHolds) {
  std::vector<Clock::time_point> waits;
  RateLimiter limiter(1000, [&](Clock::time_point t) { waits.push_back(t); });
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 5; ++i) limiter.Acquire(1000);
  // The first 1000 bytes go at once; then one second per 1000 bytes.
  ASSERT_EQ(waits.size(), 4u);
  for (size_t i = 0; i < waits.size(); ++i) {
    auto due = waits[i] - t0;
    EXPECT_GE(due, milliseconds(1000 * static_cast<int>(i + 1)) - milliseconds(50)) << i;
    EXPECT_LE(due, milliseconds(1000 * static_cast<int>(i + 1)) + milliseconds(50)) << i;
  }
}

TEST(RateLimiterTest, ThreadsShareOneBudget) {
  std::mutex mu;
  Clock::time_point last{};
  RateLimiter limiter(10'000, [&](Clock::time_point t) {
    std::lock_guard lock(mu);
    last = std::max(last, t);
  });
  const Clock::time_point t0 = Clock::now();
  {
    std::vector<std::jthread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 25; ++i) limiter.Acquire(1000);
      });
  }
  // 100 slices of 1000 bytes at 10,000 B/s: the last is due 9.9 s after the
  // first, whatever the threads' interleaving.
  EXPECT_GE(last - t0, milliseconds(9800));
  EXPECT_LE(last - t0, milliseconds(10000));
}

TEST(RateLimiterTest, AnIdleSpellEarnsAtMostOneSecondOfBudget) {
  std::vector<Clock::time_point> waits;
  RateLimiter limiter(1000, [&](Clock::time_point t) { waits.push_back(t); });
  std::this_thread::sleep_for(milliseconds(1500));  // idle
  const Clock::time_point t0 = Clock::now();
  limiter.Acquire(1000);  // the idle second's budget
  limiter.Acquire(1000);  // the budget of the second now starting
  limiter.Acquire(1000);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_GE(waits[0] - t0, milliseconds(900));
  EXPECT_LE(waits[0] - t0, milliseconds(1050));
}

TEST(RateLimiterTest, SlicesKeepEachWaitShort) {
  EXPECT_EQ(RateLimiter(100).SliceBytes(), 1024u);
  EXPECT_EQ(RateLimiter(10 << 20).SliceBytes(), (10u << 20) / 10);
}

}  // namespace
}  // namespace cairn
