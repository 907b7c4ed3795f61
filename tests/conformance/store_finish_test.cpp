// Ending runs: each outcome, fencing by attempt, heartbeats.
#include "store/run_end.h"
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreFinish);

TEST_P(StoreFinish, CompletedKeepsResultAndClearsLease) {
  const JobId id = enqueue(new_job()).id;
  const Job running = claim_one();
  advance(3s);
  ASSERT_EQ(finish(running, FinishOutcome::kCompleted, {}, {}, Json{{"frames", 1200}}), FinishStatus::kOk);
  const Job job = get(id);
  EXPECT_EQ(job.state, JobState::kCompleted);
  EXPECT_EQ(job.result, (Json{{"frames", 1200}}));
  EXPECT_EQ(job.finished_at, std::optional<Time>(now()));
  EXPECT_EQ(job.progress, 1.0);
  EXPECT_EQ(job.lease_owner, "");
  EXPECT_FALSE(job.lease_expires_at.has_value());
  EXPECT_EQ(job.attempt, 1);
  const auto history = store_->job_history(id);
  EXPECT_EQ(history.back().from, std::optional<JobState>(JobState::kRunning));
  EXPECT_EQ(history.back().to, JobState::kCompleted);
  EXPECT_EQ(history.back().attempt, 1);
}

TEST_P(StoreFinish, RetryCountsAFailureAndWaitsUntilRunAt) {
  const JobId id = enqueue(new_job()).id;
  const Job running = claim_one();
  ASSERT_EQ(finish(running, FinishOutcome::kRetry, "exit status 1", now() + 2s), FinishStatus::kOk);
  Job job = get(id);
  EXPECT_EQ(job.state, JobState::kScheduled);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.error, "exit status 1");
  EXPECT_EQ(job.run_at, now() + 2s);
  EXPECT_EQ(job.lease_owner, "");
  EXPECT_FALSE(job.finished_at.has_value());
  EXPECT_EQ(store_->job_history(id).back().detail, "exit status 1");
  EXPECT_TRUE(claim(1).empty());
  advance(2s);
  const Job again = claim_one();
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.attempt, 2);
}

TEST_P(StoreFinish, RetryAtNowIsAvailableAtOnce) {
  enqueue(new_job());
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kRetry, "boom", now()), FinishStatus::kOk);
  EXPECT_EQ(claim_one().attempt, 2);
}

TEST_P(StoreFinish, RetryWithAttemptsSpentFails) {
  NewJob n = new_job();
  n.max_attempts = 2;
  const JobId id = enqueue(n).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kRetry, "first", now()), FinishStatus::kOk);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kRetry, "second", now() + 1h), FinishStatus::kOk);
  const Job job = get(id);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.failures, 2);
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.error, "second");
  EXPECT_EQ(job.finished_at, std::optional<Time>(now()));
  expect_counts_match_jobs();
}

TEST_P(StoreFinish, FailIsFinalAtOnce) {
  NewJob n = new_job();
  n.max_attempts = 5;
  const JobId id = enqueue(n).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "exit status 65"), FinishStatus::kOk);
  const Job job = get(id);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.error, "exit status 65");
  EXPECT_TRUE(job.finished_at.has_value());
}

TEST_P(StoreFinish, SnoozeIsNotAFailure) {
  NewJob n = new_job();
  n.max_attempts = 1;
  const JobId id = enqueue(n).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kSnooze, {}, now() + 30s), FinishStatus::kOk);
  Job job = get(id);
  EXPECT_EQ(job.state, JobState::kScheduled);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.run_at, now() + 30s);
  advance(30s);
  const Job again = claim_one();
  EXPECT_EQ(again.attempt, 2);
  ASSERT_EQ(finish(again, FinishOutcome::kCompleted), FinishStatus::kOk);
}

TEST_P(StoreFinish, ReleaseReturnsTheJobWithoutAFailure) {
  const JobId id = enqueue(new_job()).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kRelease), FinishStatus::kOk);
  const Job job = get(id);
  EXPECT_EQ(job.state, JobState::kAvailable);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(job.lease_owner, "");
  EXPECT_EQ(claim_one().attempt, 2);
}

TEST_P(StoreFinish, StaleAttemptIsRefusedAndChangesNothing) {
  enqueue(new_job());
  const Job first = claim_one();
  advance(31s);
  ASSERT_EQ(store_->rescue_expired_leases(now()).size(), 1u);
  const Job second = claim_one();
  ASSERT_EQ(second.attempt, 2);
  const auto history_before = store_->job_history(first.id);

  for (FinishOutcome outcome : {FinishOutcome::kCompleted, FinishOutcome::kRetry, FinishOutcome::kFail,
                                FinishOutcome::kSnooze, FinishOutcome::kRelease}) {
    EXPECT_EQ(finish(first, outcome, "stale"), FinishStatus::kStale);
  }
  JobHeartbeat beat;
  beat.id = first.id;
  beat.attempt = first.attempt;
  beat.lease = 1h;
  beat.progress = 0.9;
  EXPECT_EQ(store_->heartbeat_jobs({beat}, now()), (std::vector<FinishStatus>{FinishStatus::kStale}));
  EXPECT_EQ(store_->append_log(first.id, first.attempt, "stale line\n", now()), FinishStatus::kStale);

  const Job job = get(first.id);
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.lease_expires_at, second.lease_expires_at);
  EXPECT_EQ(job.progress, 0);
  EXPECT_EQ(store_->job_history(first.id).size(), history_before.size());
  EXPECT_TRUE(store_->read_log(first.id, 0).empty());
  EXPECT_EQ(finish(second, FinishOutcome::kCompleted), FinishStatus::kOk);
}

TEST_P(StoreFinish, FinishingAJobThatIsNotRunningIsStale) {
  const Job job = enqueue(new_job());
  EXPECT_EQ(finish(job, FinishOutcome::kCompleted), FinishStatus::kStale);
  JobFinish unknown;
  unknown.id = 999999;
  unknown.attempt = 1;
  EXPECT_EQ(store_->finish_jobs({unknown}, now()), (std::vector<FinishStatus>{FinishStatus::kStale}));
  EXPECT_EQ(get(job.id).state, JobState::kAvailable);
}

TEST_P(StoreFinish, BatchGivesOneStatusPerItem) {
  enqueue(new_job());
  enqueue(new_job());
  const auto jobs = claim(2);
  ASSERT_EQ(jobs.size(), 2u);
  JobFinish ok{jobs[0].id, jobs[0].attempt, FinishOutcome::kCompleted, nullptr, {}, now()};
  JobFinish stale{jobs[1].id, jobs[1].attempt + 1, FinishOutcome::kCompleted, nullptr, {}, now()};
  JobFinish ok2{jobs[1].id, jobs[1].attempt, FinishOutcome::kFail, nullptr, "bad", now()};
  EXPECT_EQ(store_->finish_jobs({ok, stale, ok2}, now()),
            (std::vector<FinishStatus>{FinishStatus::kOk, FinishStatus::kStale, FinishStatus::kOk}));
  EXPECT_EQ(get(jobs[0].id).state, JobState::kCompleted);
  EXPECT_EQ(get(jobs[1].id).state, JobState::kFailed);
}

// A finisher whose write failed in flight reads the history back: its own recorded end
// is told from a rescue's or another outcome's (store/run_end.h).
TEST_P(StoreFinish, HistoryTellsARunsOwnRecordedEndFromARescue) {
  enqueue(new_job());
  enqueue(new_job());
  const auto jobs = claim(2);
  ASSERT_EQ(jobs.size(), 2u);
  const JobFinish retried{jobs[0].id, jobs[0].attempt, FinishOutcome::kRetry, nullptr, "exit status 1", now()};
  ASSERT_EQ(store_->finish_jobs({retried}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  advance(31s);
  ASSERT_EQ(store_->rescue_expired_leases(now()).size(), 1u);  // jobs[1]: its lease ran out

  const auto recorded = [&](const JobFinish& finish) {
    int matches = 0;
    for (const HistoryEntry& e : store_->job_history(finish.id)) matches += records_finish(e, finish);
    return matches;
  };
  EXPECT_EQ(recorded(retried), 1);
  JobFinish other = retried;
  other.error = "exit status 2";
  EXPECT_EQ(recorded(other), 0);
  other.outcome = FinishOutcome::kCompleted;
  EXPECT_EQ(recorded(other), 0);
  for (FinishOutcome outcome : {FinishOutcome::kCompleted, FinishOutcome::kRetry, FinishOutcome::kFail,
                                FinishOutcome::kSnooze, FinishOutcome::kRelease}) {
    const JobFinish late{jobs[1].id, jobs[1].attempt, outcome, nullptr, "exit status 1", now()};
    EXPECT_EQ(store_->finish_jobs({late}, now()), (std::vector<FinishStatus>{FinishStatus::kStale}));
    EXPECT_EQ(recorded(late), 0) << "a rescued run's late finish seen as recorded";
  }
  const auto claimed_again = claim(2);
  ASSERT_EQ(claimed_again.size(), 2u);
  const Job again = claimed_again[0].id == jobs[0].id ? claimed_again[0] : claimed_again[1];
  ASSERT_EQ(again.id, jobs[0].id);
  const JobFinish completed{again.id, again.attempt, FinishOutcome::kCompleted, nullptr, {}, now()};
  EXPECT_EQ(recorded(completed), 0);
  ASSERT_EQ(store_->finish_jobs({completed}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  EXPECT_EQ(recorded(completed), 1);
  EXPECT_EQ(recorded(retried), 1);
}

TEST_P(StoreFinish, HeartbeatExtendsLeaseAndKeepsProgress) {
  const JobId id = enqueue(new_job()).id;
  const Job running = claim_one();
  const auto history_size = store_->job_history(id).size();
  advance(20s);
  JobHeartbeat beat;
  beat.id = id;
  beat.attempt = running.attempt;
  beat.lease = 30s;
  beat.progress = 0.42;
  beat.stage = "transcode";
  beat.checkpoint = Json{{"offset", 77}};
  EXPECT_EQ(store_->heartbeat_jobs({beat}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  Job job = get(id);
  EXPECT_EQ(job.lease_expires_at, std::optional<Time>(now() + 30s));
  EXPECT_DOUBLE_EQ(job.progress, 0.42);
  EXPECT_EQ(job.stage, "transcode");
  EXPECT_EQ(job.checkpoint, (Json{{"offset", 77}}));
  EXPECT_EQ(store_->job_history(id).size(), history_size);

  // A bare heartbeat keeps what was reported before.
  JobHeartbeat bare;
  bare.id = id;
  bare.attempt = running.attempt;
  bare.lease = 60s;
  EXPECT_EQ(store_->heartbeat_jobs({bare}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  job = get(id);
  EXPECT_DOUBLE_EQ(job.progress, 0.42);
  EXPECT_EQ(job.stage, "transcode");
  EXPECT_EQ(job.checkpoint, (Json{{"offset", 77}}));
  advance(31s);
  EXPECT_TRUE(store_->rescue_expired_leases(now()).empty());
}

// A remote worker that leased for 90 s and heartbeats without naming a lease keeps
// 90 s: a shorter default could expire between its beats and have the job run twice.
TEST_P(StoreFinish, AHeartbeatWithoutALeaseRenewsByTheOneLastGranted) {
  const JobId id = enqueue(new_job()).id;
  ClaimParams params;
  params.max = 1;
  params.owner = "remote:w@test";
  params.lease = 90s;
  params.now = now();
  const std::vector<Job> claimed = store_->claim_jobs(params);
  ASSERT_EQ(claimed.size(), 1u);
  JobHeartbeat beat;
  beat.id = id;
  beat.attempt = claimed[0].attempt;
  advance(60s);
  EXPECT_EQ(store_->heartbeat_jobs({beat}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  EXPECT_EQ(get(id).lease_expires_at, std::optional<Time>(now() + 90s));
  beat.lease = 10min;  // a lease named once is the one kept from then on
  advance(60s);
  EXPECT_EQ(store_->heartbeat_jobs({beat}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  beat.lease.reset();
  advance(5min);
  EXPECT_EQ(store_->heartbeat_jobs({beat}, now()), (std::vector<FinishStatus>{FinishStatus::kOk}));
  EXPECT_EQ(get(id).lease_expires_at, std::optional<Time>(now() + 10min));
  advance(9min);
  EXPECT_TRUE(store_->rescue_expired_leases(now()).empty());
}

TEST_P(StoreFinish, CheckpointSurvivesARetry) {
  const JobId id = enqueue(new_job()).id;
  const Job running = claim_one();
  JobHeartbeat beat;
  beat.id = id;
  beat.attempt = running.attempt;
  beat.lease = 30s;
  beat.checkpoint = Json{{"operation", "op-17"}};
  store_->heartbeat_jobs({beat}, now());
  ASSERT_EQ(finish(running, FinishOutcome::kRetry, "poll failed", now()), FinishStatus::kOk);
  EXPECT_EQ(claim_one().checkpoint, (Json{{"operation", "op-17"}}));
}

}  // namespace
}  // namespace quern::testing
