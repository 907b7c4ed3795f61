// What a write sees while it runs inside a group-committed batch: the writer
// connection, and the bookkeeping every job move needs (a history entry, the
// queue_counts delta, the queue's row, and for a job that ends in a queue that keeps
// such jobs for a while, when it is due to be deleted).
//
// queue_counts deltas, finishes per minute and new queue names are kept in memory per
// write and applied once per batch, so a batch of N moves costs one upsert per (queue,
// state), not N. New job rows and history rows are buffered during a write and
// inserted by multi-row statements when it ends (multi_row.h). A write that fails has
// its savepoint rolled back and its deltas and buffered rows dropped with it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "quern/job.h"
#include "store/queue_retention.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/multi_row.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {

class WriteTransaction {
 public:
  // `known_queues`: queue names that have a row in `queues` (committed). Only the
  // batch leader touches it.
  WriteTransaction(Connection& db, std::unordered_set<std::string>& known_queues)
      : db_(db), known_queues_(known_queues) {}

  Connection& db() { return db_; }

  // Records that a job moved (`from` unset: it was enqueued): its history entry and
  // the count delta of its queue.
  void record_move(JobId id, const std::string& queue, std::optional<JobState> from, JobState to, int attempt,
                   Time at, std::string_view detail);
  // How long `queue` keeps jobs that end in `state` (nullopt: until deleted by hand), as
  // the queues table says in this batch.
  std::optional<Duration> kept_for(const std::string& queue, JobState state);
  // A write changed a queue's retention: read it again.
  void forget_retention() { retention_.reset(); }
  // Adds `delta` jobs in `state` to `queue`'s count (negative for deleted jobs).
  void count(const std::string& queue, JobState state, int64_t delta);
  // Makes sure `queue` has its row in `queues`.
  void ensure_queue(const std::string& queue, Time now);
  // `queue` got its row by other means (set_queue_paused).
  void note_queue_row(const std::string& queue);
  // A new job's id: above every job and every id handed out before, so an id never
  // comes back after the newest jobs are deleted (ids of a write that is rolled back
  // are skipped, not reused).
  JobId allocate_job_id();
  // New job rows (kInsertJobsRow's columns), inserted when the write ends or at the
  // next flush_rows(). Text given as string_view must outlive the write.
  RowBuffer& new_job_rows() { return job_rows_; }
  // Inserts the buffered rows now: a write calls this before it reads `jobs` or
  // `job_history` rows it may have buffered.
  void flush_rows();

  // --- used by WriteBatcher ---
  void begin_write();
  // Flushes the write's buffered rows (may throw: the write then fails).
  void finish_write() { flush_rows(); }
  void end_write(bool succeeded);
  // Writes what the batch accumulated: count deltas, finishes per minute and id
  // high-water marks (before COMMIT).
  void finish_batch();
  // The batch committed: its new queue rows are now known.
  void committed();

 private:
  struct CountDelta {
    std::string queue;
    JobState state;
    int64_t delta;
  };

  struct Finish {
    int64_t minute;  // microseconds since the epoch
    JobState state;
  };

  void load_id_high_water();
  void write_finishes_per_minute();

  Connection& db_;
  // Last job id / history seq handed out in this batch (0: not read yet).
  int64_t last_job_id_ = 0;
  int64_t last_history_seq_ = 0;
  bool ids_loaded_ = false;
  std::unordered_set<std::string>& known_queues_;
  // Of the write running now.
  std::vector<CountDelta> write_counts_;
  std::vector<std::string> write_queues_;
  std::vector<Finish> write_finishes_;
  RowBuffer job_rows_{kInsertJobsHead, kInsertJobsRow, kInsertJobsColumns};
  RowBuffer history_rows_{kInsertHistoryHead, kInsertHistoryRow, kInsertHistoryColumns};
  // Of the writes of this batch that succeeded.
  std::map<std::pair<std::string, JobState>, int64_t> batch_counts_;
  std::unordered_set<std::string> batch_queues_;
  std::map<std::pair<int64_t, JobState>, int64_t> batch_finishes_;
  // The queues that keep some finished jobs for a while, read at the first need.
  std::optional<std::map<std::string, RetentionColumns, std::less<>>> retention_;
};

}  // namespace quern::sqlite
