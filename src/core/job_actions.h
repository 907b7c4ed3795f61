// Which jobs a person may retry, cancel or delete: the rules every store applies inside
// its transaction, and `quern` checks for every id before it changes any.
#pragma once

#include "quern/job.h"

namespace quern {

// Each throws kFailedPrecondition, saying why, unless job `id` in `state` allows it.
void check_can_retry(JobId id, JobState state);   // failed, canceled or expired
void check_can_cancel(JobId id, JobState state);  // not final
void check_can_delete(JobId id, JobState state);  // not running

}  // namespace quern
