// Cron entries: stored, replaced, listed and deleted; due ones fire once, in one
// transaction with the jobs they enqueue, however many firings were missed and however
// many stores fire at once.
#include <atomic>
#include <latch>
#include <set>
#include <thread>

#include "core/cron_entry.h"
#include "core/time_format.h"
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

QUERN_STORE_SUITE(StoreCron);

CronEntry cron_entry(std::string name, std::string schedule, Time next_run_at) {
  CronEntry entry;
  entry.name = std::move(name);
  entry.schedule = std::move(schedule);
  entry.job.type = "report";
  entry.job.queue = "nightly";
  entry.job.payload = {{"kind", "summary"}, {"n", 3}};
  entry.next_run_at = next_run_at;
  return entry;
}

Time at(const char* rfc3339) { return parse_rfc3339(rfc3339); }

std::optional<CronEntry> find_entry(Store& store, const std::string& name) {
  for (auto& entry : store.list_cron_entries()) {
    if (entry.name == name) return entry;
  }
  return std::nullopt;
}

TEST_P(StoreCron, EntriesAreStoredListedByNameAndDeleted) {
  CronEntry entry = cron_entry("b-report", "*/5 * * * *", now() + 5min);
  entry.job.priority = 20;
  entry.job.max_attempts = 7;
  entry.job.timeout = 90s;
  entry.job.unique_key = "report";
  entry.job.tags = {"x", "y"};
  entry.job.needs_files = {"/srv/ready"};
  entry.expires_in = 10min;
  const CronEntry stored = store_->put_cron_entry(entry, now());
  EXPECT_EQ(stored.name, "b-report");
  EXPECT_EQ(stored.next_run_at, now() + 5min);
  EXPECT_EQ(stored.created_at, now());
  EXPECT_EQ(stored.updated_at, now());
  EXPECT_FALSE(stored.last_run_at.has_value());
  EXPECT_FALSE(stored.last_job_id.has_value());
  store_->put_cron_entry(cron_entry("a-cleanup", "@hourly", now() + 1h), now());

  const auto entries = store_->list_cron_entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "a-cleanup");
  const CronEntry& read = entries[1];
  EXPECT_EQ(read.name, "b-report");
  EXPECT_EQ(read.schedule, "*/5 * * * *");
  EXPECT_EQ(read.job.queue, "nightly");
  EXPECT_EQ(read.job.type, "report");
  EXPECT_EQ(read.job.payload, entry.job.payload);
  EXPECT_EQ(read.job.priority, 20);
  EXPECT_EQ(read.job.max_attempts, 7);
  EXPECT_EQ(read.job.timeout, std::optional<Duration>(90s));
  EXPECT_EQ(read.job.unique_key, std::optional<std::string>("report"));
  EXPECT_EQ(read.job.tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(read.job.needs_files, std::vector<std::string>{"/srv/ready"});
  EXPECT_EQ(read.expires_in, std::optional<Duration>(10min));
  EXPECT_EQ(read.next_run_at, now() + 5min);

  // All or none.
  EXPECT_QUERN_ERROR(store_->delete_cron_entries({"b-report", "never"}), ErrorCode::kNotFound);
  ASSERT_EQ(store_->list_cron_entries().size(), 2u);
  store_->delete_cron_entries({"b-report"});
  ASSERT_EQ(store_->list_cron_entries().size(), 1u);
  EXPECT_QUERN_ERROR(store_->delete_cron_entries({"b-report"}), ErrorCode::kNotFound);
  EXPECT_TRUE(all_jobs().empty());  // storing entries enqueues nothing
}

// An entry added without a name is numbered like a job: 1, 2, … (above any name that
// is a number), also when several are added at once.
TEST_P(StoreCron, EntriesWithoutANameAreNumbered) {
  EXPECT_EQ(store_->put_cron_entry(cron_entry("", "@daily", now() + 1h), now()).name, "1");
  store_->put_cron_entry(cron_entry("nightly", "@daily", now() + 1h), now());
  EXPECT_EQ(store_->put_cron_entry(cron_entry("", "@daily", now() + 1h), now()).name, "2");
  store_->put_cron_entry(cron_entry("41", "@daily", now() + 1h), now());
  EXPECT_EQ(store_->put_cron_entry(cron_entry("", "@daily", now() + 1h), now()).name, "42");

  std::vector<std::shared_ptr<Store>> stores = {store_, open_store_again(), open_store_again(), open_store_again()};
  std::latch start(static_cast<std::ptrdiff_t>(stores.size()));
  std::vector<std::thread> threads;
  for (auto& store : stores) {
    threads.emplace_back([&, store] {
      start.arrive_and_wait();  // all at once
      for (int i = 0; i < 5; ++i) store->put_cron_entry(cron_entry("", "@daily", now() + 1h), now());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> names;
  for (const auto& entry : store_->list_cron_entries()) names.insert(entry.name);
  EXPECT_EQ(names.size(), 5u + 20u);
  for (int n = 43; n < 63; ++n) EXPECT_TRUE(names.contains(std::to_string(n))) << n;
}

// Registering the same entries at every start-up must not move or repeat a firing;
// a new schedule starts from its own next time.
TEST_P(StoreCron, ReplacingKeepsTheNextFiringUnlessTheScheduleChanges) {
  const Time created = now();
  store_->put_cron_entry(cron_entry("report", "0 3 * * *", now() + 3h), now());
  advance(1h);
  CronEntry again = cron_entry("report", "0 3 * * *", now() + 23h);
  again.job.payload = {{"kind", "full"}};
  const CronEntry replaced = store_->put_cron_entry(again, now());
  EXPECT_EQ(replaced.next_run_at, created + 3h);
  EXPECT_EQ(replaced.job.payload, again.job.payload);
  EXPECT_EQ(replaced.created_at, created);
  EXPECT_EQ(replaced.updated_at, now());

  const CronEntry rescheduled = store_->put_cron_entry(cron_entry("report", "0 4 * * *", now() + 3h), now());
  EXPECT_EQ(rescheduled.schedule, "0 4 * * *");
  EXPECT_EQ(rescheduled.next_run_at, now() + 3h);
  EXPECT_EQ(store_->list_cron_entries().size(), 1u);
}

TEST_P(StoreCron, ADueEntryFiresOnceAndMovesToItsNextTime) {
  clock_.set(at("2026-03-01T12:01:00Z"));
  store_->put_cron_entry(cron_entry("report", "*/5 * * * *", at("2026-03-01T12:05:00Z")), now());

  clock_.set(at("2026-03-01T12:04:59Z"));
  EXPECT_TRUE(store_->fire_due_cron_entries(now()).empty());
  EXPECT_TRUE(all_jobs().empty());

  clock_.set(at("2026-03-01T12:05:00.300Z"));
  const auto fired = store_->fire_due_cron_entries(now());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_TRUE(fired[0].inserted);
  const Job job = get(fired[0].job.id);
  EXPECT_EQ(job.state, JobState::kAvailable);
  EXPECT_EQ(job.queue, "nightly");
  EXPECT_EQ(job.type, "report");
  EXPECT_EQ(job.payload, (Json{{"kind", "summary"}, {"n", 3}}));
  EXPECT_EQ(job.run_at, now());
  ASSERT_EQ(transitions(job.id).size(), 1u);  // enqueued, like any job
  auto entry = find_entry(*store_, "report");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->next_run_at, at("2026-03-01T12:10:00Z"));
  EXPECT_EQ(entry->last_run_at, std::optional<Time>(now()));
  EXPECT_EQ(entry->last_job_id, std::optional<JobId>(job.id));

  // Fired: not due again until its next time.
  EXPECT_TRUE(store_->fire_due_cron_entries(now()).empty());
  clock_.set(at("2026-03-01T12:09:59Z"));
  EXPECT_TRUE(store_->fire_due_cron_entries(now()).empty());
  EXPECT_EQ(all_jobs().size(), 1u);
  expect_counts_match_jobs();
}

// Nobody ran maintenance for an hour: the missed firings are made up by one job.
TEST_P(StoreCron, MissedFiringsAreMadeUpOnce) {
  clock_.set(at("2026-03-01T12:01:00Z"));
  store_->put_cron_entry(cron_entry("report", "*/5 * * * *", at("2026-03-01T12:05:00Z")), now());
  clock_.set(at("2026-03-01T13:02:00Z"));
  ASSERT_EQ(store_->fire_due_cron_entries(now()).size(), 1u);
  EXPECT_EQ(all_jobs().size(), 1u);
  EXPECT_EQ(find_entry(*store_, "report")->next_run_at, at("2026-03-01T13:05:00Z"));
  EXPECT_TRUE(store_->fire_due_cron_entries(now()).empty());
}

// A unique key keeps runs from overlapping: while the last firing's job is live, a
// firing enqueues nothing (and still moves on).
TEST_P(StoreCron, AUniqueKeyKeepsFiringsFromOverlapping) {
  clock_.set(at("2026-03-01T12:00:30Z"));
  CronEntry entry = cron_entry("sync", "* * * * *", at("2026-03-01T12:01:00Z"));
  entry.job.unique_key = "sync";
  store_->put_cron_entry(entry, now());

  clock_.set(at("2026-03-01T12:01:00Z"));
  const auto first = store_->fire_due_cron_entries(now());
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0].inserted);
  const Job running = claim(1, {"nightly"}).at(0);

  clock_.set(at("2026-03-01T12:02:00Z"));
  const auto second = store_->fire_due_cron_entries(now());
  ASSERT_EQ(second.size(), 1u);
  EXPECT_FALSE(second[0].inserted);
  EXPECT_EQ(second[0].job.id, running.id);
  EXPECT_EQ(find_entry(*store_, "sync")->last_job_id, std::optional<JobId>(running.id));
  EXPECT_EQ(find_entry(*store_, "sync")->next_run_at, at("2026-03-01T12:03:00Z"));
  EXPECT_EQ(all_jobs().size(), 1u);

  ASSERT_EQ(finish(running, FinishOutcome::kCompleted), FinishStatus::kOk);
  clock_.set(at("2026-03-01T12:03:00Z"));
  const auto third = store_->fire_due_cron_entries(now());
  ASSERT_EQ(third.size(), 1u);
  EXPECT_TRUE(third[0].inserted);
  EXPECT_NE(third[0].job.id, running.id);
  EXPECT_EQ(find_entry(*store_, "sync")->last_job_id, std::optional<JobId>(third[0].job.id));
}

TEST_P(StoreCron, EachFiringsJobExpiresRelativeToTheFiring) {
  clock_.set(at("2026-03-01T12:00:30Z"));
  CronEntry entry = cron_entry("poll", "* * * * *", at("2026-03-01T12:01:00Z"));
  entry.expires_in = 10min;
  store_->put_cron_entry(entry, now());
  clock_.set(at("2026-03-01T12:01:02Z"));
  const auto fired = store_->fire_due_cron_entries(now());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(get(fired[0].job.id).expires_at, std::optional<Time>(now() + 10min));
}

// Two processes' leaders overlapping (one's leadership lapsed while it was frozen)
// still fire each due entry once.
TEST_P(StoreCron, StoresFiringAtOnceFireEachEntryOnce) {
  clock_.set(at("2026-03-01T12:00:30Z"));
  for (int i = 0; i < 20; ++i) {
    store_->put_cron_entry(cron_entry("entry-" + std::to_string(i), "* * * * *", at("2026-03-01T12:01:00Z")), now());
  }
  clock_.set(at("2026-03-01T12:01:00Z"));
  std::vector<std::shared_ptr<Store>> stores = {store_, open_store_again(), open_store_again(), open_store_again()};
  std::atomic<size_t> fired{0};
  std::latch start(static_cast<std::ptrdiff_t>(stores.size()));
  std::vector<std::thread> threads;
  for (auto& store : stores) {
    threads.emplace_back([&, store] {
      start.arrive_and_wait();  // all at once
      for (int round = 0; round < 5; ++round) fired += store->fire_due_cron_entries(now()).size();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fired.load(), 20u);
  EXPECT_EQ(all_jobs().size(), 20u);
  for (const auto& entry : store_->list_cron_entries()) {
    EXPECT_EQ(entry.next_run_at, at("2026-03-01T12:02:00Z")) << entry.name;
  }
  expect_counts_match_jobs();
}

}  // namespace
}  // namespace quern::testing
