// Rescue of runs whose lease expired or whose worker died.
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreRescue);

TEST_P(StoreRescue, ExpiredLeaseGoesBackToAvailableWithAFailure) {
  const JobId id = enqueue(new_job()).id;
  claim(1, {}, {}, 30s);
  advance(29s);
  EXPECT_TRUE(store_->rescue_expired_leases(now()).empty());
  advance(1s);
  const auto moved = store_->rescue_expired_leases(now());
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].id, id);
  EXPECT_EQ(moved[0].attempt, 1);
  EXPECT_EQ(moved[0].to, JobState::kAvailable);
  const Job job = get(id);
  EXPECT_EQ(job.state, JobState::kAvailable);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.error, "lease expired");
  EXPECT_EQ(job.lease_owner, "");
  EXPECT_FALSE(job.lease_expires_at.has_value());
  EXPECT_EQ(store_->job_history(id).back().detail, "lease expired");
  EXPECT_EQ(claim_one().attempt, 2);
}

TEST_P(StoreRescue, ExpiredLeaseWithAttemptsSpentFailsAndCascades) {
  NewJob n = new_job();
  n.max_attempts = 1;
  const JobId id = enqueue(n).id;
  NewJob dependent = new_job();
  dependent.depends_on = {id};
  const JobId dep = enqueue(dependent).id;
  claim_one();
  advance(31s);
  const auto moved = store_->rescue_expired_leases(now());
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].to, JobState::kFailed);
  EXPECT_EQ(get(id).state, JobState::kFailed);
  EXPECT_TRUE(get(id).finished_at.has_value());
  EXPECT_EQ(get(dep).state, JobState::kCanceled);
  expect_counts_match_jobs();
}

TEST_P(StoreRescue, JobsOfDeadOwnersAreRescuedAtOnce) {
  enqueue(new_job());
  enqueue(new_job());
  enqueue(new_job());
  ClaimParams params;
  params.max = 2;
  params.owner = "host/1/boot/100/5";
  params.now = now();
  const auto dead = store_->claim_jobs(params);
  params.max = 1;
  params.owner = "host/1/boot/200/9";
  const auto alive = store_->claim_jobs(params);
  ASSERT_EQ(dead.size(), 2u);
  ASSERT_EQ(alive.size(), 1u);
  EXPECT_EQ(store_->lease_owners(), (std::vector<std::string>{"host/1/boot/100/5", "host/1/boot/200/9"}));
  const auto moved = store_->rescue_jobs_of_owners({"host/1/boot/100/5"}, now());
  ASSERT_EQ(moved.size(), 2u);
  for (const auto& m : moved) {
    EXPECT_EQ(m.to, JobState::kAvailable);
    EXPECT_EQ(get(m.id).error, "worker process died");
    EXPECT_EQ(get(m.id).failures, 1);
  }
  EXPECT_EQ(get(alive[0].id).state, JobState::kRunning);
  EXPECT_EQ(store_->lease_owners(), (std::vector<std::string>{"host/1/boot/200/9"}));
  EXPECT_TRUE(store_->rescue_jobs_of_owners({"nobody"}, now()).empty());
}

TEST_P(StoreRescue, RescuedWorkerCannotFinishItsOldRun) {
  enqueue(new_job());
  const Job old = claim_one();
  advance(31s);
  store_->rescue_expired_leases(now());
  EXPECT_EQ(finish(old, FinishOutcome::kCompleted), FinishStatus::kStale);
  EXPECT_EQ(get(old.id).state, JobState::kAvailable);
}

}  // namespace
}  // namespace quern::testing
