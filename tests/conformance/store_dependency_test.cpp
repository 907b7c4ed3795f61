// Dependencies on jobs and on files: blocking, unblocking, cascading cancels.
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreDependencies);

NewJob after(std::vector<JobId> deps, OnDependencyFailure on_failure = OnDependencyFailure::kCancel) {
  NewJob n;
  n.type = "t";
  n.depends_on = std::move(deps);
  n.on_dependency_failure = on_failure;
  return n;
}

TEST_P(StoreDependencies, DependentWaitsUntilItsDependencyCompletes) {
  const JobId rip = enqueue(new_job("rip")).id;
  const Job transcode = enqueue(after({rip}));
  EXPECT_EQ(transcode.state, JobState::kBlocked);
  EXPECT_EQ(transcode.depends_on, (std::vector<JobId>{rip}));
  EXPECT_EQ(get(transcode.id).depends_on, (std::vector<JobId>{rip}));
  const Job running = claim_one();
  ASSERT_EQ(running.id, rip);
  EXPECT_TRUE(claim(1).empty());
  ASSERT_EQ(finish(running, FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(transcode.id).state, JobState::kAvailable);
  EXPECT_EQ(store_->job_history(transcode.id).back().from, std::optional<JobState>(JobState::kBlocked));
  EXPECT_EQ(claim_one().id, transcode.id);
  expect_counts_match_jobs();
}

TEST_P(StoreDependencies, DependentWaitsForAllItsDependencies) {
  const JobId a = enqueue(new_job()).id;
  const JobId b = enqueue(new_job()).id;
  const JobId c = enqueue(after({a, b})).id;
  const auto jobs = claim(2);
  ASSERT_EQ(jobs.size(), 2u);
  ASSERT_EQ(finish(jobs[0], FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(c).state, JobState::kBlocked);
  ASSERT_EQ(finish(jobs[1], FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(c).state, JobState::kAvailable);
}

TEST_P(StoreDependencies, UnblockedJobWithFutureRunAtIsScheduled) {
  const JobId a = enqueue(new_job()).id;
  NewJob n = after({a});
  n.run_at = now() + 1h;
  const JobId b = enqueue(n).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(b).state, JobState::kScheduled);
}

TEST_P(StoreDependencies, CompletedDependencyDoesNotBlock) {
  enqueue(new_job());
  const Job done = claim_one();
  ASSERT_EQ(finish(done, FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(enqueue(after({done.id})).state, JobState::kAvailable);
}

TEST_P(StoreDependencies, FailedDependencyCancelsDependentsInCascade) {
  NewJob root = new_job();
  root.max_attempts = 1;
  const JobId a = enqueue(root).id;
  const JobId b = enqueue(after({a})).id;
  const JobId c = enqueue(after({b})).id;
  const JobId keeps = enqueue(after({b}, OnDependencyFailure::kStayBlocked)).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kRetry, "exit status 1", now()), FinishStatus::kOk);
  EXPECT_EQ(get(a).state, JobState::kFailed);
  EXPECT_EQ(get(b).state, JobState::kCanceled);
  EXPECT_EQ(get(c).state, JobState::kCanceled);
  EXPECT_EQ(get(keeps).state, JobState::kBlocked);
  EXPECT_TRUE(get(b).finished_at.has_value());
  EXPECT_EQ(store_->job_history(b).back().detail, "dependency " + std::to_string(a) + " failed");
  EXPECT_EQ(store_->job_history(c).back().detail, "dependency " + std::to_string(b) + " canceled");
  expect_counts_match_jobs();
}

// One finish call ending several jobs at once: each one's dependents follow from its
// own end, whatever the others did (the stores read all their dependents together).
TEST_P(StoreDependencies, OneBatchOfFinishesUnblocksAndCancelsEachJobsOwnDependents) {
  NewJob once = new_job();
  once.max_attempts = 1;
  const JobId ok = enqueue(new_job()).id;
  const JobId bad = enqueue(once).id;
  const JobId lone = enqueue(new_job()).id;
  const JobId after_ok = enqueue(after({ok})).id;
  const JobId after_bad = enqueue(after({bad})).id;
  const JobId after_both = enqueue(after({ok, bad})).id;
  const JobId after_after_bad = enqueue(after({after_bad})).id;
  const JobId keeps = enqueue(after({bad}, OnDependencyFailure::kStayBlocked)).id;
  const auto jobs = claim(3);
  ASSERT_EQ(jobs.size(), 3u);
  std::vector<JobFinish> items;
  for (const Job& job : jobs) {
    JobFinish item;
    item.id = job.id;
    item.attempt = job.attempt;
    item.outcome = job.id == bad ? FinishOutcome::kFail : FinishOutcome::kCompleted;
    item.error = "exit status 1";
    item.run_at = now();
    items.push_back(item);
  }
  EXPECT_EQ(store_->finish_jobs(items, now()), std::vector<FinishStatus>(3, FinishStatus::kOk));
  EXPECT_EQ(get(ok).state, JobState::kCompleted);
  EXPECT_EQ(get(bad).state, JobState::kFailed);
  EXPECT_EQ(get(lone).state, JobState::kCompleted);
  EXPECT_EQ(get(after_ok).state, JobState::kAvailable);
  EXPECT_EQ(get(after_bad).state, JobState::kCanceled);
  EXPECT_EQ(get(after_both).state, JobState::kCanceled);
  EXPECT_EQ(get(after_after_bad).state, JobState::kCanceled);
  EXPECT_EQ(get(keeps).state, JobState::kBlocked);
  EXPECT_EQ(store_->job_history(after_both).back().detail, "dependency " + std::to_string(bad) + " failed");
  EXPECT_EQ(store_->job_history(after_after_bad).back().detail,
            "dependency " + std::to_string(after_bad) + " canceled");
  expect_counts_match_jobs();
}

TEST_P(StoreDependencies, StayBlockedDependentRunsAfterTheDependencyIsRetriedAndCompletes) {
  NewJob root = new_job();
  root.max_attempts = 1;
  const JobId a = enqueue(root).id;
  const JobId b = enqueue(after({a}, OnDependencyFailure::kStayBlocked)).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "no"), FinishStatus::kOk);
  EXPECT_EQ(get(b).state, JobState::kBlocked);
  store_->retry_job(a, now());
  EXPECT_EQ(get(b).state, JobState::kBlocked);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(b).state, JobState::kAvailable);
}

// A dependent that stays blocked waits for its failed dependency to be retried; once
// that dependency is deleted (rm, or clear) it never can be, so the dependent is
// canceled, saying why, and a dependent of that one that chose to cancel goes too.
// A clear of every final state does not delete the dependents it canceled.
TEST_P(StoreDependencies, DeletingAFailedDependencyCancelsDependentsLeftBlocked) {
  NewJob root = new_job();
  root.max_attempts = 1;
  const JobId a = enqueue(root).id;
  const JobId b = enqueue(after({a}, OnDependencyFailure::kStayBlocked)).id;
  const JobId c = enqueue(after({b})).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "no"), FinishStatus::kOk);
  ASSERT_EQ(get(b).state, JobState::kBlocked);
  advance(1min);
  store_->delete_job(a, now());
  EXPECT_EQ(get(b).state, JobState::kCanceled);
  EXPECT_EQ(get(b).finished_at, std::optional<Time>(now()));
  EXPECT_EQ(store_->job_history(b).back().detail, "dependency " + std::to_string(a) + " deleted");
  EXPECT_EQ(get(c).state, JobState::kCanceled);
  EXPECT_EQ(store_->job_history(c).back().detail, "dependency " + std::to_string(b) + " canceled");
  expect_counts_match_jobs();

  const JobId d = enqueue(root).id;
  const JobId e = enqueue(after({d}, OnDependencyFailure::kStayBlocked)).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "no"), FinishStatus::kOk);
  const int64_t cleared = store_->delete_finished_jobs(
      {JobState::kCompleted, JobState::kFailed, JobState::kCanceled, JobState::kExpired}, std::nullopt, std::nullopt,
      now());
  EXPECT_EQ(cleared, 3);  // d, and b and c canceled above
  EXPECT_EQ(get(e).state, JobState::kCanceled);
  EXPECT_EQ(store_->job_history(e).back().detail, "dependency " + std::to_string(d) + " deleted");
  expect_counts_match_jobs();

  // A dependency deleted before it ran can never complete either.
  const JobId f = enqueue(new_job()).id;
  const JobId g = enqueue(after({f}, OnDependencyFailure::kStayBlocked)).id;
  store_->delete_job(f, now());
  EXPECT_EQ(get(g).state, JobState::kCanceled);
  EXPECT_EQ(store_->job_history(g).back().detail, "dependency " + std::to_string(f) + " deleted");
  expect_counts_match_jobs();
}

TEST_P(StoreDependencies, CanceledDependencyCancelsDependents) {
  const JobId a = enqueue(new_job()).id;
  const JobId b = enqueue(after({a})).id;
  store_->cancel_job(a, now());
  EXPECT_EQ(get(b).state, JobState::kCanceled);
  EXPECT_EQ(store_->job_history(b).back().detail, "dependency " + std::to_string(a) + " canceled");
}

TEST_P(StoreDependencies, ExpiredDependencyCancelsDependents) {
  NewJob n = new_job();
  n.expires_at = now() + 1s;
  const JobId a = enqueue(n).id;
  const JobId b = enqueue(after({a})).id;
  advance(1s);
  EXPECT_EQ(store_->expire_jobs(now()), 1);
  EXPECT_EQ(get(b).state, JobState::kCanceled);
  expect_counts_match_jobs();
}

TEST_P(StoreDependencies, EnqueueAfterAFailedDependencyIsCanceledAtOnceOrStaysBlocked) {
  const JobId a = enqueue(new_job()).id;
  store_->cancel_job(a, now());
  const Job canceled = enqueue(after({a}));
  EXPECT_EQ(canceled.state, JobState::kCanceled);
  EXPECT_EQ(get(canceled.id).state, JobState::kCanceled);
  const Job blocked = enqueue(after({a}, OnDependencyFailure::kStayBlocked));
  EXPECT_EQ(blocked.state, JobState::kBlocked);
  EXPECT_EQ(get(blocked.id).state, JobState::kBlocked);
  expect_counts_match_jobs();
}

TEST_P(StoreDependencies, JobWaitingOnFilesIsListedAndRunsOnceTheyArePresent) {
  NewJob n = new_job();
  n.needs_files = {"/media/rips/a.mkv", "/media/rips/a.srt"};
  const Job job = enqueue(n);
  EXPECT_EQ(job.state, JobState::kBlocked);
  EXPECT_EQ(get(job.id).needs_files, n.needs_files);
  const auto waits = store_->jobs_waiting_on_files();
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0].id, job.id);
  EXPECT_EQ(waits[0].paths, n.needs_files);
  EXPECT_TRUE(claim(1).empty());
  store_->mark_files_present(job.id, now());
  EXPECT_EQ(get(job.id).state, JobState::kAvailable);
  EXPECT_TRUE(store_->jobs_waiting_on_files().empty());
  EXPECT_EQ(store_->job_history(job.id).back().to, JobState::kAvailable);
}

TEST_P(StoreDependencies, JobNeedingFilesAndAJobWaitsForBoth) {
  const JobId rip = enqueue(new_job("rip")).id;
  NewJob n = after({rip});
  n.needs_files = {"/media/rips/a.mkv"};
  const JobId transcode = enqueue(n).id;
  store_->mark_files_present(transcode, now());
  EXPECT_EQ(get(transcode).state, JobState::kBlocked);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(transcode).state, JobState::kAvailable);

  const JobId rip2 = enqueue(new_job("rip")).id;
  NewJob n2 = after({rip2});
  n2.needs_files = {"/media/rips/b.mkv"};
  const JobId transcode2 = enqueue(n2).id;
  ASSERT_EQ(finish(claim(1, {}, {"rip"}).at(0), FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(get(transcode2).state, JobState::kBlocked);
  store_->mark_files_present(transcode2, now());
  EXPECT_EQ(get(transcode2).state, JobState::kAvailable);
}

TEST_P(StoreDependencies, MarkFilesPresentOfUnknownJobIsNotFound) {
  EXPECT_QUERN_ERROR(store_->mark_files_present(12345, now()), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace quern::testing
