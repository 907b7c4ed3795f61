#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <algorithm>
#include <mutex>

#include "quern/error.h"
#include "store/sqlite/sqlite_error.h"

namespace quern::sqlite {

namespace {
// The start of a statement, for error messages.
std::string sql_summary(std::string_view sql) {
  const size_t start = std::min(sql.find_first_not_of(" \n"), sql.size());
  std::string summary(sql.substr(start, 60));
  for (char& c : summary) {
    if (c == '\n') c = ' ';
  }
  return summary;
}

void check_bind(sqlite3* db, int rc) {
  if (rc != SQLITE_OK) throw_sqlite_error(db, rc, "bind parameter");
}
}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(db, rc, "prepare " + sql_summary(sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }


Statement& Statement::bind(int index, int64_t value) {
  check_bind(db_, sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(db_, sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  check_bind(db_, sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_static(int index, std::string_view value) {
  check_bind(db_, sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind(int index, std::nullopt_t) {
  check_bind(db_, sqlite3_bind_null(stmt_, index));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite_error(db_, rc, "run " + sql_summary(sql_));
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string_view Statement::text_view(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (data == nullptr) return {};
  return {data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Statement::text(int column) const { return std::string(text_view(column)); }

std::optional<Time> Statement::optional_time(int column) const {
  if (is_null(column)) return std::nullopt;
  return time(column);
}

std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

void Statement::acquire() {
  if (in_use_) throw Error::internal("sqlite: statement used twice at once: " + sql_.substr(0, 80));
  in_use_ = true;
}

namespace {
// SQLite's allocation statistics take a global mutex on every malloc; Quern never
// reads them. This only works before SQLite is first used in the process, and is
// harmless (SQLITE_MISUSE, ignored) after.
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}
}  // namespace

Connection::Connection(const std::string& path, int flags, Duration busy_timeout) : path_(path) {
  configure_sqlite_once();
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string raw = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error::unavailable("cannot open database " + path + ": " + raw);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Savepoints, multi-row statements and sorts spill to temp files by default: an open,
  // writes and an unlink per use, on the hot path. Kept in memory they cost nothing.
  sqlite3_exec(db_, "PRAGMA temp_store = MEMORY", nullptr, nullptr, nullptr);
  set_busy_timeout(busy_timeout);
}

void Connection::set_busy_timeout(Duration timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  sqlite3_busy_timeout(db_, static_cast<int>(std::clamp<int64_t>(ms, 0, INT32_MAX)));
}

Connection::~Connection() {
  by_address_.clear();
  by_text_.clear();
  sqlite3_close(db_);
}

ScopedStatement Connection::prepare(const char* sql) {
  auto& slot = by_address_[sql];
  if (!slot) slot = std::make_unique<Statement>(db_, sql);
  return ScopedStatement(*slot);
}

ScopedStatement Connection::prepare_text(const std::string& sql) {
  auto& slot = by_text_[sql];
  if (!slot) slot = std::make_unique<Statement>(db_, sql);
  return ScopedStatement(*slot);
}

void Connection::exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_sqlite_error(db_, rc, "run " + sql_summary(sql));
}

int64_t Connection::changes() const { return sqlite3_changes64(db_); }

int64_t Connection::total_changes() const { return sqlite3_total_changes64(db_); }

int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace quern::sqlite
