// Long-poll leases for remote workers. A lease request that finds nothing to claim
// waits, and one broker thread claims on its behalf the moment something may have
// become claimable: at once on an enqueue (or retry, or resume) through this process
// (a local wake-up), within a few ms on another process's commit (the store's change
// counter, polled only while someone waits), and when a scheduled job falls due.
//
// Waiting leases asking for the same queues and types form a group served in arrival
// order; a claim that comes back empty ends its group's turn, so a wake-up costs one
// claim per group, not one per waiting worker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "quern/client.h"
#include "server/server_metrics.h"

namespace quern {
class LocalWakeupRegistration;
}

namespace quern::server {

class LeaseBroker {
 public:
  LeaseBroker(std::shared_ptr<Client> client, ServerMetrics& metrics);
  ~LeaseBroker();
  LeaseBroker(const LeaseBroker&) = delete;
  LeaseBroker& operator=(const LeaseBroker&) = delete;

  void start();
  // Every waiting lease returns now, with no jobs; later ones return at once. Idempotent.
  void stop();

  // Leases jobs for `request`; if none are claimable now, waits up to `wait` for some.
  // Throws what Client::lease_remote throws.
  std::vector<Job> lease(const RemoteLeaseRequest& request, Duration wait);

  size_t waiting() const;
  bool stopping() const;

 private:
  struct Waiter;
  void run();
  void serve_round(bool every_waiter);
  void wake_all();
  void remove_waiter(Waiter& waiter);  // requires mutex_

  std::shared_ptr<Client> client_;
  ServerMetrics& metrics_;
  std::unique_ptr<LocalWakeupRegistration> wakeup_;

  mutable std::mutex mutex_;
  std::condition_variable broker_cv_;              // a waiter came, a wake-up, or stop
  std::list<std::shared_ptr<Waiter>> waiters_;     // guarded by mutex_; arrival order
  bool wake_all_ = false;                          // guarded by mutex_
  bool fresh_waiters_ = false;                     // guarded by mutex_
  bool stopping_ = false;                          // guarded by mutex_
  std::thread thread_;
};

}  // namespace quern::server
