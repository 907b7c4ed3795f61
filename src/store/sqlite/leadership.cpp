// The SQLite store's maintenance leadership: a lease row in store_meta naming the
// Store instance that holds it and when it expires, taken or renewed in one upsert
// through the write path, and taken over by another instance once it expired.
#include <chrono>
#include <cstdio>
#include <random>

#include "store/sqlite/sqlite_store.h"

namespace quern::sqlite {
namespace {

// Takes the leader's lease (a store_meta row), or renews it: when it expired, or when
// this Store instance (?2) holds it and less than half its ttl (?5) is left, so a
// leader writes (and wakes every process watching for changes) once per half ttl, not
// once per pass. changes() says whether it wrote. (Kept here, not in statements.h, as
// the only statements about leadership.)
constexpr const char* kSqliteHoldLeadership = R"sql(
  INSERT INTO store_meta (key, value)
  VALUES ('leader', json_object('candidate', ?1, 'instance', ?2, 'expires_at', ?3))
  ON CONFLICT (key) DO UPDATE SET value = excluded.value
  WHERE json_extract(store_meta.value, '$.expires_at') <= ?4
     OR (json_extract(store_meta.value, '$.instance') = ?2 AND json_extract(store_meta.value, '$.expires_at') - ?4 <= ?5)
)sql";
// Whether this Store instance (?1) holds a lease that has not expired at ?2.
constexpr const char* kSqliteHoldsLeadership = R"sql(
  SELECT 1 FROM store_meta
  WHERE key = 'leader' AND json_extract(value, '$.instance') = ?1 AND json_extract(value, '$.expires_at') > ?2
)sql";
constexpr const char* kSqliteReleaseLeadership = R"sql(
  DELETE FROM store_meta WHERE key = 'leader' AND json_extract(value, '$.instance') = ?1
)sql";

}  // namespace

std::string new_leadership_instance_id() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
    id += part;
  }
  return id;
}

bool SqliteStore::hold_leadership(const std::string& candidate, Duration ttl, Time now) {
  bool leads = false;
  batcher_->run([&](WriteTransaction& txn) {
    auto q = txn.db().prepare(kSqliteHoldLeadership);
    q->bind(1, candidate).bind(2, leadership_instance_).bind(3, now + ttl).bind(4, now);
    q->bind(5, static_cast<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(ttl / 2).count()));
    q->run();
    if (txn.db().changes() == 1) {
      leads = true;
      return;
    }
    auto held = txn.db().prepare(kSqliteHoldsLeadership);
    held->bind(1, leadership_instance_).bind(2, now);
    leads = held->step();
  });
  if (leads) may_lead_ = true;
  return leads;
}

void SqliteStore::release_leadership() noexcept {
  if (!may_lead_.exchange(false)) return;
  try {
    batcher_->run([&](WriteTransaction& txn) {
      auto q = txn.db().prepare(kSqliteReleaseLeadership);
      q->bind(1, leadership_instance_).run();
    });
  } catch (...) {
    // The lease then ends with its ttl.
  }
}

}  // namespace quern::sqlite
