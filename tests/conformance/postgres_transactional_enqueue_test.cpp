// Client::enqueue on the caller's own libpq connection: the job exists if and only if
// the caller's transaction commits, and its commit wakes workers elsewhere. Runs when
// QUERN_TEST_POSTGRES_URL names a server (scripts/postgres-test-server.sh); each test
// works in a schema of its own.
#include <libpq-fe.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "quern/client.h"
#include "quern/worker_pool.h"
#include "store/postgres/schema_qualified_sql.h"
#include "store/postgres/statements.h"
#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

// The caller's connection: a plain libpq session with the default search_path, which
// does not name Quern's schema.
class CallerSession {
 public:
  CallerSession() : conn_(PQconnectdb(postgres_test_url().value().c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "cannot connect: " << PQerrorMessage(conn_);
    exec("SET client_min_messages TO warning");
  }
  ~CallerSession() { PQfinish(conn_); }
  CallerSession(const CallerSession&) = delete;
  CallerSession& operator=(const CallerSession&) = delete;

  // Runs SQL that must succeed; returns the first column of the first row ("" if none).
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(conn_);
    std::string value = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
  }
  // Runs SQL that fails (aborting the transaction it is in).
  void exec_failing(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    EXPECT_EQ(PQresultStatus(result), PGRES_FATAL_ERROR) << sql;
    PQclear(result);
  }

  PGconn* conn() const { return conn_; }

 private:
  PGconn* conn_;
};

class PostgresTransactionalEnqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "quern-txn-enqueue-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    client_ = Client::open(postgres_url_for(dir_));
    schema_ = "\"test_" + dir_.filename().string() + "\"";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    client_.reset();
    drop_postgres_schema_for(dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Rows of one of Quern's tables, as another session sees them.
  int64_t committed_rows(const std::string& table) {
    CallerSession other;
    return std::stoll(other.exec("SELECT count(*) FROM " + schema_ + "." + table));
  }

  static NewJob job(std::string type = "txn") {
    NewJob n;
    n.type = std::move(type);
    n.payload = {{"order", 7}};
    return n;
  }

  std::filesystem::path dir_;
  std::string schema_;  // quoted
  std::shared_ptr<Client> client_;
};

TEST_F(PostgresTransactionalEnqueueTest, RollbackLeavesNoJobNoHistoryAndCountsUnchanged) {
  client_->enqueue(job("before"));
  const Stats before = client_->stats();
  const int64_t history_before = committed_rows("job_history");
  CallerSession caller;
  caller.exec("BEGIN");
  const auto results = client_->enqueue_many(caller.conn(), {job(), job()});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].inserted);
  EXPECT_GT(results[1].job.id, results[0].job.id);
  EXPECT_EQ(results[0].job.state, JobState::kAvailable);
  EXPECT_EQ(PQtransactionStatus(caller.conn()), PQTRANS_INTRANS);  // left open
  caller.exec("ROLLBACK");

  for (const auto& r : results) EXPECT_QUERN_ERROR(client_->get(r.job.id), ErrorCode::kNotFound);
  EXPECT_EQ(committed_rows("jobs"), 1);
  EXPECT_EQ(committed_rows("job_history"), history_before);
  const Stats after = client_->stats();
  EXPECT_EQ(after.total(JobState::kAvailable), before.total(JobState::kAvailable));
  EXPECT_EQ(after.total(JobState::kAvailable), 1);
}

TEST_F(PostgresTransactionalEnqueueTest, CommitMakesTheJobAndAWorkerOfAnotherClientRunsItPromptly) {
  auto worker_client = Client::open(postgres_url_for(dir_));
  std::atomic<int> runs{0};
  WorkerPoolOptions options;
  options.run_maintenance = false;
  options.temp_root = dir_ / "tmp";
  WorkerPool pool(worker_client, options);
  pool.handle("txn", [&](JobContext&) {
    ++runs;
    return Outcome::completed();
  });
  pool.start();

  CallerSession caller;
  // A table of the caller's own named like Quern's: it shadows every schema of the
  // search_path, so only statements that name Quern's schema reach Quern's table.
  caller.exec("CREATE TEMP TABLE jobs (id bigint)");
  caller.exec("BEGIN");
  caller.exec("CREATE TEMP TABLE orders (id integer)");
  caller.exec("INSERT INTO orders VALUES (7)");
  const EnqueueResult result = client_->enqueue(caller.conn(), job());
  ASSERT_TRUE(result.inserted);
  // Not there for anyone else until the commit.
  EXPECT_QUERN_ERROR(worker_client->get(result.job.id), ErrorCode::kNotFound);
  EXPECT_EQ(worker_client->stats().total(JobState::kAvailable), 0);
  EXPECT_EQ(caller.exec("SELECT count(*) FROM " + schema_ + ".jobs"), "1");  // the caller sees its own
  EXPECT_EQ(caller.exec("SELECT count(*) FROM jobs"), "0");                  // its temp table is untouched
  EXPECT_EQ(runs.load(), 0);

  caller.exec("COMMIT");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (runs.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(runs.load(), 1);
  const Job done = worker_client->wait_final(result.job.id, 5s);
  EXPECT_EQ(done.state, JobState::kCompleted);
  EXPECT_EQ(done.payload, job().payload);
  const auto history = client_->history(result.job.id);
  ASSERT_FALSE(history.empty());
  EXPECT_FALSE(history.front().from.has_value());
  EXPECT_EQ(history.front().to, JobState::kAvailable);
  pool.stop();
}

TEST_F(PostgresTransactionalEnqueueTest, UniqueKeyHeldByALiveJobReportsThatJob) {
  NewJob keyed = job();
  keyed.unique_key = "order-7";
  const EnqueueResult existing = client_->enqueue(keyed);
  ASSERT_TRUE(existing.inserted);

  CallerSession caller;
  caller.exec("BEGIN");
  const EnqueueResult again = client_->enqueue(caller.conn(), keyed);
  EXPECT_FALSE(again.inserted);
  EXPECT_EQ(again.job.id, existing.job.id);
  // A key first taken inside the caller's transaction holds for its later enqueues.
  NewJob other = job();
  other.unique_key = "order-8";
  const EnqueueResult first = client_->enqueue(caller.conn(), other);
  const EnqueueResult second = client_->enqueue(caller.conn(), other);
  EXPECT_TRUE(first.inserted);
  EXPECT_FALSE(second.inserted);
  EXPECT_EQ(second.job.id, first.job.id);
  caller.exec("COMMIT");
  EXPECT_EQ(committed_rows("jobs"), 2);
}

TEST_F(PostgresTransactionalEnqueueTest, WithoutAnOpenTransactionIsInvalidArgumentAndWritesNothing) {
  CallerSession caller;
  EXPECT_QUERN_ERROR(client_->enqueue(caller.conn(), job()), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(client_->enqueue_many(caller.conn(), {job()}), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(client_->enqueue(nullptr, job()), ErrorCode::kInvalidArgument);
  // A transaction that already failed is no better.
  caller.exec("BEGIN");
  caller.exec_failing("SELECT 1/0");
  EXPECT_QUERN_ERROR(client_->enqueue(caller.conn(), job()), ErrorCode::kInvalidArgument);
  caller.exec("ROLLBACK");
  EXPECT_EQ(PQtransactionStatus(caller.conn()), PQTRANS_IDLE);
  EXPECT_EQ(committed_rows("jobs"), 0);
  EXPECT_EQ(committed_rows("job_history"), 0);
  EXPECT_EQ(client_->stats().total(JobState::kAvailable), 0);
}

TEST_F(PostgresTransactionalEnqueueTest, FailedEnqueueLeavesTheCallersTransactionUsable) {
  CallerSession caller;
  caller.exec("CREATE TEMP TABLE orders (id integer)");
  caller.exec("BEGIN");
  caller.exec("INSERT INTO orders VALUES (1)");
  NewJob dependent = job();
  dependent.depends_on = {987654};
  EXPECT_QUERN_ERROR(client_->enqueue_many(caller.conn(), {job(), dependent}), ErrorCode::kNotFound);
  NewJob bad = job();
  bad.max_attempts = 0;
  EXPECT_QUERN_ERROR(client_->enqueue(caller.conn(), bad), ErrorCode::kInvalidArgument);
  EXPECT_EQ(PQtransactionStatus(caller.conn()), PQTRANS_INTRANS);
  caller.exec("INSERT INTO orders VALUES (2)");
  const EnqueueResult ok = client_->enqueue(caller.conn(), job());
  caller.exec("COMMIT");
  EXPECT_EQ(caller.exec("SELECT count(*) FROM orders"), "2");
  EXPECT_EQ(committed_rows("jobs"), 1);
  EXPECT_EQ(client_->get(ok.job.id).state, JobState::kAvailable);
}

TEST(TransactionalEnqueue, SqliteClientIsFailedPrecondition) {
  std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "quern-txn-sqlite-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  {
    auto client = Client::open((dir / "quern.db").string());
    NewJob n;
    n.type = "t";
    try {
      client->enqueue(nullptr, n);
      ADD_FAILURE() << "a SQLite client must refuse a transactional enqueue";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
      EXPECT_NE(std::string(e.what()).find("needs a PostgreSQL database"), std::string::npos) << e.what();
    }
    EXPECT_EQ(client->stats().total(JobState::kAvailable), 0);
  }
  std::filesystem::remove_all(dir);
}

// The rewrite that lets Quern's statements run under a caller's search_path.
TEST(SchemaQualifiedSql, QualifiesQuernTablesAndNothingElse) {
  using postgres::schema_qualified_sql;
  EXPECT_EQ(schema_qualified_sql("SELECT j.id, jobs_x FROM jobs j JOIN job_history h ON h.job_id = j.id", "q"),
            "SELECT j.id, jobs_x FROM \"q\".jobs j JOIN \"q\".job_history h ON h.job_id = j.id");
  EXPECT_EQ(schema_qualified_sql("INSERT INTO queue_counts AS c (queue, state, n) VALUES ($1, 'jobs', 1)", "q"),
            "INSERT INTO \"q\".queue_counts AS c (queue, state, n) VALUES ($1, 'jobs', 1)");
  // Dotted names and quoted identifiers are someone's own choice, left as they are.
  EXPECT_EQ(schema_qualified_sql("SELECT jobs.id FROM other.jobs, \"jobs\"", "q"),
            "SELECT jobs.id FROM other.jobs, \"jobs\"");
  // The event sequence is named inside a regclass literal.
  EXPECT_EQ(schema_qualified_sql("SELECT nextval('job_history_seq')", "a\"b"),
            "SELECT nextval('\"a\"\"b\".job_history_seq')");
  EXPECT_EQ(schema_qualified_sql("SELECT nextval('job_history_seq')", "it's"),
            "SELECT nextval('\"it''s\".job_history_seq')");
}

TEST(SchemaQualifiedSql, EveryStatementOfAnEnqueueNamesTheSchema) {
  using postgres::schema_qualified_sql;
  for (const postgres::Statement& s :
       {postgres::kWriteBookkeeping, postgres::kNotifyChange, postgres::kSelectLiveJobsByUniqueKeys,
        postgres::kLockDependencies, postgres::kInsertJobs, postgres::kInsertDependencies,
        postgres::kCancelJob, postgres::kSelectDependentsOf, postgres::kLockJobPosition}) {
    const std::string sql = schema_qualified_sql(s.sql, "s");
    for (const char* bare : {" jobs ", " jobs\n", " queues ", " job_history ", " queue_counts ", " job_dependencies ",
                             " finishes_per_minute "}) {
      EXPECT_EQ(sql.find(bare), std::string::npos) << s.name << " still names" << bare << ": " << sql;
    }
  }
  EXPECT_NE(schema_qualified_sql(postgres::kWriteBookkeeping.sql, "s").find("nextval('\"s\".job_history_seq')"),
            std::string::npos);
}

}  // namespace
}  // namespace quern::testing
