// Maintenance passes that keep the store moving when no worker asks: lease rescue,
// start-up rescue of this host's dead processes, promotion of due jobs, expiry, cron,
// retention, file dependencies, and the end of rescued runs: what is left of their processes on this
// host is killed (exec/orphaned_runs.h) and their temp dirs removed. Each pass is one call,
// so tests run a pass after advancing a simulated clock instead of waiting.
//
// Passes about the whole database (lease rescue, promotion, expiry, cron, retention) run on one leader
// per database (Store::hold_leadership, tried once per run_pass). Passes about this
// host: the periodic search for dead local processes' jobs runs in one process per
// host and temp root (whoever holds an flock on <temp root>.host-checks.lock; the
// kernel lets it go when that process dies), since it reads every lease owner of the
// database; temp dirs and file dependencies are checked in every process.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

namespace quern {

// How long a leader keeps leadership without renewing it (a pass renews it each
// second): how soon another process takes over from a frozen or cut-off leader.
inline constexpr Duration kMaintenanceLeadershipTtl = std::chrono::seconds(10);

class Maintenance {
 public:
  Maintenance(std::shared_ptr<Store> store, std::shared_ptr<Clock> clock, std::filesystem::path temp_root);
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // Running jobs whose owner is a dead process of this host → rescued now.
  std::vector<MovedJob> rescue_dead_owners();
  // Running jobs whose lease expired → rescued.
  std::vector<MovedJob> rescue_expired_leases();
  // scheduled → available when due; past expires_at → expired.
  void promote_and_expire();
  // Due cron entries enqueue their jobs (this process's pools are woken); returns the
  // jobs enqueued (not those a live unique key held back).
  std::vector<Job> fire_cron_entries();
  // Finished jobs kept as long as their queue's retention says → deleted, with their
  // history and logs, a batch per transaction; returns how many.
  int64_t prune_finished_jobs();
  // Blocked jobs whose files now all exist → unblocked.
  int check_file_dependencies();
  // Ends runs under the temp root whose job is not running at that attempt: kills
  // their leftover processes, removes their temp dirs.
  int sweep_temp_dirs();

  // Tries to become or stay the database's maintenance leader; whether this process
  // leads now. A store that cannot be reached means not leading (and is thrown).
  bool hold_leadership();
  // Gives leadership up (at shutdown) so another process takes over at once.
  void release_leadership();
  bool is_leader() const { return leader_.load(); }
  // Called with true when this process becomes the leader and false when it stops
  // being it, from the thread that noticed. Set before the first pass.
  void on_leadership_change(std::function<void(bool leader)> callback) { on_leadership_change_ = std::move(callback); }

  // Leadership, then the leader's passes and this host's, in order (not the start-up sweep).
  void run_pass();
  // Whether this process runs the host's periodic dead-process search (see above).
  bool runs_host_checks();

 private:
  void end_rescued_runs(const std::vector<MovedJob>& jobs);
  void set_leader(bool leader);

  std::shared_ptr<Store> store_;
  std::shared_ptr<Clock> clock_;
  std::filesystem::path temp_root_;
  const std::string candidate_;  // this process's lease owner
  std::mutex leadership_mutex_;  // one leadership change at a time, reported in order
  std::atomic<bool> leader_{false};
  std::function<void(bool)> on_leadership_change_;
  int host_checks_lock_ = -1;  // the flocked file, once held
};

// The temp dir of a job's attempt under a pool's temp root.
std::filesystem::path job_temp_dir(const std::filesystem::path& temp_root, JobId id, int attempt);

// $TMPDIR (or /tmp)/quern-<uid>/<database id>.
std::filesystem::path default_temp_root(Store& store);

}  // namespace quern
