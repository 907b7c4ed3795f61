// The schema version of a database, for `quern migrate` and `--no-migrate`, whatever
// its backend: SQLite keeps it in PRAGMA user_version, PostgreSQL in the table
// quern_schema_migrations (with when each migration was applied).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "store/store.h"

namespace quern {

struct SchemaMigrationStatus {
  int version = 0;
  std::string description;
  bool applied = false;
  std::optional<Time> applied_at;  // when known (PostgreSQL)
};

struct SchemaStatus {
  std::string backend;   // "sqlite" or "postgres"
  std::string database;  // the file, or user@host:port/database (never the password)
  int current = 0;      // 0: a database not created yet
  int latest = 0;       // the newest version this build knows
  std::vector<SchemaMigrationStatus> migrations;
};

// Reads the schema's status; never writes (a SQLite file that does not exist is not
// created). Throws like open_store for a database that is not Quern's or unreachable.
SchemaStatus read_schema_status(const std::string& url, const StoreOptions& options = {});

// Applies every pending migration (creating the database if needed); returns the
// status after.
SchemaStatus migrate_schema_of(const std::string& url, const StoreOptions& options = {});

// Throws kUnavailable if the database's schema is behind this build's (or the
// database does not exist yet), naming `quern migrate`.
void require_current_schema_of(const std::string& url, const StoreOptions& options = {});

}  // namespace quern
