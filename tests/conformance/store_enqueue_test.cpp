// Enqueue: first states, stored fields, unique keys, bad input.
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreEnqueue);

TEST_P(StoreEnqueue, NewJobIsAvailableWithEnqueuedHistory) {
  const Job job = enqueue(new_job("resize"));
  EXPECT_GT(job.id, 0);
  EXPECT_EQ(job.state, JobState::kAvailable);
  EXPECT_EQ(job.attempt, 0);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.created_at, now());
  EXPECT_EQ(job.run_at, now());
  const auto history = store_->job_history(job.id);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_FALSE(history[0].from.has_value());
  EXPECT_EQ(history[0].to, JobState::kAvailable);
  EXPECT_EQ(history[0].detail, "enqueued");
  EXPECT_EQ(history[0].at, now());
}

TEST_P(StoreEnqueue, FutureRunAtIsScheduled) {
  NewJob n = new_job();
  n.run_at = now() + 10s;
  const Job job = enqueue(n);
  EXPECT_EQ(job.state, JobState::kScheduled);
  EXPECT_EQ(get(job.id).run_at, now() + 10s);
}

TEST_P(StoreEnqueue, EveryFieldIsStoredAsGiven) {
  NewJob n = new_job("transcode", "media");
  n.payload = {{"file", "/films/a.mkv"}, {"bitrate", 4.5}, {"tracks", {1, 2}}};
  n.priority = kPriorityHigh;
  n.max_attempts = 7;
  n.timeout = 90s;
  n.unique_key = "film-a";
  n.expires_at = now() + 1h;
  n.tags = {"film", "4k"};
  const Job returned = enqueue(n);
  const Job stored = get(returned.id);
  for (const Job& job : {returned, stored}) {
    EXPECT_EQ(job.queue, "media");
    EXPECT_EQ(job.type, "transcode");
    EXPECT_EQ(job.payload, n.payload);
    EXPECT_EQ(job.priority, kPriorityHigh);
    EXPECT_EQ(job.max_attempts, 7);
    EXPECT_EQ(job.timeout, std::optional<Duration>(90s));
    EXPECT_EQ(job.unique_key, std::optional<std::string>("film-a"));
    EXPECT_EQ(job.expires_at, std::optional<Time>(now() + 1h));
    EXPECT_EQ(job.tags, (std::vector<std::string>{"film", "4k"}));
    EXPECT_TRUE(job.checkpoint.is_null());
    EXPECT_TRUE(job.result.is_null());
    EXPECT_EQ(job.error, "");
    EXPECT_FALSE(job.started_at.has_value());
    EXPECT_FALSE(job.finished_at.has_value());
    EXPECT_EQ(job.lease_owner, "");
  }
}

TEST_P(StoreEnqueue, BatchReturnsOneResultPerJobInOrder) {
  std::vector<NewJob> batch;
  for (int i = 0; i < 50; ++i) {
    NewJob n = new_job();
    n.payload = {{"i", i}};
    batch.push_back(n);
  }
  const auto results = store_->enqueue_jobs(batch, now());
  ASSERT_EQ(results.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(results[i].inserted);
    EXPECT_EQ(results[i].job.payload["i"], i);
    if (i > 0) {
      EXPECT_GT(results[i].job.id, results[i - 1].job.id);
    }
  }
}

TEST_P(StoreEnqueue, LiveUniqueKeyReturnsTheExistingJob) {
  NewJob n = new_job();
  n.unique_key = "scan:/library/a.mkv";
  const Job first = enqueue(n);
  const auto again = store_->enqueue_jobs({n}, now());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_FALSE(again[0].inserted);
  EXPECT_EQ(again[0].job.id, first.id);
  EXPECT_EQ(all_jobs().size(), 1u);
}

// An unknown dependency is not found even when the key's holder would be returned.
TEST_P(StoreEnqueue, LiveUniqueKeyWithAnUnknownDependencyIsNotFound) {
  NewJob n = new_job();
  n.unique_key = "k";
  const Job first = enqueue(n);
  n.depends_on = {first.id + 1000};
  EXPECT_QUERN_ERROR(store_->enqueue_jobs({n}, now()), ErrorCode::kNotFound);
  EXPECT_EQ(all_jobs().size(), 1u);
}

TEST_P(StoreEnqueue, SameUniqueKeyTwiceInOneBatchInsertsOnce) {
  NewJob n = new_job();
  n.unique_key = "k";
  const auto results = store_->enqueue_jobs({n, n}, now());
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].inserted);
  EXPECT_FALSE(results[1].inserted);
  EXPECT_EQ(results[1].job.id, results[0].job.id);
  EXPECT_EQ(all_jobs().size(), 1u);
}

// The longest key validation lets through, made of text no compression shrinks: every
// backend's index takes it.
TEST_P(StoreEnqueue, LongestUniqueKeyIsHeld) {
  std::string key;
  uint64_t x = 88172645463325252ull;  // xorshift: the same text every run
  while (key.size() < 2048) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    key += static_cast<char>('!' + x % 94);
  }
  NewJob n = new_job();
  n.unique_key = key;
  const Job first = enqueue(n);
  const auto again = store_->enqueue_jobs({n}, now());
  EXPECT_FALSE(again[0].inserted);
  EXPECT_EQ(again[0].job.id, first.id);
}

TEST_P(StoreEnqueue, UniqueKeyOfRunningJobIsStillHeld) {
  NewJob n = new_job();
  n.unique_key = "k";
  const Job first = enqueue(n);
  claim_one();
  const auto again = store_->enqueue_jobs({n}, now());
  EXPECT_FALSE(again[0].inserted);
  EXPECT_EQ(again[0].job.id, first.id);
  EXPECT_EQ(again[0].job.state, JobState::kRunning);
}

TEST_P(StoreEnqueue, FinishedJobFreesItsUniqueKey) {
  NewJob n = new_job();
  n.unique_key = "k";
  const Job first = enqueue(n);
  ASSERT_EQ(finish(claim_one(), FinishOutcome::kCompleted), FinishStatus::kOk);
  const auto again = store_->enqueue_jobs({n}, now());
  EXPECT_TRUE(again[0].inserted);
  EXPECT_NE(again[0].job.id, first.id);
}

TEST_P(StoreEnqueue, UnknownDependencyIsNotFoundAndWritesNothing) {
  NewJob good = new_job();
  NewJob bad = new_job();
  bad.depends_on = {424242};
  EXPECT_QUERN_ERROR(store_->enqueue_jobs({good, bad}, now()), ErrorCode::kNotFound);
  EXPECT_TRUE(all_jobs().empty());
  EXPECT_TRUE(store_->history_since(0, 100).empty());
  expect_counts_match_jobs();
}

TEST_P(StoreEnqueue, BadJobIsRefusedAndWritesNothing) {
  NewJob no_type = new_job("");
  EXPECT_QUERN_ERROR(store_->enqueue_jobs({new_job(), no_type}, now()), ErrorCode::kInvalidArgument);
  NewJob no_attempts = new_job();
  no_attempts.max_attempts = 0;
  EXPECT_QUERN_ERROR(store_->enqueue_jobs({no_attempts}, now()), ErrorCode::kInvalidArgument);
  NewJob no_queue = new_job("t", "");
  EXPECT_QUERN_ERROR(store_->enqueue_jobs({no_queue}, now()), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(all_jobs().empty());
}

TEST_P(StoreEnqueue, PayloadOverTheLimitIsTooLarge) {
  StoreOptions options;
  options.max_payload_bytes = 100;
  auto small = open_store_again(options);
  NewJob n = new_job();
  n.payload = {{"blob", std::string(200, 'x')}};
  EXPECT_QUERN_ERROR(small->enqueue_jobs({n}, now()), ErrorCode::kTooLarge);
  EXPECT_TRUE(all_jobs().empty());
}

TEST_P(StoreEnqueue, NewQueueIsListed) {
  enqueue(new_job("t", "alpha"));
  enqueue(new_job("t", "beta"));
  const auto queues = store_->list_queues();
  ASSERT_EQ(queues.size(), 2u);
  EXPECT_EQ(queues[0].name, "alpha");
  EXPECT_EQ(queues[1].name, "beta");
  EXPECT_FALSE(queues[0].paused);
  const Stats stats = store_->stats();
  EXPECT_EQ(stats.total(JobState::kAvailable), 2);
}

TEST_P(StoreEnqueue, EmptyBatchWritesNothing) {
  const uint64_t before = store_->change_counter();
  EXPECT_TRUE(store_->enqueue_jobs({}, now()).empty());
  EXPECT_EQ(store_->change_counter(), before);
}

}  // namespace
}  // namespace quern::testing
