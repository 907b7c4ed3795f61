// Several Store objects on one database (as several processes have): reopening,
// change detection, database id.
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreSharing);

TEST_P(StoreSharing, ReopenKeepsEverything) {
  NewJob n = new_job("t", "media");
  n.payload = {{"path", "/a"}};
  n.unique_key = "a";
  const JobId id = enqueue(n).id;
  const Job running = claim_one();
  ASSERT_EQ(store_->append_log(id, running.attempt, "started\n", now()), FinishStatus::kOk);
  store_->put_setting("k", 1, now());
  const std::string database_id = store_->database_id();
  const Stats before = store_->stats();
  store_.reset();

  store_ = open_store_again();
  const Job job = get(id);
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.payload, n.payload);
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(store_->job_history(id).size(), 2u);
  EXPECT_EQ(store_->read_log(id, 0).at(0).text, "started\n");
  EXPECT_EQ(store_->get_setting("k"), std::optional<Json>(1));
  EXPECT_EQ(store_->database_id(), database_id);
  EXPECT_EQ(store_->stats().total(JobState::kRunning), before.total(JobState::kRunning));
  EXPECT_FALSE(store_->enqueue_jobs({n}, now()).at(0).inserted);
}

TEST_P(StoreSharing, DatabaseIdIsStableAndNotEmpty) {
  EXPECT_FALSE(store_->database_id().empty());
  auto other = open_store_again();
  EXPECT_EQ(other->database_id(), store_->database_id());
}

TEST_P(StoreSharing, ChangeCounterMovesOnOwnCommits) {
  const uint64_t start = store_->change_counter();
  EXPECT_EQ(store_->change_counter(), start);
  enqueue(new_job());
  const uint64_t after_enqueue = store_->change_counter();
  EXPECT_NE(after_enqueue, start);
  store_->put_setting("x", 1, now());
  EXPECT_NE(store_->change_counter(), after_enqueue);
}

TEST_P(StoreSharing, ChangeCounterStaysWhenNothingChanged) {
  enqueue(new_job());
  const uint64_t start = store_->change_counter();
  EXPECT_TRUE(claim(1, {"empty-queue"}).empty());
  store_->rescue_expired_leases(now());
  store_->get_job(1);
  EXPECT_EQ(store_->change_counter(), start);
}

TEST_P(StoreSharing, ChangeCounterSeesCommitsOfAnotherStore) {
  auto other = open_store_again();
  const uint64_t start = store_->change_counter();
  other->enqueue_jobs({new_job()}, now());
  EXPECT_NE(store_->change_counter(), start);
  // And the other store's job is visible here.
  EXPECT_EQ(claim(1).size(), 1u);
}

TEST_P(StoreSharing, SecondStoreSeesPauseAndJobsOfTheFirst) {
  auto other = open_store_again();
  store_->set_queue_paused("default", true, now());
  enqueue(new_job());
  ClaimParams params;
  params.owner = "other";
  params.now = now();
  EXPECT_TRUE(other->claim_jobs(params).empty());
  store_->set_queue_paused("default", false, now());
  EXPECT_EQ(other->claim_jobs(params).size(), 1u);
  EXPECT_EQ(store_->stats().total(JobState::kRunning), 1);
}

}  // namespace
}  // namespace quern::testing
