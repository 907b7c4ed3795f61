// What `quern serve` counts for GET /metrics (Prometheus text format 0.0.4). Counters
// are this process's since it started; job gauges come from the store's kept counts.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "quern/error.h"
#include "quern/job.h"

namespace quern::server {

class ServerMetrics {
 public:
  void count_request(std::string_view route, int status);
  void count_enqueued(int64_t jobs) { enqueued_ += jobs; }
  void count_completed() { ++completed_; }
  void count_failed() { ++failed_; }
  void count_rescued(int64_t jobs) { rescued_ += jobs; }
  void count_store_error() { ++store_errors_; }
  // Whether this server's maintenance is the database's leader now (quern_maintenance_leader).
  void set_maintenance_leader(bool leader) { maintenance_leader_ = leader; }
  bool maintenance_leader() const { return maintenance_leader_.load(); }
  // Time from a job being due (its run_at) to its start, for jobs this server leased.
  void observe_claim_latency(Duration latency);

  // Counts errors of the store (unavailable, corrupt, full) among all errors.
  void count_if_store_error(const Error& error);

  // The whole exposition; `stats` gives the quern_jobs gauge, the others the gauges of
  // long-polls waiting now and event streams open now.
  std::string render(const Stats& stats, size_t waiting_leases, size_t event_listeners) const;

 private:
  static constexpr std::array<double, 14> kLatencyBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,     2.5,  5,     10,   30,  60};
  std::atomic<int64_t> enqueued_{0};
  std::atomic<int64_t> completed_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> rescued_{0};
  std::atomic<int64_t> store_errors_{0};
  std::atomic<bool> maintenance_leader_{false};

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // guarded by mutex_
  std::array<int64_t, kLatencyBuckets.size()> latency_counts_{};  // guarded by mutex_; not cumulative
  int64_t latency_count_ = 0;                                     // guarded by mutex_
  double latency_sum_ = 0;                                        // guarded by mutex_
};

}  // namespace quern::server
