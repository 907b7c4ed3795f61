// Maintenance passes that keep the store moving when no worker asks: lease rescue,
// start-up rescue of this host's dead processes, promotion of due jobs, expiry, file
// dependencies, and the end of rescued runs: what is left of their processes on this
// host is killed (exec/orphaned_runs.h) and their temp dirs removed. Each pass is one call,
// so tests run a pass after advancing a simulated clock instead of waiting.
#pragma once

#include <filesystem>
#include <memory>

#include "store/store.h"

namespace quern {

class Maintenance {
 public:
  Maintenance(std::shared_ptr<Store> store, std::shared_ptr<Clock> clock, std::filesystem::path temp_root);

  // Running jobs whose owner is a dead process of this host → rescued now.
  std::vector<MovedJob> rescue_dead_owners();
  // Running jobs whose lease expired → rescued.
  std::vector<MovedJob> rescue_expired_leases();
  // scheduled → available when due; past expires_at → expired.
  void promote_and_expire();
  // Blocked jobs whose files now all exist → unblocked.
  int check_file_dependencies();
  // Ends runs under the temp root whose job is not running at that attempt: kills
  // their leftover processes, removes their temp dirs.
  int sweep_temp_dirs();

  // All of the above but the start-up sweep, in order.
  void run_pass();

 private:
  void end_rescued_runs(const std::vector<MovedJob>& jobs);

  std::shared_ptr<Store> store_;
  std::shared_ptr<Clock> clock_;
  std::filesystem::path temp_root_;
};

// The temp dir of a job's attempt under a pool's temp root.
std::filesystem::path job_temp_dir(const std::filesystem::path& temp_root, JobId id, int attempt);

// $TMPDIR (or /tmp)/quern-<uid>/<database id>.
std::filesystem::path default_temp_root(Store& store);

}  // namespace quern
