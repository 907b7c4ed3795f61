#include "core/backoff.h"

#include <algorithm>
#include <random>

namespace quern {

namespace {

constexpr Duration kFirstBackoff = std::chrono::seconds(1);
constexpr Duration kMaxBackoff = std::chrono::hours(1);

}  // namespace

Duration retry_backoff(int failures, double unit_random) {
  // 2^12 s is past the cap already; stopping the doubling there keeps it from overflowing.
  const int doublings = failures <= 1 ? 0 : std::min(failures - 1, 12);
  const Duration base = std::min(kFirstBackoff * (int64_t{1} << doublings), kMaxBackoff);
  // Jitter spreads out jobs that failed together so they do not all retry at once.
  // Written so that NaN, like anything below 0, counts as 0.
  const double unit = unit_random >= 0.0 ? std::min(unit_random, 1.0) : 0.0;
  const double factor = 0.75 + 0.5 * unit;
  return Duration(static_cast<int64_t>(static_cast<double>(base.count()) * factor));
}

Duration retry_backoff(int failures) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return retry_backoff(failures, unit(generator));
}

}  // namespace quern
