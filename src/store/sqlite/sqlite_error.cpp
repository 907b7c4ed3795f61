#include "store/sqlite/sqlite_error.h"

#include <sqlite3.h>

#include <string>

#include "quern/error.h"

namespace quern::sqlite {
namespace {

constexpr std::string_view kBusyText = " stayed locked by another process past the busy timeout";

}  // namespace

void throw_sqlite_error(sqlite3* db, int rc, std::string_view what) {
  // The connection's message is more specific than sqlite3_errstr when it belongs to
  // this failure (it names the constraint, the table, the file).
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const char* raw = db != nullptr && (extended & 0xff) == (rc & 0xff) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // The user reads the file and what went wrong. The statement is named only where it
  // helps a bug report: a locked, full, read-only or corrupt file is not about one.
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  const std::string database = file != nullptr && *file != '\0' ? "database " + std::string(file) : "database";
  const std::string code = " (sqlite code " + std::to_string(extended);
  const std::string detail = code + ")";
  std::string message = database + ": " + raw + detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw Error::unavailable(database + std::string(kBusyText) + detail);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      throw Error::resource_exhausted(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      throw Error::data_loss(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      throw Error::unavailable(std::move(message));
    case SQLITE_TOOBIG:
      throw Error::too_large(std::move(message));
    default:
      throw Error::internal(database + ": " + raw + code + ", " + std::string(what) + ")");
  }
}

bool is_busy_error(const Error& error) {
  return error.code() == ErrorCode::kUnavailable && std::string_view(error.what()).find(kBusyText) != std::string_view::npos;
}

}  // namespace quern::sqlite
