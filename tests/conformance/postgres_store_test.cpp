// What only the PostgreSQL backend has: URLs and schemas, migrations under a lock,
// NOTIFY across processes, lost connections, the claim plan, and text PostgreSQL
// cannot hold. Runs when QUERN_TEST_POSTGRES_URL names a server (see
// scripts/postgres-test-server.sh); each test works in schemas of its own.
#include <fcntl.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "store/postgres/schema.h"
#include "store/postgres/statements.h"
#include "store_fixture.h"

extern char** environ;

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "quern-postgres-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    schema_ = "test_" + dir_.filename().string();
  }
  void TearDown() override {
    if (dir_.empty()) return;
    drop_postgres_schema_for(dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return postgres_url_for(dir_); }
  std::shared_ptr<Store> open(const StoreOptions& options = {}) const { return open_store(url(), options); }
  std::string schema_table(const std::string& table) const { return "\"" + schema_ + "\"." + table; }

  static NewJob job(std::string type = "t") {
    NewJob n;
    n.type = std::move(type);
    return n;
  }

  SimulatedClock clock_;
  std::filesystem::path dir_;
  std::string schema_;
};

// Polls `done` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

// Runs the quern binary and returns its exit status.
int run_quern(std::vector<std::string> args) {
  args.insert(args.begin(), QUERN_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, QUERN_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(PostgresTest, UnreachableServerIsUnavailableInOneLineWithoutThePassword) {
  // A port nothing listens on: bind one, note it, close it.
  try {
    open_store("postgres://quern:sekrit@127.0.0.1:1/nothing?connect_timeout=2");
    ADD_FAILURE() << "opening an unreachable server must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.find("sekrit"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("127.0.0.1:1"), std::string::npos) << message;
  }
}

// A lock held past the busy timeout is the environment's doing: the message names the
// server, as a lost connection's does, not the statement that waited.
TEST_F(PostgresTest, LockHeldPastTheTimeoutIsUnavailableNamingTheServer) {
  StoreOptions options;
  options.busy_timeout = 300ms;
  auto store = open(options);
  ASSERT_TRUE(store->enqueue_jobs({job()}, clock_.now()).at(0).inserted);
  RawSession locker;
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE " + schema_table("jobs") + " IN ACCESS EXCLUSIVE MODE");
  try {
    store->get_job(1);
    ADD_FAILURE() << "a read of a locked table must time out";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
    EXPECT_NE(message.find("busy past the timeout"), std::string::npos) << message;
    EXPECT_EQ(message.find("quern_select"), std::string::npos) << message;
  }
  locker.exec("ROLLBACK");
  EXPECT_EQ(store->get_job(1).value().id, 1);
}

TEST_F(PostgresTest, BadUrlOrSchemaNameIsInvalidArgument) {
  EXPECT_QUERN_ERROR(open_store("postgres://127.0.0.1/db?no_such_parameter=1"), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(open_store(postgres_test_url().value() + "&schema=no%20spaces"), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(open_store(postgres_test_url().value() + "&schema="), ErrorCode::kInvalidArgument);
}

TEST_F(PostgresTest, SchemaOfAnotherProgramIsRefusedAndLeftAlone) {
  RawSession raw(postgres_test_url().value());
  raw.exec("CREATE SCHEMA \"" + schema_ + "\"");
  raw.exec("CREATE TABLE " + schema_table("jobs") + " (mine integer)");
  EXPECT_QUERN_ERROR(open(), ErrorCode::kDataLoss);
  const auto tables = raw.exec("SELECT table_name FROM information_schema.tables WHERE table_schema = '" + schema_ + "'");
  EXPECT_EQ(tables, std::vector<std::string>{"jobs"});
}

TEST_F(PostgresTest, StoresOpeningANewSchemaAtOnceMigrateItOnce) {
  constexpr int kOpeners = 6;
  std::vector<std::string> ids(kOpeners);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      try {
        ids[i] = open()->database_id();
      } catch (const Error& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  RawSession raw(postgres_test_url().value());
  const auto versions = raw.exec("SELECT version FROM " + schema_table("quern_schema_migrations") + " ORDER BY 1");
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ(versions.front(), "1");
  EXPECT_EQ(std::set<std::string>(versions.begin(), versions.end()).size(), versions.size());
}

TEST_F(PostgresTest, NoMigrateRefusesASchemaThatIsBehindAndCreatesNothing) {
  StoreOptions no_migrate;
  no_migrate.migrate = false;
  EXPECT_QUERN_ERROR(open(no_migrate), ErrorCode::kUnavailable);
  RawSession raw(postgres_test_url().value());
  EXPECT_EQ(raw.exec("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'"),
            std::vector<std::string>{"0"});
  open();  // migrates
  auto store = open(no_migrate);
  EXPECT_TRUE(store->enqueue_jobs({job()}, clock_.now()).at(0).inserted);
}

// The lease-length migration gives a job running at the upgrade the length of its lease (at least the
// default), so a heartbeat that names none keeps it.
TEST_F(PostgresTest, MigrationGivesRunningJobsTheLengthOfTheirLease) {
  JobId id = 0;
  int attempt = 0;
  {
    auto store = open();
    id = store->enqueue_jobs({job()}, clock_.now()).at(0).job.id;
    ClaimParams params;
    params.owner = "remote:w@test";
    params.lease = 90s;
    params.now = clock_.now();
    attempt = store->claim_jobs(params).at(0).attempt;
  }
  RawSession raw(postgres_test_url().value());
  // Back to version 4, before the lease length (5) and what came after it (cron
  // entries, ingested files, queue concurrency limits, holds and retention).
  raw.exec("ALTER TABLE " + schema_table("jobs") + " DROP COLUMN lease_us");
  raw.exec("DROP TABLE " + schema_table("cron_entries"));
  raw.exec("DROP TABLE " + schema_table("ingested_files"));
  raw.exec("ALTER TABLE " + schema_table("queues") + " DROP COLUMN concurrency_limit");
  raw.exec("ALTER TABLE " + schema_table("queues") + " DROP COLUMN held_while");
  raw.exec("DROP INDEX " + schema_table("jobs_finished_by_queue"));
  for (const char* column : {"keep_completed_us", "keep_failed_us", "keep_canceled_us", "keep_expired_us"}) {
    raw.exec("ALTER TABLE " + schema_table("queues") + " DROP COLUMN " + column);
  }
  raw.exec("DELETE FROM " + schema_table("quern_schema_migrations") + " WHERE version >= 5");
  auto store = open();
  JobHeartbeat beat;
  beat.id = id;
  beat.attempt = attempt;
  const Time later = clock_.now() + 60s;
  EXPECT_EQ(store->heartbeat_jobs({beat}, later), (std::vector<FinishStatus>{FinishStatus::kOk}));
  EXPECT_EQ(store->get_job(id)->lease_expires_at, std::optional<Time>(later + 90s));
}

TEST_F(PostgresTest, CommitOfAnotherProcessMovesTheCounterWithinMilliseconds) {
  auto store = open();
  const uint64_t before = store->change_counter();
  ASSERT_EQ(run_quern({"--db", url(), "add", "--", "true"}), 0);
  // The other process's NOTIFY arrives through this store's listening connection.
  EXPECT_TRUE(eventually([&] { return store->change_counter() != before; }, 5s));
  EXPECT_EQ(store->stats().total(JobState::kAvailable), 1);
}

TEST_F(PostgresTest, NotificationOfThisProcessIsCountedOnceAndNothingElseMovesTheCounter) {
  auto store = open();
  auto other = open();
  const uint64_t start = store->change_counter();
  other->enqueue_jobs({job()}, clock_.now());
  const uint64_t after = store->change_counter();
  EXPECT_EQ(after, start + 1);  // seen at once, through the process's shared counter
  // Its NOTIFY comes back to the listener too, and is skipped. Notifications arrive in
  // commit order, so once a later one from elsewhere is counted, ours was skipped.
  RawSession raw(postgres_test_url().value());
  raw.exec("SELECT pg_notify('quern_" + schema_ + "', 'someone else')");
  EXPECT_TRUE(eventually([&] { return store->change_counter() != after; }, 5s));
  EXPECT_EQ(store->change_counter(), after + 1);
}

TEST_F(PostgresTest, TerminatedConnectionsAreReplacedAndNoJobIsLostOrDoubled) {
  const std::string named_url = url() + "&application_name=quern-terminate-test";
  auto store = open_store(named_url);
  ASSERT_TRUE(store->enqueue_jobs({job()}, clock_.now()).at(0).inserted);
  const uint64_t before = store->change_counter();
  RawSession raw(postgres_test_url().value());
  const auto killed = raw.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'quern-terminate-test'");
  ASSERT_GE(killed.size(), 2u);  // a pooled connection and the listener

  int enqueued = 1;
  int unavailable = 0;
  for (int i = 0; i < 5; ++i) {
    try {
      store->enqueue_jobs({job()}, clock_.now());
      ++enqueued;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
      ++unavailable;
    }
  }
  EXPECT_LE(unavailable, 1);
  EXPECT_GE(enqueued, 5);
  EXPECT_EQ(store->stats().total(JobState::kAvailable), enqueued);
  // The listener reconnected (and said so by moving the counter).
  EXPECT_TRUE(eventually([&] { return store->change_counter() > before + static_cast<uint64_t>(enqueued - 1); }));
  const uint64_t settled = store->change_counter();
  ASSERT_EQ(run_quern({"--db", url(), "add", "--", "true"}), 0);
  EXPECT_TRUE(eventually([&] { return store->change_counter() != settled; }, 5s));
}

TEST_F(PostgresTest, ClaimReadsTheClaimIndexNotTheTable) {
  auto store = open();
  // A deep queue of two types, and finished jobs besides.
  std::vector<NewJob> batch(3000, job());
  for (size_t i = 0; i < batch.size(); i += 2) batch[i].type = "other";
  store->enqueue_jobs(batch, clock_.now());
  ClaimParams params;
  params.owner = "w";
  params.max = 1000;
  params.now = clock_.now();
  std::vector<JobFinish> done;
  for (const Job& j : store->claim_jobs(params)) done.push_back({j.id, j.attempt, FinishOutcome::kCompleted, nullptr, {}, {}});
  store->finish_jobs(done, clock_.now());
  RawSession raw(postgres_test_url().value());
  raw.exec("ANALYZE " + schema_table("jobs"));
  raw.exec("ANALYZE " + schema_table("queues"));
  raw.exec("SET search_path TO \"" + schema_ + "\"");
  raw.exec(std::string("PREPARE claim AS ") + postgres::kClaimJobsOfTypes.sql);
  const auto plan = raw.exec("EXPLAIN EXECUTE claim(NULL, '{t}', 1700000000000000, 5, 'w', 1700000030000000, 5)");
  std::string text;
  for (const auto& line : plan) text += line + "\n";
  EXPECT_NE(text.find("jobs_claimable"), std::string::npos) << text;
  EXPECT_EQ(text.find("Seq Scan on jobs"), std::string::npos) << text;
}

TEST_F(PostgresTest, EventFeedNeverSkipsAnEventThatCommitsLate) {
  auto writer_a = open();
  auto writer_b = open();
  auto reader = open();
  std::atomic<bool> writing{true};
  std::set<int64_t> seen;
  std::thread reading([&] {
    int64_t last = 0;
    while (true) {
      const bool last_round = !writing.load();
      for (const auto& e : reader->history_since(last, 1000)) {
        seen.insert(e.seq);
        last = e.seq;
      }
      if (last_round) break;
    }
  });
  std::vector<std::thread> writers;
  for (Store* store : {writer_a.get(), writer_b.get(), writer_a.get(), writer_b.get()}) {
    writers.emplace_back([&, store] {
      for (int i = 0; i < 40; ++i) store->enqueue_jobs({job(), job()}, clock_.now());
    });
  }
  for (auto& t : writers) t.join();
  writing = false;
  reading.join();
  std::set<int64_t> all;
  for (const auto& e : reader->history_since(0, 100000)) all.insert(e.seq);
  EXPECT_EQ(all.size(), 320u);
  EXPECT_EQ(seen, all);
}

TEST_F(PostgresTest, LogBytesComeBackExactlyAndOtherTextIsMadeValid) {
  auto store = open();
  store->enqueue_jobs({job()}, clock_.now());
  ClaimParams params;
  params.owner = "w";
  params.now = clock_.now();
  const Job running = store->claim_jobs(params).at(0);
  const std::string bytes = std::string("nul\0byte \xff\xfe end\n", 16);
  ASSERT_EQ(store->append_log(running.id, running.attempt, bytes, clock_.now()), FinishStatus::kOk);
  EXPECT_EQ(store->read_log(running.id, 0).at(0).text, bytes);
  JobFinish failed{running.id, running.attempt, FinishOutcome::kFail, nullptr, std::string("bad \xff byte\0!", 12), {}};
  ASSERT_EQ(store->finish_jobs({failed}, clock_.now()).at(0), FinishStatus::kOk);
  const Job job = *store->get_job(running.id);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.error, "bad \xEF\xBF\xBD byte\xEF\xBF\xBD!");
}

TEST_F(PostgresTest, MigrateCommandShowsAndAppliesTheSchema) {
  EXPECT_EQ(run_quern({"--db", url(), "migrate", "status"}), 0);
  EXPECT_EQ(run_quern({"--db", url(), "--no-migrate", "ls"}), 5);
  EXPECT_EQ(run_quern({"--db", url(), "migrate"}), 0);
  EXPECT_EQ(run_quern({"--db", url(), "--no-migrate", "ls"}), 0);
  RawSession raw(postgres_test_url().value());
  EXPECT_EQ(raw.exec("SELECT count(*) FROM " + schema_table("quern_schema_migrations")),
            std::vector<std::string>{std::to_string(postgres::latest_schema_version())});
}

}  // namespace
}  // namespace quern::testing
