// Small RAII wrappers over SQLite's C API: a Connection that owns its prepared
// statements (each prepared once and reused), and a Statement with bind/step/reset.
//
// A Connection is used by one thread at a time (the store hands connections out from
// a pool or keeps one for the writer); it is opened with SQLITE_OPEN_NOMUTEX.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "quern/clock.h"

struct sqlite3;
struct sqlite3_stmt;

namespace quern::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, Time value) { return bind(index, to_micros(value)); }
  Statement& bind(int index, std::nullopt_t);
  // Binds text without copying it: it must stay valid until the statement is reset
  // (the end of the ScopedStatement's scope).
  Statement& bind_static(int index, std::string_view value);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }

  // Runs to the next row: true if there is one, false when done. Throws on error.
  bool step();
  // Runs a statement that returns no rows (or ignores them).
  void run();
  // Ready for reuse: resets and clears the bindings. Never throws.
  void reset() noexcept;

  bool is_null(int column) const;
  int64_t int64(int column) const;
  int integer(int column) const { return static_cast<int>(int64(column)); }
  double real(int column) const;
  std::string text(int column) const;
  std::string_view text_view(int column) const;  // valid until the next step/reset
  Time time(int column) const { return from_micros(int64(column)); }
  std::optional<Time> optional_time(int column) const;
  std::optional<std::string> optional_text(int column) const;

  // Marks the statement taken; a statement must not be stepped by two users at once
  // (e.g. a loop over its rows calling code that runs it again).
  void acquire();
  void release() noexcept { in_use_ = false; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  bool in_use_ = false;
};

// A statement borrowed from its connection's cache for one use; reset on scope exit so
// no read transaction is left open.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement& s) : s_(&s) { s_->acquire(); }
  ~ScopedStatement() {
    s_->reset();
    s_->release();
  }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  Statement* operator->() const { return s_; }
  Statement& operator*() const { return *s_; }

 private:
  Statement* s_;
};

class Connection {
 public:
  // Opens `path` with SQLite `flags` (SQLITE_OPEN_*); throws Error(kUnavailable)
  // naming the path if it cannot be opened.
  Connection(const std::string& path, int flags, Duration busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The cached statement for a SQL constant (keyed by its address: pass the named
  // constants from statements.h, not temporaries).
  ScopedStatement prepare(const char* sql);
  // The cached statement for SQL built at run time (keyed by its text).
  ScopedStatement prepare_text(const std::string& sql);
  // Runs one or more statements without results (schema, PRAGMA, BEGIN/COMMIT).
  void exec(const char* sql);
  // How long a statement waits for another connection's lock before SQLITE_BUSY.
  void set_busy_timeout(Duration timeout);

  int64_t changes() const;
  int64_t total_changes() const;
  int64_t last_insert_rowid() const;
  bool in_transaction() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<const char*, std::unique_ptr<Statement>> by_address_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> by_text_;
};

}  // namespace quern::sqlite
