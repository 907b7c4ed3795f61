// The PostgreSQL server tests run against, when there is one: QUERN_TEST_POSTGRES_URL
// (scripts/postgres-test-server.sh `run` sets it for the command it wraps). Each test
// works in schemas of its own on it (Quern's ?schema= URL parameter) and drops them.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

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

// A plain libpq session on the test server (default: its URL), for what Quern would not
// do itself: catalogs, EXPLAIN, VACUUM, terminating sessions.
class RawSession {
 public:
  explicit RawSession(const std::string& url = postgres_test_url().value()) : conn_(PQconnectdb(url.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "cannot connect: " << PQerrorMessage(conn_);
    exec("SET client_min_messages TO warning");
  }
  ~RawSession() { PQfinish(conn_); }
  RawSession(const RawSession&) = delete;
  RawSession& operator=(const RawSession&) = delete;

  // Runs SQL; returns the first column of each row.
  std::vector<std::string> exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(conn_);
    std::vector<std::string> values;
    for (int i = 0; i < PQntuples(result); ++i) values.emplace_back(PQgetvalue(result, i, 0));
    PQclear(result);
    return values;
  }
  // The first column of the first row, or "" if there is none.
  std::string value(const std::string& sql) {
    const auto all = exec(sql);
    return all.empty() ? "" : all.front();
  }

 private:
  PGconn* conn_;
};

}  // namespace quern::postgres_test
