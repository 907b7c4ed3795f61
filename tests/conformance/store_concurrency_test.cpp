// Many threads and several Store objects at once: group commit must keep every rule.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreConcurrency);

TEST_P(StoreConcurrency, ManyThreadsEnqueueClaimAndFinishWithoutAJobClaimedTwice) {
  constexpr int kProducers = 4;
  constexpr int kJobsPerProducer = 200;
  constexpr int kTotal = kProducers * kJobsPerProducer;
  auto second = open_store_again();  // as a second process would
  std::atomic<int> finished{0};
  std::mutex seen_mutex;
  std::set<JobId> seen;
  std::atomic<int> duplicates{0};
  std::atomic<int> stale{0};

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      Store& store = p % 2 == 0 ? *store_ : *second;
      for (int i = 0; i < kJobsPerProducer; i += 10) {
        std::vector<NewJob> batch(10, new_job());
        store.enqueue_jobs(batch, now());
      }
    });
  }
  for (int w = 0; w < 6; ++w) {
    threads.emplace_back([&, w] {
      Store& store = w % 2 == 0 ? *store_ : *second;
      ClaimParams params;
      params.owner = "worker-" + std::to_string(w);
      params.max = 1 + w % 3;
      while (finished.load() < kTotal) {
        params.now = now();
        const auto jobs = store.claim_jobs(params);
        std::vector<JobFinish> items;
        for (const Job& job : jobs) {
          {
            std::lock_guard lock(seen_mutex);
            if (!seen.insert(job.id).second) ++duplicates;
          }
          items.push_back({job.id, job.attempt, FinishOutcome::kCompleted, nullptr, {}, now()});
        }
        if (items.empty()) {
          std::this_thread::yield();
          continue;
        }
        for (FinishStatus s : store.finish_jobs(items, now())) {
          if (s == FinishStatus::kStale) ++stale;
        }
        finished += static_cast<int>(items.size());
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(store_->stats().total(JobState::kCompleted), kTotal);
  for (const Job& job : all_jobs()) {
    EXPECT_EQ(job.state, JobState::kCompleted);
    EXPECT_EQ(job.attempt, 1);
  }
  expect_counts_match_jobs();
}

TEST_P(StoreConcurrency, FailingWritesAmongConcurrentWritesUndoOnlyThemselves) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 30;
  std::atomic<int> refused{0};
  std::atomic<int> inserted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        NewJob n = new_job();
        if ((t + r) % 3 == 0) n.depends_on = {1'000'000 + r};  // unknown: this write fails
        try {
          store_->enqueue_jobs({n, new_job()}, now());
          inserted += 2;
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(refused.load(), 0);
  EXPECT_EQ(all_jobs().size(), static_cast<size_t>(inserted.load()));
  EXPECT_EQ(store_->history_since(0, 100000).size(), static_cast<size_t>(inserted.load()));
  expect_counts_match_jobs();
}

TEST_P(StoreConcurrency, UniqueKeyRaceLeavesOneLiveJob) {
  auto second = open_store_again();
  std::vector<std::thread> threads;
  std::mutex ids_mutex;
  std::set<JobId> ids;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      NewJob n = new_job();
      n.unique_key = "only-one";
      Store& store = t % 2 == 0 ? *store_ : *second;
      for (int i = 0; i < 10; ++i) {
        const auto result = store.enqueue_jobs({n}, now()).at(0);
        std::lock_guard lock(ids_mutex);
        ids.insert(result.job.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(all_jobs().size(), 1u);
}

TEST_P(StoreConcurrency, HeartbeatsAndRescuesRaceWithoutLosingFencing) {
  for (int i = 0; i < 50; ++i) enqueue(new_job());
  const auto jobs = claim(50, {}, {}, 1s);
  ASSERT_EQ(jobs.size(), 50u);
  advance(2s);
  std::atomic<int> beats_ok{0};
  std::atomic<int> rescued{0};
  std::thread beater([&] {
    for (const Job& job : jobs) {
      JobHeartbeat beat{job.id, job.attempt, now() + 30s, 0.5, std::nullopt, std::nullopt};
      if (store_->heartbeat_jobs({beat}, now()).at(0) == FinishStatus::kOk) ++beats_ok;
    }
  });
  std::thread rescuer([&] {
    for (int i = 0; i < 5; ++i) rescued += static_cast<int>(store_->rescue_expired_leases(now()).size());
  });
  beater.join();
  rescuer.join();
  // Each job was either kept by its heartbeat or rescued, never both.
  EXPECT_EQ(beats_ok.load() + rescued.load(), 50);
  for (const Job& job : all_jobs()) {
    if (job.state == JobState::kRunning) {
      EXPECT_EQ(job.failures, 0);
    } else {
      EXPECT_EQ(job.state, JobState::kAvailable);
      EXPECT_EQ(job.failures, 1);
    }
  }
  expect_counts_match_jobs();
}

}  // namespace
}  // namespace quern::testing
