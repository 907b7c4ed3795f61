// What only the SQLite backend has: files, URLs, WAL, refusing what is not ours, and
// the query plans that keep claiming O(log n).
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "quern/error.h"
#include "store/sqlite/multi_row.h"
#include "store/sqlite/reader_pool.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/statements.h"
#include "store/store.h"

namespace quern {
namespace {

// Undoes migrations 7 and later (cron entries, ingested files, queue limits, holds and
// retention), for tests that start from an older schema.
const std::string kUndoMigrations7On =
    " DROP TABLE cron_entries; DROP TABLE ingested_files; ALTER TABLE queues DROP COLUMN concurrency_limit;"
    " ALTER TABLE queues DROP COLUMN held_while; DROP TABLE job_prune_schedule;"
    " ALTER TABLE queues DROP COLUMN keep_completed_us; ALTER TABLE queues DROP COLUMN keep_failed_us;"
    " ALTER TABLE queues DROP COLUMN keep_canceled_us; ALTER TABLE queues DROP COLUMN keep_expired_us;";

namespace fs = std::filesystem;

#define EXPECT_QUERN_ERROR(statement, error_code)                                 \
  do {                                                                            \
    try {                                                                         \
      statement;                                                                  \
      ADD_FAILURE() << "expected quern::Error " #error_code " from " #statement; \
    } catch (const ::quern::Error& e) {                                           \
      EXPECT_EQ(e.code(), error_code) << e.what();                                \
    }                                                                             \
  } while (0)

class SqliteOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "quern-sqlite-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Runs SQL on a raw SQLite connection (to make files Quern did not make).
  static void raw_exec(const fs::path& p, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  static std::string raw_text(const fs::path& p, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::string out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, sqlite3_column_count(stmt) - 1);
      out += text ? reinterpret_cast<const char*>(text) : "";
      out += "\n";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  fs::path dir_;
};

// Writes into a file no longer at its path could never be read again: they fail
// (data loss) once the file is deleted or another takes its place.
TEST_F(SqliteOpen, WritesFailOnceTheFileIsDeletedOrReplaced) {
  const fs::path path = dir_ / "q.db";
  NewJob job;
  job.type = "t";
  for (const bool replace : {false, true}) {
    auto store = open_store(path.string());
    ASSERT_TRUE(store->enqueue_jobs({job}, Time{}).at(0).inserted);
    if (replace) {
      open_store((dir_ / "other.db").string());  // a Quern database, made elsewhere
      fs::rename(dir_ / "other.db", path);
    } else {
      fs::remove(path);
    }
    try {
      store->enqueue_jobs({job}, Time{});
      ADD_FAILURE() << "a write into the " << (replace ? "replaced" : "deleted") << " file succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
      EXPECT_NE(std::string(e.what()).find("was deleted or replaced"), std::string::npos) << e.what();
    }
    store.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  }
}

TEST_F(SqliteOpen, GarbageFileIsDataLossAndLeftUnchanged) {
  const fs::path path = dir_ / "garbage.db";
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) % 251));
  std::ofstream(path, std::ios::binary) << garbage;
  try {
    open_store(path.string());
    ADD_FAILURE() << "opening garbage must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("is not a Quern database"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(path), garbage);
  EXPECT_FALSE(fs::exists(path.string() + "-wal"));
}

TEST_F(SqliteOpen, ShortTextFileIsDataLossAndLeftUnchanged) {
  const fs::path path = dir_ / "notes.txt";
  std::ofstream(path) << "hello";
  EXPECT_QUERN_ERROR(open_store(path.string()), ErrorCode::kDataLoss);
  EXPECT_EQ(read_file(path), "hello");
}

TEST_F(SqliteOpen, CorruptQuernDatabaseIsDataLoss) {
  const fs::path path = dir_ / "quern.db";
  {
    auto store = open_store(path.string());
    NewJob n;
    n.type = "t";
    store->enqueue_jobs({n}, Time{});
  }
  // Keep the SQLite header, wreck everything after it.
  std::string bytes = read_file(path);
  ASSERT_GT(bytes.size(), 200u);
  for (size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_QUERN_ERROR(open_store(path.string()), ErrorCode::kDataLoss);
  EXPECT_EQ(read_file(path), bytes);
}

TEST_F(SqliteOpen, DatabaseOfAnotherProgramIsDataLossAndLeftUnchanged) {
  const fs::path path = dir_ / "other.db";
  raw_exec(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'a');");
  const std::string before = read_file(path);
  EXPECT_QUERN_ERROR(open_store(path.string()), ErrorCode::kDataLoss);
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(raw_text(path, "PRAGMA journal_mode"), "delete\n");
}

TEST_F(SqliteOpen, DatabaseFromANewerQuernIsRefused) {
  const fs::path path = dir_ / "quern.db";
  open_store(path.string());
  raw_exec(path, "PRAGMA user_version = 9999;");
  try {
    open_store(path.string());
    ADD_FAILURE() << "a newer schema must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);  // exit 5: a store this build cannot use
    EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
  }
}

TEST_F(SqliteOpen, DirectoryIsUnavailable) {
  EXPECT_QUERN_ERROR(open_store(dir_.string()), ErrorCode::kUnavailable);
}

TEST_F(SqliteOpen, PathThatCannotBeCreatedIsUnavailable) {
  const fs::path file = dir_ / "plain-file";
  std::ofstream(file) << "x";
  try {
    open_store((file / "sub" / "quern.db").string());
    ADD_FAILURE() << "a path under a file cannot be created";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("plain-file"), std::string::npos) << e.what();
  }
}

TEST_F(SqliteOpen, ParentDirectoriesAreCreated) {
  const fs::path path = dir_ / "a" / "b" / "quern.db";
  auto store = open_store(path.string());
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(SqliteOpen, DatabaseIsInWalMode) {
  const fs::path path = dir_ / "quern.db";
  auto store = open_store(path.string());
  EXPECT_EQ(raw_text(path, "PRAGMA journal_mode"), "wal\n");
}

TEST_F(SqliteOpen, UrlFormsNameTheSameFile) {
  const fs::path path = dir_ / "quern.db";
  {
    auto store = open_store("sqlite:" + path.string());
    store->put_setting("k", 1, Time{});
  }
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(open_store("sqlite://" + path.string())->get_setting("k"), std::optional<Json>(1));
  EXPECT_EQ(open_store(path.string() + "?durability=normal")->get_setting("k"), std::optional<Json>(1));
  EXPECT_EQ(open_store("sqlite:" + path.string() + "?durability=full")->get_setting("k"), std::optional<Json>(1));
}

TEST_F(SqliteOpen, BadUrlsAreInvalidArguments) {
  EXPECT_QUERN_ERROR(open_store((dir_ / "q.db").string() + "?durability=maybe"), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(open_store((dir_ / "q.db").string() + "?color=blue"), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(open_store("sqlite:"), ErrorCode::kInvalidArgument);
  EXPECT_QUERN_ERROR(open_store("mysql://localhost/q"), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "q.db"));
}

TEST_F(SqliteOpen, WriterBusyPastTheTimeoutIsUnavailableAndTheStoreRecovers) {
  const fs::path path = dir_ / "quern.db";
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(50);
  auto store = open_store(path.string(), options);
  NewJob n;
  n.type = "t";
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  try {
    store->enqueue_jobs({n}, Time{});
    ADD_FAILURE() << "a write must fail while another connection holds the write lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("locked"), std::string::npos) << e.what();
  }
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(store->enqueue_jobs({n}, Time{}).at(0).inserted);
  JobFilter all;
  EXPECT_EQ(store->list_jobs(all).size(), 1u);
}

// Group commit must not stack waits: a write that arrives while the batch before it waits
// for another process's lock fails after its own busy timeout, not after that batch's
// and then a whole one of its own. (Before, the second write here waited 1.5 s.)
TEST_F(SqliteOpen, EachWriteWaitsForALockAtMostItsOwnBusyTimeout) {
  const fs::path path = dir_ / "quern.db";
  StoreOptions options;
  options.busy_timeout = std::chrono::seconds(1);
  auto store = open_store(path.string(), options);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  using Steady = std::chrono::steady_clock;
  auto timed_pause = [&](const std::string& queue) {
    const auto start = Steady::now();
    try {
      store->set_queue_paused(queue, true, Time{});
      ADD_FAILURE() << "a write must fail while another connection holds the write lock";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    }
    return Steady::now() - start;
  };
  std::vector<std::thread> writers;
  std::vector<Steady::duration> waited(3);
  for (int i = 0; i < 3; ++i) {
    writers.emplace_back([&, i] { waited[i] = timed_pause("q" + std::to_string(i)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(waited[i], std::chrono::milliseconds(950)) << "write " << i;
    EXPECT_LT(waited[i], std::chrono::milliseconds(1350)) << "write " << i;
  }
  EXPECT_TRUE(store->list_queues().empty());
  store->set_queue_paused("q0", true, Time{});
  EXPECT_EQ(store->list_queues().size(), 1u);
}

// The query plans behind "claiming is O(log n)": each hot query is answered by a
// partial index, never by a scan of the jobs table.
TEST_F(SqliteOpen, HotQueriesUsePartialIndexes) {
  const fs::path path = dir_ / "quern.db";
  open_store(path.string());
  const auto plan = [&](const char* sql) { return raw_text(path, std::string("EXPLAIN QUERY PLAN ") + sql); };
  EXPECT_NE(plan(sqlite::kSelectClaimCandidates).find("COVERING INDEX jobs_claimable"), std::string::npos)
      << plan(sqlite::kSelectClaimCandidates);
  EXPECT_NE(plan(sqlite::kSelectNextAvailableType).find("INDEX jobs_claimable"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectDueScheduledJobs).find("INDEX jobs_scheduled"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectNextScheduledAt).find("INDEX jobs_scheduled"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectExpiredLeases).find("INDEX jobs_by_state"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectExpiringJobs).find("INDEX jobs_expiring"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectLiveJobByUniqueKey).find("INDEX jobs_live_unique_key"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectFailedJobs).find("INDEX jobs_by_state"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectFinishedJobs).find("INDEX jobs_by_state"), std::string::npos);
  // Statements over a list of ids look each one up by rowid, never scan an index.
  const auto by_rowid = [&](const char* head) {
    return plan(sqlite::repeated_sql(head, "?", 4, ")")).find("USING INTEGER PRIMARY KEY (rowid=?)") != std::string::npos;
  };
  EXPECT_TRUE(by_rowid(sqlite::kClaimJobsIn)) << plan(sqlite::repeated_sql(sqlite::kClaimJobsIn, "?", 4, ")"));
  EXPECT_TRUE(by_rowid(sqlite::kCompleteJobsIn));
  EXPECT_TRUE(by_rowid(sqlite::kSelectJobsIn));
  EXPECT_TRUE(by_rowid(sqlite::kSelectRunStatesIn));
  EXPECT_NE(plan(sqlite::repeated_sql(sqlite::kSelectDependentsIn, "?", 4, ")")).find("job_dependencies_by_dependency"),
            std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectDependents).find("job_dependencies_by_dependency"), std::string::npos);
  EXPECT_NE(plan(sqlite::kSelectHistoryOfJob).find("job_history_by_job"), std::string::npos);
  EXPECT_NE(plan(sqlite::kDeleteTagsOfJob).find("job_tags_by_job"), std::string::npos) << plan(sqlite::kDeleteTagsOfJob);
  EXPECT_NE(plan(sqlite::kCountJobsOfTypeUpTo).find("COVERING INDEX jobs_by_type"), std::string::npos)
      << plan(sqlite::kCountJobsOfTypeUpTo);
  EXPECT_NE(plan(sqlite::kCountJobsWithTagUpTo).find("PRIMARY KEY"), std::string::npos)
      << plan(sqlite::kCountJobsWithTagUpTo);
}

// Migration 4 (filtered pages) indexes what a database of schema 3 already holds.
TEST_F(SqliteOpen, MigrationIndexesTheTagsOfJobsAlreadyThere) {
  const fs::path path = dir_ / "quern.db";
  std::vector<JobId> tagged;
  {
    auto store = open_store(path.string());
    NewJob job;
    job.type = "t";
    job.queue = "default";
    for (int i = 0; i < 6; ++i) {
      job.tags = i % 2 == 0 ? std::vector<std::string>{"nightly", "disc-7"} : std::vector<std::string>{};
      const JobId id = store->enqueue_jobs({job}, Time(std::chrono::seconds(1))).front().job.id;
      if (i % 2 == 0) tagged.push_back(id);
    }
  }
  raw_exec(path,
           std::string("DROP TABLE job_tags; DROP INDEX jobs_by_queue; DROP INDEX jobs_by_type;")
           + " ALTER TABLE queues DROP COLUMN pause_changes; ALTER TABLE jobs DROP COLUMN lease_us;" +
               kUndoMigrations7On + " PRAGMA user_version = 3;");
  auto store = open_store(path.string());
  JobFilter filter;
  filter.tag = "disc-7";
  std::vector<JobId> got;
  for (const Job& j : store->list_jobs(filter)) got.push_back(j.id);
  EXPECT_EQ(got, tagged);
  EXPECT_EQ(raw_text(path, "PRAGMA user_version"), std::to_string(sqlite::latest_schema_version()) + "\n");
}

TEST_F(SqliteOpen, MigrationKeepsPausedQueuesAndCountsTheirChangesFromThere) {
  const fs::path path = dir_ / "quern.db";
  open_store(path.string())->set_queue_paused("bg", true, Time(std::chrono::seconds(1)));
  raw_exec(path,
           std::string("ALTER TABLE queues DROP COLUMN pause_changes; ALTER TABLE jobs DROP COLUMN lease_us;") +
               kUndoMigrations7On + " PRAGMA user_version = 4;");
  auto store = open_store(path.string());
  ASSERT_EQ(store->list_queues().size(), 1u);
  EXPECT_TRUE(store->list_queues()[0].paused);
  EXPECT_EQ(store->list_queues()[0].pause_changes, 0);
  store->set_queue_paused("bg", false, Time(std::chrono::seconds(2)));
  EXPECT_FALSE(store->list_queues()[0].paused);
  EXPECT_EQ(store->list_queues()[0].pause_changes, 1);
}

TEST_F(SqliteOpen, MigrationGivesRunningJobsTheLengthOfTheirLease) {
  const fs::path path = dir_ / "quern.db";
  const Time start(std::chrono::seconds(1000));
  JobId id = 0;
  int attempt = 0;
  {
    auto store = open_store(path.string());
    NewJob job;
    job.type = "t";
    job.queue = "default";
    id = store->enqueue_jobs({job}, start).front().job.id;
    ClaimParams params;
    params.owner = "remote:w@test";
    params.lease = std::chrono::seconds(90);
    params.now = start;
    attempt = store->claim_jobs(params).at(0).attempt;
  }
  raw_exec(path, std::string("ALTER TABLE jobs DROP COLUMN lease_us;") + kUndoMigrations7On + " PRAGMA user_version = 5;");
  auto store = open_store(path.string());
  JobHeartbeat beat;
  beat.id = id;
  beat.attempt = attempt;
  const Time later = start + std::chrono::seconds(60);
  EXPECT_EQ(store->heartbeat_jobs({beat}, later), (std::vector<FinishStatus>{FinishStatus::kOk}));
  EXPECT_EQ(store->get_job(id)->lease_expires_at, std::optional<Time>(later + std::chrono::seconds(90)));
  // A run claimed by a Quern that recorded no length is renewed by the default lease.
  store.reset();
  raw_exec(path, "UPDATE jobs SET lease_us = NULL;");
  store = open_store(path.string());
  EXPECT_EQ(store->heartbeat_jobs({beat}, later), (std::vector<FinishStatus>{FinishStatus::kOk}));
  EXPECT_EQ(store->get_job(id)->lease_expires_at, std::optional<Time>(later + std::chrono::seconds(30)));
}

// A burst of readers opens as many connections as it needs, but only a few stay open
// afterwards: a hundred dashboard requests at once must not leave a hundred files and
// page caches with the server.
TEST_F(SqliteOpen, ReaderPoolKeepsOnlyAFewIdleConnections) {
  const fs::path db = dir_ / "q.db";
  auto store = open_store(db.string());
  auto open_wal_files = [&] {
    int n = 0;
    for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (fs::read_symlink(fd.path(), ec) == fs::path(db.string() + "-wal")) ++n;
    }
    return n;
  };
  const int before = open_wal_files();
  sqlite::ReaderPool pool(db.string(), std::chrono::seconds(5));
  // 40 readers at once (a lease cannot be moved, so each is held a call deeper).
  std::function<void(int)> read_while_others_read = [&](int left) {
    if (left == 0) {
      EXPECT_EQ(open_wal_files(), before + 40);
      return;
    }
    auto lease = pool.acquire();
    lease->exec("SELECT count(*) FROM jobs");  // a read opens the WAL file
    read_while_others_read(left - 1);
  };
  read_while_others_read(40);
  EXPECT_EQ(open_wal_files(), before + 8);
  // The kept ones are used again.
  { auto again = pool.acquire(); }
  EXPECT_EQ(open_wal_files(), before + 8);
}

}  // namespace
}  // namespace quern
