// Cron entries: jobs enqueued again and again on a schedule.
#pragma once

#include <optional>
#include <string>

#include "quern/clock.h"
#include "quern/job.h"

namespace quern {

// A recurring job. At each minute its schedule names (UTC), the maintenance leader of
// the database (any `quern worker`, `quern serve` or WorkerPool) enqueues `job`. A
// firing missed while none ran is made up once, not once per missed minute.
struct CronEntry {
  std::string name;      // unique per database, named like a queue; empty: the next number
  std::string schedule;  // "MIN HOUR DAY MONTH WEEKDAY" or @hourly, @daily, … (core/cron_schedule.h)
  // What each firing enqueues. Its run_at, expires_at and depends_on must be unset (a
  // firing runs at once); a unique key makes a firing enqueue nothing while a job that
  // holds the key is live, so runs never overlap.
  NewJob job;
  std::optional<Duration> expires_in;  // each job it enqueues expires this long after

  // Kept by the store.
  Time next_run_at{};
  std::optional<Time> last_run_at;
  std::optional<JobId> last_job_id;  // the last job a firing enqueued
  Time created_at{};
  Time updated_at{};
};

}  // namespace quern
