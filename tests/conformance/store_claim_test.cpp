// Claiming: order, leases, paused queues, queue and type filters, scheduled
// promotion, expiry.
#include <map>

#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreClaim);

std::vector<JobId> ids_of(const std::vector<Job>& jobs) {
  std::vector<JobId> ids;
  for (const auto& j : jobs) ids.push_back(j.id);
  return ids;
}

TEST_P(StoreClaim, ClaimLeasesTheJobAndRecordsIt) {
  const Job queued = enqueue(new_job());
  advance(2s);
  const auto jobs = claim(1, {}, {}, 45s);
  ASSERT_EQ(jobs.size(), 1u);
  const Job& job = jobs[0];
  EXPECT_EQ(job.id, queued.id);
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(job.lease_owner, "test-worker");
  EXPECT_EQ(job.lease_expires_at, std::optional<Time>(now() + 45s));
  EXPECT_EQ(job.started_at, std::optional<Time>(now()));
  EXPECT_EQ(job.updated_at, now());
  const Job stored = get(job.id);
  EXPECT_EQ(stored.state, JobState::kRunning);
  EXPECT_EQ(stored.attempt, 1);
  EXPECT_EQ(stored.lease_owner, "test-worker");
  const auto history = store_->job_history(job.id);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].from, std::optional<JobState>(JobState::kAvailable));
  EXPECT_EQ(history[1].to, JobState::kRunning);
  EXPECT_EQ(history[1].attempt, 1);
  EXPECT_EQ(history[1].at, now());
}

TEST_P(StoreClaim, NothingToClaimGivesNothing) {
  EXPECT_TRUE(claim(5).empty());
  enqueue(new_job());
  claim_one();
  EXPECT_TRUE(claim(5).empty());
}

TEST_P(StoreClaim, HigherPriorityThenEarlierRunAtThenSmallerIdFirst) {
  NewJob low = new_job();
  low.priority = kPriorityLow;
  NewJob high = new_job();
  high.priority = kPriorityHigh;
  NewJob normal_late = new_job();
  normal_late.run_at = now() - 1s;
  NewJob normal_early = new_job();
  normal_early.run_at = now() - 5s;
  NewJob normal_early_too = normal_early;

  const JobId low_id = enqueue(low).id;
  const JobId late_id = enqueue(normal_late).id;
  const JobId early_id = enqueue(normal_early).id;
  const JobId early_too_id = enqueue(normal_early_too).id;
  const JobId high_id = enqueue(high).id;

  EXPECT_EQ(ids_of(claim(2)), (std::vector<JobId>{high_id, early_id}));
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{early_too_id, late_id, low_id}));
}

TEST_P(StoreClaim, OrderHoldsAcrossQueuesAndTypes) {
  NewJob a = new_job("x", "q1");
  a.priority = 5;
  NewJob b = new_job("y", "q2");
  b.priority = 30;
  NewJob c = new_job("z", "q1");
  c.priority = 20;
  NewJob d = new_job("x", "q3");
  d.priority = 20;
  const JobId a_id = enqueue(a).id;
  const JobId b_id = enqueue(b).id;
  const JobId c_id = enqueue(c).id;
  const JobId d_id = enqueue(d).id;
  EXPECT_EQ(ids_of(claim(3)), (std::vector<JobId>{b_id, c_id, d_id}));
  EXPECT_EQ(ids_of(claim(3)), (std::vector<JobId>{a_id}));
}

TEST_P(StoreClaim, ClaimsAtMostMax) {
  for (int i = 0; i < 10; ++i) enqueue(new_job());
  EXPECT_EQ(claim(4).size(), 4u);
  EXPECT_EQ(claim(0).size(), 0u);
  EXPECT_EQ(claim(100).size(), 6u);
}

TEST_P(StoreClaim, OnlyTheRequestedQueues) {
  const JobId a = enqueue(new_job("t", "a")).id;
  const JobId b = enqueue(new_job("t", "b")).id;
  enqueue(new_job("t", "c"));
  EXPECT_EQ(ids_of(claim(10, {"b", "a", "nonexistent"})), (std::vector<JobId>{a, b}));
}

TEST_P(StoreClaim, OnlyTheRequestedTypes) {
  const JobId rip = enqueue(new_job("rip")).id;
  const JobId transcode = enqueue(new_job("transcode")).id;
  enqueue(new_job("publish"));
  EXPECT_EQ(ids_of(claim(10, {}, {"transcode"})), (std::vector<JobId>{transcode}));
  EXPECT_EQ(ids_of(claim(10, {}, {"rip", "other"})), (std::vector<JobId>{rip}));
}

TEST_P(StoreClaim, PausedQueueIsNotClaimedUntilResumed) {
  const JobId paused_job = enqueue(new_job("t", "background")).id;
  const JobId other = enqueue(new_job("t", "foreground")).id;
  store_->set_queue_paused("background", true, now());
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{other}));
  EXPECT_TRUE(claim(10, {"background"}).empty());
  store_->set_queue_paused("background", false, now());
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{paused_job}));
}

TEST_P(StoreClaim, PauseIsListedAndSurvivesReopen) {
  store_->set_queue_paused("later", true, now());
  enqueue(new_job("t", "later"));
  store_.reset();
  store_ = open_store_again();
  const auto queues = store_->list_queues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].name, "later");
  EXPECT_TRUE(queues[0].paused);
  EXPECT_TRUE(store_->stats().queues.at(0).paused);
  EXPECT_TRUE(claim(10).empty());
}

// A queue's concurrency limit caps its running jobs however the claims come; other
// queues are not held back by it.
TEST_P(StoreClaim, ConcurrencyLimitCapsAQueuesRunningJobs) {
  std::vector<JobId> limited;
  for (int i = 0; i < 5; ++i) limited.push_back(enqueue(new_job(i % 2 ? "rip" : "transcode", "gpu")).id);
  const JobId other = enqueue(new_job("t", "cpu")).id;
  store_->set_queue_concurrency_limit("gpu", 2, now());
  const std::vector<Job> first = claim(10);
  EXPECT_EQ(ids_of(first), (std::vector<JobId>{limited[0], limited[1], other}));  // both types count
  EXPECT_TRUE(claim(10, {"gpu"}).empty());
  // A finished run makes room for one more.
  ASSERT_EQ(finish(first[0], FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{limited[2]}));
  EXPECT_TRUE(claim(10).empty());
  // Raised: room for one more; removed: the rest.
  store_->set_queue_concurrency_limit("gpu", 3, now());
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{limited[3]}));
  store_->set_queue_concurrency_limit("gpu", std::nullopt, now());
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{limited[4]}));
  expect_counts_match_jobs();
}

// A pool claims from a limited queue only for its free slots: a job it prefetched
// would hold the queue's room while it waits. Other queues are prefetched as before.
TEST_P(StoreClaim, ALimitedQueueGivesAtMostTheClaimersFreeSlots) {
  for (int i = 0; i < 4; ++i) enqueue(new_job("t", "gpu"));
  for (int i = 0; i < 4; ++i) enqueue(new_job("t", "cpu"));
  store_->set_queue_concurrency_limit("gpu", 3, now());
  ClaimParams params;
  params.max = 10;
  params.max_from_limited_queue = 1;
  params.owner = "w";
  params.now = now();
  std::map<std::string, int> by_queue;
  for (const Job& job : store_->claim_jobs(params)) ++by_queue[job.queue];
  EXPECT_EQ(by_queue, (std::map<std::string, int>{{"cpu", 4}, {"gpu", 1}}));
  params.max_from_limited_queue = 0;
  EXPECT_TRUE(store_->claim_jobs(params).empty());
  params.max_from_limited_queue = 5;
  EXPECT_EQ(store_->claim_jobs(params).size(), 2u);  // the limit's room is less
}

TEST_P(StoreClaim, ConcurrencyLimitIsListedSurvivesReopenAndRejectsZero) {
  store_->set_queue_concurrency_limit("gpu", 1, now());
  enqueue(new_job("t", "gpu"));
  enqueue(new_job("t", "gpu"));
  EXPECT_QUERN_ERROR(store_->set_queue_concurrency_limit("gpu", 0, now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_concurrency_limit("", 1, now()), ErrorCode::kInvalidArgument);
  store_.reset();
  store_ = open_store_again();
  const auto queues = store_->list_queues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].concurrency_limit, std::optional<int>(1));
  EXPECT_FALSE(queues[0].paused);
  EXPECT_EQ(claim(10).size(), 1u);
  EXPECT_TRUE(claim(10).empty());
}

// Background work is held while foreground work runs or waits to run (unless the
// foreground queue is paused); the hold never stops a job already running.
TEST_P(StoreClaim, AHeldQueueWaitsWhileTheQueueItIsHeldWhileHasWork) {
  store_->set_queue_hold("background", "foreground", now());
  const JobId background = enqueue(new_job("t", "background")).id;
  const JobId foreground = enqueue(new_job("t", "foreground")).id;
  const std::vector<Job> first = claim(10);
  EXPECT_EQ(ids_of(first), (std::vector<JobId>{foreground}));
  EXPECT_TRUE(claim(10).empty());  // the foreground job runs
  ASSERT_EQ(finish(first[0], FinishOutcome::kCompleted), FinishStatus::kOk);
  const std::vector<Job> second = claim(10);
  EXPECT_EQ(ids_of(second), (std::vector<JobId>{background}));
  // New foreground work does not stop background work already running.
  const JobId foreground_2 = enqueue(new_job("t", "foreground")).id;
  const JobId background_2 = enqueue(new_job("t", "background")).id;
  EXPECT_EQ(ids_of(claim(1, {"background"})), (std::vector<JobId>{}));
  EXPECT_EQ(get(second[0].id).state, JobState::kRunning);
  // A paused foreground queue holds nothing back.
  store_->set_queue_paused("foreground", true, now());
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{background_2}));
  store_->set_queue_paused("foreground", false, now());
  // Released: both run.
  const JobId background_3 = enqueue(new_job("t", "background")).id;
  store_->set_queue_hold("background", std::nullopt, now());
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{foreground_2, background_3}));
  expect_counts_match_jobs();
}

TEST_P(StoreClaim, HoldsAreListedSurviveReopenAndNeverCloseALoop) {
  store_->set_queue_hold("low", "mid", now());
  store_->set_queue_hold("mid", "high", now());
  EXPECT_QUERN_ERROR(store_->set_queue_hold("high", "low", now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_hold("mid", "low", now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_hold("low", "low", now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_hold("", "low", now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_hold("low", "", now()), ErrorCode::kInvalidArgument);
  store_->set_queue_hold("low", "high", now());  // moving a hold is no loop
  store_.reset();
  store_ = open_store_again();
  std::map<std::string, std::optional<std::string>> holds;
  for (const QueueInfo& queue : store_->list_queues()) holds[queue.name] = queue.held_while;
  EXPECT_EQ(holds, (std::map<std::string, std::optional<std::string>>{{"low", "high"}, {"mid", "high"}}));
  // A chain holds back each link: low and mid wait for high.
  enqueue(new_job("t", "low"));
  enqueue(new_job("t", "mid"));
  const JobId high = enqueue(new_job("t", "high")).id;
  EXPECT_EQ(ids_of(claim(10)), (std::vector<JobId>{high}));
}

// A worker reads the time, then waits for its claim's turn; an enqueue can commit in
// between. The job still never starts before it was created.
TEST_P(StoreClaim, AClaimTimedBeforeTheJobWasCreatedStartsItAtItsCreation) {
  const Job job = enqueue(new_job());
  ClaimParams params;
  params.max = 1;
  params.owner = "w";
  params.now = now() - 5ms;
  const std::vector<Job> claimed = store_->claim_jobs(params);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].started_at, std::optional<Time>(job.created_at));
  EXPECT_EQ(get(job.id).started_at, std::optional<Time>(job.created_at));
  EXPECT_EQ(get(job.id).updated_at, job.created_at);
  const auto history = store_->job_history(job.id);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].at, job.created_at);  // the claim, not before the enqueue
}

TEST_P(StoreClaim, OnlyPausesAndResumesThatChangeTheQueueAreCounted) {
  auto changes_of = [&](const std::string& name) {
    for (const QueueInfo& q : store_->list_queues()) {
      if (q.name == name) return q.pause_changes;
    }
    return int64_t{-1};
  };
  store_->set_queue_paused("bg", true, now());  // a new queue starts resumed
  EXPECT_EQ(changes_of("bg"), 1);
  store_->set_queue_paused("bg", true, now());
  EXPECT_EQ(changes_of("bg"), 1);
  store_->set_queue_paused("bg", false, now());
  store_->set_queue_paused("bg", false, now());
  EXPECT_EQ(changes_of("bg"), 2);
  store_->set_queue_paused("bg", true, now());
  EXPECT_EQ(changes_of("bg"), 3);
  store_->set_queue_paused("fresh", false, now());
  EXPECT_EQ(changes_of("fresh"), 0);
  enqueue(new_job("t", "made-by-enqueue"));
  EXPECT_EQ(changes_of("made-by-enqueue"), 0);
}

TEST_P(StoreClaim, ScheduledJobIsClaimedOnceItsTimeComes) {
  NewJob n = new_job();
  n.run_at = now() + 1min;
  const JobId id = enqueue(n).id;
  EXPECT_TRUE(claim(1).empty());
  EXPECT_EQ(get(id).state, JobState::kScheduled);
  advance(1min);
  EXPECT_EQ(ids_of(claim(1)), (std::vector<JobId>{id}));
  using T = std::pair<std::optional<JobState>, JobState>;
  EXPECT_EQ(transitions(id), (std::vector<T>{{std::nullopt, JobState::kScheduled},
                                             {JobState::kScheduled, JobState::kAvailable},
                                             {JobState::kAvailable, JobState::kRunning}}));
}

TEST_P(StoreClaim, PromoteScheduledJobsMovesOnlyDueOnes) {
  NewJob soon = new_job();
  soon.run_at = now() + 10s;
  NewJob later = new_job("t", "other");
  later.run_at = now() + 20s;
  const JobId soon_id = enqueue(soon).id;
  const JobId later_id = enqueue(later).id;
  EXPECT_EQ(store_->promote_scheduled_jobs(now()), 0);
  advance(10s);
  EXPECT_EQ(store_->promote_scheduled_jobs(now()), 1);
  EXPECT_EQ(get(soon_id).state, JobState::kAvailable);
  EXPECT_EQ(get(later_id).state, JobState::kScheduled);
  expect_counts_match_jobs();
}

TEST_P(StoreClaim, NextScheduledAtIsTheEarliestOfTheQueues) {
  EXPECT_FALSE(store_->next_scheduled_at({}).has_value());
  NewJob a = new_job("t", "a");
  a.run_at = now() + 30s;
  NewJob b = new_job("t", "b");
  b.run_at = now() + 10s;
  enqueue(a);
  enqueue(b);
  EXPECT_EQ(store_->next_scheduled_at({}), std::optional<Time>(now() + 10s));
  EXPECT_EQ(store_->next_scheduled_at({"a"}), std::optional<Time>(now() + 30s));
  EXPECT_FALSE(store_->next_scheduled_at({"c"}).has_value());
}

TEST_P(StoreClaim, JobPastExpiresAtIsNotClaimed) {
  NewJob n = new_job();
  n.expires_at = now() + 5s;
  const JobId id = enqueue(n).id;
  advance(5s);
  EXPECT_TRUE(claim(1).empty());
  EXPECT_EQ(get(id).state, JobState::kAvailable);
}

TEST_P(StoreClaim, ExpireJobsMovesPendingJobsPastExpiresAt) {
  NewJob available = new_job();
  available.expires_at = now() + 5s;
  NewJob scheduled = new_job();
  scheduled.run_at = now() + 1h;
  scheduled.expires_at = now() + 5s;
  NewJob later = new_job();
  later.expires_at = now() + 1h;
  NewJob running = new_job();
  running.priority = kPriorityCritical;
  running.expires_at = now() + 5s;
  const JobId a = enqueue(available).id;
  const JobId s = enqueue(scheduled).id;
  const JobId l = enqueue(later).id;
  const JobId r = enqueue(running).id;
  EXPECT_EQ(claim_one().id, r);
  advance(5s);
  EXPECT_EQ(store_->expire_jobs(now()), 2);
  EXPECT_EQ(get(a).state, JobState::kExpired);
  EXPECT_EQ(get(a).finished_at, std::optional<Time>(now()));
  EXPECT_EQ(get(s).state, JobState::kExpired);
  EXPECT_EQ(get(l).state, JobState::kAvailable);
  EXPECT_EQ(get(r).state, JobState::kRunning);  // it started in time
  EXPECT_EQ(store_->job_history(a).back().to, JobState::kExpired);
  EXPECT_EQ(store_->expire_jobs(now()), 0);
  expect_counts_match_jobs();
}

TEST_P(StoreClaim, StartedAtIsTheStartOfTheLatestRun) {
  enqueue(new_job());
  const Job first = claim_one();
  advance(10s);
  ASSERT_EQ(finish(first, FinishOutcome::kRelease), FinishStatus::kOk);
  advance(10s);
  const Job second = claim_one();
  EXPECT_EQ(second.attempt, 2);
  EXPECT_EQ(second.started_at, std::optional<Time>(now()));
}

}  // namespace
}  // namespace quern::testing
