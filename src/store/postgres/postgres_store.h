// The PostgreSQL backend of the Store port: any number of processes on any number of
// hosts share one database (Quern's tables live in their own schema, "quern" unless
// the URL's ?schema= names another).
//
// Each store call is one transaction on a connection from a small pool; a transaction
// that loses a deadlock or a unique-key race to a concurrent one is rerun from the
// start (the rerun sees what the other committed). Choices the Store contract leaves
// open are the SQLite store's (sqlite_store.h), so both pass one conformance suite.
// Where the backends differ:
// - change_counter(): NOTIFY/LISTEN (change_listener.h) instead of data_version, so
//   another host's commit shows within milliseconds, this process's at once.
// - Writes are not group-committed across callers; each call commits on its own
//   connection (PostgreSQL's own WAL group commit shares the fsyncs).
// - Log text is stored as bytes (bytea); other text that PostgreSQL cannot hold (NUL
//   bytes, invalid UTF-8) has those bytes replaced by U+FFFD.
// - Connection failures and timeouts are kUnavailable; a broken connection is dropped
//   and the next call opens a new one.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "store/postgres/change_listener.h"
#include "store/postgres/connection_pool.h"
#include "store/postgres/pg_url.h"
#include "store/postgres/transaction.h"
#include "store/store.h"

namespace quern::postgres {

class PostgresStore final : public Store {
 public:
  // Connects to the database `url` names and migrates its schema (unless
  // options.migrate is false: then a schema that is behind is kUnavailable). See
  // open_store().
  PostgresStore(const std::string& url, const StoreOptions& options);
  ~PostgresStore() override;

  std::vector<EnqueueResult> enqueue_jobs(const std::vector<NewJob>& jobs, Time now) override;
  std::vector<Job> claim_jobs(const ClaimParams& params) override;
  std::vector<FinishStatus> heartbeat_jobs(const std::vector<JobHeartbeat>& beats, Time now) override;
  std::vector<FinishStatus> finish_jobs(const std::vector<JobFinish>& items, Time now) override;
  FinishStatus append_log(JobId id, int attempt, const std::string& text, Time now) override;

  std::vector<MovedJob> rescue_expired_leases(Time now) override;
  std::vector<MovedJob> rescue_jobs_of_owners(const std::vector<std::string>& owners, Time now) override;
  std::vector<std::string> lease_owners() override;
  int promote_scheduled_jobs(Time now) override;
  std::optional<Time> next_scheduled_at(const std::vector<std::string>& queues) override;
  int expire_jobs(Time now) override;
  std::vector<FileWait> jobs_waiting_on_files() override;
  void mark_files_present(JobId id, Time now) override;
  int64_t delete_finished_jobs(const std::vector<JobState>& states, const std::optional<std::string>& queue,
                               std::optional<Time> finished_before, Time now) override;

  std::optional<Job> get_job(JobId id) override;
  std::vector<Job> list_jobs(const JobFilter& filter) override;
  std::vector<ThroughputBucket> throughput(Time since) override;
  std::vector<HistoryEntry> job_history(JobId id) override;
  std::vector<LogChunk> read_log(JobId id, int64_t after_seq) override;
  Job retry_job(JobId id, Time now) override;
  int64_t retry_failed_jobs(std::optional<std::string> queue, Time now) override;
  Job cancel_job(JobId id, Time now) override;
  void delete_job(JobId id, Time now) override;
  Job set_priority(JobId id, int priority, Time now) override;

  void set_queue_paused(const std::string& queue, bool paused, Time now) override;
  void set_queue_concurrency_limit(const std::string& queue, std::optional<int> limit, Time now) override;
  void set_queue_hold(const std::string& queue, std::optional<std::string> held_while, Time now) override;
  void set_queue_retention(const std::string& queue, const RetentionChanges& changes, Time now) override;
  PruneProgress prune_finished_jobs(Time now, int max_jobs) override;
  std::vector<QueueInfo> list_queues() override;
  Stats stats() override;

  std::optional<Json> get_setting(const std::string& key) override;
  void put_setting(const std::string& key, const Json& value, Time now) override;
  std::vector<std::pair<std::string, Json>> list_settings() override;

  CronEntry put_cron_entry(const CronEntry& entry, Time now) override;
  std::vector<CronEntry> list_cron_entries() override;
  void delete_cron_entries(const std::vector<std::string>& names) override;
  std::vector<EnqueueResult> fire_due_cron_entries(Time now) override;
  std::vector<IngestedFile> ingest_files(const std::string& watch, const std::vector<FileToIngest>& files,
                                         Time now) override;
  std::vector<HistoryEntry> history_since(int64_t after_seq, int limit) override;
  uint64_t change_counter() override;
  void check_writable() override;
  std::string database_id() override { return database_id_; }

  // Runs on the caller's connection, its Quern tables qualified with this store's
  // schema, under a savepoint (an error rolls back to it and leaves the caller's
  // transaction usable). A unique-key race is rerun like enqueue_jobs's.
  std::vector<EnqueueResult> enqueue_jobs_in_transaction(PGconn* conn, const std::vector<NewJob>& jobs,
                                                         Time now) override;

  // A session advisory lock on a connection of its own (pg_leadership.cpp).
  bool hold_leadership(const std::string& candidate, Duration ttl, Time now) override;
  void release_leadership() noexcept override;

 private:
  // Runs `work` in a transaction of its own and returns what it returns; reruns it
  // after a TransactionConflict (a few times, then the conflict's error is thrown).
  template <typename Work>
  auto write(Work&& work);
  // Runs `read` on a pooled connection outside any transaction.
  template <typename Read>
  auto read(Read&& read);

  std::vector<MovedJob> rescue_locked_jobs(Transaction& txn, const Result& locked, std::string_view why, Time now);

  const StoreOptions options_;
  ConnectionSettings settings_;
  TransactionSettings transaction_settings_;
  // For callers' transactions: their commit's notification is not this process's own
  // change (nothing counted it locally), so this process's listener counts it too.
  TransactionSettings caller_transaction_settings_;
  std::string database_id_;
  std::unique_ptr<ConnectionPool> pool_;
  // Started by the first change_counter() call: a command that never asks (quern add)
  // opens no listening connection.
  std::once_flag listener_started_;
  std::unique_ptr<ChangeListener> listener_;
  std::shared_ptr<std::atomic<uint64_t>> local_changes_;

  // The leader's session: never a pool connection, so the lock lives exactly as long
  // as this connection; closing it (or the server ending it) releases the lock.
  std::mutex leadership_mutex_;
  std::unique_ptr<Connection> leadership_connection_;  // guarded by leadership_mutex_
  bool leading_ = false;                               // guarded by leadership_mutex_
};

}  // namespace quern::postgres
