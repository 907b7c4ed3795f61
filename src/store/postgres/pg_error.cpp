#include "store/postgres/pg_error.h"

#include <libpq-fe.h>

#include <string>

namespace quern::postgres {

std::string one_line(std::string_view message) {
  std::string out;
  bool space = false;
  for (char c : message) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

void throw_postgres_error(pg_conn* conn, const pg_result* result, std::string_view server, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string raw;
  if (result != nullptr) {
    if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) raw = primary;
    if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) raw += std::string(" (") + detail + ")";
  }
  if (raw.empty() && conn != nullptr) raw = PQerrorMessage(conn);
  if (raw.empty()) raw = "unknown error";
  std::string reason = one_line(raw);
  if (!sqlstate.empty()) reason += " (SQLSTATE " + sqlstate + ")";
  // The environment's failures (busy, down, full, not allowed) name the server; only
  // the others, which are ours to fix, name the statement too.
  const std::string prefix = "postgres: " + std::string(server) + ": ";
  const std::string message = prefix + reason;
  const std::string message_with_statement = prefix + std::string(what) + ": " + reason;

  const bool connection_lost = conn == nullptr || PQstatus(conn) != CONNECTION_OK;
  const std::string_view cls = std::string_view(sqlstate).substr(0, 2);
  if (connection_lost || cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
      sqlstate == "53300") {
    throw Error::unavailable(message + (connection_lost ? "; the connection to the server was lost" : ""));
  }
  if (sqlstate == "55P03" || sqlstate == "57014" || sqlstate == "25P03") {
    throw Error::unavailable(message + "; the database stayed busy past the timeout");
  }
  if (sqlstate == "40001" || sqlstate == "40P01") throw TransactionConflict(ErrorCode::kUnavailable, message);
  if (sqlstate == "23505") throw TransactionConflict(ErrorCode::kAlreadyExists, message_with_statement);
  if (cls == "53") throw Error::resource_exhausted(message);
  if (cls == "54") throw Error::too_large(message_with_statement);
  if (cls == "22") throw Error::invalid_argument(message_with_statement);
  // No login, no database, a read-only server or transaction, no privilege to write.
  if (cls == "28" || sqlstate == "3D000" || sqlstate == "25006" || sqlstate == "42501") {
    throw Error::unavailable(message);
  }
  throw Error::internal(message_with_statement);
}

}  // namespace quern::postgres
