// The SQLite schema as a list of migrations keyed on PRAGMA user_version, and the
// check that a file is a Quern database before anything is written to it.
#pragma once

#include <string>

#include "store/sqlite/connection.h"

namespace quern::sqlite {

// PRAGMA application_id of every Quern database ("QURN"): how a SQLite file made by
// another program is told apart from ours.
inline constexpr int kQuernApplicationId = 0x5155524E;

// The newest schema version this build knows.
int latest_schema_version();

// What migration `version` (1 … latest) brings, for `quern migrate status`.
std::string schema_migration_description(int version);

// Reads (never writes) what identifies the file behind `db`. Throws Error(kDataLoss)
// if it is not a database or is another program's database, and
// Error(kFailedPrecondition) if a newer Quern made it. Call before any PRAGMA that
// writes (journal_mode=WAL).
void check_quern_database(Connection& db);

// Brings the schema up to date in one IMMEDIATE transaction (safe when several
// processes open a new file at once).
void migrate_schema(Connection& db);

}  // namespace quern::sqlite
