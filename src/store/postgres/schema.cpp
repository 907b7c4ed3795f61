#include "store/postgres/schema.h"

#include <iterator>
#include <map>

#include "quern/error.h"
#include "store/postgres/statements.h"

namespace quern::postgres {
namespace {

struct Migration {
  const char* description;
  const char* sql;
};

// Migration N brings version N-1 to N. Append; never edit a released one.
constexpr Migration kPgMigrations[] = {
    {"jobs, history, logs, queues, counts, settings", R"sql(
  -- Event ids: handed out under the bookkeeping lock (statements.h), never reused.
  CREATE SEQUENCE job_history_seq;

  -- Finished jobs are kept out of the hot indexes (all partial) and pruned by
  -- `quern clear` / retention; autovacuum is made eager on this table, whose rows are
  -- updated at every step of a job (the known failure of SKIP LOCKED queues is dead
  -- tuples piling up in the claim index between vacuums).
  CREATE TABLE jobs (
    id bigserial PRIMARY KEY,  -- a sequence: ids are never reused
    queue text NOT NULL,
    type text NOT NULL,
    state text NOT NULL CHECK (state IN ('scheduled', 'available', 'blocked', 'running',
                                         'completed', 'failed', 'canceled', 'expired')),
    priority integer NOT NULL,
    payload json NOT NULL,
    stage text NOT NULL DEFAULT '',
    progress double precision NOT NULL DEFAULT 0,
    attempt integer NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    run_at bigint NOT NULL,  -- times: microseconds since the epoch
    created_at bigint NOT NULL,
    started_at bigint,
    finished_at bigint,
    updated_at bigint NOT NULL,
    lease_owner text,
    lease_expires_at bigint,
    timeout_us bigint,
    expires_at bigint,
    unique_key text,
    checkpoint json,
    result json,
    error text NOT NULL DEFAULT '',
    tags json NOT NULL DEFAULT '[]',
    depends_on json,   -- JSON array of job ids, also in job_dependencies
    needs_files json,  -- JSON array of absolute paths
    files_met boolean NOT NULL DEFAULT true,
    on_dependency_failure text NOT NULL DEFAULT 'cancel',
    log_bytes bigint NOT NULL DEFAULT 0
  ) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05,
          autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);

  -- Claiming: only available jobs, in claim order within a queue and type.
  CREATE INDEX jobs_claimable ON jobs (queue, type, priority DESC, run_at, id) INCLUDE (expires_at)
    WHERE state = 'available';
  CREATE INDEX jobs_scheduled ON jobs (queue, run_at) WHERE state = 'scheduled';
  CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE state = 'running';
  CREATE INDEX jobs_running_owner ON jobs (lease_owner) WHERE state = 'running';
  -- A unique key never has two live jobs.
  CREATE UNIQUE INDEX jobs_live_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'blocked', 'running');
  CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'available', 'blocked');
  -- Clearing finished jobs by age; pages of jobs by state (the dashboard, `quern ls`).
  CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE state IN ('completed', 'failed', 'canceled', 'expired');
  CREATE INDEX jobs_by_state ON jobs (state, id);

  CREATE TABLE job_dependencies (
    job_id bigint NOT NULL,
    depends_on_id bigint NOT NULL,
    PRIMARY KEY (job_id, depends_on_id)
  );
  CREATE INDEX job_dependencies_by_dependency ON job_dependencies (depends_on_id);

  CREATE TABLE job_history (
    seq bigint PRIMARY KEY,  -- the event id
    job_id bigint NOT NULL,
    at bigint NOT NULL,
    from_state text,
    to_state text NOT NULL,
    attempt integer NOT NULL,
    detail text NOT NULL
  );
  CREATE INDEX job_history_by_job ON job_history (job_id, seq);

  CREATE TABLE job_logs (
    job_id bigint NOT NULL,
    seq bigint NOT NULL,
    attempt integer NOT NULL,
    at bigint NOT NULL,
    bytes bigint NOT NULL,
    chunk bytea NOT NULL,  -- the bytes as the job wrote them
    PRIMARY KEY (job_id, seq)
  );

  CREATE TABLE queues (
    name text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    updated_at bigint NOT NULL
  );

  -- Jobs per queue and state, kept by every transaction (never recounted). Updated
  -- all the time: room on each page for HOT updates.
  CREATE TABLE queue_counts (
    queue text NOT NULL,
    state text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (queue, state)
  ) WITH (fillfactor = 50);

  CREATE TABLE finishes_per_minute (
    minute bigint NOT NULL,  -- microseconds since the epoch, a multiple of 60 s
    state text NOT NULL,     -- 'completed' or 'failed'
    n bigint NOT NULL,
    PRIMARY KEY (minute, state)
  ) WITH (fillfactor = 50);

  CREATE TABLE store_meta (
    key text PRIMARY KEY,
    value text NOT NULL
  );
  INSERT INTO store_meta (key, value) VALUES ('database_id', replace(gen_random_uuid()::text, '-', ''));

  CREATE TABLE settings (
    key text PRIMARY KEY,
    value_json text NOT NULL,
    updated_at bigint NOT NULL
  );
)sql"},
    {"autovacuum by dead-row count on the hot tables", R"sql(
  -- MVCC: every step of a job leaves a dead row version behind (and a dead entry in
  -- each index it moved in or out of), and PostgreSQL's default is to vacuum a table
  -- once a fifth of it is dead: on a table of millions, hundreds of thousands of dead
  -- rows that claims and index scans wade through. Here vacuum comes after a fixed
  -- count of dead rows plus a small fraction (about 3,000 on a table of a million),
  -- unthrottled, and analyze keeps the planner's view of the partial indexes fresh.
  -- fillfactor leaves room on each page so updates that touch no indexed column
  -- (progress, stage, checkpoints, log sizes) stay HOT: no new index entries at all.
  ALTER TABLE jobs SET (fillfactor = 80,
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.002,
    autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.005,
    autovacuum_vacuum_cost_delay = 0);
  -- Insert-mostly, deleted in bulk when jobs are cleared.
  ALTER TABLE job_history SET (
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_threshold = 10000, autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.01);
  ALTER TABLE job_logs SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.01);
  ALTER TABLE job_dependencies SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.01);
  -- A few rows, each updated by nearly every transaction: vacuum by count alone.
  ALTER TABLE queue_counts SET (autovacuum_vacuum_threshold = 200, autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_cost_delay = 0);
  ALTER TABLE finishes_per_minute SET (autovacuum_vacuum_threshold = 200, autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_cost_delay = 0);
)sql"},
    {"filtered pages by queue, type and tag", R"sql(
  -- A page filtered by queue, type or tag reads the jobs that match, not every job:
  -- queue and type never change (an insert and a delete per job, no HOT update lost),
  -- and only tagged jobs have job_tags rows.
  CREATE INDEX jobs_by_queue ON jobs (queue, id);
  CREATE INDEX jobs_by_type ON jobs (type, id);
  CREATE TABLE job_tags (
    tag text NOT NULL,
    job_id bigint NOT NULL,
    PRIMARY KEY (tag, job_id)
  );
  CREATE INDEX job_tags_by_job ON job_tags (job_id);
  INSERT INTO job_tags (tag, job_id)
    SELECT DISTINCT t.tag, j.id FROM jobs j, json_array_elements_text(j.tags) AS t(tag);
)sql"},
    {"pauses and resumes counted", R"sql(
  -- A poller that looks every 100 ms sees a pause and resume that both happened
  -- between two looks.
  ALTER TABLE queues ADD COLUMN pause_changes bigint NOT NULL DEFAULT 0;
)sql"},
    {"the length of each run's lease", R"sql(
  -- A heartbeat that names no lease renews by the one last granted (not by whatever
  -- default the server it reaches has). Running jobs get theirs from their expiry and
  -- the time of their last claim or heartbeat, at least the default 30 s (a priority
  -- change also moves that time).
  ALTER TABLE jobs ADD COLUMN lease_us bigint;
  UPDATE jobs SET lease_us = greatest(lease_expires_at - updated_at, 30000000)
  WHERE state = 'running' AND lease_expires_at IS NOT NULL;
)sql"},
    {"cron entries", R"sql(
  -- Fired by the maintenance leader; next_run_at finds the due ones.
  CREATE TABLE cron_entries (
    name text PRIMARY KEY,
    schedule text NOT NULL,
    job text NOT NULL,  -- the job template and expires_in, as JSON (core/cron_entry.h)
    next_run_at bigint NOT NULL,
    last_run_at bigint,
    last_job_id bigint,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE INDEX cron_entries_by_next_run ON cron_entries (next_run_at);
)sql"},
    {"files ingested by directory watches", R"sql(
  -- The files each directory watch has enqueued a job for (never twice).
  CREATE TABLE ingested_files (
    watch text NOT NULL,
    path text NOT NULL,
    job_id bigint NOT NULL,
    ingested_at bigint NOT NULL,
    PRIMARY KEY (watch, path)
  );
)sql"},
    {"queue concurrency limits", R"sql(
  -- At most this many of a queue's jobs run at once (NULL: no limit); claims read it.
  ALTER TABLE queues ADD COLUMN concurrency_limit integer;
)sql"},
    {"queue holds", R"sql(
  -- The queue whose work holds a queue back (NULL: none); claims read it.
  ALTER TABLE queues ADD COLUMN held_while text;
)sql"},
    {"queue retention", R"sql(
  -- How long each queue's finished jobs are kept, per final state (NULL: until deleted
  -- by hand). The maintenance leader finds the jobs due by queue, state and finish time,
  -- so the index of finished jobs leads with the queue (clearing a state of every queue
  -- walks jobs_by_state instead).
  ALTER TABLE queues ADD COLUMN keep_completed_us bigint;
  ALTER TABLE queues ADD COLUMN keep_failed_us bigint;
  ALTER TABLE queues ADD COLUMN keep_canceled_us bigint;
  ALTER TABLE queues ADD COLUMN keep_expired_us bigint;
  DROP INDEX IF EXISTS jobs_finished;
  CREATE INDEX jobs_finished_by_queue ON jobs (queue, state, finished_at)
    WHERE state IN ('completed', 'failed', 'canceled', 'expired');
)sql"},
};

// FNV-1a: the same 64-bit key in every process, for advisory locks.
int64_t advisory_key(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return static_cast<int64_t>(hash);
}

struct SchemaFacts {
  int64_t relations = 0;
  bool has_migrations_table = false;
  std::map<int, Time> applied;
};

SchemaFacts read_facts(Connection& db, const std::string& schema) {
  SchemaFacts facts;
  {
    Result r = db.exec(kSelectSchemaIdentity, Params().add(schema));
    facts.relations = r.int64(0, 0);
    facts.has_migrations_table = r.boolean(0, 1);
  }
  if (facts.has_migrations_table) {
    Result r = db.exec(kSelectAppliedMigrations);
    for (int i = 0; i < r.rows(); ++i) facts.applied[r.integer(i, 0)] = r.time(i, 1);
  }
  return facts;
}

SchemaState state_of(const SchemaFacts& facts, const std::string& schema, const std::string& where) {
  if (facts.relations > 0 && !facts.has_migrations_table) {
    throw Error::data_loss("schema " + schema + " of " + where +
                           " is not a Quern schema (it holds other tables); name another with ?schema=NAME");
  }
  SchemaState state;
  state.latest = latest_schema_version();
  state.current = facts.applied.empty() ? 0 : facts.applied.rbegin()->first;
  if (state.current > state.latest) {
    throw Error::unavailable("schema " + schema + " of " + where + " has version " + std::to_string(state.current) +
                             ", newer than this Quern knows (" + std::to_string(state.latest) + "); upgrade Quern");
  }
  for (int version = 1; version <= state.latest; ++version) {
    MigrationState m;
    m.version = version;
    m.description = kPgMigrations[version - 1].description;
    if (auto it = facts.applied.find(version); it != facts.applied.end()) m.applied_at = it->second;
    state.migrations.push_back(std::move(m));
  }
  return state;
}

}  // namespace

int latest_schema_version() { return static_cast<int>(std::size(kPgMigrations)); }

SchemaState read_schema_state(Connection& db, const std::string& schema) {
  return state_of(read_facts(db, schema), schema, db.display_name());
}

SchemaState migrate_schema(Connection& db, const std::string& schema, Time now) {
  // Most opens find the schema current: check without the lock first.
  if (SchemaState state = read_schema_state(db, schema); state.current == state.latest) return state;
  db.exec_simple("BEGIN", "begin migration");
  try {
    db.exec(kLockMigrations, Params().add(advisory_key("quern.migrate." + schema)));
    db.exec_simple("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(schema), "create schema " + schema);
    // Read again under the lock: another process may have migrated meanwhile.
    const SchemaState before = read_schema_state(db, schema);
    if (before.current == 0) {
      db.exec_simple(R"sql(
        CREATE TABLE quern_schema_migrations (
          version integer PRIMARY KEY,
          description text NOT NULL,
          applied_at bigint NOT NULL  -- microseconds since the epoch
        ))sql",
                     "create quern_schema_migrations");
    }
    for (int version = before.current + 1; version <= latest_schema_version(); ++version) {
      db.exec_simple(kPgMigrations[version - 1].sql, "migrate schema " + schema + " to version " + std::to_string(version));
      db.exec(kRecordMigration, Params().add(version).add(kPgMigrations[version - 1].description).add(now));
    }
    db.exec_simple("COMMIT", "commit migration");
  } catch (...) {
    if (db.healthy()) {
      try {
        db.exec_simple("ROLLBACK", "rollback migration");
      } catch (...) {
        // The original error says more.
      }
    }
    throw;
  }
  return read_schema_state(db, schema);
}

void require_current_schema(Connection& db, const std::string& schema, const std::string& display_name) {
  const SchemaState state = read_schema_state(db, schema);
  if (state.current < state.latest) {
    throw Error::unavailable("database " + display_name + " has schema version " + std::to_string(state.current) +
                             " of " + std::to_string(state.latest) +
                             " and --no-migrate was given; run `quern migrate` first");
  }
}

int64_t bookkeeping_lock_key(const std::string& schema) { return advisory_key("quern.bookkeeping." + schema); }

int64_t watch_lock_key(const std::string& schema, const std::string& watch) {
  return advisory_key("quern.watch." + schema + "." + watch);
}

int64_t leadership_lock_key(const std::string& schema) { return advisory_key("quern.leader." + schema); }

}  // namespace quern::postgres
