#include "store/run_end.h"

namespace quern {

std::string run_end_detail(const JobFinish& finish) {
  switch (finish.outcome) {
    case FinishOutcome::kCompleted:
      return "completed";
    case FinishOutcome::kRetry:
    case FinishOutcome::kFail:
      return finish.error.empty() ? "failed" : finish.error;
    case FinishOutcome::kSnooze:
      return "snoozed";
    case FinishOutcome::kRelease:
      return "released";
  }
  return "";
}

bool records_finish(const HistoryEntry& entry, const JobFinish& finish) {
  // Only a finish moves a run to completed; the other ends are told apart by detail
  // (a rescue's is "lease expired" or "worker process died", a cancel's says so).
  const bool completed = finish.outcome == FinishOutcome::kCompleted;
  return entry.job_id == finish.id && entry.from == JobState::kRunning && entry.attempt == finish.attempt &&
         (entry.to == JobState::kCompleted) == completed && entry.detail == run_end_detail(finish);
}

}  // namespace quern
