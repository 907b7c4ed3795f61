#include "store/sqlite/job_claim.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "store/sqlite/job_row.h"
#include "store/sqlite/multi_row.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

struct QueueRow {
  std::string name;
  bool paused;
  std::optional<int> concurrency_limit;
  std::optional<std::string> held_while;
};

std::vector<QueueRow> all_queues(WriteTransaction& txn) {
  std::vector<QueueRow> queues;
  auto q = txn.db().prepare(kSelectQueues);
  while (q->step()) {
    queues.push_back({q->text(0), q->int64(1) != 0, q->is_null(3) ? std::nullopt : std::optional<int>(q->integer(3)),
                      q->is_null(4) ? std::nullopt : std::optional<std::string>(q->text(4))});
  }
  return queues;
}

// Whether the queue it is held while has work (read in this transaction, like the rest).
bool held_back(WriteTransaction& txn, const QueueRow& queue) {
  if (!queue.held_while) return false;
  auto q = txn.db().prepare(kQueueHasWorkToRun);
  q->bind(1, *queue.held_while);
  return q->step() && q->int64(0) != 0;
}

// How many more of the queue's jobs may run now: its limit minus its running jobs
// (counted in this transaction, under the write lock, so claims by any process add up).
int room_under_limit(WriteTransaction& txn, const QueueRow& queue, const ClaimParams& params) {
  if (!queue.concurrency_limit) return params.max;
  auto q = txn.db().prepare(kCountRunningJobsOfQueue);
  q->bind(1, queue.name);
  const int64_t running = q->step() ? q->int64(0) : 0;
  return static_cast<int>(std::clamp<int64_t>(*queue.concurrency_limit - running, 0,
                                              std::min(params.max, params.max_from_limited_queue)));
}

struct Candidate {
  int priority;
  int64_t run_at;
  JobId id;
  bool operator<(const Candidate& o) const {
    return std::tie(o.priority, run_at, id) < std::tie(priority, o.run_at, o.id);
  }
};

std::vector<std::string> available_types(WriteTransaction& txn, const std::string& queue) {
  std::vector<std::string> types;
  std::string after;  // every type name is non-empty, so "" sorts before all of them
  while (true) {
    auto q = txn.db().prepare(kSelectNextAvailableType);
    q->bind(1, queue).bind(2, after);
    if (!q->step()) break;
    after = q->text(0);
    types.push_back(after);
  }
  return types;
}

void add_candidates(WriteTransaction& txn, const std::string& queue, const std::string& type, Time now, int max,
                    std::vector<Candidate>& out) {
  auto q = txn.db().prepare(kSelectClaimCandidates);
  q->bind(1, queue).bind(2, type).bind(3, now).bind(4, max);
  while (q->step()) out.push_back({q->integer(1), q->int64(2), q->int64(0)});
}

int promote_due_jobs(WriteTransaction& txn, const std::vector<QueueRow>& queues, Time now) {
  int promoted = 0;
  for (const auto& queue : queues) {
    std::vector<std::pair<JobId, int>> due;  // id, attempt
    {
      auto q = txn.db().prepare(kSelectDueScheduledJobs);
      q->bind(1, queue.name).bind(2, now);
      while (q->step()) due.emplace_back(q->int64(0), q->integer(1));
    }
    for (const auto& [id, attempt] : due) {
      {
        auto q = txn.db().prepare(kPromoteScheduledJob);
        q->bind(1, id).bind(2, now).run();
      }
      txn.record_move(id, queue.name, JobState::kScheduled, JobState::kAvailable, attempt, now, "run_at reached");
      ++promoted;
    }
  }
  return promoted;
}

}  // namespace

int promote_due_jobs(WriteTransaction& txn, Time now) { return promote_due_jobs(txn, all_queues(txn), now); }

std::vector<Job> claim_available_jobs(WriteTransaction& txn, const ClaimParams& params) {
  if (params.max <= 0) return {};
  const Time now = params.now;
  const std::vector<QueueRow> all = all_queues(txn);
  promote_due_jobs(txn, all, now);

  std::vector<std::string> wanted_types = params.types;
  std::sort(wanted_types.begin(), wanted_types.end());
  wanted_types.erase(std::unique(wanted_types.begin(), wanted_types.end()), wanted_types.end());

  std::vector<Candidate> candidates;
  for (const auto& queue : all) {
    if (queue.paused) continue;
    if (!params.queues.empty() &&
        std::find(params.queues.begin(), params.queues.end(), queue.name) == params.queues.end()) {
      continue;
    }
    if (held_back(txn, queue)) continue;
    const int room = room_under_limit(txn, queue, params);
    if (room == 0) continue;
    // The queue's best `room` jobs over all its types.
    std::vector<Candidate> of_queue;
    const auto types = wanted_types.empty() ? available_types(txn, queue.name) : wanted_types;
    for (const auto& type : types) add_candidates(txn, queue.name, type, now, room, of_queue);
    std::sort(of_queue.begin(), of_queue.end());
    if (of_queue.size() > static_cast<size_t>(room)) of_queue.resize(room);
    candidates.insert(candidates.end(), of_queue.begin(), of_queue.end());
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > static_cast<size_t>(params.max)) candidates.resize(params.max);

  std::vector<JobId> ids;
  ids.reserve(candidates.size());
  for (const auto& c : candidates) ids.push_back(c.id);
  // Every candidate is available: it was read in this transaction, under the write lock.
  run_over_ids(txn.db(), kClaimJobsIn, ids, 3, [&](Statement& q) {
    q.bind(1, now).bind_static(2, params.owner).bind(3, now + params.lease);
  });
  std::unordered_map<JobId, Job> claimed;
  claimed.reserve(ids.size());
  run_over_ids(
      txn.db(), kSelectJobsIn, ids, 0, [](Statement&) {},
      [&](const Statement& row) {
        Job job = read_job(row);
        claimed.emplace(job.id, std::move(job));
      });
  // In claim order (the rows came back by id).
  const std::string detail = "claimed by " + params.owner;
  std::vector<Job> jobs;
  jobs.reserve(ids.size());
  for (JobId id : ids) {
    auto it = claimed.find(id);
    if (it == claimed.end()) continue;
    Job& job = it->second;
    if (job.state != JobState::kRunning || job.lease_owner != params.owner) continue;  // cannot happen: see above
    txn.record_move(job.id, job.queue, JobState::kAvailable, JobState::kRunning, job.attempt, job.started_at.value_or(now),
                    detail);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace quern::sqlite
