#include "store/sqlite/schema.h"

#include <iterator>

#include "quern/error.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

struct Migration {
  const char* description;
  const char* sql;
};

// Migration N brings user_version N-1 to N. Append; never edit a released one.
constexpr Migration kMigrations[] = {
    {"jobs, history, logs, queues, counts, settings", R"sql(
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,  -- never reused: see store_meta 'max_job_id'
    queue TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    payload TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    updated_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    timeout_us INTEGER,
    expires_at INTEGER,
    unique_key TEXT,
    checkpoint TEXT,
    result TEXT,
    error TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    depends_on TEXT,           -- JSON array of job ids, also in job_dependencies
    needs_files TEXT,          -- JSON array of absolute paths
    files_met INTEGER NOT NULL DEFAULT 1,
    on_dependency_failure TEXT NOT NULL DEFAULT 'cancel',
    log_bytes INTEGER NOT NULL DEFAULT 0
  );

  -- Claiming: only available jobs, in claim order within a queue and type; covering
  -- (state too, which SQLite wants for the WHERE), so candidates are found without
  -- touching the table.
  CREATE INDEX jobs_claimable ON jobs (queue, type, priority DESC, run_at, id, expires_at, state)
    WHERE state = 'available';
  CREATE INDEX jobs_scheduled ON jobs (queue, run_at) WHERE state = 'scheduled';
  CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE state = 'running';
  -- A unique key never has two live jobs.
  CREATE UNIQUE INDEX jobs_live_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND (state = 'scheduled' OR state = 'available' OR state = 'blocked' OR state = 'running');
  CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND (state = 'scheduled' OR state = 'available' OR state = 'blocked');
  -- Clearing, retrying and listing finished jobs; finding blocked ones. (No index on
  -- every state: each would cost every enqueue and every transition.)
  CREATE INDEX jobs_finished ON jobs (state, finished_at)
    WHERE (state = 'completed' OR state = 'failed' OR state = 'canceled' OR state = 'expired');
  CREATE INDEX jobs_blocked ON jobs (id) WHERE state = 'blocked';

  CREATE TABLE job_dependencies (
    job_id INTEGER NOT NULL,
    depends_on_id INTEGER NOT NULL,
    PRIMARY KEY (job_id, depends_on_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_dependencies_by_dependency ON job_dependencies (depends_on_id);

  CREATE TABLE job_history (
    seq INTEGER PRIMARY KEY,  -- the event id; never reused: see store_meta 'max_history_seq'
    job_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX job_history_by_job ON job_history (job_id);

  CREATE TABLE job_logs (
    job_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  );

  CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Jobs per queue and state, kept by every transaction (never recounted).
  CREATE TABLE queue_counts (
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, state)
  ) WITHOUT ROWID;

  -- Facts about the database itself: its id, and the largest job id and history seq
  -- ever handed out (ids are allocated by the store, above both, so deleting the
  -- newest rows never lets an id come back).
  CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO store_meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
  INSERT INTO store_meta (key, value) VALUES ('max_job_id', 0), ('max_history_seq', 0);

  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value_json TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
)sql"},
    // 2: pages of jobs by state (the dashboard's lists stay fast at millions of jobs),
    // and finishes per minute (its throughput chart).
    {"pages of jobs by state, finishes per minute", R"sql(
  CREATE INDEX jobs_by_state ON jobs (state, id);
  CREATE TABLE finishes_per_minute (
    minute INTEGER NOT NULL,  -- microseconds since the epoch, a multiple of 60 s
    state TEXT NOT NULL,      -- 'completed' or 'failed'
    n INTEGER NOT NULL,
    PRIMARY KEY (minute, state)
  ) WITHOUT ROWID;
)sql"},
    // 3: fewer indexes on the hot path. Every claim and finish moved each job in and out
    // of jobs_lease_expiry and jobs_finished; their readers (lease rescue, clearing,
    // retrying failed jobs, file checks) walk jobs_by_state instead, which every move
    // updates anyway: running and blocked jobs are few, and clearing reads what it deletes.
    {"fewer indexes on the hot path", R"sql(
  DROP INDEX jobs_lease_expiry;
  DROP INDEX jobs_finished;
  DROP INDEX jobs_blocked;
)sql"},
    // 4: filtered pages read only the jobs that match. A page filtered by queue, type or
    // tag walks whichever of jobs_by_state, jobs_by_queue, jobs_by_type and job_tags has
    // the fewest entries for it. Queue and type never change, so these cost an insert and
    // a delete per job and nothing per move; only tagged jobs have job_tags rows.
    {"filtered pages by queue, type and tag", R"sql(
  CREATE INDEX jobs_by_queue ON jobs (queue, id);
  CREATE INDEX jobs_by_type ON jobs (type, id);
  CREATE TABLE job_tags (
    tag TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    PRIMARY KEY (tag, job_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_tags_by_job ON job_tags (job_id);
  INSERT OR IGNORE INTO job_tags (tag, job_id)
    SELECT t.value, j.id FROM jobs j, json_each(j.tags) t WHERE j.tags <> '[]';
)sql"},
    // 5: pauses and resumes are counted, so a poller that looks every 100 ms sees a
    // pause and resume that both happened between two looks.
    {"pauses and resumes counted", R"sql(
  ALTER TABLE queues ADD COLUMN pause_changes INTEGER NOT NULL DEFAULT 0;
)sql"},
    // 6: the length of the lease last granted to a run, so a heartbeat that names none
    // renews by as much (not by whatever default the process it reaches has). Running
    // jobs get theirs from their expiry and the time of their last claim or heartbeat, at
    // least the default 30 s (a priority change also moves that time).
    {"the length of each run's lease", R"sql(
  ALTER TABLE jobs ADD COLUMN lease_us INTEGER;
  UPDATE jobs SET lease_us = max(lease_expires_at - updated_at, 30000000)
  WHERE state = 'running' AND lease_expires_at IS NOT NULL;
)sql"},
    // 7: cron entries, fired by the maintenance leader (next_run_at finds the due ones).
    {"cron entries", R"sql(
  CREATE TABLE cron_entries (
    name TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    job TEXT NOT NULL,  -- the job template and expires_in, as JSON (core/cron_entry.h)
    next_run_at INTEGER NOT NULL,
    last_run_at INTEGER,
    last_job_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX cron_entries_by_next_run ON cron_entries (next_run_at);
)sql"},
    // 8: the files each directory watch has enqueued a job for (never twice).
    {"files ingested by directory watches", R"sql(
  CREATE TABLE ingested_files (
    watch TEXT NOT NULL,
    path TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL,
    PRIMARY KEY (watch, path)
  ) WITHOUT ROWID;
)sql"},
    // 9: a queue's concurrency limit (NULL: none), read by every claim.
    {"queue concurrency limits", R"sql(
  ALTER TABLE queues ADD COLUMN concurrency_limit INTEGER;
)sql"},
    // 10: the queue whose work holds a queue back (NULL: none), read by every claim.
    {"queue holds", R"sql(
  ALTER TABLE queues ADD COLUMN held_while TEXT;
)sql"},
    // 11: how long each queue's finished jobs are kept, per final state (NULL: until
    // deleted by hand), and when each finished job of a queue that keeps them for a
    // while is due to go. A schedule, not an index on jobs: an index on finished_at
    // would cost every finish (~10% of the drain), also of queues that keep everything.
    {"queue retention", R"sql(
  ALTER TABLE queues ADD COLUMN keep_completed_us INTEGER;
  ALTER TABLE queues ADD COLUMN keep_failed_us INTEGER;
  ALTER TABLE queues ADD COLUMN keep_canceled_us INTEGER;
  ALTER TABLE queues ADD COLUMN keep_expired_us INTEGER;
  CREATE TABLE job_prune_schedule (
    prune_at INTEGER NOT NULL,
    job_id INTEGER NOT NULL,
    PRIMARY KEY (prune_at, job_id)
  ) WITHOUT ROWID;
)sql"},
};

struct DatabaseIdentity {
  int64_t schema_objects = 0;
  int64_t user_version = 0;
  int64_t application_id = 0;
};

DatabaseIdentity read_identity(Connection& db) {
  auto q = db.prepare(kSelectDatabaseIdentity);
  DatabaseIdentity identity;
  if (q->step()) {
    identity.schema_objects = q->int64(0);
    identity.user_version = q->int64(1);
    identity.application_id = q->int64(2);
  }
  return identity;
}

void check_identity(const Connection& db, const DatabaseIdentity& identity) {
  const bool is_new = identity.schema_objects == 0 && identity.user_version == 0 && identity.application_id == 0;
  if (is_new) return;
  if (identity.application_id != kQuernApplicationId) {
    throw Error::data_loss(db.path() + " is not a Quern database (it is a SQLite database of another program)");
  }
  if (identity.user_version > latest_schema_version()) {
    // A store this build cannot use (exit 5), like one it cannot open.
    throw Error::unavailable(db.path() + " has schema version " + std::to_string(identity.user_version) +
                             ", newer than this Quern knows (" + std::to_string(latest_schema_version()) +
                             "); upgrade Quern");
  }
}

}  // namespace

int latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

std::string schema_migration_description(int version) {
  if (version < 1 || version > latest_schema_version()) return "";
  return kMigrations[version - 1].description;
}

void check_quern_database(Connection& db) {
  DatabaseIdentity identity;
  try {
    identity = read_identity(db);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kDataLoss) {
      throw Error::data_loss(db.path() + " is corrupt or not a Quern database (" + e.what() + ")");
    }
    throw;
  }
  check_identity(db, identity);
}

void migrate_schema(Connection& db) {
  db.exec("BEGIN IMMEDIATE");
  try {
    // Read again inside the write lock: another process may have migrated meanwhile.
    const DatabaseIdentity identity = read_identity(db);
    check_identity(db, identity);
    for (int version = static_cast<int>(identity.user_version); version < latest_schema_version(); ++version) {
      db.exec(kMigrations[version].sql);
    }
    if (identity.user_version < latest_schema_version()) {
      db.exec(("PRAGMA application_id = " + std::to_string(kQuernApplicationId)).c_str());
      db.exec(("PRAGMA user_version = " + std::to_string(latest_schema_version())).c_str());
    }
    db.exec("COMMIT");
  } catch (...) {
    if (db.in_transaction()) {
      try {
        db.exec("ROLLBACK");
      } catch (...) {
        // The original error says more; the connection is closed by the caller.
      }
    }
    throw;
  }
}

}  // namespace quern::sqlite
