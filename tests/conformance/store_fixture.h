// The conformance suite's fixture: every test runs against every Store backend, made
// by a factory: SQLite on a temp file always; PostgreSQL when QUERN_TEST_POSTGRES_URL
// names a server (scripts/postgres-test-server.sh starts a throwaway one), each test in
// a schema of its own, dropped after it. Tests use only the Store interface and a
// SimulatedClock.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "quern/error.h"
#include "quern/job.h"
#include "postgres_test_database.h"
#include "store/store.h"

namespace quern::testing {

struct StoreBackend {
  std::string name;
  // Opens the database that lives in (or is named after) `dir`: the same `dir` gives
  // the same database, so a test can reopen it or open a second Store on it.
  std::function<std::shared_ptr<Store>(const std::filesystem::path& dir, const StoreOptions& options)> open;
  // Removes what lives outside `dir` (a PostgreSQL schema); unset if nothing does.
  std::function<void(const std::filesystem::path& dir)> drop;
};

std::vector<StoreBackend> store_backends();

using postgres_test::drop_postgres_schema;
using postgres_test::postgres_schema_url;
using postgres_test::postgres_test_url;
using postgres_test::RawSession;

// The URL of the PostgreSQL schema named after `dir` (one per test).
std::string postgres_url_for(const std::filesystem::path& dir);
// Drops the schema of postgres_url_for(dir), if it exists.
void drop_postgres_schema_for(const std::filesystem::path& dir);

class StoreTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Another Store on the same database as store_.
  std::shared_ptr<Store> open_store_again(const StoreOptions& options = {});

  Time now() const { return clock_.now(); }
  void advance(Duration d) { clock_.advance(d); }

  static NewJob new_job(std::string type = "t", std::string queue = "default");
  Job enqueue(const NewJob& job);
  std::vector<Job> claim(int max = 1, std::vector<std::string> queues = {}, std::vector<std::string> types = {},
                         Duration lease = std::chrono::seconds(30));
  Job claim_one();
  FinishStatus finish(const Job& job, FinishOutcome outcome, std::string error = {},
                      std::optional<Time> run_at = std::nullopt, Json result = nullptr);
  Job get(JobId id);
  std::vector<Job> all_jobs();
  // The states of a job's history, in order ("enqueued" first).
  std::vector<std::pair<std::optional<JobState>, JobState>> transitions(JobId id);
  // stats() agrees with a count of every job.
  void expect_counts_match_jobs();

  SimulatedClock clock_;
  std::filesystem::path dir_;
  std::shared_ptr<Store> store_;
};

// Runs `statement` and expects a quern::Error with `code`.
#define EXPECT_QUERN_ERROR(statement, error_code)                                  \
  do {                                                                             \
    try {                                                                          \
      statement;                                                                   \
      ADD_FAILURE() << "expected quern::Error " #error_code " from " #statement;  \
    } catch (const ::quern::Error& e) {                                            \
      EXPECT_EQ(e.code(), error_code) << e.what();                                 \
    }                                                                              \
  } while (0)

// Each test file names its suite and runs it on every backend.
#define QUERN_STORE_SUITE(Suite)                                                                     \
  class Suite : public ::quern::testing::StoreTest {};                                               \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::ValuesIn(::quern::testing::store_backends()), \
                           [](const auto& info) { return info.param.name; })

}  // namespace quern::testing
