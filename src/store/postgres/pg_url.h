// What a postgres:// URL names: the libpq connection parameters, the schema Quern's
// tables live in, and a name for messages that never shows the password.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace quern::postgres {

// Quern's tables live in their own schema ("quern" unless the URL's ?schema= says
// otherwise), so they never meet an application's tables of the same names.
inline constexpr const char* kDefaultSchema = "quern";

struct ConnectionSettings {
  // libpq keyword/value pairs: the URL's own, then Quern's defaults for what it left
  // out (connect_timeout, keepalives, application_name).
  std::vector<std::pair<std::string, std::string>> parameters;
  std::string schema = kDefaultSchema;
  std::string display_name;  // user@host:port/database
};

// Parses `postgres://user:pass@host:port/db?param=value&schema=NAME` (or postgresql://).
// Every query parameter but `schema` goes to libpq. Throws kInvalidArgument for a URL
// libpq cannot parse or a schema name that is not 1-63 letters, digits, '_' or '-'.
ConnectionSettings parse_postgres_url(const std::string& url, int connect_timeout_seconds);

// True for postgres:// and postgresql:// URLs.
bool is_postgres_url(const std::string& url);

}  // namespace quern::postgres
