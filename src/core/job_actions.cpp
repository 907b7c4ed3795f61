#include "core/job_actions.h"

#include <algorithm>
#include <string>

#include "quern/error.h"

namespace quern {

void check_can_retry(JobId id, JobState state) {
  if (state == JobState::kFailed || state == JobState::kCanceled || state == JobState::kExpired) return;
  throw Error::failed_precondition("job " + std::to_string(id) + " is " + std::string(state_name(state)) +
                                   "; only failed, canceled or expired jobs can be retried");
}

void check_can_cancel(JobId id, JobState state) {
  if (!is_final(state)) return;
  throw Error::failed_precondition("job " + std::to_string(id) + " is already " + std::string(state_name(state)) +
                                   "; only unfinished jobs can be canceled");
}

void check_can_delete(JobId id, JobState state) {
  if (state != JobState::kRunning) return;
  throw Error::failed_precondition("job " + std::to_string(id) + " is running; cancel it before deleting it");
}

std::vector<JobState> canceled_first(const std::vector<JobState>& states) {
  std::vector<JobState> ordered = states;
  std::stable_partition(ordered.begin(), ordered.end(), [](JobState s) { return s == JobState::kCanceled; });
  return ordered;
}

}  // namespace quern
