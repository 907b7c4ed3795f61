// State changes shared by several store methods, each with its history entry and
// count delta, and the dependency rules that follow a job's end:
// - a completed job unblocks dependents whose job dependencies are all completed and
//   whose files are present (→ available, or scheduled if their run_at is ahead);
// - a job that ends failed, canceled or expired cancels its blocked dependents that
//   chose OnDependencyFailure::kCancel, and theirs in turn; the others stay blocked
//   until it is retried, or canceled when it is deleted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quern/job.h"
#include "store/sqlite/write_transaction.h"

namespace quern::sqlite {

// Where a job is before a transition.
struct JobPosition {
  std::string queue;
  JobState state;
  int attempt;
  OnDependencyFailure on_dependency_failure;
  Time run_at;
};

// The job's position, or nullopt if there is no such job.
std::optional<JobPosition> find_job_position(WriteTransaction& txn, JobId id);

// Applies what follows from `id` reaching the final `state` (see above).
void after_job_final(WriteTransaction& txn, JobId id, JobState state, Time now);

// Unblocks the dependents of `completed` jobs that nothing holds back any more, reading
// the dependents of all of them at once.
void unblock_dependents_of(WriteTransaction& txn, const std::vector<JobId>& completed, Time now);

// Moves a blocked job on if nothing holds it back any more. Returns true if it moved.
bool unblock_if_ready(WriteTransaction& txn, JobId id, Time now, std::string_view detail);

// Cancels a job that is not final (clearing any lease), then its dependents.
void cancel_job_at(WriteTransaction& txn, JobId id, const JobPosition& from, Time now, std::string_view detail);

// Before a job that has not completed is deleted: its dependents still blocked were
// waiting for it to complete (or, failed, to be retried), which can no longer happen,
// so they are canceled (whatever they chose), then theirs as after any cancel.
void cancel_dependents_of_deleted(WriteTransaction& txn, JobId deleted, Time now);

// Expires a scheduled, available or blocked job, then cancels its dependents.
void expire_job_at(WriteTransaction& txn, JobId id, const JobPosition& from, Time now);

}  // namespace quern::sqlite
