#include "store/sqlite/multi_row.h"

#include <bit>
#include <mutex>
#include <set>

namespace quern::sqlite {

const char* repeated_sql(std::string_view head, std::string_view item, int count, std::string_view tail) {
  static std::mutex mutex;
  static std::set<std::string, std::less<>> texts;  // nodes never move: c_str() stays valid
  std::string sql;
  sql.reserve(head.size() + (item.size() + 1) * static_cast<size_t>(count) + tail.size());
  sql.append(head);
  for (int i = 0; i < count; ++i) {
    if (i > 0) sql += ',';
    sql.append(item);
  }
  sql.append(tail);
  std::lock_guard lock(mutex);
  return texts.insert(std::move(sql)).first->c_str();
}

void for_each_chunk(size_t total, const std::function<void(size_t first, int count)>& chunk) {
  size_t first = 0;
  while (first < total) {
    const size_t left = total - first;
    const int count = static_cast<int>(std::bit_floor(std::min<size_t>(left, kMaxRowsPerStatement)));
    chunk(first, count);
    first += static_cast<size_t>(count);
  }
}

void run_over_ids(Connection& db, std::string_view head, const std::vector<int64_t>& ids, int fixed,
                  const std::function<void(Statement&)>& bind_fixed,
                  const std::function<void(const Statement&)>& on_row) {
  for_each_chunk(ids.size(), [&](size_t first, int count) {
    auto q = db.prepare(repeated_sql(head, "?", count, ")"));
    bind_fixed(*q);
    for (int i = 0; i < count; ++i) q->bind(fixed + 1 + i, ids[first + static_cast<size_t>(i)]);
    while (q->step()) {
      if (on_row) on_row(*q);
    }
  });
}

void RowBuffer::flush(Connection& db) {
  const size_t rows = values_.size() / static_cast<size_t>(columns_);
  for_each_chunk(rows, [&](size_t first, int count) {
    auto q = db.prepare(repeated_sql(head_, row_, count, ""));
    int index = 0;
    const size_t end = (first + static_cast<size_t>(count)) * static_cast<size_t>(columns_);
    for (size_t i = first * static_cast<size_t>(columns_); i < end; ++i) {
      ++index;
      std::visit(
          [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::monostate>) {
              q->bind(index, std::nullopt);
            } else if constexpr (std::is_same_v<V, std::string> || std::is_same_v<V, std::string_view>) {
              q->bind_static(index, v);  // kept until the statement is reset, below
            } else {
              q->bind(index, v);
            }
          },
          values_[i]);
    }
    q->run();
  });
  values_.clear();
}

}  // namespace quern::sqlite
