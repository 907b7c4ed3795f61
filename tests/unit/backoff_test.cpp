#include "core/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <limits>

namespace quern {
namespace {

using namespace std::chrono_literals;

TEST(RetryBackoff, DoublesFromOneSecond) {
  // unit_random 0.5 is the middle of the jitter: a factor of exactly 1.
  EXPECT_EQ(retry_backoff(1, 0.5), 1s);
  EXPECT_EQ(retry_backoff(2, 0.5), 2s);
  EXPECT_EQ(retry_backoff(3, 0.5), 4s);
  EXPECT_EQ(retry_backoff(10, 0.5), 512s);
}

TEST(RetryBackoff, IsCappedAtAnHour) {
  EXPECT_EQ(retry_backoff(12, 0.5), 2048s);
  EXPECT_EQ(retry_backoff(13, 0.5), 1h);
  EXPECT_EQ(retry_backoff(64, 0.5), 1h);
  EXPECT_EQ(retry_backoff(INT_MAX, 0.5), 1h);
}

TEST(RetryBackoff, TreatsFewerThanOneFailureAsOne) {
  EXPECT_EQ(retry_backoff(0, 0.5), 1s);
  EXPECT_EQ(retry_backoff(-5, 0.5), 1s);
  EXPECT_EQ(retry_backoff(INT_MIN, 0.5), 1s);
}

TEST(RetryBackoff, JittersByAQuarterEitherWay) {
  EXPECT_EQ(retry_backoff(3, 0.0), 3s);
  EXPECT_EQ(retry_backoff(3, 1.0), 5s);
  EXPECT_EQ(retry_backoff(13, 0.0), 45min);
  EXPECT_EQ(retry_backoff(13, 1.0), 75min);
}

TEST(RetryBackoff, ClampsOutOfRangeRandomNumbers) {
  EXPECT_EQ(retry_backoff(1, -1.0), 750ms);
  EXPECT_EQ(retry_backoff(1, 7.0), 1250ms);
  EXPECT_EQ(retry_backoff(1, std::numeric_limits<double>::quiet_NaN()), 750ms);
  EXPECT_EQ(retry_backoff(1, std::numeric_limits<double>::infinity()), 1250ms);
}

TEST(RetryBackoff, RandomJitterStaysWithinBounds) {
  bool varied = false;
  Duration first = retry_backoff(4);
  for (int i = 0; i < 1000; ++i) {
    Duration d = retry_backoff(4);
    EXPECT_GE(d, 6s);
    EXPECT_LE(d, 10s);
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace quern
