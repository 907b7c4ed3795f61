// The database URL forms a user may give (--db, $QUERN_DB) and which backend each names.
#pragma once

#include <string>

#include "store/store.h"

namespace quern {

struct StoreUrl {
  enum class Backend { kSqlite, kPostgres };
  Backend backend = Backend::kSqlite;
  // SQLite: the file's path. PostgreSQL: the URL as given (libpq parses it).
  std::string target;
  // The caller's options with the URL's own applied (SQLite's ?durability=).
  StoreOptions options;
};

// A path, `sqlite:PATH`, `sqlite://PATH` (each with an optional `?durability=full|normal`),
// or `postgres://…` / `postgresql://…`. Throws kInvalidArgument for an unknown option
// or a URL that names no file.
StoreUrl parse_store_url(const std::string& url, const StoreOptions& options = {});

// How messages name the database `url` names: the file, or user@host:port/database
// (never the password). Throws like parse_store_url.
std::string database_display_name(const std::string& url);

}  // namespace quern
