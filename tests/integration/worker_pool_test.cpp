// WorkerPool against a real SQLite file: claiming, finishing, retries, timeouts,
// graceful stop, cancel, lost leases, checkpoints and start-up rescue. Time that the
// store sees comes from a SimulatedClock; the tests wait on job states, not on sleeps.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "core/host_identity.h"
#include "engine/maintenance.h"
#include "quern/client.h"
#include "quern/error.h"
#include "quern/worker_pool.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace quern {
namespace {

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quern-pool-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clock_ = std::make_shared<SimulatedClock>();
    client_ = std::make_shared<Client>(open_store((dir_ / "q.db").string()), clock_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  WorkerPoolOptions options(int concurrency = 2) {
    WorkerPoolOptions o;
    o.concurrency = concurrency;
    o.lease = 5s;
    o.grace = 100ms;
    o.temp_root = dir_ / "tmp";
    return o;
  }

  JobId enqueue(const std::string& type, Json payload = Json::object(), int max_attempts = 3) {
    NewJob job;
    job.type = type;
    job.payload = std::move(payload);
    job.max_attempts = max_attempts;
    return client_->enqueue(job).job.id;
  }

  // Polls (real time) until the job is in `state` or 10 s pass.
  Job wait_for_state(JobId id, JobState state) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    Job job = client_->get(id);
    while (job.state != state && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
      job = client_->get(id);
    }
    return job;
  }

  // A client of the same file whose writes give up on another process's lock at once.
  std::shared_ptr<Client> impatient_client() {
    StoreOptions store_options;
    store_options.busy_timeout = 100ms;
    return std::make_shared<Client>(open_store((dir_ / "q.db").string(), store_options), clock_);
  }

  // Another process's hold on the write lock of the test's file, until release().
  class WriteLock {
   public:
    explicit WriteLock(const fs::path& db) {
      EXPECT_EQ(sqlite3_open(db.c_str(), &db_), SQLITE_OK);
      sqlite3_busy_timeout(db_, 5000);  // the pool may be writing just now
      EXPECT_EQ(sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    ~WriteLock() { release(); }
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;
    void release() {
      if (db_ == nullptr) return;
      EXPECT_EQ(sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
      sqlite3_close(db_);
      db_ = nullptr;
    }

   private:
    sqlite3* db_ = nullptr;
  };
  WriteLock hold_write_lock() { return WriteLock(dir_ / "q.db"); }

  fs::path dir_;
  std::shared_ptr<SimulatedClock> clock_;
  std::shared_ptr<Client> client_;
};

TEST_F(WorkerPoolTest, ConcurrencyRunsEveryJobExactlyOnce) {
  constexpr int kJobs = 2000;
  std::vector<NewJob> batch(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    batch[i].type = "count";
    batch[i].payload = {{"i", i}};
  }
  client_->enqueue_many(batch);
  std::mutex mutex;
  std::multiset<int> seen;
  WorkerPool pool(client_, options(8));
  pool.handle("count", [&](JobContext& ctx) {
    std::lock_guard lock(mutex);
    seen.insert(ctx.payload()["i"].get<int>());
    return Outcome::completed();
  });
  pool.start();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (client_->stats().total(JobState::kCompleted) < kJobs && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  pool.stop();
  EXPECT_EQ(client_->stats().total(JobState::kCompleted), kJobs);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kJobs));
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
}

// Runs whose finish is not yet recorded still hold their claim: when recording falls
// behind (here, fast handlers with 8 KB results), the pool stops claiming instead of
// leasing more. Without that, tens of thousands of jobs sat "running" in the store with
// no heartbeat, each one a re-run after a crash.
TEST_F(WorkerPoolTest, UnrecordedFinishesHoldBackClaims) {
  constexpr int kJobs = 20000;
  constexpr int kConcurrency = 4;
  constexpr int64_t kMaxPrefetch = 1024;  // worker_pool.cpp's cap on claimed-but-not-started jobs
  std::vector<NewJob> batch(kJobs);
  for (auto& job : batch) job.type = "bulky";
  client_->enqueue_many(batch);
  WorkerPool pool(client_, options(kConcurrency));
  const Json bulky_result = {{"text", std::string(8000, 'x')}};
  pool.handle("bulky", [&](JobContext&) { return Outcome::completed(bulky_result); });
  pool.start();
  int64_t most_running = 0;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    const Stats stats = client_->stats();
    most_running = std::max(most_running, stats.total(JobState::kRunning));
    if (stats.total(JobState::kCompleted) == kJobs) break;
  }
  pool.stop();
  EXPECT_EQ(client_->stats().total(JobState::kCompleted), kJobs);
  EXPECT_LE(most_running, kConcurrency + kMaxPrefetch);
  EXPECT_GT(most_running, 0);
}

TEST_F(WorkerPoolTest, ResultAndProgressAreRecorded) {
  JobId id = enqueue("work");
  WorkerPool pool(client_, options());
  pool.handle("work", [](JobContext& ctx) {
    ctx.stage("transcode");
    ctx.progress(0.5);
    return Outcome::completed({{"frames", 42}});
  });
  pool.start();
  Job job = wait_for_state(id, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kCompleted);
  EXPECT_EQ(job.result, (Json{{"frames", 42}}));
  EXPECT_EQ(job.stage, "transcode");  // reported just before the end: kept all the same
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(job.failures, 0);
  EXPECT_TRUE(job.finished_at.has_value());
}

TEST_F(WorkerPoolTest, FailedAttemptIsRetriedAfterBackoffThenFails) {
  JobId id = enqueue("flaky", Json::object(), 2);
  std::atomic<int> runs{0};
  WorkerPool pool(client_, options());
  pool.handle("flaky", [&](JobContext&) -> Outcome {
    ++runs;
    throw std::runtime_error("disk on fire");
  });
  pool.start();
  Job job = wait_for_state(id, JobState::kScheduled);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(job.error, "disk on fire");
  EXPECT_GT(job.run_at, clock_->now());
  // The backoff (1 s ± 25%) passes on the simulated clock; the pool picks it up again.
  clock_->advance(2s);
  pool.notify();
  job = wait_for_state(id, JobState::kFailed);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.failures, 2);
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(runs.load(), 2);
}

TEST_F(WorkerPoolTest, PermanentFailureIsNotRetried) {
  JobId id = enqueue("bad");
  WorkerPool pool(client_, options());
  pool.handle("bad", [](JobContext& ctx) {
    ctx.stage("upload");
    ctx.progress(0.9);
    return Outcome::fail("bad input");
  });
  pool.start();
  Job job = wait_for_state(id, JobState::kFailed);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.error, "bad input");
  // Where it failed, though it said so only just before failing.
  EXPECT_EQ(job.stage, "upload");
  EXPECT_DOUBLE_EQ(job.progress, 0.9);
}

TEST_F(WorkerPoolTest, SnoozeIsNotAFailure) {
  JobId id = enqueue("poll");
  WorkerPool pool(client_, options());
  std::atomic<int> runs{0};
  pool.handle("poll", [&](JobContext&) { return ++runs == 1 ? Outcome::snooze(30s) : Outcome::completed(); });
  pool.start();
  Job job = wait_for_state(id, JobState::kScheduled);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.run_at, clock_->now() + 30s);
  clock_->advance(31s);
  pool.notify();
  job = wait_for_state(id, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kCompleted);
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.failures, 0);
}

TEST_F(WorkerPoolTest, TimeoutStopsTheHandlerAndCountsAFailure) {
  NewJob slow;
  slow.type = "slow";
  slow.timeout = 10s;
  slow.max_attempts = 1;
  JobId id = client_->enqueue(slow).job.id;
  std::atomic<bool> running{false};
  auto opts = options();
  opts.lease = 60s;  // the lease must outlast the jump of the clock, so only the timeout fires
  WorkerPool pool(client_, opts);
  pool.handle("slow", [&](JobContext& ctx) {
    running = true;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(ctx.stop_reason(), StopReason::kTimeout);
    return Outcome::retry("stopped");
  });
  pool.start();
  while (!running) std::this_thread::sleep_for(1ms);
  clock_->advance(11s);
  Job job = wait_for_state(id, JobState::kFailed);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_NE(job.error.find("timed out"), std::string::npos) << job.error;
}

TEST_F(WorkerPoolTest, GracefulStopReleasesRunningJobWithoutAFailure) {
  JobId id = enqueue("long");
  std::atomic<bool> running{false};
  std::atomic<int> reason{-1};
  WorkerPool pool(client_, options());
  pool.handle("long", [&](JobContext& ctx) {
    running = true;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
    reason = static_cast<int>(ctx.stop_reason());
    return Outcome::retry("interrupted");
  });
  pool.start();
  while (!running) std::this_thread::sleep_for(1ms);
  pool.stop();
  Job job = client_->get(id);
  EXPECT_EQ(reason.load(), static_cast<int>(StopReason::kShutdown));
  EXPECT_EQ(job.state, JobState::kAvailable);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.attempt, 1);
  EXPECT_TRUE(job.lease_owner.empty());
}

TEST_F(WorkerPoolTest, HandlerThatFinishesWithinGraceCompletes) {
  JobId id = enqueue("short");
  std::atomic<bool> running{false};
  std::atomic<bool> release{false};
  auto opts = options();
  opts.grace = 10s;
  WorkerPool pool(client_, opts);
  pool.handle("short", [&](JobContext&) {
    running = true;
    while (!release) std::this_thread::sleep_for(1ms);
    return Outcome::completed();
  });
  pool.start();
  while (!running) std::this_thread::sleep_for(1ms);
  std::thread stopper([&] { pool.stop(); });
  std::this_thread::sleep_for(20ms);
  release = true;
  stopper.join();
  EXPECT_EQ(client_->get(id).state, JobState::kCompleted);
}

TEST_F(WorkerPoolTest, CancelStopsARunningHandler) {
  JobId id = enqueue("long");
  std::atomic<bool> running{false};
  std::atomic<int> reason{-1};
  WorkerPool pool(client_, options());
  pool.handle("long", [&](JobContext& ctx) {
    running = true;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
    reason = static_cast<int>(ctx.stop_reason());
    return Outcome::completed();
  });
  pool.start();
  while (!running) std::this_thread::sleep_for(1ms);
  client_->cancel(id);
  while (reason.load() < 0) std::this_thread::sleep_for(1ms);
  pool.stop();
  EXPECT_EQ(reason.load(), static_cast<int>(StopReason::kCanceled));
  EXPECT_EQ(client_->get(id).state, JobState::kCanceled);
}

// A short job claimed ahead (prefetched) waits for a slot; canceled meanwhile, it must
// never start, however long the slot stays busy.
TEST_F(WorkerPoolTest, JobCanceledWhileWaitingForASlotNeverStarts) {
  std::mutex mutex;
  std::set<JobId> ran;
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  WorkerPool pool(client_, options(1));
  pool.handle("quick", [&](JobContext& ctx) {
    std::lock_guard lock(mutex);
    ran.insert(ctx.job().id);
    return Outcome::completed();
  });
  pool.handle("hold", [&](JobContext&) {
    holding = true;
    while (!release) std::this_thread::sleep_for(1ms);
    return Outcome::completed();
  });
  pool.start();
  // Short runs make the pool claim ahead of its one slot.
  std::vector<JobId> warm_up;
  for (int i = 0; i < 50; ++i) warm_up.push_back(enqueue("quick"));
  for (JobId id : warm_up) ASSERT_EQ(wait_for_state(id, JobState::kCompleted).state, JobState::kCompleted);

  const JobId hold = enqueue("hold");
  while (!holding) std::this_thread::sleep_for(1ms);
  std::vector<JobId> waiting;
  for (int i = 0; i < 5; ++i) waiting.push_back(enqueue("quick"));
  for (JobId id : waiting) ASSERT_EQ(wait_for_state(id, JobState::kRunning).state, JobState::kRunning);
  client_->cancel(waiting[2]);
  std::this_thread::sleep_for(500ms);  // past the age at which a claimed job's state is looked at again
  release = true;
  for (JobId id : waiting) {
    if (id != waiting[2]) {
      EXPECT_EQ(wait_for_state(id, JobState::kCompleted).state, JobState::kCompleted);
    }
  }
  EXPECT_EQ(wait_for_state(hold, JobState::kCompleted).state, JobState::kCompleted);
  pool.stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(ran.count(waiting[2]), 0u);
  EXPECT_EQ(ran.count(waiting[1]), 1u);
  EXPECT_EQ(client_->get(waiting[2]).state, JobState::kCanceled);
}

// A run's time limit counts from its start: a job claimed ahead that waited for a slot
// past its timeout still gets all of it.
TEST_F(WorkerPoolTest, TimeoutCountsFromTheStartNotFromAClaimMadeAhead) {
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  std::atomic<int> timed_out{0};
  WorkerPoolOptions opts = options(1);
  opts.lease = 60s;  // the lease outlasts the clock's jump, so only a timeout could stop a run
  WorkerPool pool(client_, opts);
  pool.handle("quick", [&](JobContext& ctx) {
    // Long enough (real time) for the watcher to see a deadline already passed.
    const auto until = std::chrono::steady_clock::now() + 400ms;
    while (std::chrono::steady_clock::now() < until && !ctx.stop_requested()) std::this_thread::sleep_for(1ms);
    if (ctx.stop_requested()) ++timed_out;
    return Outcome::completed();
  });
  pool.handle("hold", [&](JobContext&) {
    holding = true;
    while (!release) std::this_thread::sleep_for(1ms);
    return Outcome::completed();
  });
  pool.handle("warm", [&](JobContext&) { return Outcome::completed(); });
  pool.start();
  std::vector<JobId> warm_up;
  for (int i = 0; i < 50; ++i) warm_up.push_back(enqueue("warm"));
  for (JobId id : warm_up) ASSERT_EQ(wait_for_state(id, JobState::kCompleted).state, JobState::kCompleted);
  const JobId hold = enqueue("hold");
  while (!holding) std::this_thread::sleep_for(1ms);
  NewJob limited;
  limited.type = "quick";
  limited.timeout = 5s;
  const JobId id = client_->enqueue(limited).job.id;
  ASSERT_EQ(wait_for_state(id, JobState::kRunning).state, JobState::kRunning);  // claimed ahead
  clock_->advance(10s);  // it waits past its timeout
  release = true;
  EXPECT_EQ(wait_for_state(hold, JobState::kCompleted).state, JobState::kCompleted);
  const Job done = wait_for_state(id, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(done.state, JobState::kCompleted);
  EXPECT_EQ(done.failures, 0);
  EXPECT_EQ(timed_out.load(), 0);
}

TEST_F(WorkerPoolTest, LostLeaseIsFencedAndTheRescuedJobRunsAgain) {
  JobId id = enqueue("stuck");
  std::atomic<int> runs{0};
  std::atomic<bool> first_stopped{false};
  std::mutex mutex;
  std::vector<std::pair<JobId, int>> stale;
  auto opts = options(2);
  opts.run_maintenance = false;
  // The heartbeat, not the finish, finds the lease lost: still reported as a stale run.
  opts.on_stale_finish = [&](JobId job, int attempt) {
    std::lock_guard lock(mutex);
    stale.emplace_back(job, attempt);
  };
  WorkerPool pool(client_, opts);
  pool.handle("stuck", [&](JobContext& ctx) {
    if (++runs == 1) {
      while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
      first_stopped = true;
      EXPECT_EQ(ctx.stop_reason(), StopReason::kLeaseLost);
      return Outcome::completed({{"from", "stale"}});  // must not be recorded
    }
    return Outcome::completed({{"from", "second"}});
  });
  pool.start();
  while (runs.load() < 1) std::this_thread::sleep_for(1ms);
  // The lease runs out on the simulated clock and a rescuer takes the job back.
  clock_->advance(6s);
  Maintenance maintenance(client_->store(), clock_, dir_ / "tmp");
  auto rescued = maintenance.rescue_expired_leases();
  ASSERT_EQ(rescued.size(), 1u);
  Job job = wait_for_state(id, JobState::kCompleted);
  while (!first_stopped) std::this_thread::sleep_for(1ms);
  pool.stop();
  EXPECT_EQ(job.result, (Json{{"from", "second"}}));
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.failures, 1);
  std::lock_guard lock(mutex);
  EXPECT_EQ(stale, (std::vector<std::pair<JobId, int>>{{id, 1}}));
}

// A run that ends after its job was taken from it (here: canceled from inside the
// handler, before the pool could notice) is refused, and the pool says which.
TEST_F(WorkerPoolTest, RunEndingAfterItsJobWasTakenIsReportedStale) {
  JobId id = enqueue("late");
  std::mutex mutex;
  std::vector<std::pair<JobId, int>> stale;
  auto opts = options(1);
  opts.on_stale_finish = [&](JobId job, int attempt) {
    std::lock_guard lock(mutex);
    stale.emplace_back(job, attempt);
  };
  WorkerPool pool(client_, opts);
  pool.handle("late", [&](JobContext& ctx) {
    ctx.client().cancel(ctx.job().id);
    return Outcome::completed({{"recorded", false}});
  });
  pool.start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex);
      if (!stale.empty()) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  pool.stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(stale, (std::vector<std::pair<JobId, int>>{{id, 1}}));
  const Job job = client_->get(id);
  EXPECT_EQ(job.state, JobState::kCanceled);
  EXPECT_TRUE(job.result.is_null());
  EXPECT_EQ(pool.jobs_finished(), 0);
}

TEST_F(WorkerPoolTest, CheckpointSurvivesIntoTheNextAttempt) {
  JobId id = enqueue("resumable");
  std::atomic<int> runs{0};
  Json seen_on_second;
  WorkerPool pool(client_, options(1));
  pool.handle("resumable", [&](JobContext& ctx) {
    if (++runs == 1) {
      ctx.save_checkpoint({{"operation", "op-123"}});
      return Outcome::snooze(1s);
    }
    seen_on_second = ctx.checkpoint();
    return Outcome::completed();
  });
  pool.start();
  wait_for_state(id, JobState::kScheduled);
  clock_->advance(2s);
  pool.notify();
  Job job = wait_for_state(id, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(seen_on_second, (Json{{"operation", "op-123"}}));
  EXPECT_EQ(job.checkpoint, (Json{{"operation", "op-123"}}));
}

TEST_F(WorkerPoolTest, TempDirIsPrivateAndRemovedBeforeTheJobEnds) {
  JobId id = enqueue("files");
  fs::path seen;
  WorkerPool pool(client_, options(1));
  pool.handle("files", [&](JobContext& ctx) {
    seen = ctx.temp_dir();
    EXPECT_TRUE(fs::is_directory(seen));
    EXPECT_EQ(fs::status(seen).permissions() & fs::perms::all, fs::perms::owner_all);
    std::ofstream(seen / "partial.mkv") << "data";
    return Outcome::completed();
  });
  pool.start();
  wait_for_state(id, JobState::kCompleted);
  pool.stop();
  ASSERT_FALSE(seen.empty());
  EXPECT_FALSE(fs::exists(seen));
}

TEST_F(WorkerPoolTest, PausedQueueIsNotClaimedUntilResumed) {
  client_->pause("default");
  JobId id = enqueue("work");
  WorkerPool pool(client_, options());
  pool.handle("work", [](JobContext&) { return Outcome::completed(); });
  pool.start();
  std::this_thread::sleep_for(50ms);  // gives a wrongly claiming pool the chance to show itself
  EXPECT_EQ(client_->get(id).state, JobState::kAvailable);
  client_->resume("default");
  Job job = wait_for_state(id, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kCompleted);
}

TEST_F(WorkerPoolTest, StartUpRescuesJobsOfADeadProcessOfThisHost) {
  JobId id = enqueue("work");
  // A child process claims the job and dies without finishing it.
  pid_t child = ::fork();
  if (child == 0) {
    auto store = open_store((dir_ / "q.db").string());
    ClaimParams params;
    params.owner = this_process_owner();
    params.now = clock_->now();
    params.lease = std::chrono::hours(1);
    auto jobs = store->claim_jobs(params);
    ::_exit(jobs.size() == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(client_->get(id).state, JobState::kRunning);

  WorkerPool pool(client_, options());
  pool.handle("work", [](JobContext&) { return Outcome::completed(); });
  pool.start();  // the lease has an hour left, but its owner is dead
  Job job = wait_for_state(id, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(job.state, JobState::kCompleted);
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.failures, 1);
}

TEST_F(WorkerPoolTest, OnlyRegisteredTypesAreClaimed) {
  JobId other = enqueue("transcode");
  JobId mine = enqueue("rip");
  WorkerPool pool(client_, options());
  pool.handle("rip", [](JobContext&) { return Outcome::completed(); });
  pool.start();
  wait_for_state(mine, JobState::kCompleted);
  pool.stop();
  EXPECT_EQ(client_->get(other).state, JobState::kAvailable);
}

// A pool whose store calls fail keeps trying, and says so once per failure, not at
// every retry; its jobs run when the store can be written again.
TEST_F(WorkerPoolTest, StoreErrorsAreReportedOnceAndWorkResumesWhenTheyEnd) {
  auto client = impatient_client();
  std::mutex mutex;
  std::vector<std::string> reported;
  auto opts = options();
  opts.on_store_error = [&](const Error& error) {
    std::lock_guard lock(mutex);
    reported.emplace_back(error.what());
  };
  WorkerPool pool(client, opts);
  pool.handle("rip", [](JobContext&) { return Outcome::completed(); });
  pool.start();
  // Another process holds the write lock: every claim stays busy past the timeout.
  WriteLock write_lock = hold_write_lock();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  size_t count = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex);
      count = reported.size();
    }
    if (count > 0) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(count, 1u);
  std::this_thread::sleep_for(2500ms);  // two more idle rechecks, each a failed claim
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_NE(reported[0].find("locked"), std::string::npos) << reported[0];
  }
  write_lock.release();
  const JobId id = enqueue("rip");
  EXPECT_EQ(wait_for_state(id, JobState::kCompleted).state, JobState::kCompleted);
  pool.stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(reported.size(), 1u);
}

// A handler's log and checkpoint writes that meet a busy store wait and retry: the run
// is not failed for it (a good run charged a failure would run twice).
TEST_F(WorkerPoolTest, LogAndCheckpointWritesWaitOutABusyStore) {
  auto client = impatient_client();
  std::atomic<int> reported{0};
  auto opts = options();
  opts.on_store_error = [&](const Error&) { ++reported; };
  std::atomic<bool> running{false};
  std::atomic<bool> locked{false};
  WorkerPool pool(client, opts);
  pool.handle("rip", [&](JobContext& ctx) {
    running = true;
    while (!locked) std::this_thread::sleep_for(1ms);
    ctx.log("track 1 done\n");
    ctx.save_checkpoint({{"track", 1}});
    return Outcome::completed();
  });
  pool.start();
  const JobId id = enqueue("rip");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!running && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(running);
  WriteLock write_lock = hold_write_lock();
  locked = true;
  while (reported == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(700ms);  // several retries of the same outage
  EXPECT_EQ(client_->get(id).state, JobState::kRunning);
  write_lock.release();

  const Job job = wait_for_state(id, JobState::kCompleted);
  EXPECT_EQ(job.state, JobState::kCompleted);
  EXPECT_EQ(job.attempt, 1);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.checkpoint, Json({{"track", 1}}));
  std::string log;
  for (const auto& chunk : client_->store()->read_log(id, 0)) log += chunk.text;
  EXPECT_EQ(log, "track 1 done\n");
  pool.stop();
  EXPECT_EQ(reported.load(), 1);
  EXPECT_EQ(pool.runs_unrecorded(), 0);
}

// A stop that cannot record how a run ended gives up after a while and says how many.
TEST_F(WorkerPoolTest, StopCountsTheRunsWhoseEndItCouldNotRecord) {
  auto client = impatient_client();
  std::atomic<bool> running{false};
  WorkerPool pool(client, options());
  pool.handle("rip", [&](JobContext& ctx) {
    running = true;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
    return Outcome::retry("interrupted");
  });
  pool.start();
  const JobId id = enqueue("rip");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!running && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(running);
  WriteLock write_lock = hold_write_lock();
  pool.stop();
  EXPECT_EQ(pool.runs_unrecorded(), 1);
  write_lock.release();
  EXPECT_EQ(client_->get(id).state, JobState::kRunning);  // until rescued
}

// A database merely locked by another process is writable: start() does not wait for
// the lock or fail on it (the read-only case is CliDatabase.ReadOnlyFile…), and the
// pool runs the job once the lock is let go.
TEST_F(WorkerPoolTest, StartDoesNotFailWhileAnotherProcessHoldsTheLock) {
  auto client = impatient_client();
  const JobId id = enqueue("rip");
  WriteLock write_lock = hold_write_lock();
  WorkerPool pool(client, options());
  pool.handle("rip", [](JobContext&) { return Outcome::completed(); });
  EXPECT_NO_THROW(pool.start());
  write_lock.release();
  EXPECT_EQ(wait_for_state(id, JobState::kCompleted).state, JobState::kCompleted);
  pool.stop();
}

TEST_F(WorkerPoolTest, RejectsBadOptions) {
  auto opts = options(0);
  try {
    WorkerPool pool(client_, opts);
    FAIL() << "expected invalid_argument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace quern
