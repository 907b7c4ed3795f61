#include "quern/clock.h"

namespace quern {

Time SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

std::shared_ptr<Clock> system_clock() {
  static const auto clock = std::make_shared<SystemClock>();
  return clock;
}

Time SimulatedClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

void SimulatedClock::advance(Duration d) {
  std::lock_guard lock(mutex_);
  now_ += d;
}

void SimulatedClock::set(Time t) {
  std::lock_guard lock(mutex_);
  now_ = t;
}

}  // namespace quern
