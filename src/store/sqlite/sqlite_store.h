// The SQLite backend of the Store port: one database file in WAL mode, shared by any
// number of processes.
//
// Writes go through one writer connection per SqliteStore and are group-committed
// (write_batcher.h); reads use a pool of other connections, which WAL never blocks.
// Choices the Store contract leaves open:
// - started_at is the start of the latest run (set at every claim).
// - A completed job's progress is set to 1.
// - A retried job runs now (run_at = now); an expires_at already past is dropped.
// - Deleting a job removes its history, log and dependency rows; jobs that were
//   blocked on it are left as they are (cancel them if they should not run).
// - SQLite's foreign keys are off: the store keeps its tables consistent itself, and
//   the checks would cost every write.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "store/sqlite/connection.h"
#include "store/sqlite/reader_pool.h"
#include "store/sqlite/write_batcher.h"
#include "store/store.h"

namespace quern::sqlite {

// A random id for one SqliteStore instance (leadership.cpp).
std::string new_leadership_instance_id();

class SqliteStore final : public Store {
 public:
  // Opens (creating and migrating if new) the database at `path`. See open_store().
  SqliteStore(const std::string& path, const StoreOptions& options);
  ~SqliteStore() override;

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

  // A lease row in store_meta (leadership.cpp): who holds it and until when.
  bool hold_leadership(const std::string& candidate, Duration ttl, Time now) override;
  void release_leadership() noexcept override;

 private:
  // Runs `work` in the next group-committed batch and returns what it returns.
  template <typename Work>
  auto write(Work&& work);

  std::vector<MovedJob> rescue_jobs(WriteTransaction& txn, const std::vector<JobId>& ids, std::string_view why,
                                    Time now);

  const std::string path_;
  const StoreOptions options_;
  std::string database_id_;  // read once at open
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<WriteBatcher> batcher_;
  std::unique_ptr<ReaderPool> readers_;

  std::mutex change_mutex_;
  std::unique_ptr<Connection> change_reader_;  // guarded by change_mutex_; PRAGMA data_version

  // Names this instance in the leader lease (a process may open several stores).
  const std::string leadership_instance_;
  // Set once this instance took the lease, so closing a store that never led writes nothing.
  std::atomic<bool> may_lead_{false};
};

}  // namespace quern::sqlite
