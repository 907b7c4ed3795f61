// Wakes the worker pools of this process at once when a job is enqueued here, without
// waiting for the change poll (which is for other processes' enqueues).
#pragma once

#include <functional>

namespace quern {

class Store;

// A registration, removed when destroyed.
class LocalWakeupRegistration {
 public:
  LocalWakeupRegistration(const Store* store, std::function<void()> wake);
  ~LocalWakeupRegistration();
  LocalWakeupRegistration(const LocalWakeupRegistration&) = delete;
  LocalWakeupRegistration& operator=(const LocalWakeupRegistration&) = delete;

 private:
  const Store* store_;
  int64_t id_;
};

// Calls the wake function of every pool registered on `store`.
void wake_local_pools(const Store* store);

}  // namespace quern
