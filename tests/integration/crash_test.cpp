// Crash tests with real processes: `quern worker` children are killed with SIGKILL at
// random, frozen with SIGSTOP past their lease, stopped with SIGTERM while a job
// ignores it, and restarted after dying — and each test ends by checking the invariants
// in the database itself: nothing lost, nothing completed twice, attempts never go
// down, no temp dir left behind. The kill -9 test runs on PostgreSQL too, and there the
// workers' connections are also cut (pg_terminate_backend) while they work, when
// QUERN_TEST_POSTGRES_URL names a server (scripts/postgres-test-server.sh run).
//
// QUERN_CRASH_SCALE (default 1) scales the random test's job and kill counts, for slow
// builds (TSan) or for a longer soak; QUERN_CRASH_SEED replays a random run.
#include "crash_fixture.h"

namespace quern::crash_test {
namespace {

namespace fs = std::filesystem;

// --- 1. kill -9 at random, many times -------------------------------------------------

// On every backend: SQLite always, PostgreSQL when there is a test server (a schema of
// its own, commits synchronous as in production).
class CrashKillNine : public CrashFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  bool on_postgres() const { return GetParam() == "Postgres"; }
  std::string schema() const { return "crash_kill_nine_" + std::to_string(getpid()); }
  std::string database_url() const override {
    return on_postgres() ? postgres_test::postgres_schema_url(schema()) : CrashFixture::database_url();
  }
  // Each worker names its sessions, so a frozen one's can be ended.
  std::string application(size_t index) const {
    return "quern-crash-" + std::to_string(getpid()) + "-worker-" + std::to_string(index);
  }
  std::string worker_database_url(size_t index) const override {
    return on_postgres() ? database_url() + "&application_name=" + application(index) : database_url();
  }
  // The server may still be running a COMMIT the worker sent just before it froze: end
  // the worker's sessions (a cut connection, as a network failure would) and wait until
  // they are gone. The kill that follows then cuts short exactly the runs read next.
  void settle_frozen_worker(size_t index) override {
    if (on_postgres()) terminate_postgres_sessions(application(index), /*wait_until_gone=*/true);
  }
  void drop_database() override {
    if (on_postgres()) postgres_test::drop_postgres_schema(schema());
  }
};

std::vector<std::string> crash_backends() {
  std::vector<std::string> backends = {"Sqlite"};
  if (postgres_test::postgres_test_url()) backends.push_back("Postgres");
  return backends;
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashKillNine, ::testing::ValuesIn(crash_backends()),
                         [](const auto& info) { return info.param; });

// One run of a job that was leased to a worker when that worker was SIGKILLed.
struct KilledRun {
  JobId id = 0;
  int attempt = 0;
  pid_t worker = 0;
};

// Three workers run a few hundred short shell jobs while one at random is SIGKILLed and
// replaced, again and again. Each run appends "<job id> <attempt>" to runs.txt as it
// starts. Just before each kill the worker is frozen (SIGSTOP) so the jobs it holds can
// be read exactly: those are the only runs the kill can cut short.
//
// The bound on re-runs, by design: a run is recorded under its attempt, and an attempt
// is claimed once, so a line never repeats. A run completes unless its worker dies
// holding it (with no other failures in these jobs, and heartbeats at a third of the
// lease keeping live workers' leases); its shell keeps running in its own process group
// and may still append its line, and the rescue sends the job to a new attempt. So each
// (job, attempt) held by a killed worker adds at most one line beyond the one run that
// completes — not two: the rescued job's next run is the one that completes, or else is
// itself a run held by a later kill, counted there. Hence
//   lines - jobs <= runs held by killed workers,
// line by line: every line but each job's completing one is a run a killed worker held.
TEST_P(CrashKillNine, EveryJobCompletesExactlyOnceAndReRunsAreBoundedByTheKills) {
  const uint32_t seed = crash_seed();
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("QUERN_CRASH_SEED=" + std::to_string(seed));
  std::mt19937 random(seed);
  const int job_count = scaled(400);
  const int kill_count = scaled(20);
  constexpr int kWorkers = 3;

  std::vector<NewJob> batch;
  for (int i = 0; i < job_count; ++i) {
    batch.push_back(shell_job("echo \"$QUERN_JOB_ID $QUERN_ATTEMPT\" >> runs.txt; sleep 0.05", 1000));
  }
  std::set<JobId> enqueued;
  for (const auto& result : client_->enqueue_many(batch)) enqueued.insert(result.job.id);
  ASSERT_EQ(enqueued.size(), static_cast<size_t>(job_count));

  const std::vector<std::string> worker_args = {"--concurrency", "4", "--lease", "10s"};
  std::vector<TestProcess*> live;
  for (int i = 0; i < kWorkers; ++i) live.push_back(&start_worker(worker_args));

  std::vector<KilledRun> killed_runs;
  std::uniform_int_distribution<int> pause_ms(50, 300);
  std::uniform_int_distribution<int> pick(0, kWorkers - 1);
  int kills_while_working = 0;
  for (int kill = 0; kill < kill_count; ++kill) {
    // The random moment is the point here: the sleep chooses when to crash, it does
    // not wait for anything to happen.
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    TestProcess*& victim = live[pick(random)];
    victim->signal(SIGSTOP);
    ASSERT_TRUE(victim->wait_until_stopped()) << "worker " << victim->pid() << " exited: " << victim->output();
    settle_frozen_worker(index_of(*victim));
    JobFilter running;
    running.states = {JobState::kRunning};
    running.limit = job_count;
    int held = 0;
    for (const Job& job : store_->list_jobs(running)) {
      if (owned_by(job, victim->pid())) {
        killed_runs.push_back({job.id, job.attempt, victim->pid()});
        ++held;
      }
    }
    kills_while_working += held > 0;
    EXPECT_EQ(victim->kill_and_reap(), 128 + SIGKILL);
    // The replacement is not waited for: a kill may land in its start-up too.
    victim = &start_worker(worker_args, /*wait_until_started=*/false);
  }

  const bool all_completed = cli_test::eventually(
      [&] { return store_->stats().total(JobState::kCompleted) == job_count; }, scaled(120) * 1000ms);
  for (TestProcess* worker : live) stop_gracefully(*worker);
  ASSERT_TRUE(all_completed) << "completed " << store_->stats().total(JobState::kCompleted) << " of " << job_count;

  // Nothing lost: every enqueued job is there, completed.
  JobFilter every;
  every.limit = job_count + 1;
  const std::vector<Job> jobs = store_->list_jobs(every);
  ASSERT_EQ(jobs.size(), enqueued.size());
  std::set<std::pair<JobId, int>> held_by_killed;
  for (const auto& run : killed_runs) {
    EXPECT_TRUE(held_by_killed.insert({run.id, run.attempt}).second)
        << "job " << run.id << " attempt " << run.attempt << " held by two killed workers";
  }

  const auto runs = read_runs(dir_ / "runs.txt");
  size_t lines = 0;
  for (const auto& [run, count] : runs) lines += static_cast<size_t>(count);
  std::map<JobId, int> completed_attempt;
  for (const Job& job : jobs) {
    ASSERT_TRUE(enqueued.count(job.id)) << "unknown job " << job.id;
    EXPECT_EQ(job.state, JobState::kCompleted) << "job " << job.id;
    const auto history = store_->job_history(job.id);
    const HistorySummary summary = check_history(job.id, history);
    EXPECT_EQ(summary.completions, 1) << "job " << job.id << describe_history(history);
    EXPECT_EQ(summary.completed_attempt, job.attempt) << "job " << job.id << describe_history(history);
    completed_attempt[job.id] = summary.completed_attempt;
    // Each failure is a rescue of a run a killed worker held, and nothing else.
    std::set<int> held;
    for (const auto& [id, attempt] : held_by_killed) {
      if (id == job.id) held.insert(attempt);
    }
    EXPECT_EQ(summary.rescued_attempts, held) << "job " << job.id << describe_history(history);
    EXPECT_EQ(job.failures, static_cast<int>(held.size())) << "job " << job.id;
    EXPECT_EQ(job.attempt, static_cast<int>(held.size()) + 1) << "job " << job.id << describe_history(history);
    EXPECT_TRUE(runs.count({job.id, job.attempt})) << "job " << job.id << " completed without its run";
  }
  for (const auto& [run, count] : runs) {
    const auto& [id, attempt] = run;
    EXPECT_EQ(count, 1) << "job " << id << " attempt " << attempt << " ran " << count << " times";
    if (attempt != completed_attempt[id]) {
      EXPECT_TRUE(held_by_killed.count(run)) << "job " << id << " attempt " << attempt
                                             << " ran, did not complete, and no killed worker held it";
    }
  }
  const auto extra_runs = static_cast<int64_t>(lines) - static_cast<int64_t>(jobs.size());
  EXPECT_LE(extra_runs, static_cast<int64_t>(held_by_killed.size()));
  EXPECT_GT(kills_while_working, 0) << "no kill hit a worker holding a job; the test proved nothing";
  EXPECT_EQ(leftover_job_temp_dirs(), std::vector<std::string>{});
  std::cout << "[ crash    ] " << kill_count << " kills (" << kills_while_working << " holding jobs), "
            << held_by_killed.size() << " runs cut short, " << extra_runs << " extra runs, " << job_count
            << " jobs\n";
}

// --- 2. SIGSTOP past the lease ---------------------------------------------------------

class CrashStoppedWorker : public CrashFixture {};

// A worker frozen past its lease loses the job to another worker, which completes it.
// The rescuer, on the same host, kills the first run's process group (it would
// otherwise run on beside the second run); when the frozen worker runs again and
// reports its run, the report is fenced off: the job stays completed by the second run.
TEST_F(CrashStoppedWorker, LoseTheJobToARescueAndCannotFinishItLate) {
  touch(dir_ / "hold-1");
  TestProcess& first = start_worker({"--concurrency", "1", "--lease", "1s"});
  const JobId id = enqueue_shell(
      "echo $$ > run-$QUERN_ATTEMPT.tmp; mv run-$QUERN_ATTEMPT.tmp run-$QUERN_ATTEMPT.pid; "
      "echo \"$QUERN_ATTEMPT\" >> started; "
      "while [ -e \"hold-$QUERN_ATTEMPT\" ]; do sleep 0.05; done; "
      "echo \"$QUERN_ATTEMPT\" >> finished");
  ASSERT_TRUE(wait_for_line("started", "1"));
  const pid_t first_run = wait_for_pid_file("run-1.pid");
  ASSERT_GT(first_run, 0);
  const Job running = job(id);
  ASSERT_EQ(running.state, JobState::kRunning);
  ASSERT_EQ(running.attempt, 1);
  ASSERT_TRUE(owned_by(running, first.pid())) << running.lease_owner;

  ASSERT_NO_FATAL_FAILURE(stop_outside_write_transaction(first));
  TestProcess& second = start_worker({"--concurrency", "1", "--lease", "1s"});
  ASSERT_TRUE(wait_for_state(id, JobState::kCompleted)) << state_name(job(id).state);
  const Job completed = job(id);
  EXPECT_EQ(completed.attempt, 2);
  EXPECT_EQ(completed.failures, 1) << "losing the lease counts a failure";
  EXPECT_TRUE(has_line(dir_ / "finished", "2"));

  // The first run's process group was killed by the rescue, while its worker was frozen.
  EXPECT_TRUE(cli_test::eventually([&] { return live_members_of_group(first_run).empty(); }, 5s));
  EXPECT_FALSE(has_line(dir_ / "finished", "1"));
  first.signal(SIGCONT);
  ASSERT_NO_FATAL_FAILURE(stop_gracefully(first));  // drains its finishes, then exits

  const Job after = job(id);
  EXPECT_EQ(after.state, JobState::kCompleted);
  EXPECT_EQ(after.attempt, 2);
  EXPECT_EQ(after.failures, 1);
  EXPECT_EQ(after.finished_at, completed.finished_at);
  const auto history = store_->job_history(id);
  const HistorySummary summary = check_history(id, history);
  EXPECT_EQ(summary.completions, 1) << describe_history(history);
  EXPECT_EQ(summary.completed_attempt, 2) << describe_history(history);
  EXPECT_EQ(summary.rescued_attempts, std::set<int>{1}) << describe_history(history);
  EXPECT_EQ(history.back().to, JobState::kCompleted) << describe_history(history);

  ASSERT_NO_FATAL_FAILURE(stop_gracefully(second));
  EXPECT_EQ(leftover_job_temp_dirs(), std::vector<std::string>{});
}

// --- 3. SIGTERM with a grace period ----------------------------------------------------

// Run by `quern worker` and by `quern serve`'s local pool.
class CrashGracefulShutdown : public CrashFixture, public ::testing::WithParamInterface<std::string> {};

INSTANTIATE_TEST_SUITE_P(Commands, CrashGracefulShutdown, ::testing::Values("worker", "serve"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// On SIGTERM a worker waits the grace period, then stops the job's whole process group
// (SIGTERM, and SIGKILL 2 s later, since this job ignores SIGTERM), exits 0 and returns
// the job to available without counting a failure; the next worker runs it again.
TEST_P(CrashGracefulShutdown, StopsTheJobsProcessGroupAndReleasesItWithoutAFailure) {
  touch(dir_ / "hold");
  constexpr auto kGrace = 1s;
  const std::vector<std::string> options = {"--concurrency", "1", "--grace", "1s"};
  TestProcess& worker = GetParam() == "serve" ? start_server(options) : start_worker(options);
  const JobId id = enqueue_shell(
      "if [ \"$QUERN_ATTEMPT\" -ge 2 ]; then exit 0; fi; "
      "trap '' TERM; "
      "(while [ -e hold ]; do sleep 0.05; done) & echo $! > child.tmp; mv child.tmp child.pid; "
      "echo $$ > shell.tmp; mv shell.tmp shell.pid; "
      "while [ -e hold ]; do sleep 0.05; done");
  const pid_t shell = wait_for_pid_file("shell.pid");
  const pid_t background = wait_for_pid_file("child.pid");
  ASSERT_GT(shell, 0);
  ASSERT_GT(background, 0);
  const pid_t group = shell;  // the job's command leads its own process group
  const auto shell_stat = read_process_stat(shell);
  const auto background_stat = read_process_stat(background);
  const auto worker_stat = read_process_stat(worker.pid());
  ASSERT_TRUE(shell_stat && background_stat && worker_stat);
  ASSERT_EQ(shell_stat->pgrp, group);
  ASSERT_EQ(background_stat->pgrp, group);
  ASSERT_NE(worker_stat->pgrp, group);
  ASSERT_EQ(job(id).state, JobState::kRunning);

  const auto signaled = SteadyClock::now();
  worker.signal(SIGTERM);
  const auto status = worker.wait_for_exit(kGrace + kKillGrace + kExitMargin);
  const auto took = SteadyClock::now() - signaled;
  ASSERT_TRUE(status.has_value()) << "no exit within grace + kill grace + margin: " << worker.output();
  EXPECT_EQ(*status, 0) << worker.output();
  // The job ignored SIGTERM, so the worker gave it the whole grace, then the whole kill grace.
  EXPECT_GE(took, kGrace + kKillGrace);

  EXPECT_EQ(live_members_of_group(group), std::vector<pid_t>{});
  EXPECT_TRUE(process_gone(shell));
  EXPECT_TRUE(process_gone(background));

  const Job released = job(id);
  EXPECT_EQ(released.state, JobState::kAvailable);
  EXPECT_EQ(released.failures, 0) << "a shutdown is not a failure";
  EXPECT_EQ(released.attempt, 1);
  EXPECT_EQ(released.lease_owner, "");

  TestProcess& next = start_worker({"--concurrency", "1"});
  ASSERT_TRUE(wait_for_state(id, JobState::kCompleted)) << state_name(job(id).state);
  const Job completed = job(id);
  EXPECT_EQ(completed.attempt, 2);
  EXPECT_EQ(completed.failures, 0);
  const auto history = store_->job_history(id);
  const HistorySummary summary = check_history(id, history);
  EXPECT_EQ(summary.completions, 1) << describe_history(history);
  EXPECT_EQ(summary.completed_attempt, 2) << describe_history(history);
  EXPECT_EQ(summary.released_attempts, std::set<int>{1}) << describe_history(history);
  EXPECT_EQ(summary.rescued_attempts, std::set<int>{}) << describe_history(history);

  ASSERT_NO_FATAL_FAILURE(stop_gracefully(next));
  EXPECT_EQ(leftover_job_temp_dirs(), std::vector<std::string>{});
}

// --- 4. Restart picks up at once -------------------------------------------------------

class CrashRestart : public CrashFixture {};

// A worker with a one-hour lease is SIGKILLed mid-job; the next worker on this host
// sees the owner is dead and rescues the job during its start-up, without waiting for
// the lease, kills the orphaned first run (its command and what it started), then runs
// the job to completion.
TEST_F(CrashRestart, RescuesDeadOwnerAtStartUpWithoutWaitingForTheLease) {
  touch(dir_ / "hold");
  TestProcess& killed = start_worker({"--concurrency", "1", "--lease", "1h"});
  const JobId id = enqueue_shell(
      "echo \"$QUERN_ATTEMPT\" >> started; "
      "if [ \"$QUERN_ATTEMPT\" -ge 2 ]; then exit 0; fi; "
      "(while [ -e hold ]; do sleep 0.05; done) & echo $! > child.tmp; mv child.tmp child.pid; "
      "echo $$ > shell.tmp; mv shell.tmp shell.pid; "
      "while [ -e hold ]; do sleep 0.05; done");
  ASSERT_TRUE(wait_for_line("started", "1"));
  const pid_t shell = wait_for_pid_file("shell.pid");
  const pid_t background = wait_for_pid_file("child.pid");
  ASSERT_GT(shell, 0);
  ASSERT_GT(background, 0);
  const Job running = job(id);
  ASSERT_EQ(running.state, JobState::kRunning);
  ASSERT_TRUE(owned_by(running, killed.pid())) << running.lease_owner;
  ASSERT_TRUE(running.lease_expires_at.has_value());
  ASSERT_GT(*running.lease_expires_at, client_->clock().now() + std::chrono::minutes(30));
  EXPECT_FALSE(leftover_job_temp_dirs().empty()) << "the running job should have its temp dir";

  EXPECT_EQ(killed.kill_and_reap(), 128 + SIGKILL);
  EXPECT_FALSE(process_gone(shell)) << "a kill -9 of the worker leaves its job's process group running";
  TestProcess& restarted = start_worker({"--concurrency", "1", "--lease", "1h"});
  // Its start line comes after its start-up rescue: the job is no longer the dead one's,
  // and the orphaned run is gone.
  const HistorySummary at_start = check_history(id, store_->job_history(id));
  EXPECT_EQ(at_start.rescued_attempts, std::set<int>{1}) << describe_history(store_->job_history(id));
  // (SIGKILL is delivered asynchronously: give it a moment.)
  EXPECT_TRUE(cli_test::eventually([&] { return live_members_of_group(shell).empty(); }, 5s));
  EXPECT_TRUE(process_gone(shell));
  EXPECT_TRUE(process_gone(background));

  ASSERT_TRUE(wait_for_state(id, JobState::kCompleted)) << state_name(job(id).state);
  const Job completed = job(id);
  EXPECT_EQ(completed.attempt, 2);
  EXPECT_EQ(completed.failures, 1);
  const auto history = store_->job_history(id);
  const HistorySummary summary = check_history(id, history);
  EXPECT_EQ(summary.completions, 1) << describe_history(history);
  EXPECT_EQ(summary.completed_attempt, 2) << describe_history(history);

  ASSERT_NO_FATAL_FAILURE(stop_gracefully(restarted));
  EXPECT_EQ(leftover_job_temp_dirs(), std::vector<std::string>{});
}

// --- 5. PostgreSQL: connections cut while workers run ------------------------------------

// Workers on PostgreSQL whose connections are cut again and again (pg_terminate_backend,
// as a server restart or a network failover would) keep going: each call that fails
// with the store-unavailable error is retried by the pool on a new connection, and no
// job is lost or completed twice. A claim whose commit reached the server but whose
// answer did not leaves jobs leased to a worker that never got them: their lease
// expires and they are rescued and run, fenced like any other lost run.
class CrashPostgresConnectionLoss : public CrashFixture {
 protected:
  std::string application() const { return "quern-crash-" + std::to_string(getpid()) + "-worker"; }
  void SetUp() override {
    if (!postgres_test::postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    CrashFixture::SetUp();
  }
  void TearDown() override {
    if (postgres_test::postgres_test_url()) CrashFixture::TearDown();  // skipped: nothing was set up
  }
  std::string schema() const { return "crash_connection_loss_" + std::to_string(getpid()); }
  std::string database_url() const override { return postgres_test::postgres_schema_url(schema()); }
  // Only the workers' connections are cut, not the test's own.
  std::string worker_database_url(size_t /*index*/) const override {
    return database_url() + "&application_name=" + application();
  }
  void drop_database() override { postgres_test::drop_postgres_schema(schema()); }
};

TEST_F(CrashPostgresConnectionLoss, WorkersOutliveTheirConnectionsAndEveryJobCompletesOnce) {
  const uint32_t seed = crash_seed();
  SCOPED_TRACE("QUERN_CRASH_SEED=" + std::to_string(seed));
  std::mt19937 random(seed);
  const int job_count = scaled(300);
  std::vector<NewJob> batch;
  for (int i = 0; i < job_count; ++i) {
    batch.push_back(shell_job("echo \"$QUERN_JOB_ID $QUERN_ATTEMPT\" >> runs.txt; sleep 0.02", 1000));
  }
  client_->enqueue_many(batch);
  std::vector<TestProcess*> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(&start_worker({"--concurrency", "4", "--lease", "3s"}));

  int terminated = 0;
  std::uniform_int_distribution<int> pause_ms(100, 300);
  for (int round = 0; round < scaled(8); ++round) {
    // The random moment is the point: the sleep chooses when to cut, it waits for nothing.
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    terminated += terminate_postgres_sessions(application(), /*wait_until_gone=*/false);
  }
  const bool all_completed = cli_test::eventually(
      [&] { return store_->stats().total(JobState::kCompleted) == job_count; }, scaled(120) * 1000ms);
  for (TestProcess* worker : workers) stop_gracefully(*worker);  // alive, and exit 0
  ASSERT_TRUE(all_completed) << "completed " << store_->stats().total(JobState::kCompleted) << " of " << job_count;
  EXPECT_GT(terminated, 0) << "no connection was cut; the test proved nothing";

  const auto runs = read_runs(dir_ / "runs.txt");
  JobFilter every;
  every.limit = job_count + 1;
  const std::vector<Job> jobs = store_->list_jobs(every);
  ASSERT_EQ(jobs.size(), static_cast<size_t>(job_count));
  int rescued = 0;
  for (const Job& job : jobs) {
    EXPECT_EQ(job.state, JobState::kCompleted) << "job " << job.id;
    const auto history = store_->job_history(job.id);
    const HistorySummary summary = check_history(job.id, history);
    EXPECT_EQ(summary.completions, 1) << "job " << job.id << describe_history(history);
    EXPECT_EQ(job.failures, static_cast<int>(summary.rescued_attempts.size())) << describe_history(history);
    EXPECT_TRUE(runs.count({job.id, job.attempt})) << "job " << job.id << " completed without its run";
    for (const auto& e : history) {
      if (e.from == JobState::kRunning && e.to != JobState::kCompleted) {
        EXPECT_EQ(e.detail, "lease expired") << "job " << job.id << describe_history(history);
      }
    }
    rescued += static_cast<int>(summary.rescued_attempts.size());
  }
  for (const auto& [run, count] : runs) {
    EXPECT_EQ(count, 1) << "job " << run.first << " attempt " << run.second << " ran " << count << " times";
  }
  std::cout << "[ crash    ] " << terminated << " connections cut, " << rescued << " runs rescued, " << job_count
            << " jobs\n";
}


// --- 6. The maintenance leader killed (PostgreSQL) -------------------------------------

// Three workers on one PostgreSQL schema elect one maintenance leader (a session
// advisory lock). When it is killed -9, its session ends and another worker takes the
// lock over, so a lease that expires afterwards is still rescued and the job finished.
class CrashPostgresLeader : public CrashFixture {
 protected:
  void SetUp() override {
    if (!postgres_test::postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    CrashFixture::SetUp();
  }
  void TearDown() override {
    if (postgres_test::postgres_test_url()) CrashFixture::TearDown();  // skipped: nothing was set up
  }
  std::string schema() const { return "crash_leader_" + std::to_string(getpid()); }
  std::string database_url() const override { return postgres_test::postgres_schema_url(schema()); }
  void drop_database() override { postgres_test::drop_postgres_schema(schema()); }
};

TEST_F(CrashPostgresLeader, KilledLeaderIsReplacedAndExpiredLeasesAreStillRescued) {
  std::vector<TestProcess*> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(&start_worker({"--concurrency", "1", "--lease", "1s"}));
  ASSERT_TRUE(cli_test::eventually([&] { return !leaders_among(workers).empty(); }));
  // Each worker tries once a second; give every one a few tries before counting.
  for (TestProcess* worker : workers) {
    ASSERT_TRUE(worker->wait_for_output_line("quern worker: 1 slot")) << worker->output();
  }
  ASSERT_FALSE(cli_test::eventually([&] { return leaders_among(workers).size() > 1; }, 3s))
      << "more than one leader at once";
  const std::vector<TestProcess*> first_leaders = leaders_among(workers);
  ASSERT_EQ(first_leaders.size(), 1u);
  TestProcess* killed = first_leaders[0];
  killed->kill_and_reap();
  std::vector<TestProcess*> survivors;
  for (TestProcess* worker : workers) {
    if (worker != killed) survivors.push_back(worker);
  }
  ASSERT_TRUE(cli_test::eventually([&] { return leaders_among(survivors).size() == 1; }))
      << "no survivor took leadership over";

  // A job whose lease expires after the leader died: its worker is frozen past the lease.
  touch(dir_ / "hold-1");
  const JobId id = enqueue_shell(
      "echo \"$QUERN_ATTEMPT\" >> started; "
      "while [ -e \"hold-$QUERN_ATTEMPT\" ]; do sleep 0.05; done; "
      "echo \"$QUERN_ATTEMPT\" >> finished");
  ASSERT_TRUE(wait_for_line("started", "1"));
  const Job running = job(id);
  ASSERT_EQ(running.state, JobState::kRunning);
  TestProcess* frozen = nullptr;
  for (TestProcess* worker : survivors) {
    if (owned_by(running, worker->pid())) frozen = worker;
  }
  ASSERT_NE(frozen, nullptr) << running.lease_owner;
  frozen->signal(SIGSTOP);
  ASSERT_TRUE(frozen->wait_until_stopped()) << frozen->output();
  // The other survivor rescues it once the lease expired: at once if it leads, or once
  // the frozen leader's silent session has been ended by the server (the leadership ttl).
  ASSERT_TRUE(wait_for_state(id, JobState::kCompleted, 60s)) << state_name(job(id).state);
  frozen->signal(SIGCONT);
  for (TestProcess* worker : survivors) ASSERT_NO_FATAL_FAILURE(stop_gracefully(*worker));

  const Job completed = job(id);
  EXPECT_EQ(completed.attempt, 2);
  EXPECT_EQ(completed.failures, 1) << "losing the lease counts a failure";
  EXPECT_TRUE(has_line(dir_ / "finished", "2"));
  EXPECT_FALSE(has_line(dir_ / "finished", "1")) << "the frozen run was not ended by the rescue";
  const auto history = store_->job_history(id);
  const HistorySummary summary = check_history(id, history);
  EXPECT_EQ(summary.completions, 1) << describe_history(history);
  EXPECT_EQ(summary.completed_attempt, 2) << describe_history(history);
  EXPECT_EQ(summary.rescued_attempts, std::set<int>{1}) << describe_history(history);
  EXPECT_EQ(store_->stats().total(JobState::kCompleted), 1);
  EXPECT_EQ(leftover_job_temp_dirs(), std::vector<std::string>{});
}

}  // namespace
}  // namespace quern::crash_test
