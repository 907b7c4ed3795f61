// State changes shared by several store methods, each with its history entry and
// count delta, and the dependency rules that follow a job's end (the same rules as the
// SQLite store's job_transitions.h):
// - a completed job unblocks dependents whose job dependencies are all completed and
//   whose files are present (→ available, or scheduled if their run_at is ahead);
// - a job that ends failed, canceled or expired cancels its blocked dependents that
//   chose OnDependencyFailure::kCancel, and theirs in turn; the others stay blocked
//   until it is retried, or canceled when it is deleted.
//
// Every job is locked (FOR UPDATE) before it is read for a transition, and a dependent
// is locked before its dependencies are counted: of two transactions completing a
// job's last two dependencies at once, the second waits for the first and then sees
// both completed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quern/job.h"
#include "store/postgres/transaction.h"

namespace quern::postgres {

// Where a job is before a transition.
struct JobPosition {
  std::string queue;
  JobState state;
  int attempt;
  OnDependencyFailure on_dependency_failure;
  Time run_at;
  bool files_met;
};

// Locks the job and returns its position, or nullopt if there is no such job.
std::optional<JobPosition> lock_job_position(Transaction& txn, JobId id);

// The job as it is now (kNotFound if there is none).
Job select_job(Transaction& txn, JobId id);

// Applies what follows from `id` reaching the final `state` (see above).
void after_job_final(Transaction& txn, JobId id, JobState state, Time now);
// The same for each of `finals` in turn, their dependents read in one statement.
void after_jobs_final(Transaction& txn, const std::vector<std::pair<JobId, JobState>>& finals, Time now);

// Moves a blocked job on if nothing holds it back any more. Returns true if it moved.
bool unblock_if_ready(Transaction& txn, JobId id, Time now, std::string_view detail);

// Cancels a job that is not final (clearing any lease), then its dependents.
void cancel_job_at(Transaction& txn, JobId id, const JobPosition& from, Time now, std::string_view detail);

// Before jobs that have not completed are deleted: their dependents still blocked were
// waiting for them to complete (or, failed, to be retried), which can no longer
// happen, so they are canceled (whatever they chose), then theirs as after any cancel.
// In id order, as SQLite's store does.
void cancel_dependents_of_deleted(Transaction& txn, const std::vector<JobId>& deleted, Time now);

// Expires a scheduled, available or blocked job, then cancels its dependents.
void expire_job_at(Transaction& txn, JobId id, const JobPosition& from, Time now);

std::string job_not_found_message(JobId id);

}  // namespace quern::postgres
