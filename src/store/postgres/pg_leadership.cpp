// The PostgreSQL store's maintenance leadership: a session-level advisory lock keyed
// by the schema, held on a connection kept for it alone. The server releases the lock
// when that session ends, so a leader that dies, or is cut off longer than the ttl
// (the session's idle_session_timeout), leaves it to the next process that tries.
#include <libpq-fe.h>

#include <algorithm>

#include "quern/error.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/statements.h"

namespace quern::postgres {

bool PostgresStore::hold_leadership(const std::string& /*candidate*/, Duration ttl, Time /*now*/) {
  std::lock_guard lock(leadership_mutex_);
  if (leadership_connection_) leadership_connection_->poll_idle();
  if (leading_) {
    // The lock lasts as long as the session: a live session still holds it.
    try {
      if (leadership_connection_->healthy()) {
        leadership_connection_->exec(kCheckLeadershipSession);
        return true;
      }
    } catch (const Error&) {
    }
    // The session ended (terminated, timed out, connection lost): so did leadership.
    leadership_connection_.reset();
    leading_ = false;
    return false;
  }
  if (leadership_connection_ && !leadership_connection_->healthy()) leadership_connection_.reset();
  try {
    if (!leadership_connection_) {
      leadership_connection_ = connect(settings_, options_.busy_timeout);
      // A leader that stops renewing (frozen, cut off) loses its session, so its lock, after the ttl.
      // (PostgreSQL 14 and later; an older server leaves such a leader to its TCP keepalives.)
      const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
      if (PQserverVersion(leadership_connection_->handle()) >= 140000) {
        leadership_connection_->exec_simple(
            "SET idle_session_timeout TO " + std::to_string(std::max<int64_t>(ttl_ms, 1)),
            "set the leader's session timeout");
      }
    }
    const Result r = leadership_connection_->exec(kTryLeadershipLock,
                                                  Params().add(leadership_lock_key(settings_.schema)));
    leading_ = r.rows() == 1 && r.boolean(0, 0);
  } catch (const Error&) {
    leadership_connection_.reset();
    throw;
  }
  return leading_;
}

void PostgresStore::release_leadership() noexcept {
  std::lock_guard lock(leadership_mutex_);
  if (!leading_) return;
  leading_ = false;
  try {
    leadership_connection_->exec(kReleaseLeadershipLock, Params().add(leadership_lock_key(settings_.schema)));
  } catch (...) {
    // Closing the session below releases the lock all the same.
    leadership_connection_.reset();
  }
}

}  // namespace quern::postgres
