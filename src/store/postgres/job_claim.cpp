#include "store/postgres/job_claim.h"

#include <algorithm>
#include <tuple>

#include "store/postgres/job_row.h"
#include "store/postgres/statements.h"

namespace quern::postgres {

namespace {

// Records the moves of the jobs kPromoteDueJobs promoted (its result `r`), in run_at order.
int record_promotions(Transaction& txn, const Result& r, Time now) {
  struct Promoted {
    JobId id;
    std::string queue;
    int attempt;
    int64_t run_at;
  };
  std::vector<Promoted> promoted;
  promoted.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) promoted.push_back({r.int64(i, 0), r.text(i, 1), r.integer(i, 2), r.int64(i, 3)});
  std::sort(promoted.begin(), promoted.end(),
            [](const Promoted& a, const Promoted& b) { return std::tie(a.run_at, a.id) < std::tie(b.run_at, b.id); });
  for (const auto& p : promoted) {
    txn.record_move(p.id, p.queue, JobState::kScheduled, JobState::kAvailable, p.attempt, now, "run_at reached");
  }
  return static_cast<int>(promoted.size());
}

}  // namespace

int promote_due_jobs(Transaction& txn, Time now) {
  return record_promotions(txn, txn.write(kPromoteDueJobs, Params().add(now)), now);
}

std::vector<Job> claim_available_jobs(Transaction& txn, const ClaimParams& params) {
  if (params.max <= 0) return {};
  const Time now = params.now;

  Params p;
  if (params.queues.empty()) {
    p.add(std::nullopt);
  } else {
    ArrayLiteral queues;
    for (const auto& q : params.queues) queues.add(q);
    p.add(queues);
  }
  if (params.types.empty()) {
    p.add(std::nullopt);
  } else {
    std::vector<std::string> wanted = params.types;
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    ArrayLiteral types;
    for (const auto& t : wanted) types.add(t);
    p.add(types);
  }
  p.add(now).add(params.max).add(params.owner).add(now + params.lease).add(params.max_from_limited_queue);
  // Due scheduled jobs are promoted first, in the same round trip: the claim, a later
  // statement of the transaction, sees them.
  //
  // The claim takes the bookkeeping lock first: its commit has to wait for that lock
  // anyway, and waiting for it while holding the claimed rows made every other claimer
  // walk past them (SKIP LOCKED reads each one): with many worker processes, thousands
  // of rows per claim, and the database's CPU went to that. Under the lock a claimer
  // meets only committed rows.
  const Params promote = Params().add(now);
  std::vector<Result> results = txn.write_many_under_bookkeeping_lock(
      {{&kPromoteDueJobs, &promote}, {params.types.empty() ? &kClaimJobsOfAnyType : &kClaimJobsOfTypes, &p}});
  record_promotions(txn, results[0], now);
  const Result& r = results[1];

  std::vector<Job> jobs;
  jobs.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) jobs.push_back(read_job(r, i));
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return std::tie(b.priority, a.run_at, a.id) < std::tie(a.priority, b.run_at, b.id);
  });
  const std::string detail = "claimed by " + params.owner;
  for (const Job& job : jobs) {
    txn.record_move(job.id, job.queue, JobState::kAvailable, JobState::kRunning, job.attempt, job.started_at.value_or(now),
                    detail);
  }
  return jobs;
}

}  // namespace quern::postgres
