#include "store/sqlite/job_transitions.h"

#include <algorithm>
#include <deque>
#include <vector>

#include "store/sqlite/job_row.h"
#include "store/sqlite/multi_row.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

std::vector<JobId> dependents_of(WriteTransaction& txn, JobId id) {
  std::vector<JobId> ids;
  auto q = txn.db().prepare(kSelectDependents);
  q->bind(1, id);
  while (q->step()) ids.push_back(q->int64(0));
  return ids;
}

std::string dependency_detail(JobId id, JobState state) {
  return "dependency " + std::to_string(id) + " " + std::string(state_name(state));
}

// Cancels blocked dependents of `root` that chose kCancel, breadth first, so a long
// chain never recurses deeply.
void cancel_dependents(WriteTransaction& txn, JobId root, JobState root_state, Time now) {
  std::deque<std::pair<JobId, JobState>> ended{{root, root_state}};
  while (!ended.empty()) {
    const auto [id, state] = ended.front();
    ended.pop_front();
    for (JobId dependent : dependents_of(txn, id)) {
      const auto pos = find_job_position(txn, dependent);
      if (!pos || pos->state != JobState::kBlocked) continue;
      if (pos->on_dependency_failure != OnDependencyFailure::kCancel) continue;
      {
        auto q = txn.db().prepare(kCancelJob);
        q->bind(1, dependent).bind(2, now).run();
      }
      txn.record_move(dependent, pos->queue, pos->state, JobState::kCanceled, pos->attempt, now,
                      dependency_detail(id, state));
      ended.emplace_back(dependent, JobState::kCanceled);
    }
  }
}

}  // namespace

std::optional<JobPosition> find_job_position(WriteTransaction& txn, JobId id) {
  auto q = txn.db().prepare(kSelectJobTransitionInfo);
  q->bind(1, id);
  if (!q->step()) return std::nullopt;
  return JobPosition{q->text(0), parse_stored_state(q->text_view(1)), q->integer(2),
                     q->text_view(3) == "stay_blocked" ? OnDependencyFailure::kStayBlocked
                                                       : OnDependencyFailure::kCancel,
                     q->time(4)};
}

bool unblock_if_ready(WriteTransaction& txn, JobId id, Time now, std::string_view detail) {
  {
    auto q = txn.db().prepare(kCountUnmetDependencies);
    q->bind(1, id);
    if (q->step() && q->int64(0) > 0) return false;
  }
  {
    auto q = txn.db().prepare(kSelectFilesMet);
    q->bind(1, id);
    if (!q->step() || q->int64(0) == 0) return false;
  }
  const auto pos = find_job_position(txn, id);
  if (!pos || pos->state != JobState::kBlocked) return false;
  // blocked → scheduled or available, by run_at.
  const JobState to = pos->run_at > now ? JobState::kScheduled : JobState::kAvailable;
  {
    auto q = txn.db().prepare(kUnblockJob);
    q->bind(1, id).bind_static(2, stored_state(to)).bind(3, now).run();
  }
  txn.record_move(id, pos->queue, JobState::kBlocked, to, pos->attempt, now, detail);
  return true;
}

void unblock_dependents_of(WriteTransaction& txn, const std::vector<JobId>& completed, Time now) {
  std::vector<JobId> dependents;
  run_over_ids(
      txn.db(), kSelectDependentsIn, completed, 0, [](Statement&) {},
      [&](const Statement& row) { dependents.push_back(row.int64(0)); });
  std::sort(dependents.begin(), dependents.end());
  dependents.erase(std::unique(dependents.begin(), dependents.end()), dependents.end());
  for (JobId dependent : dependents) unblock_if_ready(txn, dependent, now, "dependencies met");
}

void after_job_final(WriteTransaction& txn, JobId id, JobState state, Time now) {
  if (state == JobState::kCompleted) {
    unblock_dependents_of(txn, {id}, now);
  } else {
    cancel_dependents(txn, id, state, now);
  }
}

void cancel_job_at(WriteTransaction& txn, JobId id, const JobPosition& from, Time now, std::string_view detail) {
  {
    auto q = txn.db().prepare(kCancelJob);
    q->bind(1, id).bind(2, now).run();
  }
  txn.record_move(id, from.queue, from.state, JobState::kCanceled, from.attempt, now, detail);
  after_job_final(txn, id, JobState::kCanceled, now);
}

void cancel_dependents_of_deleted(WriteTransaction& txn, JobId deleted, Time now) {
  const std::string detail = "dependency " + std::to_string(deleted) + " deleted";
  for (JobId dependent : dependents_of(txn, deleted)) {
    const auto pos = find_job_position(txn, dependent);
    if (pos && pos->state == JobState::kBlocked) cancel_job_at(txn, dependent, *pos, now, detail);
  }
}

void expire_job_at(WriteTransaction& txn, JobId id, const JobPosition& from, Time now) {
  {
    auto q = txn.db().prepare(kExpireJob);
    q->bind(1, id).bind(2, now).run();
  }
  txn.record_move(id, from.queue, from.state, JobState::kExpired, from.attempt, now, "expired");
  after_job_final(txn, id, JobState::kExpired, now);
}

}  // namespace quern::sqlite
