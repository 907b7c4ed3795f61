// What the crash tests share: real `quern worker` children in a test directory, the
// store they share, and the checks every test ends with (a job's history keeps the
// invariants; runs recorded by the jobs themselves).
#pragma once

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "exec/shell_payload.h"
#include "cli_runner.h"
#include "postgres_test_database.h"
#include "process_harness.h"
#include "quern/client.h"
#include "quern/error.h"
#include "store/store.h"

namespace quern::crash_test {

namespace fs = std::filesystem;

// A worker's start line: printed once its start-up rescue of dead owners is done.
inline constexpr char kWorkerStartedLine[] = "quern worker:";
inline constexpr char kServerStartedLine[] = "listening on http://";
// How long a worker may take to exit after SIGTERM once its handlers are gone.
inline constexpr auto kExitMargin = 3s;
// The shell handler's SIGTERM → SIGKILL grace for a job's process group (the contract).
inline constexpr auto kKillGrace = 2s;

// What a worker prints when it becomes its database's maintenance leader.
inline constexpr char kLeadingLine[] = "quern worker: leading maintenance";

// The workers that have printed kLeadingLine.
inline std::vector<TestProcess*> leaders_among(const std::vector<TestProcess*>& workers) {
  std::vector<TestProcess*> leaders;
  for (TestProcess* worker : workers) {
    if (worker->output().find(kLeadingLine) != std::string::npos) leaders.push_back(worker);
  }
  return leaders;
}

inline double crash_scale() {
  const char* text = std::getenv("QUERN_CRASH_SCALE");
  if (text == nullptr || *text == '\0') return 1.0;
  const double scale = std::atof(text);
  return scale > 0 ? std::min(scale, 100.0) : 1.0;
}

inline int scaled(int n) { return std::max(1, static_cast<int>(std::lround(n * crash_scale()))); }

inline uint32_t crash_seed() {
  const char* text = std::getenv("QUERN_CRASH_SEED");
  if (text != nullptr && *text != '\0') return static_cast<uint32_t>(std::strtoul(text, nullptr, 10));
  return std::random_device{}();
}

// The pid field of a lease owner "<host>/<machine>/<boot>/<pidns>/<pid>/<start>".
inline std::string owner_pid_field(const std::string& owner) {
  std::vector<std::string> fields;
  std::stringstream in(owner);
  for (std::string field; std::getline(in, field, '/');) fields.push_back(field);
  return fields.size() == 6 ? fields[4] : std::string();
}

inline bool owned_by(const Job& job, pid_t pid) { return owner_pid_field(job.lease_owner) == std::to_string(pid); }

inline std::string describe_history(const std::vector<HistoryEntry>& history) {
  std::string text;
  for (const auto& e : history) {
    text += "\n  #" + std::to_string(e.seq) + " " + (e.from ? std::string(state_name(*e.from)) : "-") + " -> " +
            std::string(state_name(e.to)) + " attempt " + std::to_string(e.attempt) + ": " + e.detail;
  }
  return text;
}

// What a job's history says, checked against the invariants every job keeps whatever
// crashed: attempts never go down, each claim starts the next attempt (1, 2, 3, …),
// and at most one transition leads into completed.
struct HistorySummary {
  int completions = 0;
  int completed_attempt = 0;       // the attempt that completed, 0 if none
  std::set<int> rescued_attempts;  // running → available/scheduled/failed without completing
  std::set<int> released_attempts; // running → available by a graceful shutdown (not a failure)
};

inline HistorySummary check_history(JobId id, const std::vector<HistoryEntry>& history) {
  SCOPED_TRACE("job " + std::to_string(id) + " history:" + describe_history(history));
  HistorySummary summary;
  int last_attempt = 0;
  int last_claimed = 0;
  int64_t last_seq = 0;
  for (const auto& e : history) {
    EXPECT_GT(e.seq, last_seq) << "history out of order";
    last_seq = e.seq;
    EXPECT_GE(e.attempt, last_attempt) << "attempt went down";
    last_attempt = std::max(last_attempt, e.attempt);
    if (e.to == JobState::kRunning) {
      EXPECT_EQ(e.attempt, last_claimed + 1) << "a claim must start the next attempt";
      last_claimed = e.attempt;
    }
    if (e.to == JobState::kCompleted) {
      ++summary.completions;
      summary.completed_attempt = e.attempt;
    }
    if (e.from == JobState::kRunning && e.to != JobState::kCompleted) {
      (e.detail == "released" ? summary.released_attempts : summary.rescued_attempts).insert(e.attempt);
    }
  }
  EXPECT_LE(summary.completions, 1) << "completed more than once";
  return summary;
}

// Reads "<job id> <attempt>" lines that jobs append to a file, one per run started.
inline std::map<std::pair<JobId, int>, int> read_runs(const fs::path& file) {
  std::map<std::pair<JobId, int>, int> runs;
  std::ifstream in(file);
  JobId id = 0;
  int attempt = 0;
  while (in >> id >> attempt) ++runs[{id, attempt}];
  return runs;
}

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool has_line(const fs::path& file, const std::string& line) {
  std::istringstream in(read_text(file));
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

inline void touch(const fs::path& file) { std::ofstream(file).put('\n'); }

// Runs SQL on the PostgreSQL test server; returns the first column of the first row.
inline std::string postgres_value(const std::string& sql) {
  PGconn* conn = PQconnectdb(postgres_test::postgres_test_url().value().c_str());
  std::string value;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) {
      value = PQgetvalue(result, 0, 0);
    } else {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
    }
    PQclear(result);
  } else {
    ADD_FAILURE() << PQerrorMessage(conn);
  }
  PQfinish(conn);
  return value;
}

// Ends every session of `application` on the PostgreSQL test server; returns how many.
// With `wait_until_gone` (for a frozen process), ends them again until none is left, so
// whatever they were doing has committed or rolled back. Again, because a connection the
// process opened just before it froze may reach the server only later (a slow fork of
// the backend under load), and would then wait for its frozen client forever.
inline int terminate_postgres_sessions(const std::string& application, bool wait_until_gone) {
  const std::string sessions = "FROM pg_stat_activity WHERE application_name = '" + application + "'";
  const auto terminate = [&] {
    return std::atoi(postgres_value("SELECT count(pg_terminate_backend(pid)) " + sessions).c_str());
  };
  const int terminated = terminate();
  if (!wait_until_gone) return terminated;
  EXPECT_TRUE(cli_test::eventually([&] {
    if (postgres_value("SELECT count(*) " + sessions) == "0") return true;
    terminate();
    return false;
  })) << application << ":\n"
      << postgres_value("SELECT coalesce(string_agg(concat_ws(' ', pid, state, wait_event_type, wait_event, xact_start, "
                        "left(query, 80)), E'\\n'), '') " + sessions);
  return terminated;
}

// A test directory with a database, real `quern worker` children and a store handle on
// the same file. Workers get their own TMPDIR inside the directory so the temp dirs of
// jobs can be checked. Jobs that must outlive their worker poll a "hold" file in the
// directory: removing the directory (TearDown) ends them.
class CrashFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(test->test_suite_name()) + "-" + test->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterized tests' names
    dir_ = fs::temp_directory_path() / ("quern-crash-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tmp");
    db_ = dir_ / "quern.db";
    client_ = Client::open(database_url());
    store_ = client_->store();
  }

  void TearDown() override {
    for (auto& worker : workers_) {
      worker->kill_and_reap();
      // Killed workers never report through an exit status: read what they printed.
      EXPECT_EQ(worker->output().find("Sanitizer"), std::string::npos) << worker->output();
    }
    workers_.clear();
    client_.reset();
    store_.reset();
    drop_database();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // The database the test's processes share: a SQLite file in the test directory
  // unless a test says otherwise.
  virtual std::string database_url() const { return db_.string(); }
  // The database as the `index`th worker started names it (the same; a test may add to it).
  virtual std::string worker_database_url(size_t /*index*/) const { return database_url(); }
  // What the `index`th worker's command starts with (e.g. `ip netns exec NS`), if anything.
  virtual std::vector<std::string> worker_command_prefix(size_t /*index*/) const { return {}; }
  // The `index`th worker's TMPDIR (where its jobs' private temp dirs go).
  virtual fs::path worker_temp_dir(size_t /*index*/) const { return dir_ / "tmp"; }
  // Removes what lives outside the test directory.
  virtual void drop_database() {}
  // Called with a worker frozen (SIGSTOP), before the test reads which jobs it holds:
  // whatever the worker sent before it froze must have taken effect. (A SQLite worker
  // commits itself, so once frozen it changes nothing; a PostgreSQL server may still be
  // running a COMMIT the worker sent.)
  virtual void settle_frozen_worker(size_t /*index*/) {}

  size_t index_of(const TestProcess& worker) const {
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].get() == &worker) return i;
    }
    ADD_FAILURE() << "not a worker of this test";
    return 0;
  }

  // Starts `quern --db <db> worker args…` in the test directory; by default waits for
  // its start line (so its start-up rescue has run).
  TestProcess& start_worker(const std::vector<std::string>& args, bool wait_until_started = true) {
    return start_quern("worker", args, kWorkerStartedLine, wait_until_started);
  }

  // Starts `quern --db <db> serve --listen 127.0.0.1:0 args…` (its local pool runs shell
  // jobs like a worker's) and waits until it listens.
  TestProcess& start_server(const std::vector<std::string>& args) {
    std::vector<std::string> serve_args = {"--listen", "127.0.0.1:0"};
    serve_args.insert(serve_args.end(), args.begin(), args.end());
    return start_quern("serve", serve_args, kServerStartedLine, true);
  }

  TestProcess& start_quern(const char* command, const std::vector<std::string>& args, const char* started_line,
                           bool wait_until_started) {
    const size_t index = workers_.size();
    std::vector<std::string> argv = worker_command_prefix(index);
    for (const char* word : {QUERN_BINARY, "--db"}) argv.emplace_back(word);
    argv.push_back(worker_database_url(index));
    argv.emplace_back(command);
    argv.insert(argv.end(), args.begin(), args.end());
    cli_test::RunOptions options;
    options.cwd = dir_;
    options.set_env["TMPDIR"] = worker_temp_dir(index).string();
    const fs::path log = dir_ / ("worker-" + std::to_string(workers_.size()) + ".log");
    workers_.push_back(std::make_unique<TestProcess>(argv, log, options));
    TestProcess& worker = *workers_.back();
    if (wait_until_started) {
      EXPECT_TRUE(worker.wait_for_output_line(started_line)) << worker.output();
    }
    return worker;
  }

  NewJob shell_job(const std::string& script, int max_attempts = kDefaultMaxAttempts) const {
    NewJob job;
    job.type = std::string(kShellType);
    job.payload = make_shell_payload({{"sh", "-c", script}, dir_.string(), {}});
    job.max_attempts = max_attempts;
    return job;
  }

  JobId enqueue_shell(const std::string& script, int max_attempts = kDefaultMaxAttempts) {
    return client_->enqueue(shell_job(script, max_attempts)).job.id;
  }

  Job job(JobId id) { return client_->get(id); }

  bool wait_for_state(JobId id, JobState state, std::chrono::milliseconds deadline = 30s) {
    return cli_test::eventually([&] { return job(id).state == state; }, deadline);
  }

  bool wait_for_line(const std::string& file, const std::string& line, std::chrono::milliseconds deadline = 30s) {
    return cli_test::eventually([&] { return has_line(dir_ / file, line); }, deadline);
  }

  // Reads a pid a job wrote to `file` (written whole: the job renames it into place).
  pid_t wait_for_pid_file(const std::string& file) {
    pid_t pid = 0;
    EXPECT_TRUE(cli_test::eventually([&] {
      std::ifstream in(dir_ / file);
      return static_cast<bool>(in >> pid) && pid > 0;
    })) << file;
    return pid;
  }

  // The job dirs left under $TMPDIR/quern-<uid>/<database id>/.
  std::vector<std::string> leftover_job_temp_dirs() {
    const fs::path root = dir_ / "tmp" / ("quern-" + std::to_string(getuid())) / store_->database_id();
    std::vector<std::string> left;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) left.push_back(entry.path().filename().string());
    return left;
  }

  // SIGSTOPs a worker at a moment it holds no write transaction. A process frozen in
  // the middle of one holds SQLite's write lock and so blocks every writer until it
  // runs again (an inherent limit of one shared file, not of lease rescue); tests of
  // rescue need the others to be able to write, so a stop that lands inside one is
  // undone and tried again.
  void stop_outside_write_transaction(TestProcess& worker) {
    StoreOptions options;
    options.busy_timeout = 200ms;
    auto probe = open_store(database_url(), options);
    for (int tries = 0; tries < 50; ++tries) {
      worker.signal(SIGSTOP);
      ASSERT_TRUE(worker.wait_until_stopped()) << worker.output();
      try {
        probe->put_setting("crash_test.write_probe", tries, client_->clock().now());
        return;
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
      }
      worker.signal(SIGCONT);
    }
    FAIL() << "worker " << worker.pid() << " held the write lock at every stop";
  }

  // SIGTERMs a worker and expects a clean exit (0) within `deadline`. A replacement
  // started moments ago is first let reach main(): a SIGTERM before the binary has even
  // run kills any program, which says nothing about Quern.
  void stop_gracefully(TestProcess& worker, std::chrono::milliseconds deadline = 30s) {
    EXPECT_TRUE(worker.wait_for_output_line(kWorkerStartedLine)) << worker.output();
    worker.signal(SIGTERM);
    const auto status = worker.wait_for_exit(deadline);
    ASSERT_TRUE(status.has_value()) << "worker " << worker.pid() << " did not exit: " << worker.output();
    EXPECT_EQ(*status, 0) << worker.output();
  }

  fs::path dir_;
  fs::path db_;
  std::shared_ptr<Client> client_;
  std::shared_ptr<Store> store_;
  std::vector<std::unique_ptr<TestProcess>> workers_;
};

}  // namespace quern::crash_test
