#include "store/schema_status.h"

#include <sqlite3.h>

#include <filesystem>

#include "quern/error.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_url.h"
#include "store/postgres/schema.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/statements.h"
#include "store/store_url.h"

namespace quern {
namespace {

SchemaStatus sqlite_status_at(int user_version) {
  SchemaStatus status;
  status.backend = "sqlite";
  status.current = user_version;
  status.latest = sqlite::latest_schema_version();
  for (int version = 1; version <= status.latest; ++version) {
    status.migrations.push_back(
        {version, sqlite::schema_migration_description(version), version <= user_version, std::nullopt});
  }
  return status;
}

SchemaStatus read_sqlite_status(const StoreUrl& url) {
  std::error_code ec;
  if (!std::filesystem::exists(url.target, ec)) return sqlite_status_at(0);
  sqlite::Connection db(url.target, SQLITE_OPEN_READONLY, url.options.busy_timeout);
  sqlite::check_quern_database(db);  // reads only; refuses another program's file
  auto q = db.prepare(sqlite::kSelectDatabaseIdentity);
  const int user_version = q->step() ? q->integer(1) : 0;
  return sqlite_status_at(user_version);
}

SchemaStatus postgres_status(const postgres::SchemaState& state) {
  SchemaStatus status;
  status.backend = "postgres";
  status.current = state.current;
  status.latest = state.latest;
  for (const auto& m : state.migrations) {
    status.migrations.push_back({m.version, m.description, m.applied_at.has_value(), m.applied_at});
  }
  return status;
}

postgres::ConnectionSettings postgres_settings(const StoreUrl& url) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(url.options.busy_timeout).count();
  return postgres::parse_postgres_url(url.target, static_cast<int>(std::max<int64_t>(seconds, 1)));
}

}  // namespace

SchemaStatus read_schema_status(const std::string& url_text, const StoreOptions& options) {
  const StoreUrl url = parse_store_url(url_text, options);
  SchemaStatus status;
  if (url.backend == StoreUrl::Backend::kSqlite) {
    status = read_sqlite_status(url);
  } else {
    const auto settings = postgres_settings(url);
    auto db = postgres::connect(settings, url.options.busy_timeout);
    status = postgres_status(postgres::read_schema_state(*db, settings.schema));
  }
  status.database = database_display_name(url_text);
  return status;
}

SchemaStatus migrate_schema_of(const std::string& url_text, const StoreOptions& options) {
  const StoreUrl url = parse_store_url(url_text, options);
  SchemaStatus status;
  if (url.backend == StoreUrl::Backend::kSqlite) {
    StoreOptions migrating = options;
    migrating.migrate = true;
    open_store(url_text, migrating);  // a SQLite store migrates as it opens
    status = read_sqlite_status(url);
  } else {
    const auto settings = postgres_settings(url);
    auto db = postgres::connect(settings, url.options.busy_timeout);
    status = postgres_status(postgres::migrate_schema(*db, settings.schema, system_clock()->now()));
  }
  status.database = database_display_name(url_text);
  return status;
}

void require_current_schema_of(const std::string& url_text, const StoreOptions& options) {
  const SchemaStatus status = read_schema_status(url_text, options);
  if (status.current >= status.latest) return;
  throw Error::unavailable("database " + status.database + " has schema version " + std::to_string(status.current) +
                           " of " + std::to_string(status.latest) +
                           " and --no-migrate was given; run `quern migrate` first");
}

}  // namespace quern
