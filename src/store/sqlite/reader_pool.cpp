#include "store/sqlite/reader_pool.h"

#include <sqlite3.h>

namespace quern::sqlite {

// Pooled connections stay open for the store's lifetime; as many exist as callers
// ever read at once.
ReaderPool::Lease ReaderPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
  }
  auto conn = std::make_unique<Connection>(path_, SQLITE_OPEN_READWRITE, busy_timeout_);
  conn->exec("PRAGMA query_only = 1");
  return Lease(*this, std::move(conn));
}

void ReaderPool::give_back(std::unique_ptr<Connection> conn) {
  if (!conn) return;
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(conn));
}

}  // namespace quern::sqlite
