// Every SQL statement the PostgreSQL store runs, by name. Nothing else in Quern speaks SQL.
//
// Conventions (the same as the SQLite store's): times are bigint microseconds since the
// epoch and "now" is always a parameter (the store never asks the server for the time);
// states are stored by their names; JSON is stored in `json` columns as Quern wrote it.
// Batches travel as arrays ($n::T[]) unnested in the statement, so a batch of any size
// is one round trip. Each statement is prepared once per connection (PQprepare), on
// its first use there; the unqualified table names resolve through the connection's
// search_path, which names Quern's schema.
//
// Claims lock rows with FOR UPDATE SKIP LOCKED: concurrent claimers never wait on one
// another and never take the same job. Writes that must read a job before they change
// it lock it first (FOR UPDATE), so two transactions never both act on what they read.
#pragma once

#include "store/postgres/pg_connection.h"

namespace quern::postgres {

// The columns a Job is read from (table alias j), in the order job_row.cpp reads them.
#define QUERN_PG_JOB_COLUMNS                                                                                    \
  " j.id, j.queue, j.type, j.state, j.priority, j.payload, j.stage, j.progress, j.attempt, j.failures,"        \
  " j.max_attempts, j.run_at, j.created_at, j.started_at, j.finished_at, j.updated_at, j.lease_owner,"          \
  " j.lease_expires_at, j.timeout_us, j.expires_at, j.unique_key, j.checkpoint, j.result, j.error, j.tags,"     \
  " j.depends_on, j.needs_files, j.on_dependency_failure "

// --- schema --------------------------------------------------------------------------

// How many relations the schema holds, and whether Quern's migrations table is one.
inline constexpr Statement kSelectSchemaIdentity{"quern_select_schema_identity", R"sql(
  SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')),
         EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = 'quern_schema_migrations')
)sql"};

inline constexpr Statement kSelectAppliedMigrations{"quern_select_applied_migrations", R"sql(
  SELECT version, applied_at FROM quern_schema_migrations ORDER BY version
)sql"};

inline constexpr Statement kLockMigrations{"quern_lock_migrations", "SELECT pg_advisory_xact_lock($1::bigint)"};

inline constexpr Statement kRecordMigration{"quern_record_migration", R"sql(
  INSERT INTO quern_schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)
)sql"};

inline constexpr Statement kSelectDatabaseId{"quern_select_database_id",
                                             "SELECT value FROM store_meta WHERE key = 'database_id'"};

// Whether this session may write jobs: not a read-only server or transaction, and a
// role allowed to. A read, so a database that is merely busy passes.
inline constexpr Statement kSelectCanWrite{"quern_select_can_write", R"sql(
  SELECT current_setting('transaction_read_only') = 'off' AND has_table_privilege('jobs', 'UPDATE')
)sql"};

// --- transactions --------------------------------------------------------------------

// The end of every transaction that moved jobs: under an advisory lock held until
// COMMIT (so history seqs, the event ids, are handed out in commit order and a reader
// of the feed never skips a row that commits late), the buffered history rows, the
// queue_counts deltas and the finishes per minute; and the change notification.
// $1 lock key; history $2 job_id[] $3 at[] $4 from[] $5 to[] $6 attempt[] $7 detail[];
// counts $8 queue[] $9 state[] $10 delta[]; finishes $11 minute[] $12 state[] $13 n[];
// $14 drop finishes before (NULL: none); $15 channel, $16 payload (NULL channel: no
// notification).
inline constexpr Statement kWriteBookkeeping{"quern_write_bookkeeping", R"sql(
  WITH locked AS (SELECT pg_advisory_xact_lock($1::bigint) AS ok),
  history AS (
    INSERT INTO job_history (seq, job_id, at, from_state, to_state, attempt, detail)
    SELECT nextval('job_history_seq'), h.job_id, h.at, h.from_state, h.to_state, h.attempt, h.detail
    FROM locked, unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::integer[], $7::text[])
         WITH ORDINALITY AS h(job_id, at, from_state, to_state, attempt, detail, ord)
    ORDER BY h.ord
    RETURNING 1),
  counts AS (
    INSERT INTO queue_counts AS c (queue, state, n)
    SELECT d.queue, d.state, d.delta FROM locked, unnest($8::text[], $9::text[], $10::bigint[]) AS d(queue, state, delta)
    ON CONFLICT (queue, state) DO UPDATE SET n = c.n + excluded.n
    RETURNING 1),
  finishes AS (
    INSERT INTO finishes_per_minute AS f (minute, state, n)
    SELECT m.minute, m.state, m.n FROM locked, unnest($11::bigint[], $12::text[], $13::bigint[]) AS m(minute, state, n)
    ON CONFLICT (minute, state) DO UPDATE SET n = f.n + excluded.n
    RETURNING 1),
  pruned AS (
    DELETE FROM finishes_per_minute WHERE $14::bigint IS NOT NULL AND minute < $14::bigint
    RETURNING 1)
  SELECT CASE WHEN $15::text IS NULL THEN NULL ELSE pg_notify($15::text, $16::text) END FROM locked
)sql"};

// Takes kWriteBookkeeping's lock early, before the transaction locks any job (claims:
// see job_claim.cpp). Taking it again at the bookkeeping is then free.
inline constexpr Statement kTakeBookkeepingLock{"quern_take_bookkeeping_lock", "SELECT pg_advisory_xact_lock($1::bigint)"};

// A transaction that changed something but moved no job (heartbeats, logs, settings).
inline constexpr Statement kNotifyChange{"quern_notify_change", "SELECT pg_notify($1::text, $2::text)"};

// --- producers ---------------------------------------------------------------------

inline constexpr Statement kSelectLiveJobsByUniqueKeys{"quern_select_live_jobs_by_unique_keys", "SELECT" QUERN_PG_JOB_COLUMNS R"sql(
  FROM jobs j
  WHERE j.unique_key = ANY($1::text[])
    AND j.unique_key IS NOT NULL AND j.state IN ('scheduled', 'available', 'blocked', 'running')
)sql"};

// The jobs new jobs depend on, locked (FOR SHARE) until commit: a dependency cannot
// finish unseen between this check and the new job's commit, so the new job is never
// left blocked on a job that already completed.
inline constexpr Statement kLockDependencies{"quern_lock_dependencies", R"sql(
  SELECT id, state FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE
)sql"};

// Inserts a batch in array order, and the jobs' tags into job_tags; the new ids come
// back ascending, which is array order (the sequence hands them out as rows are
// inserted). Their queues get a row in `queues` if they have none (by the same
// statement: one round trip).
inline constexpr Statement kInsertJobs{"quern_insert_jobs", R"sql(
  WITH new_queues AS (
    INSERT INTO queues (name, paused, updated_at) SELECT DISTINCT q, false, $16::bigint FROM unnest($1::text[]) AS q
    ON CONFLICT (name) DO NOTHING),
  inserted AS (
  INSERT INTO jobs (queue, type, state, priority, payload, max_attempts, run_at, created_at, updated_at,
                    timeout_us, expires_at, unique_key, tags, depends_on, needs_files, files_met,
                    on_dependency_failure)
  SELECT n.queue, n.type, n.state, n.priority, n.payload::json, n.max_attempts, n.run_at, $16, $16,
         n.timeout_us, n.expires_at, n.unique_key, n.tags::json, n.depends_on::json, n.needs_files::json,
         n.files_met, n.on_dependency_failure
  FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::integer[], $7::bigint[],
              $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[], $14::boolean[],
              $15::text[])
       WITH ORDINALITY AS n(queue, type, state, priority, payload, max_attempts, run_at, timeout_us, expires_at,
                            unique_key, tags, depends_on, needs_files, files_met, on_dependency_failure, ord)
  ORDER BY n.ord
  RETURNING id, tags),
  new_tags AS (
    INSERT INTO job_tags (tag, job_id)
    SELECT DISTINCT t.tag, i.id FROM inserted i, json_array_elements_text(i.tags) AS t(tag))
  SELECT id FROM inserted ORDER BY id
)sql"};

inline constexpr Statement kInsertDependencies{"quern_insert_dependencies", R"sql(
  INSERT INTO job_dependencies (job_id, depends_on_id)
  SELECT * FROM unnest($1::bigint[], $2::bigint[])
  ON CONFLICT DO NOTHING
)sql"};


// --- reading jobs ------------------------------------------------------------------

inline constexpr Statement kSelectJob{"quern_select_job", "SELECT" QUERN_PG_JOB_COLUMNS "FROM jobs j WHERE j.id = $1"};

// What a transition needs to know about a job, locked until commit.
inline constexpr Statement kLockJobPosition{"quern_lock_job_position", R"sql(
  SELECT queue, state, attempt, on_dependency_failure, run_at, files_met FROM jobs WHERE id = $1 FOR UPDATE
)sql"};

// --- claiming --------------------------------------------------------------------------

// scheduled → available for every due job, queue by queue from jobs_scheduled.
// Rows another transaction holds are skipped: it is promoting or moving them itself.
inline constexpr Statement kPromoteDueJobs{"quern_promote_due_jobs", R"sql(
  WITH due AS (
    SELECT d.id FROM queues q
    CROSS JOIN LATERAL (
      SELECT s.id FROM jobs s
      WHERE s.state = 'scheduled' AND s.queue = q.name AND s.run_at <= $1
      ORDER BY s.run_at
      FOR UPDATE SKIP LOCKED) d)
  UPDATE jobs j SET state = 'available', updated_at = $1
  FROM due WHERE j.id = due.id
  RETURNING j.id, j.queue, j.attempt, j.run_at
)sql"};

// Leases the best $4 available jobs of the queues $1 (NULL: every queue) that are not
// paused or held, of the types $2. For each (queue, type) the partial index
// jobs_claimable yields its best rows in claim order, locked as they are read (SKIP
// LOCKED: rows another claimer holds are passed over); the best $4 of them all are
// leased. A queue with a concurrency limit gives at most its room: the limit minus its
// running jobs (counted once per queue; claims are serialized by the bookkeeping lock),
// and at most $7 (the claimer's free slots: prefetching would take the room from
// others). $3 now, $5 owner, $6 lease expiry.
// A claim's time ($3) is read before its transaction runs, so a job enqueued meanwhile
// may look newer than it: it never starts before it was created or due.
#define QUERN_PG_CLAIMABLE_QUEUES(extra_condition)                                         \
  "  queue_names AS ("                                                                     \
  "    SELECT name, room FROM ("                                                           \
  "      SELECT q.name, CASE WHEN q.concurrency_limit IS NULL THEN $4::bigint"             \
  "        ELSE least($4::bigint, $7::bigint, q.concurrency_limit - (SELECT count(*) FROM jobs r" \
  "                                   WHERE r.state = 'running' AND r.queue = q.name)) END AS room" \
  "      FROM queues q"                                                                    \
  "      WHERE NOT q.paused AND ($1::text[] IS NULL OR q.name = ANY($1::text[]))" extra_condition \
  "        AND NOT " QUERN_PG_QUEUE_HELD ") s"                                             \
  "    WHERE room > 0),"

// Whether the queue `q` is held back: the queue it is held while has a running job, or
// an available one while that queue is not paused. The available one is looked for in
// jobs_claimable's order (an EXISTS would let the planner scan the table instead).
#define QUERN_PG_QUEUE_HELD                                                             \
  "(q.held_while IS NOT NULL AND ("                                                     \
  "   EXISTS (SELECT 1 FROM jobs h WHERE h.state = 'running' AND h.queue = q.held_while)" \
  "   OR ((SELECT h.id FROM jobs h WHERE h.state = 'available' AND h.queue = q.held_while" \
  "        ORDER BY h.queue, h.type, h.priority DESC, h.run_at, h.id LIMIT 1) IS NOT NULL" \
  "       AND NOT EXISTS (SELECT 1 FROM queues hq WHERE hq.name = q.held_while AND hq.paused))))"

// From the (queue, type, room) pairs: the candidates, ranked within their queue, and the
// best $4 of those within their queue's room.
#define QUERN_PG_CLAIM_TAIL                                                             \
  "  candidates AS ("                                                                   \
  "    SELECT c.id, c.priority, c.run_at, p.room,"                                      \
  "           row_number() OVER (PARTITION BY p.queue"                                  \
  "                              ORDER BY c.priority DESC, c.run_at, c.id) AS rank"     \
  "    FROM pairs p"                                                                    \
  "    CROSS JOIN LATERAL ("                                                            \
  "      SELECT a.id, a.priority, a.run_at FROM jobs a"                                 \
  "      WHERE a.state = 'available' AND a.queue = p.queue AND a.type = p.type"         \
  "        AND (a.expires_at IS NULL OR a.expires_at > $3)"                             \
  "      ORDER BY a.priority DESC, a.run_at, a.id"                                      \
  "      LIMIT p.room"                                                                  \
  "      FOR UPDATE SKIP LOCKED) c),"                                                   \
  "  chosen AS ("                                                                       \
  "    SELECT c.id FROM candidates c WHERE c.rank <= c.room"                            \
  "    ORDER BY c.priority DESC, c.run_at, c.id"                                        \
  "    LIMIT $4)"                                                                       \
  "  UPDATE jobs j"                                                                     \
  "  SET state = 'running', attempt = j.attempt + 1,"                                  \
  "      started_at = greatest($3, j.run_at, j.created_at), lease_owner = $5,"           \
  "      lease_expires_at = $6, lease_us = $6 - $3,"                                    \
  "      updated_at = greatest($3, j.run_at, j.created_at)"                             \
  "  FROM chosen WHERE j.id = chosen.id"                                                \
  "  RETURNING" QUERN_PG_JOB_COLUMNS

inline constexpr Statement kClaimJobsOfTypes{"quern_claim_jobs_of_types",
  "  WITH" QUERN_PG_CLAIMABLE_QUEUES("") R"sql(
  pairs AS (
    SELECT q.name AS queue, t.type, q.room FROM queue_names q CROSS JOIN unnest($2::text[]) AS t(type)),
)sql" QUERN_PG_CLAIM_TAIL};

// The same with no type filter: each queue's types are found by a skip scan of
// jobs_claimable (one index probe per type). $2 is unused but keeps the parameters alike.
inline constexpr Statement kClaimJobsOfAnyType{"quern_claim_jobs_of_any_type",
  "  WITH RECURSIVE" QUERN_PG_CLAIMABLE_QUEUES(" AND $2::text[] IS NULL") R"sql(
  types AS (
    SELECT q.name AS queue,
           (SELECT a.type FROM jobs a WHERE a.state = 'available' AND a.queue = q.name ORDER BY a.type LIMIT 1) AS type
    FROM queue_names q
    UNION ALL
    SELECT t.queue,
           (SELECT a.type FROM jobs a WHERE a.state = 'available' AND a.queue = t.queue AND a.type > t.type
            ORDER BY a.type LIMIT 1)
    FROM types t WHERE t.type IS NOT NULL),
  pairs AS (
    SELECT t.queue, t.type, q.room FROM types t JOIN queue_names q ON q.name = t.queue WHERE t.type IS NOT NULL),
)sql" QUERN_PG_CLAIM_TAIL};

// --- running jobs (fenced by state = 'running' AND attempt) --------------------------

// $1 id[] $2 attempt[] $3 lease length[] (NULL: the one last granted, or $8 for a run
// claimed by a Quern that did not record it) $4 progress[] $5 stage[] $6 checkpoint[]
// $7 now.
inline constexpr Statement kHeartbeatJobs{"quern_heartbeat_jobs", R"sql(
  UPDATE jobs j
  SET lease_expires_at = $7 + coalesce(b.lease_us, j.lease_us, $8),
      lease_us = coalesce(b.lease_us, j.lease_us, $8), progress = coalesce(b.progress, j.progress),
      stage = coalesce(b.stage, j.stage), checkpoint = coalesce(b.checkpoint::json, j.checkpoint), updated_at = $7
  FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::double precision[], $5::text[], $6::text[])
       AS b(id, attempt, lease_us, progress, stage, checkpoint)
  WHERE j.id = ANY($1::bigint[]) AND j.id = b.id AND j.state = 'running' AND j.attempt = b.attempt
  RETURNING j.id, j.attempt
)sql"};

// The jobs a batch of finishes or rescues names, locked until commit.
inline constexpr Statement kLockJobsForFinish{"quern_lock_jobs_for_finish", R"sql(
  SELECT id, queue, state, attempt, failures, max_attempts FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
)sql"};

// Ends runs (finishes and rescues), each row as the caller worked it out:
// $1 id[] $2 state[] $3 failures added[] $4 error[] (NULL: kept) $5 run_at[] (NULL: kept)
// $6 finished_at[] $7 result[] (JSON, for completed jobs) $8 now.
inline constexpr Statement kEndRuns{"quern_end_runs", R"sql(
  UPDATE jobs j
  SET state = e.state, failures = j.failures + e.failed, error = coalesce(e.error, j.error),
      run_at = coalesce(e.run_at, j.run_at), finished_at = e.finished_at,
      result = CASE WHEN e.state = 'completed' THEN e.result::json ELSE j.result END,
      progress = CASE WHEN e.state = 'completed' THEN 1 ELSE j.progress END,
      updated_at = $8, lease_owner = NULL, lease_expires_at = NULL
  FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])
       AS e(id, state, failed, error, run_at, finished_at, result)
  WHERE j.id = ANY($1::bigint[]) AND j.id = e.id
)sql"};

// A running job's log size and last chunk, locked (appends to one job are serialized).
inline constexpr Statement kLockRunningJobLog{"quern_lock_running_job_log", R"sql(
  SELECT j.log_bytes, (SELECT coalesce(max(l.seq), 0) FROM job_logs l WHERE l.job_id = j.id)
  FROM jobs j WHERE j.id = $1 AND j.state = 'running' AND j.attempt = $2
  FOR UPDATE OF j
)sql"};

inline constexpr Statement kInsertLogChunk{"quern_insert_log_chunk", R"sql(
  INSERT INTO job_logs (job_id, seq, attempt, at, bytes, chunk) VALUES ($1, $2, $3, $4, $5, $6::bytea)
)sql"};

inline constexpr Statement kSelectLogChunkSizes{"quern_select_log_chunk_sizes",
                                                "SELECT seq, bytes FROM job_logs WHERE job_id = $1 ORDER BY seq"};

inline constexpr Statement kDeleteLogChunksUpTo{"quern_delete_log_chunks_up_to",
                                                "DELETE FROM job_logs WHERE job_id = $1 AND seq <= $2"};

inline constexpr Statement kSetLogBytes{"quern_set_log_bytes", "UPDATE jobs SET log_bytes = $2 WHERE id = $1"};

// --- maintenance ---------------------------------------------------------------------

inline constexpr Statement kLockExpiredLeases{"quern_lock_expired_leases", R"sql(
  SELECT id, queue, state, attempt, failures, max_attempts FROM jobs
  WHERE state = 'running' AND lease_expires_at <= $1
  ORDER BY lease_expires_at
  FOR UPDATE SKIP LOCKED
)sql"};

inline constexpr Statement kLockRunningJobsOfOwners{"quern_lock_running_jobs_of_owners", R"sql(
  SELECT id, queue, state, attempt, failures, max_attempts FROM jobs
  WHERE state = 'running' AND lease_owner = ANY($1::text[])
  ORDER BY id
  FOR UPDATE SKIP LOCKED
)sql"};

inline constexpr Statement kSelectLeaseOwners{"quern_select_lease_owners", R"sql(
  SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' AND lease_owner IS NOT NULL ORDER BY 1
)sql"};

inline constexpr Statement kSelectNextScheduledAt{"quern_select_next_scheduled_at", R"sql(
  SELECT min(s.run_at)
  FROM (SELECT name FROM queues WHERE $1::text[] IS NULL OR name = ANY($1::text[])) q
  CROSS JOIN LATERAL (
    SELECT j.run_at FROM jobs j WHERE j.state = 'scheduled' AND j.queue = q.name ORDER BY j.run_at LIMIT 1) s
)sql"};

inline constexpr Statement kLockExpiringJobs{"quern_lock_expiring_jobs", R"sql(
  SELECT id FROM jobs
  WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'available', 'blocked') AND expires_at <= $1
  ORDER BY expires_at, id
  FOR UPDATE SKIP LOCKED
)sql"};

inline constexpr Statement kSelectJobsWaitingOnFiles{"quern_select_jobs_waiting_on_files", R"sql(
  SELECT id, needs_files FROM jobs WHERE state = 'blocked' AND NOT files_met ORDER BY id
)sql"};

inline constexpr Statement kMarkFilesMet{"quern_mark_files_met",
                                         "UPDATE jobs SET files_met = true, updated_at = $2 WHERE id = $1"};

// Final jobs of one state finished before $2 (NULL: any time), of queue $3 (NULL: any), deleted.
inline constexpr Statement kDeleteFinishedJobs{"quern_delete_finished_jobs", R"sql(
  DELETE FROM jobs
  WHERE state IN ('completed', 'failed', 'canceled', 'expired') AND state = $1
    AND ($2::bigint IS NULL OR finished_at < $2::bigint) AND ($3::text IS NULL OR queue = $3::text)
  RETURNING id, queue
)sql"};

// --- dependencies ----------------------------------------------------------------------

// The dependents of every job of $1: one round trip for a whole batch of finishes.
inline constexpr Statement kSelectDependentsOf{"quern_select_dependents_of", R"sql(
  SELECT depends_on_id, job_id FROM job_dependencies WHERE depends_on_id = ANY($1::bigint[])
  ORDER BY depends_on_id, job_id
)sql"};

// Dependencies of $1 that are still there and not completed (a completed job that was
// deleted later no longer holds anyone back).
inline constexpr Statement kCountUnmetDependencies{"quern_count_unmet_dependencies", R"sql(
  SELECT count(*) FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on_id
  WHERE d.job_id = $1 AND j.state <> 'completed'
)sql"};

inline constexpr Statement kUnblockJob{"quern_unblock_job", "UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1"};

// --- admin -------------------------------------------------------------------------------

inline constexpr Statement kCancelJob{"quern_cancel_job", R"sql(
  UPDATE jobs
  SET state = 'canceled', finished_at = $2, updated_at = $2, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = $1
)sql"};

inline constexpr Statement kExpireJob{"quern_expire_job", R"sql(
  UPDATE jobs SET state = 'expired', finished_at = $2, updated_at = $2 WHERE id = $1
)sql"};

// A retried job runs now: a past expires_at is dropped, or it would expire at once.
inline constexpr Statement kRetryJob{"quern_retry_job", R"sql(
  UPDATE jobs
  SET state = $2, failures = 0, progress = 0, stage = '', run_at = $3, finished_at = NULL, updated_at = $3,
      expires_at = CASE WHEN expires_at <= $3 THEN NULL ELSE expires_at END
  WHERE id = $1
)sql"};

inline constexpr Statement kSelectLiveJobIdByUniqueKey{"quern_select_live_job_id_by_unique_key", R"sql(
  SELECT id FROM jobs
  WHERE unique_key = $1 AND unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'blocked', 'running')
)sql"};

inline constexpr Statement kSelectFailedJobIds{"quern_select_failed_job_ids", R"sql(
  SELECT id FROM jobs
  WHERE state IN ('completed', 'failed', 'canceled', 'expired') AND state = 'failed' AND ($1::text IS NULL OR queue = $1)
  ORDER BY id
)sql"};

inline constexpr Statement kSetPriority{"quern_set_priority",
                                        "UPDATE jobs j SET priority = $2, updated_at = $3 WHERE j.id = $1 RETURNING" QUERN_PG_JOB_COLUMNS};

// Removes a job and everything kept about it ($1 ids).
inline constexpr Statement kDeleteJobs{"quern_delete_jobs", "DELETE FROM jobs WHERE id = ANY($1::bigint[])"};
inline constexpr Statement kDeleteHistoryOfJobs{"quern_delete_history_of_jobs",
                                                "DELETE FROM job_history WHERE job_id = ANY($1::bigint[])"};
inline constexpr Statement kDeleteLogsOfJobs{"quern_delete_logs_of_jobs",
                                             "DELETE FROM job_logs WHERE job_id = ANY($1::bigint[])"};
inline constexpr Statement kDeleteTagsOfJobs{"quern_delete_tags_of_jobs",
                                             "DELETE FROM job_tags WHERE job_id = ANY($1::bigint[])"};
inline constexpr Statement kDeleteDependenciesOfJobs{"quern_delete_dependencies_of_jobs", R"sql(
  DELETE FROM job_dependencies WHERE job_id = ANY($1::bigint[]) OR depends_on_id = ANY($1::bigint[])
)sql"};

// A queue starts resumed, so creating it paused is its first change.
inline constexpr Statement kSetQueuePaused{"quern_set_queue_paused", R"sql(
  INSERT INTO queues (name, paused, updated_at, pause_changes) VALUES ($1, $2, $3, $2::boolean::int)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at,
    pause_changes = queues.pause_changes + (queues.paused <> excluded.paused)::int
)sql"};

inline constexpr Statement kSelectQueueHeldWhile{"quern_select_queue_held_while",
                                                 "SELECT held_while FROM queues WHERE name = $1"};

inline constexpr Statement kSetQueueHold{"quern_set_queue_hold", R"sql(
  INSERT INTO queues (name, paused, updated_at, held_while) VALUES ($1, false, $2, $3)
  ON CONFLICT (name) DO UPDATE SET held_while = excluded.held_while, updated_at = excluded.updated_at
)sql"};

// Every queue with its pause, limit, hold and retention (columns in kFinalStates order).
inline constexpr Statement kSelectQueueInfos{"quern_select_queue_infos", R"sql(
  SELECT name, paused, pause_changes, concurrency_limit, held_while,
         keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us
  FROM queues ORDER BY name
)sql"};

inline constexpr Statement kEnsureQueueRow{"quern_ensure_queue_row", R"sql(
  INSERT INTO queues (name, paused, updated_at) VALUES ($1, false, $2) ON CONFLICT (name) DO NOTHING
)sql"};

inline constexpr Statement kLockQueueRetention{"quern_lock_queue_retention", R"sql(
  SELECT keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us FROM queues WHERE name = $1 FOR UPDATE
)sql"};

inline constexpr Statement kSetQueueRetention{"quern_set_queue_retention", R"sql(
  INSERT INTO queues (name, paused, updated_at, keep_completed_us, keep_failed_us, keep_canceled_us, keep_expired_us)
  VALUES ($1, false, $2, $3, $4, $5, $6)
  ON CONFLICT (name) DO UPDATE SET
    keep_completed_us = excluded.keep_completed_us, keep_failed_us = excluded.keep_failed_us,
    keep_canceled_us = excluded.keep_canceled_us, keep_expired_us = excluded.keep_expired_us,
    updated_at = excluded.updated_at
)sql"};

// At most $4 jobs of queue $1 that ended in state $2 at $3 or before, earliest first, deleted
// (rows another transaction holds are left for the next pass).
inline constexpr Statement kDeleteJobsFinishedBefore{"quern_delete_jobs_finished_before", R"sql(
  DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs
    WHERE state IN ('completed', 'failed', 'canceled', 'expired') AND queue = $1 AND state = $2
      AND finished_at <= $3::bigint
    ORDER BY finished_at LIMIT $4 FOR UPDATE SKIP LOCKED)
  RETURNING id
)sql"};

inline constexpr Statement kSetQueueConcurrencyLimit{"quern_set_queue_concurrency_limit", R"sql(
  INSERT INTO queues (name, paused, updated_at, concurrency_limit) VALUES ($1, false, $2, $3)
  ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit, updated_at = excluded.updated_at
)sql"};

inline constexpr Statement kSelectStats{"quern_select_stats", R"sql(
  SELECT q.name, q.paused, c.state, c.n
  FROM queues q LEFT JOIN queue_counts c ON c.queue = q.name
  ORDER BY q.name
)sql"};

inline constexpr Statement kSelectHistoryOfJob{"quern_select_history_of_job", R"sql(
  SELECT seq, job_id, at, from_state, to_state, attempt, detail FROM job_history WHERE job_id = $1 ORDER BY seq
)sql"};

inline constexpr Statement kSelectHistorySince{"quern_select_history_since", R"sql(
  SELECT seq, job_id, at, from_state, to_state, attempt, detail FROM job_history
  WHERE seq > $1 ORDER BY seq LIMIT $2
)sql"};

inline constexpr Statement kSelectFinishesSince{"quern_select_finishes_since", R"sql(
  SELECT minute, state, n FROM finishes_per_minute WHERE minute >= $1 ORDER BY minute, state
)sql"};

inline constexpr Statement kSelectLogChunks{"quern_select_log_chunks", R"sql(
  SELECT seq, attempt, at, chunk FROM job_logs WHERE job_id = $1 AND seq > $2 ORDER BY seq
)sql"};

// --- settings --------------------------------------------------------------------------

inline constexpr Statement kSelectSetting{"quern_select_setting", "SELECT value_json FROM settings WHERE key = $1"};
inline constexpr Statement kSelectSettings{"quern_select_settings", "SELECT key, value_json FROM settings ORDER BY key"};
inline constexpr Statement kPutSetting{"quern_put_setting", R"sql(
  INSERT INTO settings (key, value_json, updated_at) VALUES ($1, $2, $3)
  ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at
)sql"};

// --- cron ------------------------------------------------------------------------------

#define QUERN_PG_CRON_COLUMNS " name, schedule, job, next_run_at, last_run_at, last_job_id, created_at, updated_at "

inline constexpr Statement kSelectCronEntries{"quern_select_cron_entries",
                                              "SELECT" QUERN_PG_CRON_COLUMNS "FROM cron_entries ORDER BY name COLLATE \"C\""};
inline constexpr Statement kAnyCronEntryDue{"quern_any_cron_entry_due",
                                            "SELECT EXISTS (SELECT 1 FROM cron_entries WHERE next_run_at <= $1)"};
// Locked until the firing commits: a second leader (one whose lease lapsed) waits, then
// finds them no longer due.
inline constexpr Statement kLockDueCronEntries{
    "quern_lock_due_cron_entries",
    "SELECT" QUERN_PG_CRON_COLUMNS "FROM cron_entries WHERE next_run_at <= $1 ORDER BY next_run_at, name FOR UPDATE"};

// A replaced entry keeps its next firing while its schedule stays the same, so
// registering the same entries at every start-up never moves or repeats a firing.
inline constexpr Statement kPutCronEntry{"quern_put_cron_entry", R"sql(
  INSERT INTO cron_entries (name, schedule, job, next_run_at, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $5)
  ON CONFLICT (name) DO UPDATE SET
    next_run_at = CASE WHEN cron_entries.schedule = excluded.schedule THEN cron_entries.next_run_at
                       ELSE excluded.next_run_at END,
    schedule = excluded.schedule, job = excluded.job, updated_at = excluded.updated_at
  RETURNING)sql" QUERN_PG_CRON_COLUMNS};

// Two unnamed entries added at once must not take one number: the second waits.
inline constexpr Statement kLockCronEntriesForNaming{"quern_lock_cron_entries_for_naming",
                                                     "LOCK TABLE cron_entries IN SHARE ROW EXCLUSIVE MODE"};
// The largest name that is a number (of at most 18 digits, so it fits), or 0.
inline constexpr Statement kSelectLargestNumberedCronName{
    "quern_select_largest_numbered_cron_name",
    "SELECT coalesce(max(name::bigint), 0) FROM cron_entries WHERE name ~ '^[0-9]{1,18}$'"};

inline constexpr Statement kDeleteCronEntry{"quern_delete_cron_entry", "DELETE FROM cron_entries WHERE name = $1"};

// $3 the job this firing enqueued, or NULL when a live job held its unique key.
inline constexpr Statement kRecordCronFiring{"quern_record_cron_firing", R"sql(
  UPDATE cron_entries SET next_run_at = $2, last_run_at = $4, last_job_id = coalesce($3, last_job_id)
  WHERE name = $1
)sql"};

// --- directory ingest ----------------------------------------------------------------

// Held until commit: two processes ingesting for one watch take turns, so a file is
// recorded (and enqueued) by one of them only.
inline constexpr Statement kLockWatch{"quern_lock_watch", "SELECT pg_advisory_xact_lock($1::bigint)"};
inline constexpr Statement kSelectIngestedPaths{"quern_select_ingested_paths", R"sql(
  SELECT path FROM ingested_files WHERE watch = $1 AND path = ANY($2::text[])
)sql"};
inline constexpr Statement kRecordIngestedFiles{"quern_record_ingested_files", R"sql(
  INSERT INTO ingested_files (watch, path, job_id, ingested_at)
  SELECT $1, f.path, f.job_id, $4 FROM unnest($2::text[], $3::bigint[]) AS f (path, job_id)
)sql"};

// --- leadership --------------------------------------------------------------------------

// Session-level: held until unlocked or the session ends, whatever ends it.
inline constexpr Statement kTryLeadershipLock{"quern_try_leadership_lock", "SELECT pg_try_advisory_lock($1::bigint)"};
inline constexpr Statement kReleaseLeadershipLock{"quern_release_leadership_lock",
                                                  "SELECT pg_advisory_unlock($1::bigint)"};
// A round trip on the leader's session: it fails once the session is gone (and the lock with it).
inline constexpr Statement kCheckLeadershipSession{"quern_check_leadership_session", "SELECT 1"};

}  // namespace quern::postgres
