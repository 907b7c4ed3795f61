#include "store/sqlite/cron_entries.h"

#include "core/cron_entry.h"
#include "quern/error.h"
#include "store/sqlite/job_enqueue.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

// A row of QUERN_CRON_COLUMNS.
CronEntry read_cron_entry(const Statement& row) {
  CronEntry entry;
  entry.name = row.text(0);
  entry.schedule = row.text(1);
  decode_cron_job(row.text_view(2), entry);
  entry.next_run_at = row.time(3);
  entry.last_run_at = row.optional_time(4);
  if (!row.is_null(5)) entry.last_job_id = row.int64(5);
  entry.created_at = row.time(6);
  entry.updated_at = row.time(7);
  return entry;
}

}  // namespace

CronEntry put_cron_entry(WriteTransaction& txn, const CronEntry& entry, Time now) {
  std::string name = entry.name;
  if (name.empty()) {
    auto largest = txn.db().prepare(kSelectLargestNumberedCronName);
    largest->step();
    name = std::to_string(largest->int64(0) + 1);
  }
  auto q = txn.db().prepare(kPutCronEntry);
  q->bind(1, name).bind(2, entry.schedule).bind(3, encode_cron_job(entry)).bind(4, entry.next_run_at).bind(5, now);
  if (!q->step()) throw Error::internal("storing cron entry " + name + " returned no row");
  return read_cron_entry(*q);
}

std::vector<CronEntry> read_cron_entries(Connection& db) {
  auto q = db.prepare(kSelectCronEntries);
  std::vector<CronEntry> entries;
  while (q->step()) entries.push_back(read_cron_entry(*q));
  return entries;
}

bool any_cron_entry_due(Connection& db, Time now) {
  auto q = db.prepare(kAnyCronEntryDue);
  q->bind(1, now);
  return q->step() && q->int64(0) != 0;
}

void delete_cron_entries(WriteTransaction& txn, const std::vector<std::string>& names) {
  std::vector<std::string> missing;
  for (const auto& name : names) {
    auto q = txn.db().prepare(kDeleteCronEntry);
    q->bind(1, name).run();
    if (txn.db().changes() == 0) missing.push_back(name);
  }
  if (!missing.empty()) throw_cron_entries_not_found(missing);  // rolls the deletes back
}

std::vector<EnqueueResult> fire_due_cron_entries(WriteTransaction& txn, Time now, size_t max_payload_bytes) {
  std::vector<CronEntry> due;
  {
    auto q = txn.db().prepare(kSelectDueCronEntries);
    q->bind(1, now);
    while (q->step()) due.push_back(read_cron_entry(*q));
  }
  std::vector<EnqueueResult> results;
  for (const CronEntry& entry : due) {
    const std::optional<CronFiring> firing = plan_cron_firing(entry, now);
    if (!firing) continue;
    const NewJob& job = firing->job;
    std::optional<JobId> enqueued;
    std::optional<EncodedJob> encoded;
    try {
      encoded = encode_new_job(job, max_payload_bytes);
    } catch (const Error&) {
      // Checked when the entry was stored, with that process's limits; this one's are
      // smaller. Moving on keeps the entry from firing in vain every pass.
    }
    if (encoded) {
      EnqueueResult result = enqueue_job(txn, job, *encoded, now);
      txn.flush_rows();  // the buffered row points into `job` and `encoded`
      if (result.inserted) enqueued = result.job.id;
      results.push_back(std::move(result));
    }
    auto q = txn.db().prepare(kRecordCronFiring);
    q->bind(1, entry.name).bind(2, firing->next_run_at).bind(3, enqueued).bind(4, now);
    q->run();
  }
  return results;
}

}  // namespace quern::sqlite
