#include "server/maintenance_loop.h"

#include <exception>

#include "quern/error.h"

namespace quern::server {

MaintenanceLoop::MaintenanceLoop(std::shared_ptr<Client> client, std::filesystem::path temp_root, Duration interval,
                                 ServerMetrics& metrics, ServerLog& log)
    : client_(client),
      maintenance_(client->store(), client->clock_ptr(),
                   temp_root.empty() ? default_temp_root(*client->store()) : std::move(temp_root)),
      interval_(interval),
      metrics_(metrics),
      log_(log) {
  maintenance_.on_leadership_change([this](bool leader) {
    metrics_.set_maintenance_leader(leader);
    log_.info(leader ? "leading maintenance" : "stopped leading maintenance");
  });
}

MaintenanceLoop::~MaintenanceLoop() { stop(); }

void MaintenanceLoop::start() { thread_ = std::thread([this] { run(); }); }

void MaintenanceLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    maintenance_.release_leadership();  // the next leader need not wait out the ttl
  }
}

void MaintenanceLoop::run_pass() {
  // Rescue of expired leases, promotion, expiry, cron and retention are the leader's; this host's dead
  // processes and file dependencies are every server's.
  // A failed try makes this pass a follower's: the host's passes still run, then the
  // error is reported (and counted by run()).
  bool leader = false;
  std::exception_ptr leadership_error;
  try {
    leader = maintenance_.hold_leadership();
  } catch (const Error&) {
    leadership_error = std::current_exception();
  }
  // Each rescue counted as soon as it is in the store, so /metrics never lags it.
  const auto expired = leader ? maintenance_.rescue_expired_leases() : std::vector<MovedJob>{};
  metrics_.count_rescued(static_cast<int64_t>(expired.size()));
  const auto dead = maintenance_.rescue_dead_owners();
  metrics_.count_rescued(static_cast<int64_t>(dead.size()));
  if (!expired.empty() || !dead.empty()) {
    log_.info("rescued jobs", {{"lease_expired", expired.size()}, {"owner_dead", dead.size()}});
  }
  if (leader) {
    maintenance_.promote_and_expire();
    // A cron entry that cannot fire is logged; file dependencies are still checked.
    try {
      const auto fired = maintenance_.fire_cron_entries();
      if (!fired.empty()) {
        Json jobs = Json::array();
        for (const auto& job : fired) jobs.push_back(job.id);
        log_.info("cron entries fired", {{"jobs", jobs}});
      }
    } catch (const Error& e) {
      log_.error("cron entries could not fire", {{"error", e.what()}});
    }
    try {
      const int64_t pruned = maintenance_.prune_finished_jobs();
      if (pruned > 0) log_.info("finished jobs deleted past their queue's retention", {{"jobs", pruned}});
    } catch (const Error& e) {
      log_.error("finished jobs could not be deleted past their queue's retention", {{"error", e.what()}});
    }
  }
  maintenance_.check_file_dependencies();
  if (leadership_error) std::rethrow_exception(leadership_error);
}

void MaintenanceLoop::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      run_pass();
    } catch (const Error& e) {
      metrics_.count_if_store_error(e);
    }
    lock.lock();
    cv_.wait_for(lock, interval_, [&] { return stopping_; });
  }
}

}  // namespace quern::server
