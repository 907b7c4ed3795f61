// The PostgreSQL schema as numbered migrations, recorded in quern_schema_migrations
// (version, description, applied_at) inside Quern's own schema, and applied under an
// advisory lock so that processes starting at once never race.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "store/postgres/pg_connection.h"

namespace quern::postgres {

struct MigrationState {
  int version = 0;
  std::string description;
  std::optional<Time> applied_at;  // unset: pending
};

// Every migration this build knows, with when each was applied to the database.
struct SchemaState {
  int current = 0;  // the newest applied version (0: none, or no Quern schema yet)
  int latest = 0;   // the newest this build knows
  std::vector<MigrationState> migrations;
};

int latest_schema_version();

// Reads (never writes) the schema's state. Throws kDataLoss if the schema holds
// tables of another program, kFailedPrecondition if a newer Quern migrated it.
SchemaState read_schema_state(Connection& db, const std::string& schema);

// Creates the schema if needed and applies every pending migration in one transaction
// under an advisory lock; `now` is recorded as applied_at. Returns the state after.
SchemaState migrate_schema(Connection& db, const std::string& schema, Time now);

// The key of the advisory lock every transaction that moves jobs holds at its end
// (transaction.h).
int64_t bookkeeping_lock_key(const std::string& schema);
// The advisory lock of one directory watch's ingest (statements.h, kLockWatch).
int64_t watch_lock_key(const std::string& schema, const std::string& watch);

// The key of the session advisory lock the maintenance leader of `schema` holds.
int64_t leadership_lock_key(const std::string& schema);

// Throws kUnavailable unless the schema is at the latest version (for --no-migrate).
void require_current_schema(Connection& db, const std::string& schema, const std::string& display_name);

}  // namespace quern::postgres
