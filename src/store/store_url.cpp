#include "store/store_url.h"

#include <string_view>

#include "quern/error.h"
#include "store/postgres/pg_url.h"

namespace quern {
namespace {

bool url_starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Applies a "?key=value&…" suffix of a SQLite URL to the options.
void apply_sqlite_query(std::string_view query, StoreOptions& options) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "durability" && value == "normal") {
      options.durable = false;
    } else if (key == "durability" && value == "full") {
      options.durable = true;
    } else if (key == "durability") {
      throw Error::invalid_argument("unknown durability '" + std::string(value) +
                                    "' in database URL (expected full or normal)");
    } else {
      throw Error::invalid_argument("unknown option '" + std::string(key) +
                                    "' in database URL (expected durability=full|normal)");
    }
  }
}

}  // namespace

StoreUrl parse_store_url(const std::string& url, const StoreOptions& options) {
  StoreUrl parsed;
  parsed.options = options;
  if (postgres::is_postgres_url(url)) {
    parsed.backend = StoreUrl::Backend::kPostgres;
    parsed.target = url;
    return parsed;
  }
  std::string_view rest = url;
  // "mysql://…" or "postgress://…" is a mistake, not a file to create.
  if (const size_t colon = rest.find("://"); colon != std::string_view::npos && colon > 0 &&
                                             rest.substr(0, colon).find_first_not_of(
                                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") ==
                                                 std::string_view::npos &&
                                             rest.substr(0, colon) != "sqlite") {
    throw Error::invalid_argument("database URL '" + url + "' has an unknown scheme '" +
                                  std::string(rest.substr(0, colon)) +
                                  "' (expected a SQLite path, sqlite:PATH or postgres://…)");
  }
  if (url_starts_with(rest, "sqlite://")) {
    rest.remove_prefix(9);
  } else if (url_starts_with(rest, "sqlite:")) {
    rest.remove_prefix(7);
  }
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    apply_sqlite_query(rest.substr(q + 1), parsed.options);
    rest = rest.substr(0, q);
  }
  if (rest.empty()) throw Error::invalid_argument("database URL '" + url + "' names no file");
  parsed.target = std::string(rest);
  return parsed;
}

std::string database_display_name(const std::string& url) {
  const StoreUrl parsed = parse_store_url(url);
  if (parsed.backend == StoreUrl::Backend::kSqlite) return parsed.target;
  return postgres::parse_postgres_url(parsed.target, /*connect_timeout_seconds=*/1).display_name;
}

}  // namespace quern
