// quern::Client — the one way in for producers and administrators: the CLI, the HTTP
// API and library users all enqueue, inspect and manage jobs through it.
//
// A Client is safe for concurrent use from many threads. Every method throws
// quern::Error on failure and then has changed nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "quern/cron.h"
#include "quern/error.h"
#include "quern/job.h"

typedef struct pg_conn PGconn;  // libpq's connection; libpq-fe.h is needed only to make one

namespace quern {

class Store;

struct ClientOptions {
  std::shared_ptr<Clock> clock;  // unset: the system clock
  bool durable = true;           // false: survive crashes but not power loss (faster)
  Duration busy_timeout{std::chrono::seconds(5)};
  size_t max_payload_bytes = kDefaultMaxPayloadBytes;
};

// What a remote worker (one that runs jobs in another process, over the HTTP API)
// asks for when it leases jobs.
struct RemoteLeaseRequest {
  std::string worker;               // names the worker in the lease owner; non-empty
  std::vector<std::string> queues;  // empty: every queue that is not paused
  std::vector<std::string> types;   // empty: every type
  int max = 1;
  Duration lease{std::chrono::seconds(30)};
};

// A remote worker's heartbeat: renews the lease, may report progress and stage, and
// may save a checkpoint.
struct RemoteHeartbeat {
  int attempt = 0;
  std::optional<Duration> lease;  // none: as long as the lease last granted
  std::optional<double> progress;  // in [0, 1]
  std::optional<std::string> stage;
  std::optional<Json> checkpoint;
};

// How a remote worker's run of a job failed.
struct RemoteFailure {
  int attempt = 0;
  std::string error;
  bool retry = true;               // false: failed at once, no retry
  std::optional<Duration> snooze;  // set: run again after it, not counted as a failure
};

class Client {
 public:
  // Opens (creating and migrating if new) the database a URL names: a SQLite path,
  // `sqlite:PATH`, or `postgres://…`.
  static std::shared_ptr<Client> open(const std::string& url, ClientOptions options = {});
  // A client over an already open store (tests, the worker pool, the server).
  Client(std::shared_ptr<Store> store, std::shared_ptr<Clock> clock, size_t max_payload_bytes = kDefaultMaxPayloadBytes);
  ~Client();

  // Validates and enqueues one job. Durable when it returns.
  EnqueueResult enqueue(const NewJob& job);
  // Enqueues a batch atomically: all or none.
  std::vector<EnqueueResult> enqueue_many(const std::vector<NewJob>& jobs);

  // Transactional enqueue (PostgreSQL): the same enqueue (validation, unique keys,
  // dependencies, history, counts, the wake-up of workers) run on `conn`, a libpq
  // connection of yours to this client's database, inside the transaction you have
  // open on it, so the jobs exist if and only if your transaction commits; workers
  // anywhere are woken when it does. Quern neither begins nor ends your transaction, and
  // its statements name Quern's schema themselves (your search_path does not matter).
  // Throws kInvalidArgument, having written nothing, unless `conn` is inside an open
  // transaction (PQtransactionStatus == PQTRANS_INTRANS); kFailedPrecondition on a
  // SQLite client. An error leaves your transaction as it was before the call, and
  // usable. The results' ids are final, but other clients see the jobs only after
  // your commit. Commit soon: until your transaction ends, other Quern writers on this
  // database wait at their commits (history entries, the event ids, are numbered in
  // commit order).
  EnqueueResult enqueue(PGconn* conn, const NewJob& job);
  std::vector<EnqueueResult> enqueue_many(PGconn* conn, const std::vector<NewJob>& jobs);

  // kNotFound if there is no such job.
  Job get(JobId id);
  std::vector<Job> list(const JobFilter& filter);
  std::vector<HistoryEntry> history(JobId id);

  // failed/canceled/expired → available; kFailedPrecondition for other states.
  Job retry(JobId id);
  // Retries every failed job (of one queue if given); returns how many.
  int64_t retry_failed(std::optional<std::string> queue = std::nullopt);
  // Any non-final → canceled. A running job's worker stops its handler; a shell job's
  // process group gets SIGTERM, SIGKILL 2 s later. For a run of this host (not of this
  // process), returns once its processes are gone and its temp dir removed: at most
  // about 5 s, after which cancel kills the processes itself.
  Job cancel(JobId id);
  // cancel() of each id in turn; their runs are waited for together. Throws at the first
  // that fails, the ones before it canceled.
  std::vector<Job> cancel(const std::vector<JobId>& ids);
  // Deletes a job that is not running. If it had not completed, its dependents still
  // blocked are canceled in the same transaction: it never will complete now.
  void remove(JobId id);
  // Deletes final jobs in `states`; returns how many.
  int64_t clear(const std::vector<JobState>& states, std::optional<std::string> queue = std::nullopt);
  Job set_priority(JobId id, int priority);

  void pause(const std::string& queue);
  void resume(const std::string& queue);
  // At most `limit` of the queue's jobs run at once, across every worker of the
  // database (nullopt: no limit). Persisted; jobs already running are left alone.
  void set_concurrency_limit(const std::string& queue, std::optional<int> limit);
  // None of `queue`'s jobs start while `held_while` has jobs running, or available and
  // not paused (nullopt: not held). Persisted; running jobs are left alone.
  void set_hold(const std::string& queue, std::optional<std::string> held_while);
  // How long `queue`'s jobs are kept once they end in each named final state (nullopt:
  // until deleted by hand); other states keep theirs. Persisted. The maintenance leader
  // (a worker pool or `quern serve`) deletes them, with their history and logs, about a
  // second after that time has passed. Throws kInvalidArgument for a state not final.
  void set_retention(const std::string& queue, const RetentionChanges& changes);
  std::vector<QueueInfo> queues();
  // Counts per queue (every known queue, by name, with its pause, limit, hold and retention).
  Stats stats();
  // Completions and failures per minute over the last `window`, oldest first, one
  // bucket per minute (empty minutes included); the last is the current minute.
  std::vector<ThroughputBucket> throughput(Duration window);

  std::optional<Json> setting(const std::string& key);
  // Throws kInvalidArgument for a key that is not a valid name (non-empty, at most 200
  // bytes, printable UTF-8, not "." or "..") or a value holding text that is not valid
  // UTF-8.
  void set_setting(const std::string& key, const Json& value);
  std::vector<std::pair<std::string, Json>> settings();

  // Adds a cron entry, or replaces the one of the same name; returns it as stored. Its
  // next firing is the first minute its schedule names after now, but a replaced entry
  // whose schedule is unchanged keeps its own. Throws kInvalidArgument for a bad name,
  // schedule or job (see CronEntry), kTooLarge for a payload over the limit.
  CronEntry put_cron(const CronEntry& entry);
  // Every cron entry, by name.
  std::vector<CronEntry> cron_entries();
  // Deletes the entries named, all or none: kNotFound naming each unknown one.
  void remove_cron(const std::vector<std::string>& names);

  // Directory ingest: enqueues each file's job unless `watch` has enqueued one for its
  // path before (in any process, at any time: the records are in the database, and
  // deleting jobs does not forget them); returns the files enqueued now. Atomic: on
  // an error nothing is enqueued or recorded. Throws kInvalidArgument for an empty
  // watch name, a path that is not absolute UTF-8 without NUL, or a bad job.
  std::vector<IngestedFile> ingest_files(const std::string& watch, const std::vector<FileToIngest>& files);

  // Blocks until the job is final or `timeout` passes; returns the job as last seen.
  Job wait_final(JobId id, std::optional<Duration> timeout);

  // --- remote workers (the HTTP API's leases); the attempt is the fencing token ---
  // Leases up to `max` claimable jobs now, without waiting; each comes back running
  // with the attempt it was leased at. The lease owner, "remote:<worker>@<this
  // process's owner>", is never taken for a process of this host, so only lease expiry
  // rescues these jobs.
  std::vector<Job> lease_remote(const RemoteLeaseRequest& request);
  // Renews the lease of a job running at `beat.attempt`. kAborted if it is not running
  // at that attempt any more (rescued, canceled, finished), kNotFound if unknown.
  Job heartbeat_remote(JobId id, const RemoteHeartbeat& beat);
  // Completes a job running at `attempt`; fenced like heartbeat_remote.
  Job complete_remote(JobId id, int attempt, const Json& result);
  // Records a failed run: retried with backoff while attempts remain, failed at once
  // with retry=false, or snoozed (not a failure). Fenced like heartbeat_remote.
  Job fail_remote(JobId id, const RemoteFailure& failure);

  size_t max_payload_bytes() const { return max_payload_bytes_; }

  Clock& clock() const { return *clock_; }
  std::shared_ptr<Clock> clock_ptr() const { return clock_; }
  // The store underneath, for Quern's own engine and server (not a user API).
  const std::shared_ptr<Store>& store() const { return store_; }

 private:
  std::shared_ptr<Store> store_;
  std::shared_ptr<Clock> clock_;
  size_t max_payload_bytes_;
};

}  // namespace quern
