// The PostgreSQL server tests run against, when there is one: QUERN_TEST_POSTGRES_URL
// (scripts/postgres-test-server.sh `run` sets it for the command it wraps). Each test
// works in schemas of its own on it (Quern's ?schema= URL parameter) and drops them.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace quern::postgres_test {

// $QUERN_TEST_POSTGRES_URL, or nullopt when it is unset or empty.
inline std::optional<std::string> postgres_test_url() {
  const char* url = std::getenv("QUERN_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

// The URL of `schema` on the test server. `synchronous = false` lets commits skip the
// wait for the WAL flush (the server keeps fsync on): for tests of behaviour, not of
// durability, which would otherwise spend most of their time in fsync.
inline std::string postgres_schema_url(const std::string& schema, bool synchronous = true) {
  std::string url = postgres_test_url().value();
  // (strchr, not find: GCC 12 sees a false overread in find here.)
  url += std::strchr(url.c_str(), '?') == nullptr ? "?schema=" : "&schema=";
  url += schema;
  if (!synchronous) url += "&options=-c%20synchronous_commit%3Doff";
  return url;
}

// Drops `schema` and everything in it, if it exists.
inline void drop_postgres_schema(const std::string& schema) {
  PGconn* conn = PQconnectdb(postgres_test_url().value().c_str());
  if (PQstatus(conn) == CONNECTION_OK) {
    const std::string sql = "SET client_min_messages TO warning; SET synchronous_commit TO off; DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE";
    PGresult* result = PQexec(conn, sql.c_str());
    EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    PQclear(result);
  } else {
    ADD_FAILURE() << "cannot connect to drop schema " << schema << ": " << PQerrorMessage(conn);
  }
  PQfinish(conn);
}

}  // namespace quern::postgres_test
