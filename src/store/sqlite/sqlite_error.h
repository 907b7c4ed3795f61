// Translates SQLite result codes into quern::Error at the backend's edge, keeping
// SQLite's own message in the text.
#pragma once

#include <string_view>

#include "quern/error.h"

struct sqlite3;

namespace quern::sqlite {

// Throws the quern::Error for a failed SQLite call: busy/locked → unavailable,
// full/no memory → resource_exhausted, corrupt/not a database → data_loss,
// cannot open/read-only/I/O → unavailable, anything else → internal.
// `what` says what was being done ("commit", "prepare …"); `db` may be null.
[[noreturn]] void throw_sqlite_error(sqlite3* db, int rc, std::string_view what);

// Whether `error` is the one throw_sqlite_error throws for a busy or locked file.
bool is_busy_error(const Error& error);

}  // namespace quern::sqlite
