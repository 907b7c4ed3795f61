// Every SQL statement the SQLite store runs, by name. Nothing else in Quern speaks SQL.
//
// Conventions: times are int64 microseconds since the epoch and "now" is always a
// bound parameter (the store never asks SQLite for the time); states are stored by
// their names ("available", …); JSON is stored as compact text.
//
// Hot queries name their partial index (INDEXED BY): the plan must not depend on
// table statistics, or a claim could turn into a scan once the table is large. Their
// WHERE clauses repeat that index's WHERE terms word for word: SQLite only uses a
// partial index when the query's terms visibly imply the index's. No statement uses
// RETURNING, which SQLite buffers through a temporary table on every run. Sets of states are
// written as OR chains, not IN lists: SQLite evaluates an IN list of more than two
// constants through a temporary table, on every insert that checks the index's WHERE.
#pragma once

namespace quern::sqlite {

// The columns a Job is read from, in the order job_row.cpp reads them.
#define QUERN_JOB_COLUMNS                                                                                  \
  " id, queue, type, state, priority, payload, stage, progress, attempt, failures, max_attempts, run_at," \
  " created_at, started_at, finished_at, updated_at, lease_owner, lease_expires_at, timeout_us,"         \
  " expires_at, unique_key, checkpoint, result, error, tags, depends_on, needs_files,"                   \
  " on_dependency_failure "

// --- schema ------------------------------------------------------------------------

// Reads what identifies the file in one snapshot: is it empty, and is it ours?
inline constexpr const char* kSelectDatabaseIdentity = R"sql(
  SELECT (SELECT count(*) FROM sqlite_master),
         (SELECT user_version FROM pragma_user_version),
         (SELECT application_id FROM pragma_application_id)
)sql";

inline constexpr const char* kSelectDatabaseId = "SELECT value FROM store_meta WHERE key = 'database_id'";

// The next free job id and history seq: above every row and every id handed out.
inline constexpr const char* kSelectIdHighWater = R"sql(
  SELECT max((SELECT CAST(value AS INTEGER) FROM store_meta WHERE key = 'max_job_id'),
             coalesce((SELECT max(id) FROM jobs), 0)),
         max((SELECT CAST(value AS INTEGER) FROM store_meta WHERE key = 'max_history_seq'),
             coalesce((SELECT max(seq) FROM job_history), 0))
)sql";

inline constexpr const char* kSetStoreMeta = "UPDATE store_meta SET value = ?2 WHERE key = ?1";

// --- producers ---------------------------------------------------------------------

// New jobs and history rows are written by multi-row INSERTs (multi_row.h): the
// statement up to VALUES, and the placeholders of one row.
inline constexpr const char* kInsertJobsHead = R"sql(
  INSERT INTO jobs (id, queue, type, state, priority, payload, max_attempts, run_at, created_at, updated_at,
                    timeout_us, expires_at, unique_key, tags, depends_on, needs_files, files_met,
                    on_dependency_failure) VALUES )sql";
inline constexpr const char* kInsertJobsRow = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
inline constexpr int kInsertJobsColumns = 18;

inline constexpr const char* kInsertDependency = R"sql(
  INSERT OR IGNORE INTO job_dependencies (job_id, depends_on_id) VALUES (?1, ?2)
)sql";

inline constexpr const char* kSelectLiveJobByUniqueKey = "SELECT" QUERN_JOB_COLUMNS R"sql(
  FROM jobs INDEXED BY jobs_live_unique_key
  WHERE unique_key = ?1
    AND unique_key IS NOT NULL AND (state = 'scheduled' OR state = 'available' OR state = 'blocked' OR state = 'running')
)sql";

inline constexpr const char* kInsertJobTag = "INSERT OR IGNORE INTO job_tags (tag, job_id) VALUES (?1, ?2)";

inline constexpr const char* kEnsureQueue = R"sql(
  INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?1, 0, ?2)
)sql";

// --- bookkeeping kept in every transaction -----------------------------------------

inline constexpr const char* kInsertHistoryHead = R"sql(
  INSERT INTO job_history (seq, job_id, at, from_state, to_state, attempt, detail) VALUES )sql";
inline constexpr const char* kInsertHistoryRow = "(?,?,?,?,?,?,?)";
inline constexpr int kInsertHistoryColumns = 7;

inline constexpr const char* kAddToQueueCount = R"sql(
  INSERT INTO queue_counts (queue, state, n) VALUES (?1, ?2, ?3)
  ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n
)sql";

// --- reading jobs ------------------------------------------------------------------

inline constexpr const char* kSelectJob = "SELECT" QUERN_JOB_COLUMNS "FROM jobs WHERE id = ?1";

// What a transition needs to know about a job before it moves it.
inline constexpr const char* kSelectJobTransitionInfo = R"sql(
  SELECT queue, state, attempt, on_dependency_failure, run_at FROM jobs WHERE id = ?1
)sql";

// --- claiming ----------------------------------------------------------------------

inline constexpr const char* kSelectQueues =
    "SELECT name, paused, pause_changes, concurrency_limit, held_while FROM queues ORDER BY name";

// kSelectQueues and each queue's retention (columns in kFinalStates order).
inline constexpr const char* kSelectQueueInfos = R"sql(
  SELECT name, paused, pause_changes, concurrency_limit, held_while,
         keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us
  FROM queues ORDER BY name
)sql";

// Whether queue ?1 has work that holds back the queues held while it: a running job, or
// an available one while it is not paused.
inline constexpr const char* kQueueHasWorkToRun = R"sql(
  SELECT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_by_state WHERE state = 'running' AND queue = ?1)
      OR (NOT coalesce((SELECT paused FROM queues WHERE name = ?1), 0)
          AND EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_claimable WHERE state = 'available' AND queue = ?1))
)sql";

inline constexpr const char* kSelectQueueHeldWhile = "SELECT held_while FROM queues WHERE name = ?1";

// Running jobs of one queue (few: at most the workers' slots), for its concurrency limit.
inline constexpr const char* kCountRunningJobsOfQueue = R"sql(
  SELECT count(*) FROM jobs INDEXED BY jobs_by_state WHERE state = 'running' AND queue = ?1
)sql";

// Due scheduled jobs of one queue (index jobs_scheduled).
inline constexpr const char* kSelectDueScheduledJobs = R"sql(
  SELECT id, attempt FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' AND queue = ?1 AND run_at <= ?2 ORDER BY run_at
)sql";

inline constexpr const char* kPromoteScheduledJob = R"sql(
  UPDATE jobs SET state = 'available', updated_at = ?2 WHERE id = ?1
)sql";

// The next type (in byte order) after ?2 with available jobs in queue ?1: a skip scan
// of jobs_claimable, one probe per type.
inline constexpr const char* kSelectNextAvailableType = R"sql(
  SELECT type FROM jobs INDEXED BY jobs_claimable WHERE state = 'available' AND queue = ?1 AND type > ?2 ORDER BY type LIMIT 1
)sql";

// The first ?4 claimable jobs of one queue and type, in claim order, read from the
// covering index jobs_claimable alone.
inline constexpr const char* kSelectClaimCandidates = R"sql(
  SELECT id, priority, run_at FROM jobs INDEXED BY jobs_claimable
  WHERE state = 'available' AND queue = ?1 AND type = ?2 AND (expires_at IS NULL OR expires_at > ?3)
  ORDER BY priority DESC, run_at, id
  LIMIT ?4
)sql";

// Statements ending in "IN (" are completed with a list of ids (multi_row.h).
// NOT INDEXED: the ids are looked up by rowid, never found by scanning an index of
// every available job. A claim's time is read before its batch runs, so a job enqueued
// meanwhile may look newer than it: it never starts before it was created or due.
inline constexpr const char* kClaimJobsIn = R"sql(
  UPDATE jobs NOT INDEXED
  SET state = 'running', attempt = attempt + 1, started_at = max(?1, run_at, created_at),
      updated_at = max(?1, run_at, created_at), lease_owner = ?2, lease_expires_at = ?3, lease_us = ?3 - ?1
  WHERE state = 'available' AND id IN ()sql";

inline constexpr const char* kSelectJobsIn = "SELECT" QUERN_JOB_COLUMNS "FROM jobs WHERE id IN (";

// --- running jobs (fenced by state = 'running' AND attempt) ------------------------

// ?3 the lease's new length, or NULL for the one last granted (?8 for a run claimed by
// a Quern that did not record it).
inline constexpr const char* kHeartbeatJob = R"sql(
  UPDATE jobs
  SET lease_expires_at = ?7 + coalesce(?3, lease_us, ?8), lease_us = coalesce(?3, lease_us, ?8),
      progress = coalesce(?4, progress), stage = coalesce(?5, stage), checkpoint = coalesce(?6, checkpoint),
      updated_at = ?7
  WHERE id = ?1 AND state = 'running' AND attempt = ?2
)sql";

// The job a run ends, if it is still running at that attempt (the fence).
inline constexpr const char* kSelectRunningJob = R"sql(
  SELECT queue, failures, max_attempts FROM jobs WHERE id = ?1 AND state = 'running' AND attempt = ?2
)sql";

// What finishing a run needs to know of each job.
inline constexpr const char* kSelectRunStatesIn = R"sql(
  SELECT id, state, attempt, queue, failures, max_attempts FROM jobs WHERE id IN ()sql";

// Runs that completed without a result (the common case), all at once.
inline constexpr const char* kCompleteJobsIn = R"sql(
  UPDATE jobs NOT INDEXED
  SET state = 'completed', result = NULL, progress = 1, finished_at = ?1, updated_at = ?1,
      lease_owner = NULL, lease_expires_at = NULL
  WHERE state = 'running' AND id IN ()sql";

inline constexpr const char* kCompleteRunningJob = R"sql(
  UPDATE jobs
  SET state = 'completed', result = ?2, progress = 1, finished_at = ?3, updated_at = ?3,
      lease_owner = NULL, lease_expires_at = NULL
  WHERE id = ?1
)sql";

// A failed run (?2 the error): counted; ?3 is 'failed' once the failures reach
// max_attempts (then finished at ?5), else 'scheduled'/'available' at ?4.
inline constexpr const char* kCountFailedRun = R"sql(
  UPDATE jobs
  SET failures = failures + 1, error = ?2, state = ?3, run_at = coalesce(?4, run_at), finished_at = ?5,
      updated_at = ?6, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = ?1
)sql";

// A run that ends without a failure: snoozed (?2 'scheduled'/'available' at ?3) or
// released (back in line at its old run_at: ?3 NULL).
inline constexpr const char* kEndRunWithoutFailure = R"sql(
  UPDATE jobs
  SET state = ?2, run_at = coalesce(?3, run_at), updated_at = ?4, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = ?1
)sql";

inline constexpr const char* kSelectRunningJobLogBytes = R"sql(
  SELECT log_bytes FROM jobs WHERE id = ?1 AND state = 'running' AND attempt = ?2
)sql";

inline constexpr const char* kSelectLastLogSeq = "SELECT coalesce(max(seq), 0) FROM job_logs WHERE job_id = ?1";

inline constexpr const char* kInsertLogChunk = R"sql(
  INSERT INTO job_logs (job_id, seq, attempt, at, bytes, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
)sql";

inline constexpr const char* kSelectOldestLogChunks = R"sql(
  SELECT seq, bytes FROM job_logs WHERE job_id = ?1 ORDER BY seq
)sql";

inline constexpr const char* kDeleteLogChunksUpTo = "DELETE FROM job_logs WHERE job_id = ?1 AND seq <= ?2";

inline constexpr const char* kSetLogBytes = "UPDATE jobs SET log_bytes = ?2 WHERE id = ?1";

// --- maintenance -------------------------------------------------------------------

inline constexpr const char* kSelectExpiredLeases = R"sql(
  SELECT id FROM jobs INDEXED BY jobs_by_state WHERE state = 'running' AND lease_expires_at <= ?1 ORDER BY id
)sql";

inline constexpr const char* kSelectRunningJobsOfOwner = R"sql(
  SELECT id FROM jobs INDEXED BY jobs_by_state WHERE state = 'running' AND lease_owner = ?1 ORDER BY id
)sql";

inline constexpr const char* kSelectRunningJobById = R"sql(
  SELECT queue, attempt, failures, max_attempts FROM jobs WHERE id = ?1 AND state = 'running'
)sql";

inline constexpr const char* kSelectLeaseOwners = R"sql(
  SELECT DISTINCT lease_owner FROM jobs INDEXED BY jobs_by_state WHERE state = 'running' AND lease_owner IS NOT NULL ORDER BY 1
)sql";

inline constexpr const char* kSelectNextScheduledAt = R"sql(
  SELECT min(run_at) FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' AND queue = ?1
)sql";

inline constexpr const char* kSelectExpiringJobs = R"sql(
  SELECT id FROM jobs INDEXED BY jobs_expiring
  WHERE expires_at IS NOT NULL AND (state = 'scheduled' OR state = 'available' OR state = 'blocked') AND expires_at <= ?1
  ORDER BY expires_at, id
)sql";

inline constexpr const char* kSelectJobsWaitingOnFiles = R"sql(
  SELECT id, needs_files FROM jobs INDEXED BY jobs_by_state WHERE state = 'blocked' AND files_met = 0 ORDER BY id
)sql";

inline constexpr const char* kMarkFilesMet = R"sql(
  UPDATE jobs SET files_met = 1, updated_at = ?2 WHERE id = ?1
)sql";

inline constexpr const char* kSelectFinishedJobs = R"sql(
  SELECT id, queue FROM jobs INDEXED BY jobs_by_state
  WHERE state = ?1 AND (?2 IS NULL OR finished_at < ?2) AND (?3 IS NULL OR queue = ?3) ORDER BY id
)sql";

// --- dependencies --------------------------------------------------------------------

inline constexpr const char* kSelectDependentsIn = R"sql(
  SELECT job_id FROM job_dependencies WHERE depends_on_id IN ()sql";

inline constexpr const char* kSelectDependents = R"sql(
  SELECT job_id FROM job_dependencies WHERE depends_on_id = ?1 ORDER BY job_id
)sql";

// Dependencies of ?1 that are still there and not completed (a completed job that was
// deleted later no longer holds anyone back).
inline constexpr const char* kCountUnmetDependencies = R"sql(
  SELECT count(*) FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on_id
  WHERE d.job_id = ?1 AND j.state != 'completed'
)sql";

inline constexpr const char* kSelectFilesMet = "SELECT files_met FROM jobs WHERE id = ?1";

inline constexpr const char* kUnblockJob = "UPDATE jobs SET state = ?2, updated_at = ?3 WHERE id = ?1";

// --- admin -----------------------------------------------------------------------------

inline constexpr const char* kCancelJob = R"sql(
  UPDATE jobs
  SET state = 'canceled', finished_at = ?2, updated_at = ?2, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = ?1
)sql";

inline constexpr const char* kExpireJob = R"sql(
  UPDATE jobs SET state = 'expired', finished_at = ?2, updated_at = ?2 WHERE id = ?1
)sql";

// A retried job runs now: a past expires_at is dropped, or it would expire at once.
inline constexpr const char* kRetryJob = R"sql(
  UPDATE jobs
  SET state = ?2, failures = 0, progress = 0, stage = '', run_at = ?3, finished_at = NULL, updated_at = ?3,
      expires_at = CASE WHEN expires_at <= ?3 THEN NULL ELSE expires_at END
  WHERE id = ?1
)sql";

inline constexpr const char* kSelectFailedJobs = R"sql(
  SELECT id FROM jobs INDEXED BY jobs_by_state WHERE state = 'failed' AND (?1 IS NULL OR queue = ?1) ORDER BY id
)sql";

inline constexpr const char* kSetPriority = "UPDATE jobs SET priority = ?2, updated_at = ?3 WHERE id = ?1";

inline constexpr const char* kDeleteJob = "DELETE FROM jobs WHERE id = ?1";
inline constexpr const char* kDeleteHistoryOfJob = "DELETE FROM job_history WHERE job_id = ?1";
inline constexpr const char* kDeleteLogsOfJob = "DELETE FROM job_logs WHERE job_id = ?1";
inline constexpr const char* kDeleteDependenciesOfJob = "DELETE FROM job_dependencies WHERE job_id = ?1";
inline constexpr const char* kDeleteDependenciesOnJob = "DELETE FROM job_dependencies WHERE depends_on_id = ?1";
inline constexpr const char* kDeleteTagsOfJob = "DELETE FROM job_tags WHERE job_id = ?1";

inline constexpr const char* kSetQueueConcurrencyLimit = R"sql(
  INSERT INTO queues (name, paused, updated_at, concurrency_limit) VALUES (?1, 0, ?2, ?3)
  ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit, updated_at = excluded.updated_at
)sql";

inline constexpr const char* kSetQueueHold = R"sql(
  INSERT INTO queues (name, paused, updated_at, held_while) VALUES (?1, 0, ?2, ?3)
  ON CONFLICT (name) DO UPDATE SET held_while = excluded.held_while, updated_at = excluded.updated_at
)sql";

inline constexpr const char* kSelectQueueRetention = R"sql(
  SELECT keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us FROM queues WHERE name = ?1
)sql";

inline constexpr const char* kSetQueueRetention = R"sql(
  INSERT INTO queues (name, paused, updated_at, keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us)
  VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6)
  ON CONFLICT (name) DO UPDATE SET
    keep_completed_us = excluded.keep_completed_us, keep_failed_us = excluded.keep_failed_us,
    keep_canceled_us = excluded.keep_canceled_us, keep_expired_us = excluded.keep_expired_us,
    updated_at = excluded.updated_at
)sql";

// The queues that keep some finished jobs for a while only (retention columns as above).
inline constexpr const char* kSelectRetainingQueues = R"sql(
  SELECT name, keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us FROM queues
  WHERE keep_completed_us IS NOT NULL OR keep_failed_us IS NOT NULL OR keep_canceled_us IS NOT NULL
     OR keep_expired_us IS NOT NULL
)sql";

// --- retention: job_prune_schedule says when a finished job is due to be deleted;
// an entry is checked against the job and the queue's retention when it comes due.

inline constexpr const char* kSchedulePrune = R"sql(
  INSERT OR IGNORE INTO job_prune_schedule (prune_at, job_id) VALUES (?1, ?2)
)sql";

// Every job of queue ?1 that ended in state ?2, due ?3 after it ended (a retention set
// or changed applies to the jobs that ended before too): found by walking the jobs in
// that state or the jobs of that queue, whichever are fewer (kCountJobsOfQueue,
// kCountJobsInState).
inline constexpr const char* kScheduleFinishedJobsOfQueueByState = R"sql(
  INSERT OR IGNORE INTO job_prune_schedule (prune_at, job_id)
  SELECT finished_at + ?3, id FROM jobs INDEXED BY jobs_by_state
  WHERE state = ?2 AND queue = ?1 AND finished_at IS NOT NULL
)sql";
inline constexpr const char* kScheduleFinishedJobsOfQueueByQueue = R"sql(
  INSERT OR IGNORE INTO job_prune_schedule (prune_at, job_id)
  SELECT finished_at + ?3, id FROM jobs INDEXED BY jobs_by_queue
  WHERE queue = ?1 AND state = ?2 AND finished_at IS NOT NULL
)sql";
inline constexpr const char* kCountJobsOfQueue = "SELECT coalesce(sum(n), 0) FROM queue_counts WHERE queue = ?1";
inline constexpr const char* kCountJobsInState = "SELECT coalesce(sum(n), 0) FROM queue_counts WHERE state = ?1";

inline constexpr const char* kSelectDuePrunes = R"sql(
  SELECT prune_at, job_id FROM job_prune_schedule WHERE prune_at <= ?1 ORDER BY prune_at LIMIT ?2
)sql";

inline constexpr const char* kDeletePruneEntry = "DELETE FROM job_prune_schedule WHERE prune_at = ?1 AND job_id = ?2";

inline constexpr const char* kSelectJobEnd = "SELECT queue, state, finished_at FROM jobs WHERE id = ?1";

// A queue starts resumed, so creating it paused is its first change.
inline constexpr const char* kSetQueuePaused = R"sql(
  INSERT INTO queues (name, paused, updated_at, pause_changes) VALUES (?1, ?2, ?3, ?2)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at,
    pause_changes = queues.pause_changes + (queues.paused <> excluded.paused)
)sql";

inline constexpr const char* kSelectStats = R"sql(
  SELECT q.name, q.paused, c.state, c.n
  FROM queues q LEFT JOIN queue_counts c ON c.queue = q.name
  ORDER BY q.name
)sql";

// For choosing how a filtered page walks (see list_jobs): jobs per queue and state, and
// how many entries a type or tag has, counted up to ?2 (past that, another walk is shorter).
inline constexpr const char* kSelectQueueCounts = "SELECT queue, state, n FROM queue_counts WHERE n > 0";
inline constexpr const char* kCountJobsOfTypeUpTo = R"sql(
  SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_by_type WHERE type = ?1 LIMIT ?2)
)sql";
inline constexpr const char* kCountJobsWithTagUpTo = R"sql(
  SELECT count(*) FROM (SELECT 1 FROM job_tags WHERE tag = ?1 LIMIT ?2)
)sql";

inline constexpr const char* kSelectHistoryOfJob = R"sql(
  SELECT seq, job_id, at, from_state, to_state, attempt, detail FROM job_history WHERE job_id = ?1 ORDER BY seq
)sql";

inline constexpr const char* kSelectHistorySince = R"sql(
  SELECT seq, job_id, at, from_state, to_state, attempt, detail FROM job_history
  WHERE seq > ?1 ORDER BY seq LIMIT ?2
)sql";

// Finishes are kept per minute for a week (the chart shows the last hour).
inline constexpr const char* kAddToFinishesPerMinute = R"sql(
  INSERT INTO finishes_per_minute (minute, state, n) VALUES (?1, ?2, ?3)
  ON CONFLICT (minute, state) DO UPDATE SET n = n + excluded.n
)sql";

inline constexpr const char* kDeleteFinishesBefore = "DELETE FROM finishes_per_minute WHERE minute < ?1";

inline constexpr const char* kSelectFinishesSince = R"sql(
  SELECT minute, state, n FROM finishes_per_minute WHERE minute >= ?1 ORDER BY minute
)sql";

inline constexpr const char* kSelectLogChunks = R"sql(
  SELECT seq, attempt, at, text FROM job_logs WHERE job_id = ?1 AND seq > ?2 ORDER BY seq
)sql";

// --- settings ------------------------------------------------------------------------

inline constexpr const char* kSelectSetting = "SELECT value_json FROM settings WHERE key = ?1";
inline constexpr const char* kSelectSettings = "SELECT key, value_json FROM settings ORDER BY key";
inline constexpr const char* kPutSetting = R"sql(
  INSERT INTO settings (key, value_json, updated_at) VALUES (?1, ?2, ?3)
  ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at
)sql";

// --- cron ------------------------------------------------------------------------------

#define QUERN_CRON_COLUMNS " name, schedule, job, next_run_at, last_run_at, last_job_id, created_at, updated_at "

inline constexpr const char* kSelectCronEntries = "SELECT" QUERN_CRON_COLUMNS "FROM cron_entries ORDER BY name";
inline constexpr const char* kAnyCronEntryDue = "SELECT EXISTS (SELECT 1 FROM cron_entries WHERE next_run_at <= ?1)";
inline constexpr const char* kSelectDueCronEntries =
    "SELECT" QUERN_CRON_COLUMNS "FROM cron_entries WHERE next_run_at <= ?1 ORDER BY next_run_at, name";

// A replaced entry keeps its next firing while its schedule stays the same, so
// registering the same entries at every start-up never moves or repeats a firing.
inline constexpr const char* kPutCronEntry = R"sql(
  INSERT INTO cron_entries (name, schedule, job, next_run_at, created_at, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?5)
  ON CONFLICT (name) DO UPDATE SET
    next_run_at = CASE WHEN cron_entries.schedule = excluded.schedule THEN cron_entries.next_run_at
                       ELSE excluded.next_run_at END,
    schedule = excluded.schedule, job = excluded.job, updated_at = excluded.updated_at
  RETURNING)sql" QUERN_CRON_COLUMNS;

// The largest name that is a number (of at most 18 digits, so it fits), or 0.
inline constexpr const char* kSelectLargestNumberedCronName = R"sql(
  SELECT coalesce(max(CAST(name AS INTEGER)), 0) FROM cron_entries
  WHERE name <> '' AND name NOT GLOB '*[^0-9]*' AND length(name) <= 18
)sql";

inline constexpr const char* kDeleteCronEntry = "DELETE FROM cron_entries WHERE name = ?1";

// ?3 the job this firing enqueued, or NULL when a live job held its unique key.
inline constexpr const char* kRecordCronFiring = R"sql(
  UPDATE cron_entries SET next_run_at = ?2, last_run_at = ?4, last_job_id = coalesce(?3, last_job_id)
  WHERE name = ?1
)sql";

// --- directory ingest ----------------------------------------------------------------

inline constexpr const char* kSelectIngestedFile = "SELECT 1 FROM ingested_files WHERE watch = ?1 AND path = ?2";
inline constexpr const char* kRecordIngestedFile =
    "INSERT INTO ingested_files (watch, path, job_id, ingested_at) VALUES (?1, ?2, ?3, ?4)";

// --- transactions (group commit) ----------------------------------------------------

inline constexpr const char* kBeginImmediate = "BEGIN IMMEDIATE";
inline constexpr const char* kCommit = "COMMIT";
inline constexpr const char* kRollback = "ROLLBACK";
// Each write of a batch runs inside its own savepoint, so a failing write undoes only itself.
inline constexpr const char* kSavepoint = "SAVEPOINT quern_write";
inline constexpr const char* kReleaseSavepoint = "RELEASE quern_write";
inline constexpr const char* kRollbackToSavepoint = "ROLLBACK TO quern_write";

// --- change detection --------------------------------------------------------------

inline constexpr const char* kSelectDataVersion = "PRAGMA data_version";

}  // namespace quern::sqlite
