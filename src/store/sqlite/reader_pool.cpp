#include "store/sqlite/reader_pool.h"

#include <sqlite3.h>

namespace quern::sqlite {

namespace {

// Idle connections kept open for the next readers; a burst of readers beyond this
// (a hundred dashboard tabs) opens more, closed as they come back, so their files and
// page caches do not stay with the process.
constexpr size_t kIdleConnectionsKept = 8;

}  // namespace

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
  {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kIdleConnectionsKept) {
      idle_.push_back(std::move(conn));
      return;
    }
  }
  conn.reset();  // closed outside the lock
}

}  // namespace quern::sqlite
