// Which jobs a person may retry, cancel or delete: the rules every store applies inside
// its transaction, and `quern` checks for every id before it changes any.
#pragma once

#include <vector>

#include "quern/job.h"

namespace quern {

// Each throws kFailedPrecondition, saying why, unless job `id` in `state` allows it.
void check_can_retry(JobId id, JobState state);   // failed, canceled or expired
void check_can_cancel(JobId id, JobState state);  // not final
void check_can_delete(JobId id, JobState state);  // not running

// The final states a clear deletes, in the order to delete them: canceled first, so the
// blocked dependents that deleting failed or expired jobs cancels are not deleted by the
// same clear (they stay, canceled, saying which dependency was deleted).
std::vector<JobState> canceled_first(const std::vector<JobState>& states);

}  // namespace quern
