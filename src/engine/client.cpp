#include "quern/client.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <unordered_set>

#include "core/cron_entry.h"
#include "core/cron_schedule.h"
#include "core/host_identity.h"
#include "core/job_validation.h"
#include "core/stats_report.h"
#include "engine/maintenance.h"
#include "exec/orphaned_runs.h"
#include "engine/local_wakeup.h"
#include "quern/error.h"
#include "store/store.h"

namespace quern {
namespace {

// Waits for the canceled `runs` (jobs as they were, running) to end. A run's own worker
// stops its process group when it sees the cancel (SIGTERM, SIGKILL 2 s later), then
// removes the run's temp dir; on this host, cancel returns only once that is done, so a
// script's next command finds the processes and the dir gone. A dead or stopped worker
// cannot do it, and one that takes too long is not waited for: then the run's processes
// are found and killed here. The temp dir is removed here only for a dead worker (a
// live one may still be using it from a handler of its own; a stopped one removes it
// when continued).
void end_canceled_runs(Store& store, const std::vector<Job>& runs) {
  constexpr auto kWorkerCleanupWait = std::chrono::seconds(5);
  const auto give_up_at = std::chrono::steady_clock::now() + kWorkerCleanupWait;
  const std::string me = this_process_owner();
  for (const Job& run : runs) {
    OwnerStatus owner = owner_status(run.lease_owner);
    if (owner == OwnerStatus::kUnknown) continue;  // another host, or a remote worker: its lease fences it
    // A pool of this process (maybe the caller's own handler) ends the run after we return.
    if (run.lease_owner == me) continue;
    const std::filesystem::path dir = job_temp_dir(default_temp_root(store), run.id, run.attempt);
    std::error_code ec;
    while (owner == OwnerStatus::kAlive && std::filesystem::exists(dir, ec) &&
           std::chrono::steady_clock::now() < give_up_at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      owner = owner_status(run.lease_owner);
    }
    if (!std::filesystem::exists(dir, ec)) continue;
    kill_processes_of_run(dir);
    if (owner == OwnerStatus::kDead) std::filesystem::remove_all(dir, ec);
  }
}

template <typename T>
bool has_repeats(const std::vector<T>& values) {
  if (values.size() < 2) return false;
  std::unordered_set<T> seen;
  for (const T& value : values) {
    if (!seen.insert(value).second) return true;
  }
  return false;
}

template <typename T>
void keep_first_of_each(std::vector<T>& values) {
  std::unordered_set<T> seen;
  std::erase_if(values, [&](const T& value) { return !seen.insert(value).second; });
}

bool has_repeated_item(const NewJob& job) {
  return has_repeats(job.tags) || has_repeats(job.depends_on) || has_repeats(job.needs_files);
}

// A tag, dependency or file given twice counts once (`--tag a --tag a`, an HTTP
// "depends_on":[4,4]). Copies only when there is one.
const std::vector<NewJob>& with_each_item_once(const std::vector<NewJob>& jobs, std::vector<NewJob>& copy) {
  if (std::none_of(jobs.begin(), jobs.end(), has_repeated_item)) return jobs;
  copy = jobs;
  for (NewJob& job : copy) {
    keep_first_of_each(job.tags);
    keep_first_of_each(job.depends_on);
    keep_first_of_each(job.needs_files);
  }
  return copy;
}

}  // namespace

std::shared_ptr<Client> Client::open(const std::string& url, ClientOptions options) {
  StoreOptions store_options;
  store_options.durable = options.durable;
  store_options.busy_timeout = options.busy_timeout;
  store_options.max_payload_bytes = options.max_payload_bytes;
  auto clock = options.clock ? options.clock : system_clock();
  return std::make_shared<Client>(open_store(url, store_options), std::move(clock), options.max_payload_bytes);
}

Client::Client(std::shared_ptr<Store> store, std::shared_ptr<Clock> clock, size_t max_payload_bytes)
    : store_(std::move(store)), clock_(clock ? std::move(clock) : system_clock()), max_payload_bytes_(max_payload_bytes) {}

Client::~Client() = default;

EnqueueResult Client::enqueue(const NewJob& job) { return enqueue_many({job}).front(); }

std::vector<EnqueueResult> Client::enqueue_many(const std::vector<NewJob>& given) {
  if (given.empty()) return {};
  std::vector<NewJob> copy;
  const std::vector<NewJob>& jobs = with_each_item_once(given, copy);
  for (const auto& job : jobs) validate_new_job(job, max_payload_bytes_);
  auto results = store_->enqueue_jobs(jobs, clock_->now());
  wake_local_pools(store_.get());
  return results;
}

EnqueueResult Client::enqueue(PGconn* conn, const NewJob& job) { return enqueue_many(conn, {job}).front(); }

std::vector<EnqueueResult> Client::enqueue_many(PGconn* conn, const std::vector<NewJob>& given) {
  std::vector<NewJob> copy;
  const std::vector<NewJob>& jobs = with_each_item_once(given, copy);
  for (const auto& job : jobs) validate_new_job(job, max_payload_bytes_);
  // No local wake-up: the jobs are invisible until the caller commits, and the
  // commit's notification wakes every pool, this process's too.
  return store_->enqueue_jobs_in_transaction(conn, jobs, clock_->now());
}

Job Client::get(JobId id) {
  auto job = store_->get_job(id);
  if (!job) throw Error::not_found("job " + std::to_string(id) + " not found");
  return *job;
}

std::vector<Job> Client::list(const JobFilter& filter) {
  if (filter.limit < 1) throw Error::invalid_argument("limit must be at least 1");
  return store_->list_jobs(filter);
}

std::vector<HistoryEntry> Client::history(JobId id) {
  get(id);
  return store_->job_history(id);
}

Job Client::retry(JobId id) {
  Job job = store_->retry_job(id, clock_->now());
  wake_local_pools(store_.get());
  return job;
}

int64_t Client::retry_failed(std::optional<std::string> queue) {
  const int64_t n = store_->retry_failed_jobs(std::move(queue), clock_->now());
  wake_local_pools(store_.get());
  return n;
}

Job Client::cancel(JobId id) { return cancel(std::vector<JobId>{id}).at(0); }

std::vector<Job> Client::cancel(const std::vector<JobId>& ids) {
  std::vector<Job> canceled;
  std::vector<Job> runs;
  try {
    for (JobId id : ids) {
      std::optional<Job> before = store_->get_job(id);
      canceled.push_back(store_->cancel_job(id, clock_->now()));
      if (before && before->state == JobState::kRunning) runs.push_back(std::move(*before));
    }
  } catch (const Error&) {
    end_canceled_runs(*store_, runs);
    throw;
  }
  end_canceled_runs(*store_, runs);
  return canceled;
}

void Client::remove(JobId id) { store_->delete_job(id, clock_->now()); }

int64_t Client::clear(const std::vector<JobState>& states, std::optional<std::string> queue) {
  for (JobState s : states) {
    if (!is_final(s)) {
      throw Error::invalid_argument("only final jobs can be cleared, not " + std::string(state_name(s)) + " ones");
    }
  }
  return store_->delete_finished_jobs(states, queue, std::nullopt, clock_->now());
}

Job Client::set_priority(JobId id, int priority) { return store_->set_priority(id, priority, clock_->now()); }

void Client::set_concurrency_limit(const std::string& queue, std::optional<int> limit) {
  check_name("queue", queue);
  store_->set_queue_concurrency_limit(queue, limit, clock_->now());
  wake_local_pools(store_.get());  // a raised limit leaves room to claim now
}

void Client::set_hold(const std::string& queue, std::optional<std::string> held_while) {
  check_name("queue", queue);
  if (held_while) check_name("queue", *held_while);
  store_->set_queue_hold(queue, std::move(held_while), clock_->now());
  wake_local_pools(store_.get());  // a released hold leaves work to claim now
}

void Client::set_retention(const std::string& queue, const RetentionChanges& changes) {
  check_name("queue", queue);
  store_->set_queue_retention(queue, changes, clock_->now());
}

void Client::pause(const std::string& queue) {
  check_name("queue", queue);
  store_->set_queue_paused(queue, true, clock_->now());
}

// No name check: a queue paused before names were checked can still be resumed.
void Client::resume(const std::string& queue) {
  store_->set_queue_paused(queue, false, clock_->now());
  wake_local_pools(store_.get());
}

std::vector<QueueInfo> Client::queues() { return store_->list_queues(); }

Stats Client::stats() { return with_every_queue(store_->stats(), store_->list_queues()); }

std::vector<ThroughputBucket> Client::throughput(Duration window) {
  constexpr auto kMinute = std::chrono::minutes(1);
  constexpr auto kLongestWindow = std::chrono::days(7);  // as long as the store keeps them
  window = std::clamp<Duration>(window, kMinute, kLongestWindow);
  const Time now = clock_->now();
  const Time current = std::chrono::floor<std::chrono::minutes>(now);
  const Time first = current - std::chrono::ceil<std::chrono::minutes>(window) + kMinute;
  const std::vector<ThroughputBucket> stored = store_->throughput(first);
  std::vector<ThroughputBucket> buckets;
  auto next = stored.begin();
  for (Time minute = first; minute <= current; minute += kMinute) {
    while (next != stored.end() && next->minute < minute) ++next;
    if (next != stored.end() && next->minute == minute) {
      buckets.push_back(*next);
    } else {
      buckets.push_back({minute, 0, 0});
    }
  }
  return buckets;
}

std::optional<Json> Client::setting(const std::string& key) { return store_->get_setting(key); }

void Client::set_setting(const std::string& key, const Json& value) {
  // Keys are shown like queue names, and every backend must keep them apart.
  check_name("setting key", key);
  try {
    (void)value.dump();
  } catch (const Json::exception&) {
    throw Error::invalid_argument("setting value contains text that is not valid UTF-8");
  }
  store_->put_setting(key, value, clock_->now());
}

std::vector<std::pair<std::string, Json>> Client::settings() { return store_->list_settings(); }

CronEntry Client::put_cron(const CronEntry& entry) {
  validate_cron_entry(entry, max_payload_bytes_);
  const Time now = clock_->now();
  const CronSchedule schedule = CronSchedule::parse(entry.schedule);
  CronEntry stored = entry;
  stored.schedule = schedule.text();  // so respacing a schedule does not change it
  stored.next_run_at = schedule.next_after(now);
  return store_->put_cron_entry(stored, now);
}

std::vector<CronEntry> Client::cron_entries() { return store_->list_cron_entries(); }

void Client::remove_cron(const std::vector<std::string>& names) { store_->delete_cron_entries(names); }

std::vector<IngestedFile> Client::ingest_files(const std::string& watch, const std::vector<FileToIngest>& files) {
  check_watch_name(watch);
  for (const auto& file : files) {
    check_absolute_path("file", file.path);
    validate_new_job(file.job, max_payload_bytes_);
  }
  auto ingested = store_->ingest_files(watch, files, clock_->now());
  if (!ingested.empty()) wake_local_pools(store_.get());
  return ingested;
}

Job Client::wait_final(JobId id, std::optional<Duration> timeout) {
  // Waits on the store's change counter (cheap, sees other processes' commits) rather
  // than re-reading the job in a tight loop; real time, since it is a user-facing wait.
  const auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout
                                : std::chrono::steady_clock::time_point::max();
  uint64_t seen = store_->change_counter();
  Job job = get(id);
  while (!is_final(job.state)) {
    if (std::chrono::steady_clock::now() >= deadline) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const uint64_t now_seen = store_->change_counter();
    if (now_seen == seen) continue;
    seen = now_seen;
    job = get(id);
  }
  return job;
}

}  // namespace quern
