#include "store/postgres/cron_entries.h"

#include "core/cron_entry.h"
#include "quern/error.h"
#include "store/postgres/job_enqueue.h"
#include "store/postgres/statements.h"

namespace quern::postgres {
namespace {

// Row `i` of QUERN_PG_CRON_COLUMNS.
CronEntry read_cron_entry(const Result& r, int i) {
  CronEntry entry;
  entry.name = r.text(i, 0);
  entry.schedule = r.text(i, 1);
  decode_cron_job(r.text_view(i, 2), entry);
  entry.next_run_at = r.time(i, 3);
  entry.last_run_at = r.optional_time(i, 4);
  if (!r.is_null(i, 5)) entry.last_job_id = r.int64(i, 5);
  entry.created_at = r.time(i, 6);
  entry.updated_at = r.time(i, 7);
  return entry;
}

}  // namespace

CronEntry put_cron_entry(Transaction& txn, const CronEntry& entry, Time now) {
  std::string name = entry.name;
  if (name.empty()) {
    txn.read(kLockCronEntriesForNaming);
    name = std::to_string(txn.read(kSelectLargestNumberedCronName).int64(0, 0) + 1);
  }
  Result r = txn.write(kPutCronEntry, Params()
                                          .add(name)
                                          .add(entry.schedule)
                                          .add(encode_cron_job(entry))
                                          .add(entry.next_run_at)
                                          .add(now));
  if (r.rows() != 1) throw Error::internal("storing cron entry " + name + " returned no row");
  return read_cron_entry(r, 0);
}

std::vector<CronEntry> read_cron_entries(Connection& db) {
  Result r = db.exec(kSelectCronEntries);
  std::vector<CronEntry> entries;
  for (int i = 0; i < r.rows(); ++i) entries.push_back(read_cron_entry(r, i));
  return entries;
}

bool any_cron_entry_due(Connection& db, Time now) { return db.exec(kAnyCronEntryDue, Params().add(now)).boolean(0, 0); }

void delete_cron_entries(Transaction& txn, const std::vector<std::string>& names) {
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (txn.write(kDeleteCronEntry, Params().add(name)).affected() == 0) missing.push_back(name);
  }
  if (!missing.empty()) throw_cron_entries_not_found(missing);  // rolls the deletes back
}

std::vector<EnqueueResult> fire_due_cron_entries(Transaction& txn, Time now, size_t max_payload_bytes) {
  std::vector<CronEntry> due;
  {
    Result r = txn.read(kLockDueCronEntries, Params().add(now));
    for (int i = 0; i < r.rows(); ++i) due.push_back(read_cron_entry(r, i));
  }
  std::vector<EnqueueResult> results;
  for (const CronEntry& entry : due) {
    const std::optional<CronFiring> firing = plan_cron_firing(entry, now);
    if (!firing) continue;
    const NewJob& job = firing->job;
    std::optional<JobId> enqueued;
    std::optional<EncodedNewJob> encoded;
    try {
      encoded = encode_new_job_for_postgres(job, max_payload_bytes);
    } catch (const Error&) {
      // Checked when the entry was stored, with that process's limits; this one's are
      // smaller. Moving on keeps the entry from firing in vain every pass.
    }
    if (encoded) {
      auto inserted = enqueue_new_jobs(txn, {job}, {*encoded}, now);
      if (inserted.front().inserted) enqueued = inserted.front().job.id;
      results.push_back(std::move(inserted.front()));
    }
    txn.write(kRecordCronFiring, Params().add(entry.name).add(firing->next_run_at).add(enqueued).add(now));
  }
  return results;
}

}  // namespace quern::postgres
