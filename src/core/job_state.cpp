#include <string>

#include "quern/error.h"
#include "quern/job.h"

namespace quern {

std::string_view state_name(JobState s) {
  switch (s) {
    case JobState::kScheduled: return "scheduled";
    case JobState::kAvailable: return "available";
    case JobState::kBlocked: return "blocked";
    case JobState::kRunning: return "running";
    case JobState::kCompleted: return "completed";
    case JobState::kFailed: return "failed";
    case JobState::kCanceled: return "canceled";
    case JobState::kExpired: return "expired";
  }
  return "unknown";
}

JobState parse_state(std::string_view name) {
  for (JobState s : kAllStates) {
    if (state_name(s) == name) return s;
  }
  throw Error::invalid_argument("unknown state '" + std::string(name) +
                                "' (expected scheduled, available, blocked, running, completed, failed, "
                                "canceled or expired)");
}

bool is_final(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCanceled ||
         s == JobState::kExpired;
}

int64_t Stats::total(JobState s) const {
  int64_t n = 0;
  for (const auto& q : queues) n += q.by_state[static_cast<size_t>(s)];
  return n;
}

}  // namespace quern
