// Administration: retry, cancel, delete, clear, priority, listing, history, logs,
// settings, and counts kept in step with the jobs.
#include <algorithm>
#include <random>

#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreAdmin);

// A worker asks this at start-up: on a store that takes writes it passes and changes
// nothing (no job, no history entry, no change seen by other processes' pollers).
TEST_P(StoreAdmin, CheckWritablePassesAndChangesNothing) {
  const Job job = enqueue(new_job());
  const auto history_before = store_->history_since(0, 100);
  advance(1min);
  store_->check_writable();
  EXPECT_EQ(store_->history_since(0, 100).size(), history_before.size());
  EXPECT_EQ(store_->get_job(job.id)->updated_at, job.updated_at);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, RetryFailedJobResetsFailuresAndKeepsAttemptAndHistory) {
  NewJob n = new_job();
  n.max_attempts = 1;
  const JobId id = enqueue(n).id;
  const Job running = claim_one();
  JobHeartbeat beat;
  beat.id = id;
  beat.attempt = running.attempt;
  beat.progress = 0.5;
  beat.stage = "transcode";
  ASSERT_EQ(store_->heartbeat_jobs({beat}, now()), std::vector<FinishStatus>{FinishStatus::kOk});
  ASSERT_EQ(finish(running, FinishOutcome::kFail, "exit status 1"), FinishStatus::kOk);
  const auto history_before = store_->job_history(id);
  advance(1min);
  const Job retried = store_->retry_job(id, now());
  EXPECT_EQ(retried.state, JobState::kAvailable);
  EXPECT_EQ(retried.failures, 0);
  EXPECT_EQ(retried.attempt, 1);
  EXPECT_FALSE(retried.finished_at.has_value());
  EXPECT_EQ(retried.run_at, now());
  // A new start: the last run's progress and stage are not this one's.
  EXPECT_EQ(retried.progress, 0);
  EXPECT_EQ(retried.stage, "");
  EXPECT_EQ(retried.error, "exit status 1");  // why it last failed stays
  const auto history = store_->job_history(id);
  ASSERT_EQ(history.size(), history_before.size() + 1);
  EXPECT_EQ(history.back().from, std::optional<JobState>(JobState::kFailed));
  EXPECT_EQ(history.back().to, JobState::kAvailable);
  EXPECT_EQ(claim_one().attempt, 2);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, CanceledAndExpiredJobsCanBeRetried) {
  const JobId canceled = enqueue(new_job()).id;
  store_->cancel_job(canceled, now());
  NewJob n = new_job();
  n.expires_at = now() + 1s;
  const JobId expired = enqueue(n).id;
  advance(2s);
  ASSERT_EQ(store_->expire_jobs(now()), 1);
  EXPECT_EQ(store_->retry_job(canceled, now()).state, JobState::kAvailable);
  const Job again = store_->retry_job(expired, now());
  EXPECT_EQ(again.state, JobState::kAvailable);
  EXPECT_EQ(store_->expire_jobs(now()), 0);  // it runs now rather than expiring again
  EXPECT_EQ(claim(5).size(), 2u);
}

TEST_P(StoreAdmin, RetryOfAJobThatIsNotFinalIsFailedPrecondition) {
  const JobId available = enqueue(new_job()).id;
  EXPECT_QUERN_ERROR(store_->retry_job(available, now()), ErrorCode::kFailedPrecondition);
  const JobId running = claim_one().id;
  try {
    store_->retry_job(running, now());
    ADD_FAILURE() << "retrying a running job must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("running"), std::string::npos) << e.what();
  }
  EXPECT_EQ(get(running).state, JobState::kRunning);
  const Job done = get(running);
  ASSERT_EQ(finish(done, FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_QUERN_ERROR(store_->retry_job(running, now()), ErrorCode::kFailedPrecondition);
}

TEST_P(StoreAdmin, RetryOfUnknownJobIsNotFound) {
  EXPECT_QUERN_ERROR(store_->retry_job(777, now()), ErrorCode::kNotFound);
}

TEST_P(StoreAdmin, RetryWhileAnotherJobHoldsTheUniqueKeyIsRefused) {
  NewJob n = new_job();
  n.unique_key = "k";
  const JobId first = enqueue(n).id;
  store_->cancel_job(first, now());
  const JobId second = enqueue(n).id;
  ASSERT_NE(first, second);
  EXPECT_QUERN_ERROR(store_->retry_job(first, now()), ErrorCode::kAlreadyExists);
  EXPECT_EQ(get(first).state, JobState::kCanceled);
}

TEST_P(StoreAdmin, RetryFailedJobsRetriesEveryFailedJobOfTheQueue) {
  for (const char* queue : {"a", "a", "b"}) {
    NewJob n = new_job("t", queue);
    n.max_attempts = 1;
    enqueue(n);
  }
  for (const Job& job : claim(3)) ASSERT_EQ(finish(job, FinishOutcome::kFail, "x"), FinishStatus::kOk);
  EXPECT_EQ(store_->retry_failed_jobs(std::string("a"), now()), 2);
  EXPECT_EQ(store_->stats().total(JobState::kFailed), 1);
  EXPECT_EQ(store_->retry_failed_jobs(std::nullopt, now()), 1);
  EXPECT_EQ(store_->stats().total(JobState::kAvailable), 3);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, CancelMovesAnyUnfinishedJob) {
  NewJob scheduled = new_job();
  scheduled.run_at = now() + 1h;
  const JobId s = enqueue(scheduled).id;
  const JobId a = enqueue(new_job()).id;
  NewJob blocked = new_job();
  blocked.needs_files = {"/x"};
  const JobId b = enqueue(blocked).id;
  const Job running = claim_one();
  ASSERT_EQ(running.id, a);
  const JobId r = enqueue(new_job()).id;

  for (JobId id : {s, b, r, a}) {
    const Job job = store_->cancel_job(id, now());
    EXPECT_EQ(job.state, JobState::kCanceled);
    EXPECT_TRUE(job.finished_at.has_value());
    EXPECT_EQ(job.lease_owner, "");
    EXPECT_EQ(store_->job_history(id).back().to, JobState::kCanceled);
  }
  // The worker of the canceled run finds out at its next heartbeat.
  JobHeartbeat beat{running.id, running.attempt, 30s, std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(store_->heartbeat_jobs({beat}, now()), (std::vector<FinishStatus>{FinishStatus::kStale}));
  EXPECT_EQ(finish(running, FinishOutcome::kCompleted), FinishStatus::kStale);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, CancelOfAFinishedJobIsFailedPrecondition) {
  enqueue(new_job());
  const Job job = claim_one();
  ASSERT_EQ(finish(job, FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_QUERN_ERROR(store_->cancel_job(job.id, now()), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(get(job.id).state, JobState::kCompleted);
  EXPECT_QUERN_ERROR(store_->cancel_job(4242, now()), ErrorCode::kNotFound);
}

TEST_P(StoreAdmin, DeleteRemovesTheJobWithItsHistoryAndLog) {
  enqueue(new_job());
  const Job job = claim_one();
  ASSERT_EQ(store_->append_log(job.id, job.attempt, "hello\n", now()), FinishStatus::kOk);
  ASSERT_EQ(finish(job, FinishOutcome::kCompleted), FinishStatus::kOk);
  store_->delete_job(job.id, now());
  EXPECT_FALSE(store_->get_job(job.id).has_value());
  EXPECT_TRUE(store_->job_history(job.id).empty());
  EXPECT_TRUE(store_->read_log(job.id, 0).empty());
  EXPECT_QUERN_ERROR(store_->delete_job(job.id, now()), ErrorCode::kNotFound);
  expect_counts_match_jobs();
  // Ids are never reused.
  EXPECT_GT(enqueue(new_job()).id, job.id);
}

TEST_P(StoreAdmin, DeleteOfARunningJobIsFailedPrecondition) {
  enqueue(new_job());
  const Job job = claim_one();
  EXPECT_QUERN_ERROR(store_->delete_job(job.id, now()), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(get(job.id).state, JobState::kRunning);
}

TEST_P(StoreAdmin, DeleteOfAPendingJobIsAllowed) {
  const JobId id = enqueue(new_job()).id;
  store_->delete_job(id, now());
  EXPECT_FALSE(store_->get_job(id).has_value());
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, DeleteFinishedJobsOfOneQueue) {
  NewJob mail = new_job();
  mail.queue = "mail";
  NewJob video = new_job();
  video.queue = "video";
  enqueue(mail);
  enqueue(video);
  enqueue(video);
  for (const Job& job : claim(3)) ASSERT_EQ(finish(job, FinishOutcome::kCompleted), FinishStatus::kOk);
  EXPECT_EQ(store_->delete_finished_jobs({JobState::kCompleted}, std::string("video"), std::nullopt, now()), 2);
  ASSERT_EQ(all_jobs().size(), 1u);
  EXPECT_EQ(all_jobs()[0].queue, "mail");
  EXPECT_EQ(store_->delete_finished_jobs({JobState::kCompleted}, std::string("nope"), std::nullopt, now()), 0);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, DeleteFinishedJobsByStateAndAge) {
  for (int i = 0; i < 3; ++i) enqueue(new_job());
  auto jobs = claim(3);
  ASSERT_EQ(finish(jobs[0], FinishOutcome::kCompleted), FinishStatus::kOk);
  advance(1h);
  ASSERT_EQ(finish(jobs[1], FinishOutcome::kCompleted), FinishStatus::kOk);
  ASSERT_EQ(finish(jobs[2], FinishOutcome::kFail, "x"), FinishStatus::kOk);
  const JobId pending = enqueue(new_job()).id;

  EXPECT_EQ(store_->delete_finished_jobs({JobState::kCompleted}, std::nullopt, now() - 30min, now()), 1);
  EXPECT_FALSE(store_->get_job(jobs[0].id).has_value());
  EXPECT_TRUE(store_->get_job(jobs[1].id).has_value());
  EXPECT_EQ(store_->delete_finished_jobs({JobState::kCompleted, JobState::kFailed}, std::nullopt, std::nullopt, now()), 2);
  EXPECT_TRUE(store_->get_job(pending).has_value());
  EXPECT_QUERN_ERROR(store_->delete_finished_jobs({JobState::kAvailable}, std::nullopt, std::nullopt, now()),
                     ErrorCode::kInvalidArgument);
  EXPECT_EQ(all_jobs().size(), 1u);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, RetentionIsMergedPerFinalStateAndPersisted) {
  auto retention_of = [&](const std::shared_ptr<Store>& store, const std::string& queue) {
    for (const QueueInfo& info : store->list_queues()) {
      if (info.name == queue) return info.retention;
    }
    return std::map<JobState, Duration>{};
  };
  store_->set_queue_retention("media", {{JobState::kCompleted, Duration::zero()}, {JobState::kFailed, 168h}}, now());
  store_->set_queue_retention("media", {{JobState::kCanceled, 1h}, {JobState::kFailed, std::nullopt}}, now());
  const std::map<JobState, Duration> expected = {{JobState::kCompleted, Duration::zero()}, {JobState::kCanceled, 1h}};
  EXPECT_EQ(retention_of(store_, "media"), expected);
  EXPECT_EQ(retention_of(open_store_again(), "media"), expected);
  EXPECT_TRUE(retention_of(store_, "default").empty());
  const std::vector<QueueInfo> before = store_->list_queues();
  EXPECT_QUERN_ERROR(store_->set_queue_retention("media", {{JobState::kRunning, 1h}}, now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_retention("media", {{JobState::kCompleted, -1s}}, now()),
                     ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_retention("media", {}, now()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(store_->set_queue_retention("", {{JobState::kCompleted, 1h}}, now()), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->list_queues().size(), before.size());
  EXPECT_EQ(retention_of(store_, "media"), expected);
}

TEST_P(StoreAdmin, PruneDeletesEachQueuesJobsOnceTheyAreOlderThanItKeepsThem) {
  store_->set_queue_retention("media", {{JobState::kCompleted, 1h}, {JobState::kFailed, 24h}}, now());
  NewJob media = new_job("t", "media");
  std::vector<JobId> completed;
  for (int i = 0; i < 5; ++i) completed.push_back(enqueue(media).id);
  const JobId failed = enqueue(media).id;
  const JobId canceled = enqueue(media).id;
  const JobId other_queue = enqueue(new_job("t", "mail")).id;
  store_->cancel_job(canceled, now());
  for (const Job& job : claim(7)) {
    if (job.id == completed[0]) {
      ASSERT_EQ(store_->append_log(job.id, job.attempt, "a line\n", now()), FinishStatus::kOk);
    }
    ASSERT_EQ(finish(job, job.id == failed ? FinishOutcome::kFail : FinishOutcome::kCompleted, "x"), FinishStatus::kOk);
  }
  ASSERT_FALSE(store_->read_log(completed[0], 0).empty());
  const JobId pending = enqueue(media).id;

  advance(59min);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  advance(2min);
  const PruneProgress first = store_->prune_finished_jobs(now(), 3);
  EXPECT_EQ(first.deleted, 3);  // at most the batch
  EXPECT_TRUE(first.more_due);
  const PruneProgress rest = store_->prune_finished_jobs(now(), 100);
  EXPECT_EQ(rest.deleted, 2);
  EXPECT_FALSE(rest.more_due);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  for (JobId id : completed) {
    EXPECT_FALSE(store_->get_job(id).has_value()) << id;
    EXPECT_TRUE(store_->job_history(id).empty()) << id;
    EXPECT_TRUE(store_->read_log(id, 0).empty()) << id;
  }
  for (JobId id : {failed, canceled, other_queue, pending}) EXPECT_TRUE(store_->get_job(id).has_value()) << id;
  advance(23h);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 1);
  EXPECT_FALSE(store_->get_job(failed).has_value());
  for (JobId id : {canceled, other_queue, pending}) EXPECT_TRUE(store_->get_job(id).has_value()) << id;
  expect_counts_match_jobs();
}

// A retention set or changed applies to jobs that ended before it, and never deletes a
// job before its queue's current retention has passed.
TEST_P(StoreAdmin, RetentionChangesApplyToJobsThatEndedBefore) {
  std::vector<JobId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(enqueue(new_job()).id);
  for (const Job& job : claim(3)) ASSERT_EQ(finish(job, FinishOutcome::kCompleted), FinishStatus::kOk);
  advance(2h);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);  // kept for ever so far
  store_->set_queue_retention("default", {{JobState::kCompleted, 3h}}, now());
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  store_->set_queue_retention("default", {{JobState::kCompleted, 30min}}, now());
  store_->set_queue_retention("default", {{JobState::kCompleted, 5h}}, now());  // grown again
  for (int call = 0; call < 10; ++call) {  // one at a time: what came due early is moved on
    const PruneProgress progress = store_->prune_finished_jobs(now(), 1);
    EXPECT_EQ(progress.deleted, 0);
    if (!progress.more_due) break;
    ASSERT_LT(call, 9) << "pruning never ran out of due entries";
  }
  advance(2h);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  advance(1h + 1s);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 3);
  const JobId last = enqueue(new_job()).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  store_->set_queue_retention("default", {{JobState::kCompleted, std::nullopt}}, now());
  advance(100h);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  EXPECT_EQ(get(last).state, JobState::kCompleted);
  store_->set_queue_retention("default", {{JobState::kCompleted, Duration::zero()}}, now());
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 1);
  expect_counts_match_jobs();
}

// A retried job is no longer finished: its old end does not count, its new one does.
TEST_P(StoreAdmin, PruneLeavesARetriedJobAloneUntilItEndsAgain) {
  store_->set_queue_retention("default", {{JobState::kFailed, 1h}}, now());
  const JobId id = enqueue(new_job()).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "x"), FinishStatus::kOk);
  advance(30min);
  store_->retry_job(id, now());
  advance(31min);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  EXPECT_EQ(get(id).state, JobState::kAvailable);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "x"), FinishStatus::kOk);
  advance(59min);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 0);
  advance(2min);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 1);
  expect_counts_match_jobs();
}

// A job that failed with dependents still blocked: pruning it cancels them, as rm does.
TEST_P(StoreAdmin, PruningAJobThatDidNotCompleteCancelsItsBlockedDependents) {
  store_->set_queue_retention("default", {{JobState::kFailed, Duration::zero()}}, now());
  const JobId parent = enqueue(new_job()).id;
  NewJob child = new_job();
  child.depends_on = {parent};
  child.on_dependency_failure = OnDependencyFailure::kStayBlocked;
  const JobId dependent = enqueue(child).id;
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "x"), FinishStatus::kOk);
  EXPECT_EQ(get(dependent).state, JobState::kBlocked);
  advance(1s);
  EXPECT_EQ(store_->prune_finished_jobs(now(), 100).deleted, 1);
  EXPECT_FALSE(store_->get_job(parent).has_value());
  EXPECT_EQ(get(dependent).state, JobState::kCanceled);
  expect_counts_match_jobs();
}

TEST_P(StoreAdmin, SetPriorityChangesClaimOrder) {
  const JobId a = enqueue(new_job()).id;
  const JobId b = enqueue(new_job()).id;
  const Job changed = store_->set_priority(b, kPriorityCritical, now());
  EXPECT_EQ(changed.priority, kPriorityCritical);
  EXPECT_EQ(claim_one().id, b);
  EXPECT_EQ(claim_one().id, a);
  EXPECT_QUERN_ERROR(store_->set_priority(999, 1, now()), ErrorCode::kNotFound);
}

TEST_P(StoreAdmin, ListJobsFiltersAndPagesByIdAscending) {
  std::vector<JobId> ids;
  for (int i = 0; i < 10; ++i) {
    NewJob n = new_job(i % 2 == 0 ? "even" : "odd", i < 5 ? "low" : "high");
    if (i % 3 == 0) n.tags = {"third"};
    ids.push_back(enqueue(n).id);
  }
  claim(1, {"low"}, {"even"});  // ids[0] runs

  JobFilter page;
  page.limit = 4;
  auto first = store_->list_jobs(page);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0].id, ids[0]);
  page.after_id = first.back().id;
  auto second = store_->list_jobs(page);
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(second[0].id, ids[4]);

  JobFilter by_state;
  by_state.states = {JobState::kRunning};
  auto running = store_->list_jobs(by_state);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, ids[0]);

  JobFilter combined;
  combined.queue = "high";
  combined.type = "odd";
  combined.states = {JobState::kAvailable, JobState::kRunning};
  std::vector<JobId> got;
  for (const auto& j : store_->list_jobs(combined)) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<JobId>{ids[5], ids[7], ids[9]}));

  JobFilter tagged;
  tagged.tag = "third";
  got.clear();
  for (const auto& j : store_->list_jobs(tagged)) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<JobId>{ids[0], ids[3], ids[6], ids[9]}));
}

TEST_P(StoreAdmin, ListJobsNewestFirstPagesByIdDescending) {
  std::vector<JobId> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(enqueue(new_job()).id);
  JobFilter page;
  page.newest_first = true;
  page.limit = 3;
  std::vector<JobId> got;
  for (int pages = 0; pages < 5; ++pages) {
    auto jobs = store_->list_jobs(page);
    if (jobs.empty()) break;
    for (const auto& j : jobs) got.push_back(j.id);
    page.after_id = jobs.back().id;
  }
  EXPECT_EQ(got, std::vector<JobId>(ids.rbegin(), ids.rend()));
}

TEST_P(StoreAdmin, ListJobsOfSeveralStatesMergesThemInIdOrderBothWays) {
  NewJob once = new_job();
  once.max_attempts = 1;
  std::vector<JobId> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(enqueue(once).id);
  // ids[0..2] complete, ids[3..5] fail, ids[6..8] stay available.
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(finish(claim_one(), i < 3 ? FinishOutcome::kCompleted : FinishOutcome::kFail, "exit status 1"),
              FinishStatus::kOk);
  }
  JobFilter finished;
  finished.states = {JobState::kFailed, JobState::kCanceled, JobState::kCompleted};
  finished.limit = 4;
  std::vector<JobId> got;
  for (const auto& j : store_->list_jobs(finished)) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<JobId>{ids[0], ids[1], ids[2], ids[3]}));
  finished.after_id = got.back();
  got.clear();
  for (const auto& j : store_->list_jobs(finished)) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<JobId>{ids[4], ids[5]}));

  finished.newest_first = true;
  finished.after_id = 0;
  got.clear();
  for (const auto& j : store_->list_jobs(finished)) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<JobId>{ids[5], ids[4], ids[3], ids[2]}));
}

// Every filter combination, paged both ways, against the same jobs filtered by hand: a
// page may walk any of several indexes (the filter's rarest part), and each walk must
// give the same pages. Rare and common queues, types and tags; a filter that matches
// nothing; a deleted job's tag gone with it.
TEST_P(StoreAdmin, FilteredPagesMatchEveryJobFilteredByHand) {
  struct Made {
    JobId id;
    std::string queue, type;
    std::vector<std::string> tags;
  };
  std::vector<Made> made;
  for (int i = 0; i < 120; ++i) {
    NewJob n = new_job(i % 40 == 7 ? "rare-type" : (i % 2 == 0 ? "even" : "odd"), i % 50 == 3 ? "rare" : "big");
    if (i % 3 == 0) n.tags.push_back("common");
    if (i % 29 == 5) n.tags.push_back("scarce");
    if (i == 11) n.tags = {"scarce", "scarce", "common"};  // a repeated tag counts once
    made.push_back({enqueue(n).id, n.queue, n.type, n.tags});
  }
  // Some run, some complete, some fail; the rest wait.
  for (int i = 0; i < 30; ++i) {
    const Job job = claim_one();
    if (i % 3 == 0) continue;  // stays running
    ASSERT_EQ(finish(job, i % 3 == 1 ? FinishOutcome::kCompleted : FinishOutcome::kFail, "boom"), FinishStatus::kOk);
  }
  store_->delete_job(made[99].id, now());  // tagged "common", waiting
  made.erase(made.begin() + 99);

  const auto has = [](const std::vector<std::string>& tags, const std::string& tag) {
    return std::find(tags.begin(), tags.end(), tag) != tags.end();
  };
  const std::vector<std::vector<JobState>> state_sets = {
      {}, {JobState::kAvailable}, {JobState::kRunning}, {JobState::kFailed, JobState::kCompleted}, {JobState::kCanceled}};
  const std::vector<std::optional<std::string>> queues = {std::nullopt, "big", "rare", "none"};
  const std::vector<std::optional<std::string>> types = {std::nullopt, "even", "rare-type", "none"};
  const std::vector<std::optional<std::string>> tags = {std::nullopt, "common", "scarce", "none"};
  int checked = 0;
  for (const auto& states : state_sets) {
    for (const auto& queue : queues) {
      for (const auto& type : types) {
        for (const auto& tag : tags) {
          std::vector<JobId> expected;
          for (const Made& m : made) {
            const JobState state = get(m.id).state;
            if (!states.empty() && std::find(states.begin(), states.end(), state) == states.end()) continue;
            if ((queue && m.queue != *queue) || (type && m.type != *type) || (tag && !has(m.tags, *tag))) continue;
            expected.push_back(m.id);
          }
          for (bool newest_first : {false, true}) {
            JobFilter filter;
            filter.states = states;
            filter.queue = queue;
            filter.type = type;
            filter.tag = tag;
            filter.newest_first = newest_first;
            filter.limit = 7;
            std::vector<JobId> got;
            for (int pages = 0; pages < 40; ++pages) {
              const auto jobs = store_->list_jobs(filter);
              for (const Job& j : jobs) got.push_back(j.id);
              if (static_cast<int>(jobs.size()) < filter.limit) break;
              filter.after_id = jobs.back().id;
            }
            std::vector<JobId> want = expected;
            if (newest_first) std::reverse(want.begin(), want.end());
            EXPECT_EQ(got, want) << "states " << states.size() << " queue " << queue.value_or("-") << " type "
                                 << type.value_or("-") << " tag " << tag.value_or("-") << (newest_first ? " newest first" : "");
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 5 * 4 * 4 * 4 * 2);
}

TEST_P(StoreAdmin, ThroughputCountsCompletionsAndFailuresPerMinute) {
  const Time start = now();
  NewJob once = new_job();
  once.max_attempts = 1;
  const JobId first = enqueue(once).id;
  for (int i = 0; i < 2; ++i) enqueue(once);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kFail, "exit status 1"), FinishStatus::kOk);
  advance(2min);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  store_->delete_job(first, now());  // deleting a finished job keeps its finish counted

  const auto buckets = store_->throughput(start);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].minute, std::chrono::floor<std::chrono::minutes>(start));
  EXPECT_EQ(buckets[0].completed, 1);
  EXPECT_EQ(buckets[0].failed, 1);
  EXPECT_EQ(buckets[1].minute - buckets[0].minute, 2min);
  EXPECT_EQ(buckets[1].completed, 1);
  EXPECT_EQ(buckets[1].failed, 0);
  EXPECT_TRUE(store_->throughput(now() + 1min).empty());
}

TEST_P(StoreAdmin, HistorySinceIsTheEventFeedInOrder) {
  const JobId a = enqueue(new_job()).id;
  const auto all = store_->history_since(0, 100);
  ASSERT_EQ(all.size(), 1u);
  const Job running = claim_one();
  ASSERT_EQ(finish(running, FinishOutcome::kCompleted), FinishStatus::kOk);
  const auto next = store_->history_since(all.back().seq, 100);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].job_id, a);
  EXPECT_EQ(next[0].to, JobState::kRunning);
  EXPECT_EQ(next[1].to, JobState::kCompleted);
  EXPECT_LT(next[0].seq, next[1].seq);
  EXPECT_EQ(store_->history_since(0, 2).size(), 2u);
  // Event ids are never reused, even after a job's history is deleted.
  store_->delete_job(a, now());
  enqueue(new_job());
  const auto after_delete = store_->history_since(next.back().seq, 100);
  ASSERT_EQ(after_delete.size(), 1u);
  EXPECT_GT(after_delete[0].seq, next.back().seq);
}

TEST_P(StoreAdmin, LogKeepsTheNewestChunksWithinTheBound) {
  StoreOptions options;
  options.max_log_bytes = 100;
  auto store = open_store_again(options);
  store->enqueue_jobs({new_job()}, now());
  ClaimParams params;
  params.owner = "w";
  params.now = now();
  const Job job = store->claim_jobs(params).at(0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(store->append_log(job.id, job.attempt, "line " + std::to_string(i) + std::string(14, '.') + "\n", now()),
              FinishStatus::kOk);
  }
  const auto chunks = store->read_log(job.id, 0);
  size_t bytes = 0;
  for (const auto& c : chunks) bytes += c.text.size();
  EXPECT_LE(bytes, 100u);
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.back().text.substr(0, 6), "line 9");
  EXPECT_EQ(chunks.back().seq, 10);
  EXPECT_EQ(chunks.back().attempt, job.attempt);
  for (size_t i = 1; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].seq, chunks[i - 1].seq + 1);
  EXPECT_EQ(store->read_log(job.id, chunks.back().seq).size(), 0u);
  // A chunk larger than the bound keeps its end.
  ASSERT_EQ(store->append_log(job.id, job.attempt, std::string(150, 'a') + "END", now()), FinishStatus::kOk);
  const auto last = store->read_log(job.id, 0);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].text.size(), 100u);
  EXPECT_EQ(last[0].text.substr(97), "END");
}

TEST_P(StoreAdmin, SettingsArePutReadAndListed) {
  EXPECT_FALSE(store_->get_setting("enrich.enabled").has_value());
  store_->put_setting("enrich.enabled", true, now());
  store_->put_setting("publish", Json{{"targets", {"a", "b"}}}, now());
  EXPECT_EQ(store_->get_setting("enrich.enabled"), std::optional<Json>(true));
  store_->put_setting("enrich.enabled", false, now());
  EXPECT_EQ(store_->get_setting("enrich.enabled"), std::optional<Json>(false));
  const auto all = store_->list_settings();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, "enrich.enabled");
  EXPECT_EQ(all[1].first, "publish");
  EXPECT_EQ(all[1].second, (Json{{"targets", {"a", "b"}}}));
}

TEST_P(StoreAdmin, CountsMatchTheJobsAfterManyMixedOperations) {
  std::mt19937 rng(20261125);
  const std::vector<std::string> queues = {"a", "b", "c"};
  for (int step = 0; step < 400; ++step) {
    const int op = static_cast<int>(rng() % 10);
    try {
      if (op <= 2) {
        NewJob n = new_job(rng() % 2 ? "x" : "y", queues[rng() % queues.size()]);
        n.max_attempts = 1 + static_cast<int>(rng() % 2);
        if (rng() % 4 == 0) n.run_at = now() + std::chrono::seconds(rng() % 20);
        if (rng() % 5 == 0) n.expires_at = now() + std::chrono::seconds(rng() % 30);
        if (rng() % 6 == 0) n.unique_key = "u" + std::to_string(rng() % 5);
        const auto all = all_jobs();
        if (!all.empty() && rng() % 3 == 0) n.depends_on = {all[rng() % all.size()].id};
        if (rng() % 8 == 0) n.needs_files = {"/f"};
        if (rng() % 2) n.on_dependency_failure = OnDependencyFailure::kStayBlocked;
        enqueue(n);
      } else if (op <= 4) {
        for (const Job& job : claim(1 + static_cast<int>(rng() % 3))) {
          const auto outcome = static_cast<FinishOutcome>(rng() % 5);
          finish(job, outcome, "e", now() + std::chrono::seconds(rng() % 5));
        }
      } else if (op == 5) {
        advance(std::chrono::seconds(rng() % 10));
        store_->rescue_expired_leases(now());
        store_->expire_jobs(now());
      } else if (op == 6) {
        claim(1, {}, {}, std::chrono::seconds(1 + rng() % 5));
      } else {
        const auto all = all_jobs();
        if (all.empty()) continue;
        const JobId id = all[rng() % all.size()].id;
        switch (op) {
          case 7: store_->retry_job(id, now()); break;
          case 8: store_->cancel_job(id, now()); break;
          default:
            if (rng() % 2) {
              store_->delete_job(id, now());
            } else {
              store_->mark_files_present(id, now());
            }
        }
      }
    } catch (const Error& e) {
      // Illegal transitions chosen at random are refused; that is part of the test.
      EXPECT_TRUE(e.code() == ErrorCode::kFailedPrecondition || e.code() == ErrorCode::kAlreadyExists) << e.what();
    }
  }
  expect_counts_match_jobs();
  store_->set_queue_paused("b", true, now());
  expect_counts_match_jobs();
  // Every job's history ends in its current state.
  for (const Job& job : all_jobs()) {
    const auto history = store_->job_history(job.id);
    ASSERT_FALSE(history.empty());
    EXPECT_EQ(history.back().to, job.state) << "job " << job.id;
  }
}

}  // namespace
}  // namespace quern::testing
