// Time in Quern: microseconds since the Unix epoch, read from an injectable Clock so
// that lease expiry, backoff, delays and expiry are tested by moving a clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

namespace quern {

using Duration = std::chrono::microseconds;
using Time = std::chrono::sys_time<Duration>;

// Microseconds since the epoch, the form times take in the store.
inline int64_t to_micros(Time t) { return t.time_since_epoch().count(); }
inline Time from_micros(int64_t us) { return Time(Duration(us)); }

// A source of the current time. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time now() const = 0;
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  Time now() const override;
};

// The process-wide SystemClock.
std::shared_ptr<Clock> system_clock();

// A clock that only moves when a test advances it. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(Time start = from_micros(1'700'000'000'000'000)) : now_(start) {}
  Time now() const override;
  void advance(Duration d);
  void set(Time t);

 private:
  mutable std::mutex mutex_;
  Time now_;
};

}  // namespace quern
