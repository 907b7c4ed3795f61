// The Store port: the one interface every backend implements (SQLite now, PostgreSQL
// later) and the one conformance suite in tests/conformance/ checks.
//
// Rules every backend keeps:
// - Each method is one atomic transition of the store: it happens whole or not at all.
//   Every job state change appends a HistoryEntry in the same transaction.
// - Time comes from the caller (`now`), never from the database's own clock.
// - Jobs are fenced by attempt: methods taking (id, attempt) change a job only while it
//   is running at that attempt; otherwise they report it stale and change nothing.
// - Errors are thrown as quern::Error with the backend's raw message kept.
// - Implementations are safe to call from many threads at once, and several processes
//   may share one database. Writes from concurrent callers are group-committed.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "quern/cron.h"
#include "quern/job.h"

typedef struct pg_conn PGconn;  // libpq's connection (libpq-fe.h), needed by name only

namespace quern {

// The lease of local and remote workers that name none; also what a heartbeat renews a
// run by when the Quern that claimed it recorded no length.
inline constexpr Duration kDefaultLease = std::chrono::seconds(30);

struct ClaimParams {
  std::vector<std::string> queues;  // empty: every queue that is not paused
  std::vector<std::string> types;   // empty: every type
  int max = 1;
  // At most this many from each queue with a concurrency limit: a pool's free slots, as
  // a job it prefetched would take its queue's room from other workers while it waits.
  int max_from_limited_queue = std::numeric_limits<int>::max();
  std::string owner;   // lease owner, see core/host_identity.h
  Duration lease = kDefaultLease;
  Time now;
};

// A heartbeat extends a running job's lease and may carry progress and stage.
struct JobHeartbeat {
  JobId id = 0;
  int attempt = 0;
  // The lease is renewed to now + `lease`; without one, by the length last granted.
  std::optional<Duration> lease;
  std::optional<double> progress;
  std::optional<std::string> stage;
  std::optional<Json> checkpoint;

  std::optional<int64_t> lease_us() const { return lease ? std::optional<int64_t>(lease->count()) : std::nullopt; }
};

enum class FinishOutcome {
  kCompleted,  // → completed, with `result`
  kRetry,      // a failed run: failures+1; → scheduled at run_at, or failed when attempts are spent
  kFail,       // a permanent failure: failures+1, → failed at once
  kSnooze,     // → scheduled at run_at; not a failure
  kRelease,    // graceful shutdown: → available now; not a failure
};

struct JobFinish {
  JobId id = 0;
  int attempt = 0;
  FinishOutcome outcome = FinishOutcome::kCompleted;
  Json result;        // kCompleted
  std::string error;  // kRetry, kFail
  Time run_at;        // kRetry, kSnooze
};

enum class FinishStatus { kOk, kStale };

// What one Store::prune_finished_jobs call did.
struct PruneProgress {
  int64_t deleted = 0;
  bool more_due = false;  // it stopped at its batch: more may be due now
};

// A job that a maintenance pass moved, with the state it moved to.
struct MovedJob {
  JobId id = 0;
  int attempt = 0;
  JobState to = JobState::kAvailable;
};

struct FileWait {
  JobId id = 0;
  std::vector<std::string> paths;
};

struct LogChunk {
  int64_t seq = 0;  // increasing per job
  int attempt = 0;
  Time at;
  std::string text;
};

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- producers ---------------------------------------------------------------
  // Inserts the jobs in one transaction. A job with a unique key held by a live
  // (non-final) job is not inserted; its result is that job with inserted=false.
  // Throws kNotFound if a dependency id does not exist, kInvalidArgument for a bad
  // job; then nothing of the batch is written.
  virtual std::vector<EnqueueResult> enqueue_jobs(const std::vector<NewJob>& jobs, Time now) = 0;

  // --- workers -------------------------------------------------------------------
  // Leases up to `max` claimable jobs: available, in a queue that is not paused,
  // not past expires_at; larger priority first, then earlier run_at, then smaller id.
  // Each comes back running with attempt+1, lease owner and expiry set.
  virtual std::vector<Job> claim_jobs(const ClaimParams& params) = 0;

  // Extends leases; one status per heartbeat (kStale: not running at that attempt).
  virtual std::vector<FinishStatus> heartbeat_jobs(const std::vector<JobHeartbeat>& beats, Time now) = 0;

  // Records the end of runs; one status per item.
  virtual std::vector<FinishStatus> finish_jobs(const std::vector<JobFinish>& items, Time now) = 0;

  // Appends a chunk of a running job's log; keeps at most `max_log_bytes` per job by
  // dropping the oldest chunks. Fenced like a heartbeat.
  virtual FinishStatus append_log(JobId id, int attempt, const std::string& text, Time now) = 0;

  // --- maintenance ---------------------------------------------------------------
  // Running jobs whose lease expired: failures+1; → available, or failed when
  // failures reach max_attempts.
  virtual std::vector<MovedJob> rescue_expired_leases(Time now) = 0;
  // Running jobs whose owner is one of `owners` (found dead): rescued as above.
  virtual std::vector<MovedJob> rescue_jobs_of_owners(const std::vector<std::string>& owners, Time now) = 0;
  // Distinct lease owners of running jobs.
  virtual std::vector<std::string> lease_owners() = 0;
  // scheduled → available where run_at <= now. claim_jobs does this too, first.
  virtual int promote_scheduled_jobs(Time now) = 0;
  // The earliest run_at of a scheduled job in `queues` (every queue if empty), so an
  // idle worker knows when to look again.
  virtual std::optional<Time> next_scheduled_at(const std::vector<std::string>& queues) = 0;
  // scheduled/available/blocked with expires_at <= now → expired (cascading to dependents).
  virtual int expire_jobs(Time now) = 0;
  // Blocked jobs that wait on files (their job dependencies may still be pending).
  virtual std::vector<FileWait> jobs_waiting_on_files() = 0;
  // Marks a blocked job's file dependencies as met; unblocks it if its jobs are done.
  virtual void mark_files_present(JobId id, Time now) = 0;
  // Deletes final jobs finished before `finished_before`, in the given states (of
  // `queue` only, if given).
  virtual int64_t delete_finished_jobs(const std::vector<JobState>& states, const std::optional<std::string>& queue,
                                       std::optional<Time> finished_before, Time now) = 0;

  // --- admin ---------------------------------------------------------------------
  virtual std::optional<Job> get_job(JobId id) = 0;
  virtual std::vector<Job> list_jobs(const JobFilter& filter) = 0;
  virtual std::vector<HistoryEntry> job_history(JobId id) = 0;
  // Log chunks of a job with seq > after_seq, oldest first.
  virtual std::vector<LogChunk> read_log(JobId id, int64_t after_seq) = 0;
  // failed/canceled/expired → available (or blocked if it still waits); failures reset.
  // kNotFound for an unknown id, kFailedPrecondition for any other state.
  virtual Job retry_job(JobId id, Time now) = 0;
  // Every failed job of `queue` (all queues if unset) → available. Returns how many.
  virtual int64_t retry_failed_jobs(std::optional<std::string> queue, Time now) = 0;
  // Any non-final → canceled (cascading to dependents). kFailedPrecondition if final.
  virtual Job cancel_job(JobId id, Time now) = 0;
  // Deletes a job that is not running (kFailedPrecondition if running).
  virtual void delete_job(JobId id, Time now) = 0;
  virtual Job set_priority(JobId id, int priority, Time now) = 0;

  virtual void set_queue_paused(const std::string& queue, bool paused, Time now) = 0;
  // Claims take at most `limit` minus the queue's running jobs from it (nullopt: no
  // limit). Persisted, like a pause; jobs already running are left alone.
  virtual void set_queue_concurrency_limit(const std::string& queue, std::optional<int> limit, Time now) = 0;
  // Claims take nothing from `queue` while `held_while` has jobs running, or available
  // and not paused (nullopt: never held). Persisted. kInvalidArgument for a hold that
  // would close a loop (a queue held, through others, while itself has work).
  virtual void set_queue_hold(const std::string& queue, std::optional<std::string> held_while, Time now) = 0;
  // Merges `changes` into the queue's retention (see QueueInfo::retention). Persisted.
  // kInvalidArgument for a state not final or a duration out of 0s..100 years.
  virtual void set_queue_retention(const std::string& queue, const RetentionChanges& changes, Time now) = 0;
  // Deletes, as delete_job does, jobs that ended longer ago than their queue keeps jobs
  // ending in that state (QueueInfo::retention): those with finished_at + keep <= now,
  // at most `max_jobs` of them in one go.
  virtual PruneProgress prune_finished_jobs(Time now, int max_jobs) = 0;
  virtual std::vector<QueueInfo> list_queues() = 0;
  virtual Stats stats() = 0;

  virtual std::optional<Json> get_setting(const std::string& key) = 0;
  virtual void put_setting(const std::string& key, const Json& value, Time now) = 0;
  virtual std::vector<std::pair<std::string, Json>> list_settings() = 0;

  // --- cron ----------------------------------------------------------------------
  // Adds `entry` (validated by the caller, next_run_at set) or replaces the entry of
  // that name. A replaced entry whose schedule is unchanged keeps its next firing, so
  // registering the same entries at every start-up never moves or repeats one. An
  // entry without a name is added under the next number: one more than the largest
  // name that is a number, 1 if none is. Returns the entry as stored.
  virtual CronEntry put_cron_entry(const CronEntry& entry, Time now) = 0;
  // Every entry, by name.
  virtual std::vector<CronEntry> list_cron_entries() = 0;
  // Deletes the entries named, all or none: kNotFound naming each that does not exist.
  virtual void delete_cron_entries(const std::vector<std::string>& names) = 0;
  // In one transaction, each entry whose next firing is at or before `now` fires as
  // plan_cron_firing(entry, now) says: its job is enqueued as enqueue_jobs would (a
  // live unique key enqueues nothing), and its next firing moves to the first one
  // after `now` (however many were missed, an entry fires once). Returns what the firings enqueued, in order of
  // their due times.
  virtual std::vector<EnqueueResult> fire_due_cron_entries(Time now) = 0;

  // --- directory ingest ----------------------------------------------------------
  // In one transaction, each file of `files` that `watch` has no record of yet gets a
  // record and its job enqueued (as enqueue_jobs would); a file recorded before, by any
  // process, is left alone, so it is enqueued once per watch however often it is seen.
  // Returns the files enqueued now, in the order of `files`.
  virtual std::vector<IngestedFile> ingest_files(const std::string& watch, const std::vector<FileToIngest>& files,
                                                 Time now) = 0;

  // History entries with seq > after_seq, oldest first, at most `limit` (the event feed).
  virtual std::vector<HistoryEntry> history_since(int64_t after_seq, int limit) = 0;

  // Completions and failures per minute from the minute holding `since` on, oldest
  // first; minutes with neither are left out. Kept as jobs finish (never recounted).
  virtual std::vector<ThroughputBucket> throughput(Time since) = 0;

  // A number that changes whenever any process commits a change (cheap to call often).
  virtual uint64_t change_counter() = 0;

  // Throws kUnavailable if this process may only read the store (a read-only file, a
  // read-only server or role) or cannot reach it, so a worker that could never record a
  // run says so at start-up instead of idling. Takes no lock (a store merely busy
  // passes) and writes nothing.
  virtual void check_writable() = 0;

  // A random id made when the database was created (stable for its life), so per-job
  // resources outside the store (temp dirs) of two databases on one host never collide.
  virtual std::string database_id() = 0;

  // --- leadership ----------------------------------------------------------------
  // Cluster-wide maintenance (lease rescue, promotion, expiry, pruning) runs on one
  // leader per database at a time. Makes this Store instance the leader if no other
  // instance holds leadership, or keeps it leader; returns whether it leads now.
  // A leader calls again well within `ttl`: one that does not (a frozen or cut-off
  // process) loses leadership once `ttl` has passed, and a dead process loses it with
  // its session (PostgreSQL) or its ttl (SQLite). A leader that lost leadership gets
  // false from its next call and competes again from the call after. `candidate`
  // names the process (its lease owner) where the backend records the leader (SQLite's
  // lease row; PostgreSQL's lock names no one). Throws kUnavailable if the
  // store cannot be reached: the caller does not lead then.
  virtual bool hold_leadership(const std::string& candidate, Duration ttl, Time now) = 0;
  // Gives leadership up at once, so another instance takes it on its next try (nothing
  // if this instance does not lead). Destroying the Store gives it up too. Never throws.
  virtual void release_leadership() noexcept = 0;

  // --- transactional enqueue ------------------------------------------------------
  // enqueue_jobs on `conn`, a libpq connection of the caller's that is inside an open
  // transaction (kInvalidArgument otherwise, and nothing is written): the jobs, their
  // history and counts, and the wake-up notification commit or roll back with the
  // caller's transaction, which is left open. Only PostgreSQL stores can; the others
  // throw kFailedPrecondition.
  virtual std::vector<EnqueueResult> enqueue_jobs_in_transaction(PGconn* conn, const std::vector<NewJob>& jobs,
                                                                 Time now);
};

struct StoreOptions {
  bool durable = true;  // SQLite synchronous=FULL; false: NORMAL (crash-safe, not power-safe)
  Duration busy_timeout{std::chrono::seconds(5)};
  size_t max_payload_bytes = kDefaultMaxPayloadBytes;
  size_t max_log_bytes = 1 << 20;  // per job
  // Bring the schema up to date at open. false (`--no-migrate`): a database whose
  // schema is behind this build's is refused with kUnavailable and left as it is.
  bool migrate = true;
};

// Opens the store a URL names: a path, `sqlite:PATH`, or `postgres://…` /
// `postgresql://…` (libpq's URL; `?schema=NAME` picks the schema, default "quern").
// Creates and migrates a new database. kDataLoss for a file or schema that is not
// Quern's (it is not modified), kUnavailable if it cannot be opened or reached.
std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options = {});

}  // namespace quern
