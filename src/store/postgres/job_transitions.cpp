#include "store/postgres/job_transitions.h"

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "quern/error.h"
#include "store/postgres/job_row.h"
#include "store/postgres/statements.h"

namespace quern::postgres {
namespace {

// The dependents of each of `ids`, in job id order, read in one statement.
std::unordered_map<JobId, std::vector<JobId>> dependents_of_jobs(Transaction& txn, const std::vector<JobId>& ids) {
  std::unordered_map<JobId, std::vector<JobId>> dependents;
  if (ids.empty()) return dependents;
  ArrayLiteral array;
  for (JobId id : ids) array.add(id);
  Result r = txn.read(kSelectDependentsOf, Params().add(array));
  for (int i = 0; i < r.rows(); ++i) dependents[r.int64(i, 0)].push_back(r.int64(i, 1));
  return dependents;
}

std::string dependency_ended_detail(JobId id, JobState state) {
  return "dependency " + std::to_string(id) + " " + std::string(state_name(state));
}

// Cancels blocked dependents of `root` that chose kCancel, and theirs in turn, a level
// at a time (breadth first, so a long chain never recurses deeply).
void cancel_dependents_of(Transaction& txn, JobId root, JobState root_state, Time now) {
  std::vector<std::pair<JobId, JobState>> ended{{root, root_state}};
  while (!ended.empty()) {
    std::vector<JobId> ids;
    for (const auto& [id, state] : ended) ids.push_back(id);
    const auto dependents = dependents_of_jobs(txn, ids);
    std::vector<std::pair<JobId, JobState>> next;
    for (const auto& [id, state] : ended) {
      const auto it = dependents.find(id);
      if (it == dependents.end()) continue;
      for (JobId dependent : it->second) {
        const auto pos = lock_job_position(txn, dependent);
        if (!pos || pos->state != JobState::kBlocked) continue;
        if (pos->on_dependency_failure != OnDependencyFailure::kCancel) continue;
        txn.write(kCancelJob, Params().add(dependent).add(now));
        txn.record_move(dependent, pos->queue, pos->state, JobState::kCanceled, pos->attempt, now,
                        dependency_ended_detail(id, state));
        next.emplace_back(dependent, JobState::kCanceled);
      }
    }
    ended = std::move(next);
  }
}

}  // namespace

std::string job_not_found_message(JobId id) { return "job " + std::to_string(id) + " not found"; }

std::optional<JobPosition> lock_job_position(Transaction& txn, JobId id) {
  Result r = txn.read(kLockJobPosition, Params().add(id));
  if (r.rows() == 0) return std::nullopt;
  return JobPosition{r.text(0, 0), parse_stored_state(r.text_view(0, 1)), r.integer(0, 2),
                     parse_dependency_failure(r.text_view(0, 3)), r.time(0, 4), r.boolean(0, 5)};
}

Job select_job(Transaction& txn, JobId id) {
  Result r = txn.read(kSelectJob, Params().add(id));
  if (r.rows() == 0) throw Error::not_found(job_not_found_message(id));
  return read_job(r, 0);
}

bool unblock_if_ready(Transaction& txn, JobId id, Time now, std::string_view detail) {
  // Lock first, then count: see the header.
  const auto pos = lock_job_position(txn, id);
  if (!pos || pos->state != JobState::kBlocked || !pos->files_met) return false;
  {
    Result r = txn.read(kCountUnmetDependencies, Params().add(id));
    if (r.rows() > 0 && r.int64(0, 0) > 0) return false;
  }
  // blocked → scheduled or available, by run_at.
  const JobState to = pos->run_at > now ? JobState::kScheduled : JobState::kAvailable;
  txn.write(kUnblockJob, Params().add(id).add(stored_state(to)).add(now));
  txn.record_move(id, pos->queue, JobState::kBlocked, to, pos->attempt, now, detail);
  return true;
}

void after_jobs_final(Transaction& txn, const std::vector<std::pair<JobId, JobState>>& finals, Time now) {
  std::vector<JobId> ids;
  ids.reserve(finals.size());
  for (const auto& [id, state] : finals) ids.push_back(id);
  // Most jobs have no dependents: then this one statement is all.
  const auto dependents = dependents_of_jobs(txn, ids);
  for (const auto& [id, state] : finals) {
    const auto it = dependents.find(id);
    if (it == dependents.end()) continue;
    if (state == JobState::kCompleted) {
      for (JobId dependent : it->second) unblock_if_ready(txn, dependent, now, "dependencies met");
    } else {
      cancel_dependents_of(txn, id, state, now);
    }
  }
}

void after_job_final(Transaction& txn, JobId id, JobState state, Time now) { after_jobs_final(txn, {{id, state}}, now); }

void cancel_job_at(Transaction& txn, JobId id, const JobPosition& from, Time now, std::string_view detail) {
  txn.write(kCancelJob, Params().add(id).add(now));
  txn.record_move(id, from.queue, from.state, JobState::kCanceled, from.attempt, now, detail);
  after_job_final(txn, id, JobState::kCanceled, now);
}

void cancel_dependents_of_deleted(Transaction& txn, const std::vector<JobId>& given, Time now) {
  std::vector<JobId> deleted = given;
  std::sort(deleted.begin(), deleted.end());
  const auto dependents = dependents_of_jobs(txn, deleted);
  for (JobId id : deleted) {
    const auto it = dependents.find(id);
    if (it == dependents.end()) continue;
    const std::string detail = "dependency " + std::to_string(id) + " deleted";
    for (JobId dependent : it->second) {
      const auto pos = lock_job_position(txn, dependent);
      if (pos && pos->state == JobState::kBlocked) cancel_job_at(txn, dependent, *pos, now, detail);
    }
  }
}

void expire_job_at(Transaction& txn, JobId id, const JobPosition& from, Time now) {
  txn.write(kExpireJob, Params().add(id).add(now));
  txn.record_move(id, from.queue, from.state, JobState::kExpired, from.attempt, now, "expired");
  after_job_final(txn, id, JobState::kExpired, now);
}

}  // namespace quern::postgres
