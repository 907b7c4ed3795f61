// Client::throughput: one bucket per minute of the window, empty minutes included, fed
// by real finishes in a SQLite file (time from a SimulatedClock).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "quern/client.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace quern {
namespace {

class ClientThroughput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quern-throughput-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clock_ = std::make_shared<SimulatedClock>(from_micros(1'800'000'000'000'000 + 30'000'000));  // :30 past a minute
    client_ = std::make_shared<Client>(open_store((dir_ / "q.db").string()), clock_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void run_one(FinishOutcome outcome) {
    NewJob job;
    job.type = "t";
    job.max_attempts = 1;
    client_->enqueue(job);
    ClaimParams params;
    params.owner = "test";
    params.now = clock_->now();
    auto claimed = client_->store()->claim_jobs(params);
    ASSERT_EQ(claimed.size(), 1u);
    JobFinish finish;
    finish.id = claimed[0].id;
    finish.attempt = claimed[0].attempt;
    finish.outcome = outcome;
    finish.error = "exit status 1";
    ASSERT_EQ(client_->store()->finish_jobs({finish}, clock_->now())[0], FinishStatus::kOk);
  }

  fs::path dir_;
  std::shared_ptr<SimulatedClock> clock_;
  std::shared_ptr<Client> client_;
};

TEST_F(ClientThroughput, HasOneBucketPerMinuteOfTheWindowEndingWithTheCurrentOne) {
  run_one(FinishOutcome::kCompleted);
  clock_->advance(3min);
  run_one(FinishOutcome::kFail);
  run_one(FinishOutcome::kCompleted);

  const auto buckets = client_->throughput(10min);
  ASSERT_EQ(buckets.size(), 10u);
  EXPECT_EQ(buckets.back().minute, std::chrono::floor<std::chrono::minutes>(clock_->now()));
  for (size_t i = 1; i < buckets.size(); ++i) EXPECT_EQ(buckets[i].minute - buckets[i - 1].minute, 1min);
  EXPECT_EQ(buckets[9].completed, 1);
  EXPECT_EQ(buckets[9].failed, 1);
  EXPECT_EQ(buckets[6].completed, 1);
  EXPECT_EQ(buckets[6].failed, 0);
  int64_t total = 0;
  for (const auto& b : buckets) total += b.completed + b.failed;
  EXPECT_EQ(total, 3);
}

TEST_F(ClientThroughput, WindowIsAtLeastOneMinuteAndAtMostAWeek) {
  EXPECT_EQ(client_->throughput(0s).size(), 1u);
  EXPECT_EQ(client_->throughput(std::chrono::days(30)).size(), 7u * 24 * 60);
}

}  // namespace
}  // namespace quern
