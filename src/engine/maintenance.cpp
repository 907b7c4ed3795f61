#include "engine/maintenance.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>

#include "core/host_identity.h"
#include "engine/local_wakeup.h"
#include "exec/orphaned_runs.h"
#include "quern/error.h"

namespace fs = std::filesystem;

namespace quern {

fs::path job_temp_dir(const fs::path& temp_root, JobId id, int attempt) {
  return temp_root / ("job-" + std::to_string(id) + "-" + std::to_string(attempt));
}

fs::path default_temp_root(Store& store) {
  const char* tmp = std::getenv("TMPDIR");
  fs::path base = (tmp && *tmp) ? fs::path(tmp) : fs::path("/tmp");
  return base / ("quern-" + std::to_string(getuid())) / store.database_id();
}

Maintenance::Maintenance(std::shared_ptr<Store> store, std::shared_ptr<Clock> clock, fs::path temp_root)
    : store_(std::move(store)),
      clock_(std::move(clock)),
      temp_root_(std::move(temp_root)),
      candidate_(this_process_owner()) {}

Maintenance::~Maintenance() {
  if (host_checks_lock_ >= 0) ::close(host_checks_lock_);
}

bool Maintenance::runs_host_checks() {
  if (host_checks_lock_ >= 0) return true;
  // Beside the temp root, not in it: the root holds only runs' dirs, and empties.
  const fs::path path = temp_root_.parent_path() / (temp_root_.filename().string() + ".host-checks.lock");
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  // Close-on-exec: a job's process must not inherit the lock and outlive us with it.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return true;  // no way to agree: checking twice costs only reads
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  host_checks_lock_ = fd;
  return true;
}

bool Maintenance::hold_leadership() {
  bool leader = false;
  try {
    leader = store_->hold_leadership(candidate_, kMaintenanceLeadershipTtl, clock_->now());
  } catch (const Error&) {
    set_leader(false);
    throw;
  }
  set_leader(leader);
  return leader;
}

void Maintenance::release_leadership() {
  store_->release_leadership();
  set_leader(false);
}

void Maintenance::set_leader(bool leader) {
  std::lock_guard lock(leadership_mutex_);
  if (leader_.exchange(leader) == leader) return;
  if (on_leadership_change_) on_leadership_change_(leader);
}

std::vector<MovedJob> Maintenance::rescue_dead_owners() {
  std::vector<std::string> dead;
  for (const auto& owner : store_->lease_owners()) {
    if (owner_status(owner) == OwnerStatus::kDead) dead.push_back(owner);
  }
  if (dead.empty()) return {};
  auto moved = store_->rescue_jobs_of_owners(dead, clock_->now());
  end_rescued_runs(moved);
  return moved;
}

std::vector<MovedJob> Maintenance::rescue_expired_leases() {
  auto moved = store_->rescue_expired_leases(clock_->now());
  end_rescued_runs(moved);
  return moved;
}

void Maintenance::promote_and_expire() {
  const Time now = clock_->now();
  store_->expire_jobs(now);
  store_->promote_scheduled_jobs(now);
}

std::vector<Job> Maintenance::fire_cron_entries() {
  std::vector<Job> enqueued;
  for (auto& result : store_->fire_due_cron_entries(clock_->now())) {
    if (result.inserted) enqueued.push_back(std::move(result.job));  // not one a unique key held back
  }
  if (!enqueued.empty()) wake_local_pools(store_.get());
  return enqueued;
}

namespace {

// Jobs pruned per call (one transaction on SQLite), and calls per pass: a backlog (a
// retention just set on a queue of millions) goes a batch at a time between other
// writers, and the pass moves on to the rest of the maintenance.
constexpr int kPruneBatch = 1000;
constexpr int kPruneBatchesPerPass = 100;

}  // namespace

int64_t Maintenance::prune_finished_jobs() {
  const Time now = clock_->now();
  int64_t deleted = 0;
  for (int batch = 0; batch < kPruneBatchesPerPass; ++batch) {
    const PruneProgress progress = store_->prune_finished_jobs(now, kPruneBatch);
    deleted += progress.deleted;
    if (!progress.more_due) break;
  }
  return deleted;
}

int Maintenance::check_file_dependencies() {
  int unblocked = 0;
  for (const auto& wait : store_->jobs_waiting_on_files()) {
    bool all_present = true;
    for (const auto& path : wait.paths) {
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        all_present = false;
        break;
      }
    }
    if (all_present) {
      store_->mark_files_present(wait.id, clock_->now());
      ++unblocked;
    }
  }
  return unblocked;
}

int Maintenance::sweep_temp_dirs() {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(temp_root_, ec)) {
    const std::string name = entry.path().filename().string();
    long long id = 0;
    int attempt = 0;
    if (std::sscanf(name.c_str(), "job-%lld-%d", &id, &attempt) != 2) continue;
    auto job = store_->get_job(id);
    const bool live = job && job->state == JobState::kRunning && job->attempt == attempt &&
                      owner_status(job->lease_owner) != OwnerStatus::kDead;
    if (!live) {
      kill_processes_of_run(entry.path());
      fs::remove_all(entry.path(), ec);
      ++removed;
    }
  }
  return removed;
}

void Maintenance::run_pass() {
  // A failed try (say the leader's own connection cannot be opened) makes this pass a
  // follower's: this host's passes still run, then the error is reported.
  // Likewise a cron entry that cannot fire does not hold up retention or file
  // dependencies, nor a prune that fails the file dependencies.
  bool leader = false;
  std::exception_ptr error;
  try {
    leader = hold_leadership();
  } catch (const Error&) {
    error = std::current_exception();
  }
  if (leader) rescue_expired_leases();
  if (runs_host_checks()) rescue_dead_owners();
  if (leader) {
    promote_and_expire();
    try {
      fire_cron_entries();
    } catch (const Error&) {
      error = std::current_exception();
    }
    try {
      prune_finished_jobs();
    } catch (const Error&) {
      error = std::current_exception();
    }
  }
  check_file_dependencies();
  if (error) std::rethrow_exception(error);
}

void Maintenance::end_rescued_runs(const std::vector<MovedJob>& jobs) {
  for (const auto& job : jobs) {
    const fs::path dir = job_temp_dir(temp_root_, job.id, job.attempt);
    kill_processes_of_run(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

}  // namespace quern
