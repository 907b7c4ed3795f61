// Cron entries in SQLite: kept in cron_entries, fired inside one write transaction.
#pragma once

#include <string>
#include <vector>

#include "quern/cron.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/write_transaction.h"

namespace quern::sqlite {

CronEntry put_cron_entry(WriteTransaction& txn, const CronEntry& entry, Time now);
std::vector<CronEntry> read_cron_entries(Connection& db);
// Whether any entry is due: a read, so an idle leader's pass takes no write lock.
bool any_cron_entry_due(Connection& db, Time now);
// All or none: kNotFound naming each entry that does not exist.
void delete_cron_entries(WriteTransaction& txn, const std::vector<std::string>& names);
// See Store::fire_due_cron_entries. A template this process cannot store (a payload
// over its own limit) enqueues nothing; its entry still moves on.
std::vector<EnqueueResult> fire_due_cron_entries(WriteTransaction& txn, Time now, size_t max_payload_bytes);

}  // namespace quern::sqlite
