#include "store/postgres/pg_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "quern/error.h"
#include "store/postgres/pg_error.h"

namespace quern::postgres {
namespace {

bool pg_url_has_prefix(std::string_view url, std::string_view prefix) { return url.substr(0, prefix.size()) == prefix; }

bool valid_schema_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Removes `schema=…` from the URL's query; returns the schema (empty if absent).
std::string take_schema_parameter(std::string& url) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return {};
  std::string_view query = std::string_view(url).substr(q + 1);
  std::string kept;
  std::string schema;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.substr(0, 7) == "schema=") {
      schema = std::string(pair.substr(7));
      if (schema.empty()) throw Error::invalid_argument("empty schema= in PostgreSQL URL");
      continue;
    }
    if (!pair.empty()) kept += (kept.empty() ? "" : "&") + std::string(pair);
  }
  url = url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  return schema;
}

}  // namespace

bool is_postgres_url(const std::string& url) {
  return pg_url_has_prefix(url, "postgres://") || pg_url_has_prefix(url, "postgresql://");
}

ConnectionSettings parse_postgres_url(const std::string& url, int connect_timeout_seconds) {
  std::string libpq_url = url;
  ConnectionSettings settings;
  if (std::string schema = take_schema_parameter(libpq_url); !schema.empty()) {
    if (!valid_schema_name(schema)) {
      throw Error::invalid_argument("schema name '" + schema +
                                    "' in PostgreSQL URL must be 1-63 letters, digits, '_' or '-'");
    }
    settings.schema = schema;
  }

  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(libpq_url.c_str(), &error),
                                                                        &PQconninfoFree);
  if (!options) {
    std::string message = error != nullptr ? one_line(error) : "out of memory";
    PQfreemem(error);
    throw Error::invalid_argument("bad PostgreSQL URL: " + message);
  }
  std::string user, host, port, dbname;
  auto has = [&](std::string_view key) {
    return std::any_of(settings.parameters.begin(), settings.parameters.end(),
                       [&](const auto& p) { return p.first == key; });
  };
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host" || key == "hostaddr") host = host.empty() ? o->val : host;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    settings.parameters.emplace_back(o->keyword, o->val);
  }
  // Quern's defaults: give up connecting after the busy timeout, notice a dead peer
  // (a cut network) within about half a minute, and name ourselves in pg_stat_activity.
  const std::pair<const char*, std::string> defaults[] = {
      {"connect_timeout", std::to_string(std::max(connect_timeout_seconds, 2))},
      {"keepalives", "1"},
      {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},
      {"keepalives_count", "3"},
      {"tcp_user_timeout", "30000"},
      {"application_name", "quern"},
  };
  for (const auto& [key, value] : defaults) {
    if (!has(key)) settings.parameters.emplace_back(key, value);
  }
  settings.display_name = (user.empty() ? "" : user + "@") + (host.empty() ? "localhost" : host) +
                          (port.empty() ? "" : ":" + port) + "/" + (dbname.empty() ? user : dbname);
  if (settings.schema != kDefaultSchema) settings.display_name += " (schema " + settings.schema + ")";
  return settings;
}

}  // namespace quern::postgres
