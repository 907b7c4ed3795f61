// Maintenance under one leader: two processes' maintenance (two Stores on one SQLite
// database, a simulated clock) — only the leader rescues expired leases, promotes and
// expires, while each rescues its own host's dead processes' jobs whatever the
// leadership; leadership changes are reported and pass on when the leader lets go.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "core/host_identity.h"
#include "core/time_format.h"
#include "engine/maintenance.h"
#include "quern/client.h"
#include "quern/clock.h"
#include "store/store.h"

namespace quern {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class MaintenanceLeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quern-leader-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clock_ = std::make_shared<SimulatedClock>();
    first_store_ = open_store((dir_ / "q.db").string());
    second_store_ = open_store((dir_ / "q.db").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  JobId enqueue(std::optional<Time> run_at = std::nullopt) {
    NewJob job;
    job.type = "t";
    job.run_at = run_at;
    return first_store_->enqueue_jobs({job}, clock_->now()).at(0).job.id;
  }
  JobId claim(const std::string& owner, Duration lease) {
    ClaimParams params;
    params.owner = owner;
    params.lease = lease;
    params.now = clock_->now();
    return first_store_->claim_jobs(params).at(0).id;
  }
  JobState state_of(JobId id) { return first_store_->get_job(id)->state; }

  fs::path dir_;
  std::shared_ptr<SimulatedClock> clock_;
  std::shared_ptr<Store> first_store_;
  std::shared_ptr<Store> second_store_;
};

// An owner string of this host whose process is gone (its start time does not match).
std::string dead_local_owner() {
  std::string owner = this_process_owner();
  return owner.substr(0, owner.rfind('/') + 1) + "1";
}

TEST_F(MaintenanceLeaderTest, OnlyTheLeaderRescuesPromotesAndExpires) {
  Maintenance first(first_store_, clock_, dir_ / "tmp-1");
  Maintenance second(second_store_, clock_, dir_ / "tmp-2");
  std::vector<bool> first_changes, second_changes;
  first.on_leadership_change([&](bool leader) { first_changes.push_back(leader); });
  second.on_leadership_change([&](bool leader) { second_changes.push_back(leader); });

  first.run_pass();
  second.run_pass();
  EXPECT_TRUE(first.is_leader());
  EXPECT_FALSE(second.is_leader());

  const JobId leased = enqueue();
  ASSERT_EQ(claim("another-host/-/-/-/1/1", 5s), leased);
  const JobId scheduled = enqueue(clock_->now() + 2s);
  clock_->advance(6s);  // the lease (5 s) expired and the scheduled job is due
  second.run_pass();
  EXPECT_EQ(state_of(leased), JobState::kRunning) << "a follower rescued an expired lease";
  EXPECT_EQ(state_of(scheduled), JobState::kScheduled) << "a follower promoted a due job";
  first.run_pass();
  EXPECT_EQ(state_of(leased), JobState::kAvailable);
  EXPECT_EQ(state_of(scheduled), JobState::kAvailable);

  first.release_leadership();
  second.run_pass();
  EXPECT_TRUE(second.is_leader());
  first.run_pass();
  EXPECT_FALSE(first.is_leader());
  EXPECT_EQ(first_changes, (std::vector<bool>{true, false}));
  EXPECT_EQ(second_changes, (std::vector<bool>{true}));
}

// A cron entry added through a Client fires on the leader's pass once its minute has
// come, and once only, whatever the followers do.
TEST_F(MaintenanceLeaderTest, OnlyTheLeaderFiresCronEntries) {
  clock_->set(parse_rfc3339("2026-03-01T11:59:55Z"));
  Client client(first_store_, clock_);
  CronEntry entry;
  entry.name = "hourly-report";
  entry.schedule = "0 * * * *";
  entry.job.type = "report";
  const CronEntry stored = client.put_cron(entry);
  EXPECT_EQ(stored.next_run_at, parse_rfc3339("2026-03-01T12:00:00Z"));

  Maintenance first(first_store_, clock_, dir_ / "tmp-1");
  Maintenance second(second_store_, clock_, dir_ / "tmp-2");
  first.run_pass();
  second.run_pass();
  ASSERT_TRUE(first.is_leader());
  EXPECT_TRUE(first_store_->list_jobs(JobFilter{}).empty());

  clock_->set(parse_rfc3339("2026-03-01T12:00:01Z"));
  second.run_pass();
  EXPECT_TRUE(first_store_->list_jobs(JobFilter{}).empty()) << "a follower fired a cron entry";
  first.run_pass();
  first.run_pass();
  const auto jobs = first_store_->list_jobs(JobFilter{});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].type, "report");
  EXPECT_EQ(jobs[0].state, JobState::kAvailable);
  const auto entries = client.cron_entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].next_run_at, parse_rfc3339("2026-03-01T13:00:00Z"));
  EXPECT_EQ(entries[0].last_job_id, std::optional<JobId>(jobs[0].id));
}

// Retention set through a Client: the leader's pass deletes each queue's finished jobs
// once they are older than that queue keeps them, per state, and a follower's pass
// deletes nothing. A backlog larger than a batch goes in one pass.
TEST_F(MaintenanceLeaderTest, OnlyTheLeaderDeletesFinishedJobsPastTheirQueuesRetention) {
  Client client(first_store_, clock_);
  client.set_retention("media", {{JobState::kCompleted, 1h}, {JobState::kFailed, 24h}});
  client.set_retention("scratch", {{JobState::kCompleted, Duration::zero()}});
  Maintenance first(first_store_, clock_, dir_ / "tmp-1");
  Maintenance second(second_store_, clock_, dir_ / "tmp-2");
  first.run_pass();
  ASSERT_TRUE(first.is_leader());

  auto run_all = [&](const std::string& queue, int n, FinishOutcome outcome) {
    std::vector<NewJob> jobs(n);
    for (auto& job : jobs) {
      job.type = "t";
      job.queue = queue;
    }
    first_store_->enqueue_jobs(jobs, clock_->now());
    ClaimParams params;
    params.owner = "another-host/-/-/-/1/1";
    params.queues = {queue};
    params.max = n;
    params.now = clock_->now();
    std::vector<JobFinish> finishes;
    std::vector<JobId> ids;
    for (const Job& job : first_store_->claim_jobs(params)) {
      finishes.push_back({job.id, job.attempt, outcome, nullptr, "x", {}});
      ids.push_back(job.id);
    }
    first_store_->finish_jobs(finishes, clock_->now());
    return ids;
  };
  const auto media_done = run_all("media", 3, FinishOutcome::kCompleted);
  const auto media_failed = run_all("media", 2, FinishOutcome::kFail);
  const auto kept_for_ever = run_all("default", 2, FinishOutcome::kCompleted);
  const auto scratch = run_all("scratch", 2500, FinishOutcome::kCompleted);
  ASSERT_EQ(scratch.size(), 2500u);

  clock_->advance(1s);
  second.run_pass();
  EXPECT_EQ(client.stats().total(JobState::kCompleted), 2505) << "a follower deleted jobs";
  first.run_pass();
  EXPECT_EQ(client.stats().total(JobState::kCompleted), 5);  // zero retention: the next pass
  EXPECT_FALSE(client.store()->get_job(scratch.back()).has_value());

  clock_->advance(1h);
  first.run_pass();
  for (JobId id : media_done) EXPECT_FALSE(first_store_->get_job(id).has_value()) << id;
  for (JobId id : media_failed) EXPECT_EQ(state_of(id), JobState::kFailed) << id;
  clock_->advance(23h);
  first.run_pass();
  for (JobId id : media_failed) EXPECT_FALSE(first_store_->get_job(id).has_value()) << id;
  for (JobId id : kept_for_ever) EXPECT_EQ(state_of(id), JobState::kCompleted) << id;
}

// An entry that cannot fire (a template this Quern cannot read) is reported, and the
// rest of the pass (retention, file dependencies) still runs.
TEST_F(MaintenanceLeaderTest, ACronEntryThatCannotFireDoesNotHoldUpThePass) {
  CronEntry entry;
  entry.name = "broken";
  entry.schedule = "* * * * *";
  entry.job.type = "report";
  entry.next_run_at = clock_->now();
  first_store_->put_cron_entry(entry, clock_->now());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "q.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE cron_entries SET job = '{\"not\": \"a template\"}'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  const fs::path file = dir_ / "ready";
  NewJob waiting;
  waiting.type = "t";
  waiting.needs_files = {file.string()};
  const JobId id = first_store_->enqueue_jobs({waiting}, clock_->now()).at(0).job.id;
  std::ofstream(file) << "x";
  // A job its queue keeps for no time.
  first_store_->set_queue_retention("scratch", {{JobState::kCanceled, Duration::zero()}}, clock_->now());
  NewJob scratch;
  scratch.type = "t";
  scratch.queue = "scratch";
  const JobId pruned = first_store_->enqueue_jobs({scratch}, clock_->now()).at(0).job.id;
  first_store_->cancel_job(pruned, clock_->now());

  Maintenance maintenance(first_store_, clock_, dir_ / "tmp-1");
  EXPECT_THROW(maintenance.run_pass(), Error);
  EXPECT_TRUE(maintenance.is_leader());
  EXPECT_EQ(state_of(id), JobState::kAvailable) << "file dependencies waited on a broken cron entry";
  EXPECT_FALSE(first_store_->get_job(pruned).has_value()) << "retention waited on a broken cron entry";
}

TEST_F(MaintenanceLeaderTest, FollowerStillRescuesItsOwnHostsDeadProcesses) {
  Maintenance first(first_store_, clock_, dir_ / "tmp-1");
  Maintenance second(second_store_, clock_, dir_ / "tmp-2");
  first.run_pass();
  const JobId id = enqueue();
  ASSERT_EQ(claim(dead_local_owner(), 1h), id);
  second.run_pass();
  EXPECT_FALSE(second.is_leader());
  EXPECT_EQ(state_of(id), JobState::kAvailable) << "a follower left its host's dead process's job running";
}

// Processes sharing a temp root (one host, one database) search for dead local
// processes' jobs one at a time: the search reads every lease owner of the database.
TEST_F(MaintenanceLeaderTest, OneProcessPerHostSearchesForDeadProcessesAndAnotherTakesOver) {
  auto first = std::make_unique<Maintenance>(first_store_, clock_, dir_ / "tmp");
  Maintenance second(second_store_, clock_, dir_ / "tmp");
  first->run_pass();
  EXPECT_TRUE(first->runs_host_checks());
  EXPECT_FALSE(second.runs_host_checks());
  const JobId id = enqueue();
  ASSERT_EQ(claim(dead_local_owner(), 1h), id);
  second.run_pass();
  EXPECT_EQ(state_of(id), JobState::kRunning) << "the second process searched too";
  first->run_pass();
  EXPECT_EQ(state_of(id), JobState::kAvailable);
  first.reset();  // as if it died: the kernel lets its lock go
  ASSERT_EQ(claim(dead_local_owner(), 1h), id);
  second.run_pass();
  EXPECT_TRUE(second.runs_host_checks());
  EXPECT_EQ(state_of(id), JobState::kAvailable) << "nobody took the search over";
}

TEST_F(MaintenanceLeaderTest, FollowerTakesOverWhenTheLeaderStopsRenewing) {
  Maintenance first(first_store_, clock_, dir_ / "tmp-1");
  Maintenance second(second_store_, clock_, dir_ / "tmp-2");
  first.run_pass();
  clock_->advance(kMaintenanceLeadershipTtl - 1ms);
  second.run_pass();
  EXPECT_FALSE(second.is_leader());
  clock_->advance(1ms);  // the first process fell silent for the whole ttl
  second.run_pass();
  EXPECT_TRUE(second.is_leader());
  first.run_pass();
  EXPECT_FALSE(first.is_leader());
}

}  // namespace
}  // namespace quern
