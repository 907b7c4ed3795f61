// Statements over many rows at once. Each time a statement runs, SQLite opens a cursor
// on the table and one on every index it may touch; for `jobs` (a wide row, several
// partial indexes) that costs more than the row itself. So the hot paths insert,
// update and read up to kMaxRowsPerStatement rows per statement: a batch of N rows
// runs in chunks whose sizes are powers of two (100 = 64 + 32 + 4), so each statement
// shape has at most seven variants, each prepared once per connection.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quern/clock.h"
#include "store/sqlite/connection.h"

namespace quern::sqlite {

inline constexpr int kMaxRowsPerStatement = 64;

// `head`, then `count` copies of `item` separated by commas, then `tail`:
// repeated_sql("… WHERE id IN (", "?", 3, ")") is "… WHERE id IN (?,?,?)". The text
// lives as long as the program, so Connection::prepare can key its cache by address.
const char* repeated_sql(std::string_view head, std::string_view item, int count, std::string_view tail);

// Calls `chunk(first, count)` over [0, total) in power-of-two chunks of at most
// kMaxRowsPerStatement.
void for_each_chunk(size_t total, const std::function<void(size_t first, int count)>& chunk);

// Runs `head` + "?,?,…" + ")" for every id of `ids`, a chunk at a time: `head` ends
// with "IN (" and numbers the `fixed` parameters before the ids (?1 … ?fixed), which
// `bind_fixed` binds on each chunk's statement; `on_row` (if set) sees every row.
void run_over_ids(Connection& db, std::string_view head, const std::vector<int64_t>& ids, int fixed,
                  const std::function<void(Statement&)>& bind_fixed,
                  const std::function<void(const Statement&)>& on_row = {});

// Rows waiting to be inserted by multi-row INSERTs (`INSERT … VALUES (…), (…), …`).
class RowBuffer {
 public:
  // `head` is the statement up to VALUES ("INSERT INTO t (a, b) VALUES "), `row` one
  // row's placeholders ("(?, ?)") holding `columns` parameters.
  RowBuffer(const char* head, const char* row, int columns) : head_(head), row_(row), columns_(columns) {}

  // Adds one row of exactly `columns` values: integers, doubles, Time, text, or
  // std::nullopt / an empty optional for NULL. Text passed as std::string_view is not
  // copied and must outlive flush(); a std::string is kept by the buffer.
  template <typename... Values>
  void add(Values&&... values) {
    static_assert(sizeof...(Values) > 0);
    (push(std::forward<Values>(values)), ...);
  }

  bool empty() const { return values_.empty(); }
  // Inserts every buffered row on `db` and empties the buffer.
  void flush(Connection& db);
  // Drops the buffered rows (their write failed).
  void clear() { values_.clear(); }

 private:
  using Value = std::variant<std::monostate, int64_t, double, std::string_view, std::string>;

  void push(int64_t v) { values_.emplace_back(v); }
  void push(int v) { values_.emplace_back(static_cast<int64_t>(v)); }
  void push(double v) { values_.emplace_back(v); }
  void push(Time v) { values_.emplace_back(to_micros(v)); }
  void push(std::string_view v) { values_.emplace_back(v); }
  void push(const char* v) { values_.emplace_back(std::string_view(v)); }
  void push(std::string&& v) { values_.emplace_back(std::move(v)); }
  void push(std::nullopt_t) { values_.emplace_back(std::monostate{}); }
  template <typename T>
  void push(const std::optional<T>& v) {
    if (v) {
      push(*v);
    } else {
      values_.emplace_back(std::monostate{});
    }
  }

  const char* head_;
  const char* row_;
  int columns_;
  std::vector<Value> values_;
};

}  // namespace quern::sqlite
