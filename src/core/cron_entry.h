// Cron entries (include/quern/cron.h): their checks, the job template as the stores keep
// it, the job each firing enqueues, and the JSON object of the CLI and the HTTP API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quern/cron.h"

namespace quern {

// Throws Error(kInvalidArgument) naming what is wrong: a name that is neither empty nor
// a valid name (see check_name), a schedule CronSchedule cannot parse, a job with run_at, expires_at
// or depends_on set, an expires_in that is not positive, or anything validate_new_job
// refuses (kTooLarge for a payload over max_payload_bytes).
void validate_cron_entry(const CronEntry& entry, size_t max_payload_bytes);

// The job template and expires_in as JSON text, the form both stores keep, and back.
// decode_cron_job throws Error(kDataLoss) for text it did not write.
std::string encode_cron_job(const CronEntry& entry);
void decode_cron_job(std::string_view text, CronEntry& entry);

// What firing `entry` at `now` does: enqueue `job` (the template, expiring expires_in
// after now) and move the entry to `next_run_at`, its schedule's first minute after
// now. Nothing for a schedule this Quern cannot parse (stored by a Quern that reads
// schedules differently: left for that one).
struct CronFiring {
  NewJob job;
  Time next_run_at;
};
std::optional<CronFiring> plan_cron_firing(const CronEntry& entry, Time now);

// Throws Error(kNotFound): "no cron entry named 'a'" or "no cron entries named 'a', 'b'".
[[noreturn]] void throw_cron_entries_not_found(const std::vector<std::string>& names);

// {name, schedule, queue, type, payload, priority, max_attempts, timeout_ms, unique_key,
// tags, needs_files, expires_in_ms, next_run_at, last_run_at, last_job_id, created_at,
// updated_at}: RFC 3339 UTC times, null for what is unset.
Json cron_entry_to_json(const CronEntry& entry);

}  // namespace quern
