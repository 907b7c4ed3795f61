// Small RAII wrappers over libpq: a Connection that prepares each named statement once
// (on its first use on that connection), parameters in libpq's text format, and a
// Result with typed getters.
//
// A Connection is used by one thread at a time (the pool hands it out).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "quern/clock.h"
#include "store/postgres/pg_url.h"

struct pg_conn;
struct pg_result;

namespace quern::postgres {

// A named statement (statements.h). The name is what PQprepare registers.
struct Statement {
  const char* name;
  const char* sql;
};

// PostgreSQL text can hold neither NUL bytes nor invalid UTF-8: both become U+FFFD.
std::string postgres_text(std::string_view text);

// Builds an array literal ('{…}') element by element, for one `$n::T[]` parameter.
class ArrayLiteral {
 public:
  ArrayLiteral& add(std::string_view text);  // quoted, escaped
  ArrayLiteral& add(int64_t value);
  ArrayLiteral& add(int value) { return add(static_cast<int64_t>(value)); }
  ArrayLiteral& add(bool value);
  ArrayLiteral& add(double value);
  ArrayLiteral& add(std::nullopt_t);
  ArrayLiteral& add(Time value) { return add(to_micros(value)); }
  template <typename T>
  ArrayLiteral& add(const std::optional<T>& value) {
    return value ? add(*value) : add(std::nullopt);
  }
  std::string str() const { return text_ + "}"; }
  bool empty() const { return text_.size() == 1; }

 private:
  std::string text_ = "{";
};

// The parameters of one statement, $1 first.
class Params {
 public:
  Params& add(std::string_view text);
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(int64_t value);
  Params& add(int value) { return add(static_cast<int64_t>(value)); }
  Params& add(double value);
  Params& add(bool value);
  Params& add(Time value) { return add(to_micros(value)); }
  Params& add(const ArrayLiteral& array) { return add_raw(array.str()); }
  Params& add(std::nullopt_t);
  template <typename T>
  Params& add(const std::optional<T>& value) {
    return value ? add(*value) : add(std::nullopt);
  }
  // Raw bytes for a bytea parameter (sent in binary format, byte for byte).
  Params& add_bytes(std::string_view bytes);

  int size() const { return static_cast<int>(values_.size()); }

 private:
  friend class Connection;
  Params& add_raw(std::string value);
  // The values as libpq takes them: pointers (nullptr for NULL) and lengths.
  struct Pointers {
    std::vector<const char*> values;
    std::vector<int> lengths;
  };
  Pointers pointers() const;

  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
};

class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result);
  Result(Result&&) noexcept;
  Result& operator=(Result&&) noexcept;
  ~Result();

  int rows() const;
  // Rows a write changed (INSERT/UPDATE/DELETE), or rows returned.
  int64_t affected() const;

  bool is_null(int row, int column) const;
  std::string_view text_view(int row, int column) const;
  std::string text(int row, int column) const { return std::string(text_view(row, column)); }
  std::optional<std::string> optional_text(int row, int column) const;
  int64_t int64(int row, int column) const;
  int integer(int row, int column) const { return static_cast<int>(int64(row, column)); }
  double real(int row, int column) const;
  bool boolean(int row, int column) const;
  Time time(int row, int column) const { return from_micros(int64(row, column)); }
  std::optional<Time> optional_time(int row, int column) const;
  // A bytea column (hex output) as its bytes.
  std::string bytes(int row, int column) const;

  const pg_result* raw() const { return result_; }

 private:
  pg_result* result_ = nullptr;
};

class Connection {
 public:
  // Connects and sets the session up (search_path, UTF-8, lock and idle timeouts).
  // Throws Error(kUnavailable) naming the server if it cannot connect.
  Connection(const ConnectionSettings& settings, Duration lock_timeout);
  // Works on a connection someone else owns and set up (a library user's, inside their
  // transaction): it is neither closed nor reconfigured here, no statement is prepared
  // on it (no name can clash with the owner's), and every statement's Quern tables are
  // qualified with `schema`, whatever the owner's search_path is.
  static std::unique_ptr<Connection> borrow(pg_conn* conn, const std::string& schema);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a named statement (prepared on its first use here). Throws on failure.
  Result exec(const Statement& statement, const Params& params = {});
  // Runs SQL built at run time; prepared once per distinct text on this connection.
  Result exec_text(const std::string& sql, const Params& params = {});
  // Runs a named statement and then COMMIT in one round trip (libpq's pipeline mode):
  // the server runs both back to back, so no pause of this process between them can
  // keep the transaction, and the locks it took last, open. Throws like exec.
  void exec_and_commit(const Statement& statement, const Params& params);
  // Runs named statements in one round trip (libpq's pipeline mode), in order; their
  // results in the same order. Throws on the first failure (then the transaction is
  // aborted). For statements that do not need each other's results.
  std::vector<Result> exec_many(const std::vector<std::pair<const Statement*, const Params*>>& statements);
  // Runs SQL without parameters through the simple protocol (BEGIN, COMMIT, DDL;
  // several statements at once are allowed).
  void exec_simple(const std::string& sql, std::string_view what);
  // Opens a transaction with the next statement, in its round trip (a transaction
  // that runs none ends without a word to the server).
  void begin_with_next_statement();

  // False once the connection broke; the pool then drops it.
  bool healthy() const;
  // Not in a transaction (what the pool expects when it gets the connection back).
  bool idle() const;
  // Reads whatever the server sent while the connection sat in the pool (a
  // termination notice, above all) so that a dead connection is noticed before use.
  void poll_idle();

  pg_conn* handle() const { return conn_; }
  int socket() const;
  const std::string& display_name() const { return display_name_; }

 private:
  Connection() = default;
  Result run_prepared(const std::string& name, const std::string& sql, bool prepared, const Params& params,
                      std::string_view what);
  Result run_unnamed(const std::string& sql, const Params& params, std::string_view what);
  struct PipelineStep {
    std::string name;
    const char* sql;
    const Params* params;
  };
  // In one round trip: BEGIN if one is pending, then each step (PREPAREd first if it is
  // new here), then COMMIT if `then_commit`. Returns the steps' results; throws on any
  // error.
  std::vector<Result> run_pipeline(const std::vector<PipelineStep>& steps, bool then_commit, std::string_view what);

  pg_conn* conn_ = nullptr;
  bool borrowed_ = false;
  bool begin_pending_ = false;
  std::string borrowed_schema_;  // set when borrowed
  std::string display_name_;
  std::unordered_set<std::string> prepared_;                    // statement names
  std::unordered_map<std::string, std::string> dynamic_names_;  // sql → name
};

// Connects for ad-hoc use (migrations, the listener) with the same session set-up.
std::unique_ptr<Connection> connect(const ConnectionSettings& settings, Duration lock_timeout);

// "quern"."jobs": a double-quoted identifier.
std::string quote_identifier(std::string_view name);

}  // namespace quern::postgres
