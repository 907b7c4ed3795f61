// The worker pool. Threads and what each owns:
// - dispatcher: claims jobs in batches for free slots (plus a prefetch sized by how
//   short jobs are) and hands them to executors through `ready_`;
// - executors (one per slot): run handlers, then queue the finish;
// - completer: records finishes in batches (one store call, one fsync, many jobs);
// - watcher: polls the store's change counter (another process's commit wakes the
//   dispatcher within a few ms), sends heartbeats and progress, enforces timeouts and
//   notices cancels and lost leases;
// - maintenance: rescue, promotion, expiry and file checks once a second.
#include "quern/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/backoff.h"
#include "core/duration.h"
#include "core/host_identity.h"
#include "engine/local_wakeup.h"
#include "engine/maintenance.h"
#include "quern/error.h"
#include "store/run_end.h"
#include "store/store.h"

namespace fs = std::filesystem;

namespace quern {
// Named, not anonymous: WorkerPool::Impl (external linkage) holds these types.
namespace worker_pool_detail {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kMaintenanceInterval = std::chrono::seconds(1);
constexpr auto kProgressFlushInterval = std::chrono::milliseconds(250);
constexpr auto kCancelCheckInterval = std::chrono::milliseconds(100);
// A job running at least this long is checked for a cancel; shorter ones end anyway.
constexpr auto kCancelCheckAge = std::chrono::milliseconds(100);
// Jobs claimed ahead and waiting for a slot whose state one cancel check reads.
constexpr int kMaxWaitingChecksPerPass = 32;
constexpr auto kIdleRecheck = std::chrono::seconds(1);
// Prefetch covers about this much work per slot, so short jobs are claimed in batches
// (one fsync for many) while long jobs are never hoarded by one process. Up to a
// thousand: a claim or finish of a thousand neighbouring jobs writes half as many pages
// per job as one of 250 (SQLite writes whole pages, and neighbours share them).
constexpr auto kPrefetchWindow = std::chrono::milliseconds(10);
constexpr int kMaxPrefetch = 1024;
// A stopping pool that cannot record its last finishes gives up after this long.
constexpr auto kGiveUpWhenStopping = std::chrono::seconds(5);
// A store failure of the kind last reported is reported again only after this long
// without one (a new outage, not the next retry of the same one).
constexpr auto kStoreErrorQuietPeriod = std::chrono::seconds(60);

// Failures a retry may get past: the store busy, out of reach or full.
bool is_transient(const Error& error) {
  return error.code() == ErrorCode::kUnavailable || error.code() == ErrorCode::kResourceExhausted;
}

// One claimed job, from claim to finish.
struct ActiveJob {
  Job job;
  std::stop_source stop;
  std::atomic<StopReason> reason{StopReason::kNone};
  std::optional<Time> deadline;  // timeout, on the injected clock; guarded by the pool mutex
  const SteadyClock::time_point claimed = SteadyClock::now();
  SteadyClock::time_point started{};  // guarded by the pool mutex
  bool executing = false;             // guarded by the pool mutex

  std::mutex report_mutex;  // guards the pending reports below
  std::optional<double> progress;
  std::optional<std::string> stage;

  void request_stop(StopReason why) {
    StopReason expected = StopReason::kNone;
    reason.compare_exchange_strong(expected, why);
    stop.request_stop();
  }
};

}  // namespace worker_pool_detail
using namespace worker_pool_detail;

class WorkerPool::Impl {
 public:
  Impl(std::shared_ptr<Client> client, WorkerPoolOptions options);
  ~Impl();

  void handle(const std::string& type, Handler handler);
  void start();
  void stop();
  void request_stop() noexcept;
  void wait();
  void notify();
  int64_t jobs_finished() const { return jobs_finished_.load(); }
  int64_t runs_unrecorded() const { return runs_unrecorded_.load(); }

  // For the handler's Context.
  Client& client() { return *client_; }
  void save_checkpoint(ActiveJob& active, const Json& checkpoint);
  void append_log(ActiveJob& active, const std::string& text);
  const fs::path& temp_root() const { return temp_root_; }

  class Context;

 private:
  void dispatcher_loop();
  void executor_loop();
  void completer_loop();
  // Whether the store holds this very finish (written by a try whose reply was lost).
  bool finish_was_recorded(const JobFinish& finish);
  void watcher_loop();
  void maintenance_loop();

  int prefetch_target() const;
  void run_job(const std::shared_ptr<ActiveJob>& active);
  JobFinish decide_finish(ActiveJob& active, const Outcome& outcome);
  void flush_reports(ActiveJob& active);
  void queue_finish(JobFinish finish);
  void send_heartbeats(bool only_with_reports);
  // Returns true if a change could not be checked yet (a job too young to look at).
  bool check_timeouts_and_cancels(bool counter_changed);
  // A store call failed / wrote: on_store_error hears of each new failure, once.
  void store_failed(const Error& error);
  void store_worked();
  bool store_failing();  // since the last write that worked
  // Runs `write` for a job's handler until it works, retrying transient store failures
  // (the run keeps its lease meanwhile, or loses it); returns false if the run was
  // stopped first. A busy or full store must not turn a good run into a failed attempt.
  bool retry_job_write(ActiveJob& active, const std::function<void()>& write);
  std::vector<std::shared_ptr<ActiveJob>> snapshot_active();

  std::shared_ptr<Client> client_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<Clock> clock_;
  WorkerPoolOptions options_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::string> types_;
  std::string owner_;
  fs::path temp_root_;
  std::unique_ptr<Maintenance> maintenance_;
  std::unique_ptr<LocalWakeupRegistration> wakeup_;

  mutable std::mutex mutex_;
  std::condition_variable dispatcher_cv_;  // wake flag, free slot, stopping
  std::condition_variable executor_cv_;    // ready job, stopping
  std::condition_variable idle_cv_;        // executing_ reached zero
  bool wake_ = true;
  bool claiming_stopped_ = false;
  bool executors_stop_ = false;
  std::deque<std::shared_ptr<ActiveJob>> ready_;
  // Keyed by (id, attempt): a stale run may still be stopping when its rescued job is
  // claimed again by this same pool.
  std::map<std::pair<JobId, int>, std::shared_ptr<ActiveJob>> active_;
  int executing_ = 0;
  // Runs ended whose finish the completer has not recorded yet. They count against the
  // claim capacity: otherwise a slow store lets the dispatcher keep claiming while
  // finishes pile up unrecorded (and unheartbeaten), every one of them a re-run after a
  // crash or an expired lease.
  int finishing_ = 0;
  double average_run_us_ = -1;  // EWMA of handler run time; <0 until measured

  std::mutex finish_mutex_;
  std::condition_variable finish_cv_;
  std::vector<JobFinish> pending_finishes_;
  bool completer_stop_ = false;
  SteadyClock::time_point completer_stop_at_{};  // when completer_stop_ was set

  std::mutex background_mutex_;
  std::condition_variable background_cv_;
  bool background_stop_ = false;

  std::mutex store_error_mutex_;
  std::optional<ErrorCode> reported_store_error_;  // guarded by store_error_mutex_
  SteadyClock::time_point last_store_error_at_{};   // guarded by store_error_mutex_

  std::atomic<int64_t> jobs_finished_{0};
  std::atomic<int64_t> runs_unrecorded_{0};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::mutex stop_mutex_;
  int stop_pipe_[2] = {-1, -1};

  std::thread dispatcher_;
  std::vector<std::thread> executors_;
  std::thread completer_;
  std::thread watcher_;
  std::thread maintenance_thread_;
};

// What a handler sees; lives on the executor's stack for one run.
class WorkerPool::Impl::Context final : public JobContext {
 public:
  Context(WorkerPool::Impl& pool, ActiveJob& active) : pool_(pool), active_(active) {}

  const Job& job() const override { return active_.job; }
  const Json& checkpoint() const override { return active_.job.checkpoint; }
  void progress(double fraction) override {
    std::lock_guard lock(active_.report_mutex);
    active_.progress = std::clamp(fraction, 0.0, 1.0);
  }
  void stage(const std::string& name) override {
    std::lock_guard lock(active_.report_mutex);
    active_.stage = name;
  }
  void save_checkpoint(const Json& checkpoint) override { pool_.save_checkpoint(active_, checkpoint); }
  void log(const std::string& text) override { pool_.append_log(active_, text); }
  const fs::path& temp_dir() override {
    if (temp_dir_.empty()) {
      fs::path dir = job_temp_dir(pool_.temp_root(), active_.job.id, active_.job.attempt);
      std::error_code ec;
      fs::create_directories(pool_.temp_root(), ec);
      ::chmod(pool_.temp_root().c_str(), 0700);
      if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw Error::unavailable("cannot create temp dir " + dir.string() + ": " + std::strerror(errno));
      }
      temp_dir_ = dir;
    }
    return temp_dir_;
  }
  std::stop_token stop_token() const override { return active_.stop.get_token(); }
  StopReason stop_reason() const override { return active_.reason.load(); }
  Client& client() override { return pool_.client(); }

  bool made_temp_dir() const { return !temp_dir_.empty(); }

 private:
  WorkerPool::Impl& pool_;
  ActiveJob& active_;
  fs::path temp_dir_;
};

WorkerPool::Impl::Impl(std::shared_ptr<Client> client, WorkerPoolOptions options)
    : client_(std::move(client)),
      store_(client_->store()),
      clock_(client_->clock_ptr()),
      options_(std::move(options)),
      owner_(this_process_owner()) {
  if (options_.concurrency < 1) throw Error::invalid_argument("concurrency must be at least 1");
  if (options_.lease < std::chrono::milliseconds(100)) throw Error::invalid_argument("lease must be at least 100ms");
  temp_root_ = options_.temp_root.empty() ? default_temp_root(*store_) : options_.temp_root;
  maintenance_ = std::make_unique<Maintenance>(store_, clock_, temp_root_);
  if (options_.on_leadership_change) maintenance_->on_leadership_change(options_.on_leadership_change);
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw Error::internal("pipe2 failed");
}

WorkerPool::Impl::~Impl() {
  stop();
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void WorkerPool::Impl::handle(const std::string& type, Handler handler) {
  if (started_) throw Error::failed_precondition("register handlers before start()");
  if (!handlers_.count(type)) types_.push_back(type);
  handlers_[type] = std::move(handler);
}

void WorkerPool::Impl::start() {
  if (started_) return;
  if (handlers_.empty()) throw Error::failed_precondition("a worker pool needs at least one handler");
  store_->check_writable();
  if (started_.exchange(true)) return;
  // Jobs left running by dead processes of this host are rescued before we claim, so
  // a restart picks its own interrupted work up again at once.
  maintenance_->rescue_dead_owners();
  maintenance_->sweep_temp_dirs();
  wakeup_ = std::make_unique<LocalWakeupRegistration>(store_.get(), [this] { notify(); });
  completer_ = std::thread([this] { completer_loop(); });
  for (int i = 0; i < options_.concurrency; ++i) executors_.emplace_back([this] { executor_loop(); });
  watcher_ = std::thread([this] { watcher_loop(); });
  if (options_.run_maintenance) maintenance_thread_ = std::thread([this] { maintenance_loop(); });
  dispatcher_ = std::thread([this] { dispatcher_loop(); });
}

void WorkerPool::Impl::notify() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  dispatcher_cv_.notify_one();
}

void WorkerPool::Impl::request_stop() noexcept {
  const char byte = 1;
  [[maybe_unused]] auto n = ::write(stop_pipe_[1], &byte, 1);
}

void WorkerPool::Impl::wait() {
  pollfd fd{stop_pipe_[0], POLLIN, 0};
  while (!stopped_) {
    int r = ::poll(&fd, 1, 200);
    if (r > 0) break;
    if (r < 0 && errno != EINTR) break;
  }
  stop();
}

void WorkerPool::Impl::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (!started_ || stopped_) {
    stopped_ = true;
    return;
  }
  // 1. Stop claiming; jobs claimed but not started go straight back.
  std::vector<std::shared_ptr<ActiveJob>> unstarted;
  {
    std::lock_guard lock(mutex_);
    claiming_stopped_ = true;
    unstarted.assign(ready_.begin(), ready_.end());
    ready_.clear();
    for (auto& a : unstarted) active_.erase({a->job.id, a->job.attempt});
    finishing_ += static_cast<int>(unstarted.size());
  }
  dispatcher_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& a : unstarted) {
    // One canceled or taken from this run while it waited is not this pool's to release.
    if (a->stop.stop_requested()) {
      std::lock_guard lock(mutex_);
      --finishing_;
      continue;
    }
    queue_finish({a->job.id, a->job.attempt, FinishOutcome::kRelease, nullptr, "released at shutdown", {}});
  }
  // 2. Let running handlers finish within the grace period.
  {
    std::unique_lock lock(mutex_);
    idle_cv_.wait_for(lock, options_.grace, [&] { return executing_ == 0; });
    // 3. Then ask the rest to stop; their jobs are released, not failed.
    for (auto& [id, a] : active_) a->request_stop(StopReason::kShutdown);
    idle_cv_.wait(lock, [&] { return executing_ == 0; });
    executors_stop_ = true;
  }
  executor_cv_.notify_all();
  for (auto& t : executors_) t.join();
  executors_.clear();
  {
    std::lock_guard lock(finish_mutex_);
    completer_stop_ = true;
    completer_stop_at_ = SteadyClock::now();
  }
  finish_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
  {
    std::lock_guard lock(background_mutex_);
    background_stop_ = true;
  }
  background_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  if (maintenance_thread_.joinable()) {
    maintenance_thread_.join();
    maintenance_->release_leadership();  // the next leader need not wait out the ttl
  }
  wakeup_.reset();
  stopped_ = true;
}

int WorkerPool::Impl::prefetch_target() const {
  if (average_run_us_ < 0) return 0;
  const double window_us = std::chrono::duration<double, std::micro>(kPrefetchWindow).count();
  const double per_slot = window_us / std::max(average_run_us_, 1.0);
  return static_cast<int>(std::min<double>(kMaxPrefetch, per_slot * options_.concurrency));
}

void WorkerPool::Impl::dispatcher_loop() {
  Time next_due = Time::max();  // earliest scheduled job, when idle
  while (true) {
    int want = 0;
    int free_slots = 0;
    {
      std::unique_lock lock(mutex_);
      auto claimable = [&] {
        const int capacity = options_.concurrency + prefetch_target();
        return static_cast<int>(active_.size()) + finishing_ < capacity;
      };
      auto ready_to_claim = [&] { return claiming_stopped_ || (wake_ && claimable()); };
      SteadyClock::duration delay = kIdleRecheck;
      if (next_due != Time::max()) {
        delay = std::clamp<SteadyClock::duration>(
            std::chrono::duration_cast<SteadyClock::duration>(next_due - clock_->now()), SteadyClock::duration::zero(),
            kIdleRecheck);
      }
      if (!dispatcher_cv_.wait_for(lock, delay, ready_to_claim)) wake_ = true;
      if (claiming_stopped_) return;
      if (!claimable()) continue;
      wake_ = false;
      want = options_.concurrency + prefetch_target() - static_cast<int>(active_.size()) - finishing_;
      free_slots = std::max(0, options_.concurrency - static_cast<int>(active_.size()) - finishing_);
    }
    std::vector<Job> jobs;
    try {
      ClaimParams params;
      params.queues = options_.queues;
      params.types = types_;
      params.max = want;
      params.max_from_limited_queue = free_slots;
      params.owner = owner_;
      params.lease = options_.lease;
      params.now = clock_->now();
      jobs = store_->claim_jobs(params);
      if (!jobs.empty()) store_worked();  // an empty claim may have written nothing
    } catch (const Error& e) {
      store_failed(e);
      // The store is busy or unreachable: try again shortly rather than spin.
      std::unique_lock lock(mutex_);
      dispatcher_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return claiming_stopped_; });
      wake_ = true;
      continue;
    }
    next_due = Time::max();
    if (static_cast<int>(jobs.size()) < want) {
      // A failure here must not drop the jobs just claimed: the idle recheck looks again.
      try {
        next_due = store_->next_scheduled_at(options_.queues).value_or(Time::max());
      } catch (const Error& e) {
        store_failed(e);
      }
    }
    if (jobs.empty()) continue;
    {
      std::lock_guard lock(mutex_);
      // Got a full batch: there may be more, so look again as soon as there is room.
      if (static_cast<int>(jobs.size()) == want) wake_ = true;
      for (auto& job : jobs) {
        auto active = std::make_shared<ActiveJob>();
        active->job = std::move(job);
        active_[{active->job.id, active->job.attempt}] = active;
        ready_.push_back(std::move(active));
      }
    }
    executor_cv_.notify_all();
  }
}

void WorkerPool::Impl::executor_loop() {
  while (true) {
    std::shared_ptr<ActiveJob> active;
    bool start = true;
    {
      std::unique_lock lock(mutex_);
      executor_cv_.wait(lock, [&] { return executors_stop_ || !ready_.empty(); });
      if (ready_.empty()) return;
      active = std::move(ready_.front());
      ready_.pop_front();
      if (active->stop.stop_requested()) {
        // Canceled, or taken from this run, while it waited for a slot: it never starts.
        active_.erase({active->job.id, active->job.attempt});
        wake_ = true;
        start = false;
      } else {
        active->executing = true;
        active->started = SteadyClock::now();
        // A run's time limit counts from its start, not from a claim made ahead.
        if (active->job.timeout) active->deadline = clock_->now() + *active->job.timeout;
        ++executing_;
      }
    }
    if (start) {
      run_job(active);
    } else {
      dispatcher_cv_.notify_one();
    }
  }
}

void WorkerPool::Impl::run_job(const std::shared_ptr<ActiveJob>& active) {
  Outcome outcome;
  bool made_temp_dir = false;
  {
    Context context(*this, *active);
    auto it = handlers_.find(active->job.type);
    try {
      if (it == handlers_.end()) throw Error::internal("no handler for type " + active->job.type);
      outcome = it->second(context);
    } catch (const std::exception& e) {
      outcome = Outcome::retry(e.what());
    } catch (...) {
      outcome = Outcome::retry("handler threw a non-standard exception");
    }
    made_temp_dir = context.made_temp_dir();
  }
  // The private temp dir goes before the final state is recorded.
  if (made_temp_dir) {
    std::error_code ec;
    fs::remove_all(job_temp_dir(temp_root_, active->job.id, active->job.attempt), ec);
  }
  const auto ran = SteadyClock::now() - active->started;
  std::optional<JobFinish> finish;
  const StopReason reason = active->reason.load();
  if (reason != StopReason::kCanceled && reason != StopReason::kLeaseLost) {
    flush_reports(*active);
    finish = decide_finish(*active, outcome);
  }
  {
    std::lock_guard lock(mutex_);
    const double us = std::chrono::duration<double, std::micro>(ran).count();
    average_run_us_ = average_run_us_ < 0 ? us : 0.9 * average_run_us_ + 0.1 * us;
    active_.erase({active->job.id, active->job.attempt});
    if (finish) ++finishing_;
    active->executing = false;
    if (--executing_ == 0) idle_cv_.notify_all();
    wake_ = true;
  }
  dispatcher_cv_.notify_one();
  if (finish) {
    queue_finish(std::move(*finish));
  } else if (reason == StopReason::kLeaseLost && options_.on_stale_finish) {
    // The heartbeat learned first that the job was taken from this run: its outcome is
    // as unrecorded as a finish the store refused, and says so the same way.
    options_.on_stale_finish(active->job.id, active->job.attempt);
  }
}

namespace {

// A heartbeat of `active` renewing its lease by `lease`, carrying (and taking) its
// unsent reports.
JobHeartbeat take_beat(ActiveJob& active, Duration lease) {
  JobHeartbeat beat;
  beat.id = active.job.id;
  beat.attempt = active.job.attempt;
  beat.lease = lease;
  std::lock_guard lock(active.report_mutex);
  beat.progress = std::exchange(active.progress, std::nullopt);
  beat.stage = std::exchange(active.stage, std::nullopt);
  return beat;
}

}  // namespace

// Progress and stage reported since the last beat would be lost with the run's end
// (a job that fails shows where it was): they are written first, for this job alone.
void WorkerPool::Impl::flush_reports(ActiveJob& active) {
  const JobHeartbeat beat = take_beat(active, options_.lease);
  if (!beat.progress && !beat.stage) return;
  try {
    store_->heartbeat_jobs({beat}, clock_->now());
  } catch (const Error&) {
    // Out of reach: the end of the run matters more, and the completer retries that.
  }
}

JobFinish WorkerPool::Impl::decide_finish(ActiveJob& active, const Outcome& outcome) {
  JobFinish f;
  f.id = active.job.id;
  f.attempt = active.job.attempt;
  const Time now = clock_->now();
  const StopReason reason = active.reason.load();
  if (outcome.kind == Outcome::Kind::kCompleted) {
    f.outcome = FinishOutcome::kCompleted;
    f.result = outcome.result;
    return f;
  }
  if (reason == StopReason::kShutdown) {
    f.outcome = FinishOutcome::kRelease;
    f.error = "interrupted by shutdown";
    return f;
  }
  if (reason == StopReason::kTimeout) {
    f.outcome = FinishOutcome::kRetry;
    f.error = "timed out after " + format_duration(active.job.timeout.value_or(Duration{}));
    f.run_at = now + retry_backoff(active.job.failures + 1);
    return f;
  }
  switch (outcome.kind) {
    case Outcome::Kind::kRetry:
      f.outcome = FinishOutcome::kRetry;
      f.error = outcome.error;
      f.run_at = now + retry_backoff(active.job.failures + 1);
      break;
    case Outcome::Kind::kFail:
      f.outcome = FinishOutcome::kFail;
      f.error = outcome.error;
      break;
    case Outcome::Kind::kSnooze:
      f.outcome = FinishOutcome::kSnooze;
      f.run_at = now + outcome.snooze_for;
      break;
    case Outcome::Kind::kCompleted:
      break;
  }
  return f;
}

void WorkerPool::Impl::queue_finish(JobFinish finish) {
  {
    std::lock_guard lock(finish_mutex_);
    pending_finishes_.push_back(std::move(finish));
  }
  finish_cv_.notify_one();
}

void WorkerPool::Impl::completer_loop() {
  std::unique_lock lock(finish_mutex_);
  while (true) {
    finish_cv_.wait(lock, [&] { return completer_stop_ || !pending_finishes_.empty(); });
    if (pending_finishes_.empty()) return;
    std::vector<JobFinish> batch;
    batch.swap(pending_finishes_);
    lock.unlock();
    // A failed write (the store busy or out of reach) is retried until it is recorded
    // or refused, backing off to once a second: the jobs stay leased to us meanwhile,
    // and if the lease runs out first the finish is refused as stale. Once the pool
    // stops, it gives up after kGiveUpWhenStopping; the rescuer then returns the jobs
    // (at-least-once). A failed try may still have committed, its reply lost on the
    // way back: after one, a refusal is first checked against the run's recorded end.
    auto pause = std::chrono::milliseconds(100);
    bool may_have_landed = false;
    while (true) {
      try {
        const auto statuses = store_->finish_jobs(batch, clock_->now());
        store_worked();
        for (size_t i = 0; i < statuses.size(); ++i) {
          if (statuses[i] == FinishStatus::kOk || (may_have_landed && finish_was_recorded(batch[i]))) {
            ++jobs_finished_;
          } else if (options_.on_stale_finish) {
            options_.on_stale_finish(batch[i].id, batch[i].attempt);
          }
        }
        break;
      } catch (const Error& e) {
        store_failed(e);
        may_have_landed = true;
        lock.lock();
        // One deadline for every batch left, counted from when the last run ended.
        const bool give_up = completer_stop_ && SteadyClock::now() - completer_stop_at_ >= kGiveUpWhenStopping;
        if (!give_up) finish_cv_.wait_for(lock, pause);
        lock.unlock();
        if (give_up) {
          runs_unrecorded_ += static_cast<int64_t>(batch.size());
          break;
        }
        pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(1));
      }
    }
    {
      std::lock_guard pool_lock(mutex_);
      finishing_ -= static_cast<int>(batch.size());
      wake_ = true;
    }
    dispatcher_cv_.notify_one();
    lock.lock();
  }
}

bool WorkerPool::Impl::finish_was_recorded(const JobFinish& finish) {
  try {
    for (const HistoryEntry& entry : store_->job_history(finish.id)) {
      if (records_finish(entry, finish)) return true;
    }
  } catch (const Error&) {
    // Out of reach again: it cannot be told, so it is reported as refused.
  }
  return false;
}

std::vector<std::shared_ptr<ActiveJob>> WorkerPool::Impl::snapshot_active() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<ActiveJob>> out;
  out.reserve(active_.size());
  for (auto& [id, a] : active_) out.push_back(a);
  return out;
}

void WorkerPool::Impl::send_heartbeats(bool only_with_reports) {
  auto actives = snapshot_active();
  std::vector<JobHeartbeat> beats;
  std::vector<std::shared_ptr<ActiveJob>> sent;
  for (auto& a : actives) {
    JobHeartbeat beat = take_beat(*a, options_.lease);
    if (only_with_reports && !beat.progress && !beat.stage) continue;
    beats.push_back(std::move(beat));
    sent.push_back(a);
  }
  if (beats.empty()) return;
  std::vector<FinishStatus> statuses;
  try {
    statuses = store_->heartbeat_jobs(beats, clock_->now());
    store_worked();
  } catch (const Error& e) {
    store_failed(e);
    return;  // the lease has slack; the next beat tries again
  }
  for (size_t i = 0; i < statuses.size() && i < sent.size(); ++i) {
    if (statuses[i] != FinishStatus::kStale) continue;
    auto job = store_->get_job(sent[i]->job.id);
    sent[i]->request_stop(job && job->state == JobState::kCanceled ? StopReason::kCanceled : StopReason::kLeaseLost);
  }
}

bool WorkerPool::Impl::check_timeouts_and_cancels(bool counter_changed) {
  bool deferred = false;  // a job too young to check now; check it on a later pass
  auto actives = snapshot_active();
  const Time now = clock_->now();
  const auto steady_now = SteadyClock::now();
  // Jobs claimed ahead and still waiting for a slot are looked at too (a cancel must
  // keep them from starting), a few per pass: reads only, as a write here could wait
  // on another host's locks and hold up the heartbeats.
  int waiting_checks_left = kMaxWaitingChecksPerPass;
  for (auto& a : actives) {
    bool executing;
    SteadyClock::time_point since;
    std::optional<Time> deadline;
    {
      std::lock_guard lock(mutex_);
      executing = a->executing;
      since = executing ? a->started : a->claimed;
      deadline = a->deadline;
    }
    if (a->stop.stop_requested()) continue;
    if (executing && deadline && *deadline <= now) {
      a->request_stop(StopReason::kTimeout);
      continue;
    }
    if (!counter_changed) continue;
    if (steady_now - since < kCancelCheckAge || (!executing && waiting_checks_left == 0)) {
      deferred = true;
      continue;
    }
    if (!executing) --waiting_checks_left;
    try {
      auto job = store_->get_job(a->job.id);
      if (!job || job->state != JobState::kRunning || job->attempt != a->job.attempt) {
        a->request_stop(job && job->state == JobState::kCanceled ? StopReason::kCanceled : StopReason::kLeaseLost);
      }
    } catch (const Error&) {
    }
  }
  return deferred;
}

void WorkerPool::Impl::watcher_loop() {
  const auto heartbeat_interval = std::max<Duration>(options_.lease / 3, std::chrono::milliseconds(30));
  auto last_heartbeat = SteadyClock::now();
  auto last_progress = last_heartbeat;
  auto last_cancel_check = last_heartbeat;
  bool changed_since_cancel_check = false;
  uint64_t last_counter = 0;
  try {
    last_counter = store_->change_counter();
  } catch (const Error&) {
  }
  std::unique_lock lock(background_mutex_);
  while (!background_stop_) {
    background_cv_.wait_for(lock, options_.change_poll, [&] { return background_stop_; });
    if (background_stop_) return;
    lock.unlock();
    try {
      const uint64_t counter = store_->change_counter();
      if (counter != last_counter) {
        last_counter = counter;
        changed_since_cancel_check = true;
        notify();
      }
      const auto now = SteadyClock::now();
      if (now - last_heartbeat >= heartbeat_interval) {
        send_heartbeats(false);
        last_heartbeat = last_progress = now;
      } else if (now - last_progress >= kProgressFlushInterval) {
        send_heartbeats(true);
        last_progress = now;
      }
      if (now - last_cancel_check >= kCancelCheckInterval) {
        changed_since_cancel_check = check_timeouts_and_cancels(changed_since_cancel_check);
        last_cancel_check = now;
      }
    } catch (const Error&) {
      // Store trouble is transient here; leases have slack for it.
    }
    lock.lock();
  }
}

void WorkerPool::Impl::maintenance_loop() {
  std::unique_lock lock(background_mutex_);
  while (!background_stop_) {
    lock.unlock();
    try {
      maintenance_->run_pass();
    } catch (const Error&) {
    }
    lock.lock();
    background_cv_.wait_for(lock, kMaintenanceInterval, [&] { return background_stop_; });
  }
}

void WorkerPool::Impl::store_failed(const Error& error) {
  {
    // By kind: the texts of one failure differ by the call that met it, and the calls
    // take turns. Reads may work meanwhile (a full disk), so only a write ends it.
    std::lock_guard lock(store_error_mutex_);
    const auto now = SteadyClock::now();
    const bool same_outage =
        reported_store_error_ == error.code() && now - last_store_error_at_ < kStoreErrorQuietPeriod;
    last_store_error_at_ = now;
    if (same_outage) return;
    reported_store_error_ = error.code();
  }
  if (options_.on_store_error) options_.on_store_error(error);
}

bool WorkerPool::Impl::store_failing() {
  std::lock_guard lock(store_error_mutex_);
  return reported_store_error_.has_value();
}

void WorkerPool::Impl::store_worked() {
  std::lock_guard lock(store_error_mutex_);
  reported_store_error_.reset();
}

bool WorkerPool::Impl::retry_job_write(ActiveJob& active, const std::function<void()>& write) {
  // A stopped run whose store is failing must not wait out another busy timeout: its
  // process group is killed only after this returns.
  if (active.stop.stop_requested() && store_failing()) return false;
  auto pause = std::chrono::milliseconds(100);
  while (true) {
    try {
      write();
      store_worked();
      return true;
    } catch (const Error& e) {
      if (!is_transient(e)) throw;
      store_failed(e);
    }
    // Wakes early for a stop (cancel, shutdown, lost lease): the run ends without it.
    const auto until = SteadyClock::now() + pause;
    while (SteadyClock::now() < until) {
      if (active.stop.stop_requested()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(1));
  }
}

void WorkerPool::Impl::save_checkpoint(ActiveJob& active, const Json& checkpoint) {
  JobHeartbeat beat;
  beat.id = active.job.id;
  beat.attempt = active.job.attempt;
  beat.lease = options_.lease;
  beat.checkpoint = checkpoint;
  std::vector<FinishStatus> statuses;
  if (!retry_job_write(active, [&] { statuses = store_->heartbeat_jobs({beat}, clock_->now()); })) return;
  if (!statuses.empty() && statuses[0] == FinishStatus::kStale) {
    active.request_stop(StopReason::kLeaseLost);
    return;
  }
  active.job.checkpoint = checkpoint;
}

void WorkerPool::Impl::append_log(ActiveJob& active, const std::string& text) {
  if (text.empty()) return;
  FinishStatus status = FinishStatus::kOk;
  if (!retry_job_write(active, [&] { status = store_->append_log(active.job.id, active.job.attempt, text, clock_->now()); })) {
    return;
  }
  if (status == FinishStatus::kStale) active.request_stop(StopReason::kLeaseLost);
}

WorkerPool::WorkerPool(std::shared_ptr<Client> client, WorkerPoolOptions options)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(options))) {}
WorkerPool::~WorkerPool() = default;
void WorkerPool::handle(const std::string& type, Handler handler) { impl_->handle(type, std::move(handler)); }
void WorkerPool::start() { impl_->start(); }
void WorkerPool::stop() { impl_->stop(); }
void WorkerPool::request_stop() noexcept { impl_->request_stop(); }
void WorkerPool::wait() { impl_->wait(); }
int64_t WorkerPool::jobs_finished() const { return impl_->jobs_finished(); }
int64_t WorkerPool::runs_unrecorded() const { return impl_->runs_unrecorded(); }
void WorkerPool::notify() { impl_->notify(); }

}  // namespace quern
