// The JSON job object of the contract (CLI --json and the HTTP API): snake_case keys,
// RFC 3339 UTC times, null for what is unset.
#pragma once

#include "quern/job.h"

namespace quern {

// An RFC 3339 UTC time, or null.
Json time_or_null(const std::optional<Time>& t);

// Keys: id, queue, type, state, priority, attempt, failures, max_attempts, payload,
// result, error, progress, stage, checkpoint, unique_key, tags, run_at, created_at,
// started_at, finished_at, expires_at, depends_on (plus timeout_ms, needs_files,
// updated_at, lease_owner, lease_expires_at). result, checkpoint, unique_key and unset
// times are null, and so are error, stage and lease_owner when empty; state is its
// name, timeout_ms whole milliseconds. Text that is not valid UTF-8 gets U+FFFD.
Json job_to_json(const Job& job);

// {seq, job_id, at, from, to, attempt, detail}: from is null for the enqueue, detail
// null when empty.
Json history_entry_to_json(const HistoryEntry& entry);

}  // namespace quern
