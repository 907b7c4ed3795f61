// Finished jobs kept out of the hot path on PostgreSQL (MVCC bloat is the known
// failure of SKIP LOCKED queues): the hot tables' autovacuum and fillfactor settings,
// the claim reading only its partial index however many finished rows there are, dead
// rows gone after a vacuum, and `quern clear` removing finished jobs with all they kept.
// Runs when QUERN_TEST_POSTGRES_URL names a server (scripts/postgres-test-server.sh).
#include <libpq-fe.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include "quern/client.h"
#include "store/postgres/statements.h"
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

// A count or another number the query answers.
int64_t number_of(RawSession& raw, const std::string& sql) { return std::stoll(raw.value(sql)); }

// EXPLAIN output and the like, one line per row.
std::string joined_lines(RawSession& raw, const std::string& sql) {
  std::string text;
  for (const auto& line : raw.exec(sql)) text += line + "\n";
  return text;
}

class PostgresMvccTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "quern-mvcc-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store_ = open_store(postgres_url_for(dir_));
    schema_ = "\"test_" + dir_.filename().string() + "\"";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    store_.reset();
    drop_postgres_schema_for(dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string table(const std::string& name) const { return schema_ + "." + name; }

  std::vector<EnqueueResult> enqueue(int n, const std::string& type = "t") {
    NewJob job;
    job.type = type;
    return store_->enqueue_jobs(std::vector<NewJob>(static_cast<size_t>(n), job), clock_.now());
  }

  // Claims up to `max` jobs of type t and completes them; returns how many.
  size_t claim_and_complete(int max) {
    ClaimParams params;
    params.owner = "w";
    params.max = max;
    params.types = {"t"};
    params.now = clock_.now();
    std::vector<JobFinish> done;
    for (const Job& j : store_->claim_jobs(params)) {
      done.push_back({j.id, j.attempt, FinishOutcome::kCompleted, nullptr, {}, {}});
    }
    if (!done.empty()) store_->finish_jobs(done, clock_.now());
    return done.size();
  }

  // The plan of a claim of type t (both claim statements), prepared on `raw`.
  static std::string claim_plans(RawSession& raw, const std::string& schema) {
    raw.exec("SET search_path TO " + schema);
    raw.exec("DEALLOCATE ALL");
    raw.exec(std::string("PREPARE claim_of_types AS ") + postgres::kClaimJobsOfTypes.sql);
    raw.exec(std::string("PREPARE claim_of_any_type AS ") + postgres::kClaimJobsOfAnyType.sql);
    return joined_lines(raw, "EXPLAIN EXECUTE claim_of_types(NULL, '{t}', 1700000000000000, 5, 'w', 1700000030000000, 5)") +
           joined_lines(raw, "EXPLAIN EXECUTE claim_of_any_type(NULL, NULL, 1700000000000000, 5, 'w', 1700000030000000, 5)");
  }

  SimulatedClock clock_;
  std::filesystem::path dir_;
  std::string schema_;  // quoted
  std::shared_ptr<Store> store_;
};

TEST_F(PostgresMvccTest, HotTablesVacuumAfterThousandsOfDeadRowsNotAFifthOfThem) {
  RawSession raw;
  auto options_of = [&](const std::string& name) {
    return raw.value("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = '" + table(name) +
                     "'::regclass");
  };
  const std::string jobs = options_of("jobs");
  for (const char* option : {"fillfactor=80", "autovacuum_vacuum_threshold=1000", "autovacuum_vacuum_scale_factor=0.002",
                             "autovacuum_analyze_scale_factor=0.005", "autovacuum_vacuum_insert_scale_factor=0.01",
                             "autovacuum_vacuum_cost_delay=0"}) {
    EXPECT_NE(jobs.find(option), std::string::npos) << option << " not in " << jobs;
  }
  for (const char* counts_table : {"queue_counts", "finishes_per_minute"}) {
    const std::string options = options_of(counts_table);
    EXPECT_NE(options.find("fillfactor=50"), std::string::npos) << counts_table << ": " << options;
    EXPECT_NE(options.find("autovacuum_vacuum_scale_factor=0,"), std::string::npos) << counts_table << ": " << options;
    EXPECT_NE(options.find("autovacuum_vacuum_threshold=200"), std::string::npos) << counts_table << ": " << options;
  }
  for (const char* kept : {"job_history", "job_logs", "job_dependencies"}) {
    EXPECT_NE(options_of(kept).find("autovacuum_vacuum_scale_factor=0.01"), std::string::npos) << kept;
  }
  // The claim index holds claimable rows only.
  EXPECT_NE(raw.value("SELECT pg_get_indexdef('" + table("jobs_claimable") + "'::regclass)")
                .find("WHERE (state = 'available'::text)"),
            std::string::npos);
}

TEST_F(PostgresMvccTest, ChurnLeavesNoDeadRowsAfterVacuumAndTheClaimStaysOnItsIndex) {
  constexpr int kChurned = 20000;
  constexpr int kBatch = 1000;
  for (int n = 0; n < kChurned; n += kBatch) {
    enqueue(kBatch);
    EXPECT_EQ(claim_and_complete(kBatch), static_cast<size_t>(kBatch));
  }
  enqueue(200);  // still waiting: what a claim has to find among the finished
  RawSession raw;
  EXPECT_EQ(number_of(raw, "SELECT count(*) FROM " + table("jobs") + " WHERE state = 'completed'"), kChurned);

  // Before any vacuum (the dead row versions of every claim and finish are there).
  raw.exec("ANALYZE " + table("jobs"));
  raw.exec("ANALYZE " + table("queues"));
  std::string plans = claim_plans(raw, schema_);
  EXPECT_NE(plans.find("jobs_claimable"), std::string::npos) << plans;
  EXPECT_EQ(plans.find("Seq Scan on jobs"), std::string::npos) << plans;

  // What autovacuum does once the dead rows pass the threshold, run now.
  raw.exec("VACUUM (ANALYZE) " + table("jobs"));
  const std::string dead_rows =
      "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = '" + table("jobs") + "'::regclass";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int64_t dead = number_of(raw, dead_rows);
  while (dead > 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    dead = number_of(raw, dead_rows);
  }
  EXPECT_LE(dead, 100) << "dead row versions left in jobs after VACUUM";
  EXPECT_EQ(number_of(raw, "SELECT count(*) FROM " + table("jobs") + " WHERE state = 'available'"), 200);

  plans = claim_plans(raw, schema_);
  EXPECT_NE(plans.find("jobs_claimable"), std::string::npos) << plans;
  EXPECT_EQ(plans.find("Seq Scan on jobs"), std::string::npos) << plans;
  // And claiming still works on the vacuumed table.
  EXPECT_EQ(claim_and_complete(500), 200u);
}

// A finish or heartbeat of a batch reads its jobs through the primary key, however many
// jobs the table holds: joined to the batch's arrays alone, with the table's statistics
// taken while it was small (as autovacuum leaves them while a queue fills), the default
// costs scanned and hashed the whole table for every batch of a few hundred.
TEST_F(PostgresMvccTest, BatchFinishesAndHeartbeatsReadTheirJobsByPrimaryKey) {
  RawSession raw;
  enqueue(1000);
  raw.exec("ANALYZE " + table("jobs"));
  for (int n = 1000; n < 20000; n += 1000) {
    enqueue(1000);
    claim_and_complete(500);
  }
  raw.exec("SET search_path TO " + schema_);
  // The default random_page_cost, not the 1.1 of Quern's sessions: the statements alone
  // must lead to the primary key.
  raw.exec(std::string("PREPARE end_runs AS ") + postgres::kEndRuns.sql);
  raw.exec(std::string("PREPARE heartbeat_jobs AS ") + postgres::kHeartbeatJobs.sql);
  // A batch of 500: the plan depends on the arrays' length, not on their values.
  const std::string ids = "array_fill(7::bigint, ARRAY[500])";
  const std::string plans =
      joined_lines(raw, "EXPLAIN EXECUTE end_runs(" + ids +
                            ", array_fill('completed'::text, ARRAY[500]), array_fill(0, ARRAY[500]),"
                            " array_fill(NULL::text, ARRAY[500]), array_fill(NULL::bigint, ARRAY[500]),"
                            " array_fill(1::bigint, ARRAY[500]), array_fill(NULL::text, ARRAY[500]), 1)") +
      joined_lines(raw, "EXPLAIN EXECUTE heartbeat_jobs(" + ids +
                            ", array_fill(1, ARRAY[500]), array_fill(2::bigint, ARRAY[500]),"
                            " array_fill(NULL::float8, ARRAY[500]), array_fill(NULL::text, ARRAY[500]),"
                            " array_fill(NULL::text, ARRAY[500]), 1, 30000000)");
  EXPECT_EQ(plans.find("Seq Scan on jobs"), std::string::npos) << plans;
  EXPECT_NE(plans.find("jobs_pkey"), std::string::npos) << plans;
}

TEST_F(PostgresMvccTest, ClearingFinishedJobsRemovesThemWithTheirHistoryAndLogs) {
  const auto jobs = enqueue(3);
  ClaimParams params;
  params.owner = "w";
  params.max = 3;
  params.now = clock_.now();
  const auto claimed = store_->claim_jobs(params);
  ASSERT_EQ(claimed.size(), 3u);
  for (const Job& j : claimed) ASSERT_EQ(store_->append_log(j.id, j.attempt, "line\n", clock_.now()), FinishStatus::kOk);
  // Two complete; the third stays running and keeps everything.
  store_->finish_jobs({{claimed[0].id, claimed[0].attempt, FinishOutcome::kCompleted, nullptr, {}, {}},
                       {claimed[1].id, claimed[1].attempt, FinishOutcome::kFail, nullptr, "boom", {}}},
                      clock_.now());
  auto client = std::make_shared<Client>(store_, nullptr);
  EXPECT_EQ(client->clear({JobState::kCompleted, JobState::kFailed}), 2);

  RawSession raw;
  const std::string finished = "(" + std::to_string(claimed[0].id) + ", " + std::to_string(claimed[1].id) + ")";
  for (const char* kept : {"jobs", "job_history", "job_logs"}) {
    const std::string column = std::string(kept) == "jobs" ? "id" : "job_id";
    EXPECT_EQ(number_of(raw, "SELECT count(*) FROM " + table(kept) + " WHERE " + column + " IN " + finished), 0) << kept;
    EXPECT_GT(number_of(raw, "SELECT count(*) FROM " + table(kept) + " WHERE " + column + " = " +
                         std::to_string(claimed[2].id)),
              0)
        << kept;
  }
  const Stats stats = store_->stats();
  EXPECT_EQ(stats.total(JobState::kCompleted), 0);
  EXPECT_EQ(stats.total(JobState::kFailed), 0);
  EXPECT_EQ(stats.total(JobState::kRunning), 1);
  EXPECT_EQ(jobs.size(), 3u);
}

}  // namespace
}  // namespace quern::testing
