// Translates PostgreSQL failures into quern::Error at the backend's edge, keeping the
// server's own message and SQLSTATE in the text (on one line).
#pragma once

#include <string>
#include <string_view>

#include "quern/error.h"

struct pg_conn;
struct pg_result;

namespace quern::postgres {

// A failure that a rerun of the whole transaction may not meet again: a deadlock, a
// serialization failure, or a unique key taken by a transaction that committed while
// this one ran (the rerun sees that row and takes the path the SQLite store takes
// without a race: the existing job, or kAlreadyExists).
class TransactionConflict : public Error {
 public:
  TransactionConflict(ErrorCode code, std::string message) : Error(code, std::move(message)) {}
};

// Throws the quern::Error for a failed statement (`result` may be null, e.g. when the
// connection broke before a result came):
// - connection lost, server shutting down, too many connections → kUnavailable;
// - lock_timeout / statement_timeout / idle transaction killed → kUnavailable (busy);
// - deadlock, serialization failure → TransactionConflict(kUnavailable);
// - unique violation → TransactionConflict(kAlreadyExists);
// - disk full, out of memory → kResourceExhausted; data exceptions → kInvalidArgument;
// - anything else → kInternal.
// `server` names the server (never the password); `what` says what was being done
// ("claim_jobs", "commit"), which only errors that are not the environment's repeat.
[[noreturn]] void throw_postgres_error(pg_conn* conn, const pg_result* result, std::string_view server,
                                       std::string_view what);

// libpq's (often multi-line) message as one line.
std::string one_line(std::string_view message);

}  // namespace quern::postgres
