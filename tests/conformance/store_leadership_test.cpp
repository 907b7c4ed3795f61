// Maintenance leadership: one Store instance per database leads at a time, keeps
// leading while it renews, and hands over when it releases, closes, stops renewing
// (SQLite: its lease's ttl passes) or loses its session (PostgreSQL).
#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <thread>

#include "store_fixture.h"

namespace quern::testing {
namespace {

using namespace std::chrono_literals;

constexpr Duration kLeadershipTestTtl = 10s;

QUERN_STORE_SUITE(StoreLeadership);

// Polls `done` until it holds or `limit` passes: for what another process (the
// PostgreSQL server ending a session) does in its own time.
bool leadership_eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// Ends, from a session of the test's own, the sessions named `application` that hold
// an advisory lock: the leader's. Returns how many ended.
int terminate_leader_sessions(const std::string& application) {
  PGconn* conn = PQconnectdb(postgres_test_url().value().c_str());
  EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  const std::string sql =
      "SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = '" + application + "'";
  PGresult* result = PQexec(conn, sql.c_str());
  EXPECT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << PQerrorMessage(conn);
  int ended = 0;
  for (int i = 0; i < PQntuples(result); ++i) ended += std::string(PQgetvalue(result, i, 0)) == "t" ? 1 : 0;
  PQclear(result);
  PQfinish(conn);
  return ended;
}

TEST_P(StoreLeadership, OneInstanceLeadsAndKeepsLeadingWhileItRenews) {
  auto other = open_store_again();
  EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  EXPECT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
  for (int i = 0; i < 3; ++i) {
    advance(kLeadershipTestTtl / 2);
    EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now())) << "renewal " << i;
    EXPECT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now())) << "renewal " << i;
  }
}

// Every write wakes every process watching the database, so an idle leader must not
// write its lease at every pass: only once less than half its ttl is left.
TEST_P(StoreLeadership, SqliteLeaderRewritesItsLeaseOncePerHalfTtlNotAtEveryPass) {
  if (GetParam().name != "Sqlite") GTEST_SKIP() << "the lease row is SQLite's";
  auto other = open_store_again();
  ASSERT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  const uint64_t after_taking = store_->change_counter();
  for (int i = 0; i < 4; ++i) {
    advance(1s);
    EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now())) << "pass " << i;
    EXPECT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now())) << "pass " << i;
  }
  EXPECT_EQ(store_->change_counter(), after_taking) << "rewrote the lease with most of its ttl left";
  advance(2s);  // 6 s in: under half is left
  EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  EXPECT_NE(store_->change_counter(), after_taking) << "did not renew";
  advance(5s);  // past the first lease's end, within the renewed one
  EXPECT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
  EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
}

TEST_P(StoreLeadership, AnotherInstanceLeadsOnceTheLeaderReleases) {
  auto other = open_store_again();
  ASSERT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  other->release_leadership();  // not the leader: changes nothing
  EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  EXPECT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));

  store_->release_leadership();
  EXPECT_TRUE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
  EXPECT_FALSE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  store_->release_leadership();  // twice, and not leading: harmless
  EXPECT_TRUE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
}

TEST_P(StoreLeadership, AnotherInstanceLeadsOnceTheLeaderIsClosed) {
  auto other = open_store_again();
  ASSERT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  ASSERT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
  store_.reset();
  // PostgreSQL ends the closed session in its own time (milliseconds).
  EXPECT_TRUE(leadership_eventually([&] { return other->hold_leadership("host-b", kLeadershipTestTtl, now()); }));
  store_ = open_store_again();
  EXPECT_FALSE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
}

TEST_P(StoreLeadership, SqliteLeaseNotRenewedWithinTheTtlIsTakenOver) {
  if (GetParam().name != "Sqlite") GTEST_SKIP() << "the SQLite lease's ttl runs on the caller's clock";
  auto other = open_store_again();
  ASSERT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  advance(kLeadershipTestTtl - 1ms);
  EXPECT_FALSE(other->hold_leadership("host-b", kLeadershipTestTtl, now())) << "taken over before the ttl";
  advance(1ms);
  EXPECT_TRUE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
  // The old leader learns it lost, and cannot take it back while the new one renews.
  EXPECT_FALSE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  advance(kLeadershipTestTtl / 2);
  EXPECT_TRUE(other->hold_leadership("host-b", kLeadershipTestTtl, now()));
  EXPECT_FALSE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
}

TEST_P(StoreLeadership, PostgresLeaderWhoseSessionIsTerminatedLosesLeadership) {
  if (GetParam().name != "Postgres") GTEST_SKIP() << "PostgreSQL sessions only";
  const std::string application = "quern-leader-" + dir_.filename().string();
  auto leader = open_store(postgres_url_for(dir_) + "&application_name=" + application);
  ASSERT_TRUE(leader->hold_leadership("host-a", kLeadershipTestTtl, now()));
  ASSERT_FALSE(store_->hold_leadership("host-b", kLeadershipTestTtl, now()));

  ASSERT_EQ(terminate_leader_sessions(application), 1);
  EXPECT_FALSE(leader->hold_leadership("host-a", kLeadershipTestTtl, now())) << "did not notice its session ended";
  EXPECT_TRUE(store_->hold_leadership("host-b", kLeadershipTestTtl, now()));
  EXPECT_FALSE(leader->hold_leadership("host-a", kLeadershipTestTtl, now()));
  // The old leader reconnected meanwhile and leads again once the new one lets go.
  store_->release_leadership();
  EXPECT_TRUE(leader->hold_leadership("host-a", kLeadershipTestTtl, now()));
}

TEST_P(StoreLeadership, PostgresLeaderThatStopsRenewingLosesItsSessionAfterTheTtl) {
  if (GetParam().name != "Postgres") GTEST_SKIP() << "the server ends the idle session in real time";
  auto other = open_store_again();
  ASSERT_TRUE(store_->hold_leadership("host-a", 2s, now()));
  ASSERT_FALSE(other->hold_leadership("host-b", 2s, now()));
  // store_ is silent now, as a frozen or cut-off process would be.
  EXPECT_TRUE(leadership_eventually([&] { return other->hold_leadership("host-b", 2s, now()); }));
  EXPECT_FALSE(store_->hold_leadership("host-a", 2s, now()));
}

TEST_P(StoreLeadership, SeparateDatabasesEachHaveALeader) {
  const std::filesystem::path second_dir = dir_.string() + "-second";
  std::filesystem::create_directories(second_dir);
  auto second = GetParam().open(second_dir, StoreOptions{});
  EXPECT_TRUE(store_->hold_leadership("host-a", kLeadershipTestTtl, now()));
  EXPECT_TRUE(second->hold_leadership("host-b", kLeadershipTestTtl, now()));
  second.reset();
  if (GetParam().drop) GetParam().drop(second_dir);
  std::filesystem::remove_all(second_dir);
}

}  // namespace
}  // namespace quern::testing
