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

// Cursor pages are keyed by id, never by position: while other threads add jobs and move
// them through their states, paging through a filter shows every job that matched it
// before paging began exactly once, in order, both ways.
TEST_P(StoreConcurrency, CursorPagesStayStableWhileJobsAreAddedAndMoved) {
  auto tagged_job = [](int i) {
    NewJob n = new_job("t", "paged");
    if (i % 2 == 0) n.tags = {"even"};
    return n;
  };
  std::vector<NewJob> first_jobs;
  for (int i = 0; i < 300; ++i) first_jobs.push_back(tagged_job(i));
  std::set<JobId> before;
  std::set<JobId> tagged_before;
  for (const auto& result : store_->enqueue_jobs(first_jobs, now())) {
    before.insert(result.job.id);
    if (!result.job.tags.empty()) tagged_before.insert(result.job.id);
  }
  std::set<JobId> completed_before;
  {
    std::vector<JobFinish> finishes;
    for (const Job& job : claim(100, {"paged"})) {
      finishes.push_back({job.id, job.attempt, FinishOutcome::kCompleted, nullptr, {}, now()});
      completed_before.insert(job.id);
    }
    store_->finish_jobs(finishes, now());
  }

  auto second = open_store_again();
  std::atomic<bool> done{false};
  std::atomic<int> added{0};
  std::atomic<int> moved{0};
  std::thread producer([&] {
    for (int i = 0; !done.load(); ++i) {
      second->enqueue_jobs({tagged_job(i), tagged_job(i + 1)}, now());
      added += 2;
    }
  });
  std::thread mover([&] {
    ClaimParams params;
    params.owner = "mover";
    params.max = 3;
    params.queues = {"paged"};
    while (!done.load()) {
      params.now = now();
      std::vector<JobFinish> finishes;
      for (const Job& job : second->claim_jobs(params)) {
        finishes.push_back({job.id, job.attempt, FinishOutcome::kCompleted, nullptr, {}, now()});
      }
      if (!finishes.empty()) second->finish_jobs(finishes, now());
      moved += static_cast<int>(finishes.size());
    }
  });

  // Pages through `filter` 17 jobs at a time; checks the order and that every id of
  // `expected` came exactly once.
  auto page_through = [&](JobFilter filter, const std::set<JobId>& expected, const std::string& what) {
    filter.limit = 17;
    std::vector<JobId> seen;
    while (true) {
      const auto page = store_->list_jobs(filter);
      for (const Job& job : page) seen.push_back(job.id);
      if (static_cast<int>(page.size()) < filter.limit) break;
      filter.after_id = page.back().id;
      std::this_thread::sleep_for(1ms);  // let the others write between pages
    }
    for (size_t i = 1; i < seen.size(); ++i) {
      if (filter.newest_first) {
        ASSERT_GT(seen[i - 1], seen[i]) << what << ": out of order or repeated";
      } else {
        ASSERT_LT(seen[i - 1], seen[i]) << what << ": out of order or repeated";
      }
    }
    const std::set<JobId> seen_set(seen.begin(), seen.end());
    for (JobId id : expected) EXPECT_TRUE(seen_set.contains(id)) << what << ": job " << id << " was skipped";
  };
  JobFilter by_queue;
  by_queue.queue = "paged";
  page_through(by_queue, before, "queue, oldest first");
  by_queue.newest_first = true;
  page_through(by_queue, before, "queue, newest first");
  JobFilter by_tag;
  by_tag.tag = "even";
  page_through(by_tag, tagged_before, "tag");
  JobFilter completed;
  completed.states = {JobState::kCompleted};
  page_through(completed, completed_before, "completed");
  completed.newest_first = true;
  page_through(completed, completed_before, "completed, newest first");

  done = true;
  producer.join();
  mover.join();
  EXPECT_GT(added.load(), 0);
  EXPECT_GT(moved.load(), 0);
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

// Claimers of two Store objects (two processes, in effect) never run more of a limited
// queue's jobs at once than its limit, and together they run them all.
TEST_P(StoreConcurrency, ConcurrentClaimersKeepAQueuesConcurrencyLimit) {
  constexpr int kLimit = 3;
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) enqueue(new_job("t", "gpu"));
  store_->set_queue_concurrency_limit("gpu", kLimit, now());
  auto second = open_store_again();
  std::atomic<int> running{0}, most_running{0}, finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : *second;
      while (finished.load() < kJobs) {
        ClaimParams params;
        params.max = 2;
        params.owner = "w" + std::to_string(t);
        params.now = now();
        params.lease = 30s;
        const std::vector<Job> jobs = store.claim_jobs(params);
        // Counted after the claim returns and uncounted before the finish is sent: never
        // more than the store's own count of running jobs.
        const int now_running = running += static_cast<int>(jobs.size());
        int seen = most_running.load();
        while (now_running > seen && !most_running.compare_exchange_weak(seen, now_running)) {
        }
        std::this_thread::sleep_for(jobs.empty() ? 1ms : 3ms);
        for (const Job& job : jobs) {
          --running;
          JobFinish done;
          done.id = job.id;
          done.attempt = job.attempt;
          const auto status = store.finish_jobs({done}, now());
          EXPECT_EQ(status.at(0), FinishStatus::kOk);
          ++finished;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most_running.load(), kLimit);
  EXPECT_GE(most_running.load(), 2);  // the limit, not a lock, is what held them back
  EXPECT_EQ(finished.load(), kJobs);
  for (const Job& job : all_jobs()) EXPECT_EQ(job.state, JobState::kCompleted);
  expect_counts_match_jobs();
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
      JobHeartbeat beat{job.id, job.attempt, 30s, 0.5, std::nullopt, std::nullopt};
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
