// `quern worker`, `wait` and `logs` with real processes: a worker child runs shell
// jobs and is stopped by pid with SIGTERM.
#include <signal.h>

#include <fstream>
#include <thread>

#include "cli_runner.h"

namespace quern::cli_test {
namespace {

// `quern worker &` and at once another command on a database not made yet: both open
// the new file together (one turning it to WAL, one migrating), where SQLite answers
// SQLITE_BUSY without waiting. Each open tries again within its busy timeout (before,
// about one round in thirty failed with exit 5).
TEST(CliWorker, ProcessesOpeningANewDatabaseTogetherAllSucceed) {
  for (int round = 0; round < 40; ++round) {
    QuernCli cli;
    std::filesystem::create_directories(cli.dir() / "in");
    std::ofstream(cli.dir() / "in" / "a") << "x";
    BackgroundProcess worker({QUERN_BINARY, "--db", cli.db().string(), "worker"}, cli.dir() / "worker.out");
    const CliResult watched = cli.run({"watch", (cli.dir() / "in").string(), "--once", "--settle", "0s", "--", "true"});
    EXPECT_EQ(watched.status, 0) << "round " << round << ": " << watched.err;
    // Its start line says it opened the database (and handles SIGTERM by then; before
    // it does, a loaded machine may deliver the signal to a process still starting).
    EXPECT_TRUE(worker.wait_for_stderr(" slot")) << "round " << round << ": " << worker.err();
    EXPECT_EQ(worker.stop(SIGTERM), 0) << "round " << round << ": " << worker.err();
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(CliWorker, RunsShellJobsAndStopsGracefullyOnSigterm) {
  QuernCli cli;
  auto worker = cli.start_worker({"--concurrency", "2"});
  EXPECT_NE(worker->err().find("2 slots on " + cli.db().string()), std::string::npos) << worker->err();
  EXPECT_NE(worker->err().find("queues: all"), std::string::npos) << worker->err();

  const int64_t id = cli.add({"--", "sh", "-c", "echo made > out.txt"});
  const CliResult wait = cli.run({"wait", std::to_string(id), "--timeout", "30s"});
  EXPECT_EQ(wait.status, 0) << wait.err;
  EXPECT_EQ(wait.out, "job " + std::to_string(id) + " completed\n");
  EXPECT_EQ(cli.state(id), "completed");

  EXPECT_EQ(worker->stop(SIGTERM), 0) << worker->err();
  EXPECT_NE(worker->err().find("stopped"), std::string::npos) << worker->err();
}

TEST(CliWorker, SigintStopsItToo) {
  QuernCli cli;
  auto worker = cli.start_worker();
  EXPECT_EQ(worker->stop(SIGINT), 0) << worker->err();
}

// Closing the terminal a worker runs in must not orphan its jobs: SIGHUP is a graceful
// stop, and the interrupted job is back in the queue with no failure counted.
TEST(CliWorker, SighupStopsItGracefully) {
  QuernCli cli;
  auto worker = cli.start_worker({"--grace", "100ms"});
  const int64_t id = cli.add({"--", "sh", "-c", "echo started; sleep 60"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cli.state(id) != "running" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(cli.state(id), "running");
  EXPECT_EQ(worker->stop(SIGHUP), 0) << worker->err();
  const Json job = cli.json({"show", std::to_string(id)});
  EXPECT_EQ(job["state"], "available") << job.dump();
  EXPECT_EQ(job["failures"], 0) << job.dump();
}

// Under nohup (SIGHUP ignored when it started) a worker outlives the terminal.
TEST(CliWorker, NohupKeepsItRunningThroughSighup) {
  QuernCli cli;
  BackgroundProcess worker({"/usr/bin/nohup", QUERN_BINARY, "--db", cli.db().string(), "worker"},
                           cli.dir() / "nohup-worker.out", {});
  ASSERT_TRUE(worker.wait_for_stderr_line("quern worker:")) << worker.err();
  kill(worker.pid(), SIGHUP);
  const int64_t id = cli.add({"--", "true"});
  const CliResult wait = cli.run({"wait", std::to_string(id), "--timeout", "30s"});
  EXPECT_EQ(wait.status, 0) << wait.err << worker.err();
  EXPECT_EQ(worker.stop(SIGTERM), 0) << worker.err();
}

// Retrying cannot help a worker whose database file was deleted: it says so and stops.
TEST(CliWorker, DeletedDatabaseStopsTheWorkerWithExitFive) {
  QuernCli cli;
  auto worker = cli.start_worker();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(cli.db().string() + suffix);
  cli.add({"--", "true"});  // a new file at the path, which the worker cannot see
  EXPECT_TRUE(worker->wait_for_stderr("was deleted or replaced")) << worker->err();
  EXPECT_EQ(worker->stop(0), 5) << worker->err();
  EXPECT_NE(worker->err().find("store error, stopping"), std::string::npos) << worker->err();
}

TEST(CliWorker, TakesOnlyItsQueues) {
  QuernCli cli;
  const int64_t other = cli.add({"--queue", "other", "--", "true"});
  const int64_t mine = cli.add({"--queue", "mine", "--", "true"});
  auto worker = cli.start_worker({"--queue", "mine"});
  EXPECT_NE(worker->err().find("queues: mine"), std::string::npos) << worker->err();
  EXPECT_EQ(cli.run({"wait", std::to_string(mine), "--timeout", "30s"}).status, 0);
  EXPECT_EQ(worker->stop(), 0);
  EXPECT_EQ(cli.state(other), "available");
}

TEST(CliWorker, BadOptionsAreInvalidInput) {
  QuernCli cli;
  for (const auto& args : std::vector<std::vector<std::string>>{{"worker", "--concurrency", "0"},
                                                                 {"worker", "--concurrency", "many"},
                                                                 {"worker", "--lease", "0s"},
                                                                 {"worker", "--lease", "forever"},
                                                                 {"worker", "--grace", "-1s"}}) {
    const CliResult result = cli.run(args);
    EXPECT_EQ(result.status, 2) << QuernCli::join(args) << ": " << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
  }
}

// The run's own worker kills its process group on a cancel; when that worker is dead
// (kill -9) or stopped (SIGSTOP) it cannot, so `quern cancel` does.
TEST(CliCancel, ARunWhoseWorkerIsDeadOrStoppedIsKilledByCancel) {
  QuernCli cli;
  for (int signal : {SIGKILL, SIGSTOP}) {
    auto worker = cli.start_worker();
    const auto pid_file = cli.dir() / ("pid-" + std::to_string(signal));
    const auto dir_file = cli.dir() / ("tmpdir-" + std::to_string(signal));
    const int64_t id = cli.add({"--", "sh", "-c",
                                "echo $QUERN_TMPDIR > " + dir_file.string() + "; echo $$ > " + pid_file.string() +
                                    "; exec sleep 100"});
    pid_t job_pid = 0;
    for (int i = 0; i < 3000 && job_pid == 0; ++i) {
      std::ifstream(pid_file) >> job_pid;
      if (job_pid == 0) std::this_thread::sleep_for(10ms);
    }
    ASSERT_GT(job_pid, 0) << "the job never started";
    ASSERT_EQ(kill(worker->pid(), signal), 0);
    const CliResult canceled = cli.run({"cancel", std::to_string(id)});
    EXPECT_EQ(canceled.status, 0) << canceled.err;
    // Gone, or a zombie its stopped parent has not reaped yet: not running either way.
    auto running = [&] {
      std::ifstream stat("/proc/" + std::to_string(job_pid) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      const size_t end = text.rfind(')');
      return end != std::string::npos && end + 2 < text.size() && text[end + 2] != 'Z';
    };
    for (int i = 0; i < 500 && running(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(running()) << "signal " << signal << ": the job's process " << job_pid << " still runs";
    EXPECT_EQ(cli.state(id), "canceled");
    std::string temp_dir;
    std::ifstream(dir_file) >> temp_dir;
    ASSERT_FALSE(temp_dir.empty());
    if (signal == SIGKILL) {
      EXPECT_FALSE(std::filesystem::exists(temp_dir)) << temp_dir;  // no worker will
    }
    if (signal == SIGSTOP) {
      kill(worker->pid(), SIGCONT);
      EXPECT_EQ(worker->stop(), 0);
    } else {
      worker->stop(0);
    }
  }
}

TEST(CliWait, ExitsOneWhenAJobDidNotComplete) {
  QuernCli cli;
  auto worker = cli.start_worker();
  const int64_t ok = cli.add({"--", "true"});
  const int64_t bad = cli.add({"--max-attempts", "1", "--", "sh", "-c", "exit 3"});
  // An id given twice is waited on, and reported, once.
  const CliResult result = cli.run({"wait", std::to_string(ok), std::to_string(bad), std::to_string(ok)});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.out, "job " + std::to_string(ok) + " completed\n");
  EXPECT_EQ(result.err_lines(), 1u) << result.err;
  EXPECT_NE(result.err.find("job " + std::to_string(bad) + " failed"), std::string::npos) << result.err;
  EXPECT_EQ(worker->stop(), 0);
}

TEST(CliWait, PermanentFailureExitStatusFailsAtOnce) {
  QuernCli cli;
  auto worker = cli.start_worker();
  const int64_t id = cli.add({"--", "sh", "-c", "exit 65"});
  EXPECT_EQ(cli.run({"wait", std::to_string(id)}).status, 1);
  const Json job = cli.job(id);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["attempt"], 1);
  EXPECT_EQ(worker->stop(), 0);
}

TEST(CliWait, TimeoutPassingIsExitOne) {
  QuernCli cli;
  const int64_t id = cli.add({"--", "true"});  // no worker: it never runs
  const CliResult result = cli.run({"wait", std::to_string(id), "--timeout", "200ms"});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err_lines(), 1u);
  EXPECT_NE(result.err.find("still available"), std::string::npos) << result.err;
}

TEST(CliWait, UnknownAndInvalidIds) {
  QuernCli cli;
  const int64_t id = cli.add({"--", "true"});
  EXPECT_EQ(cli.run({"wait", std::to_string(id), "12345", "--timeout", "10ms"}).status, 3);
  EXPECT_EQ(cli.run({"wait", "0"}).status, 2);
  EXPECT_EQ(cli.run({"wait", "1", "--timeout", "later"}).status, 2);
  EXPECT_EQ(cli.run({"wait"}).status, 2);
}

TEST(CliWait, CanceledJobIsNotCompleted) {
  QuernCli cli;
  const int64_t id = cli.add({"--", "true"});
  ASSERT_EQ(cli.run({"cancel", std::to_string(id)}).status, 0);
  const CliResult result = cli.run({"wait", std::to_string(id)});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("canceled"), std::string::npos) << result.err;
}

TEST(CliLogs, PrintsTheJobsOutputButNotProtocolLines) {
  QuernCli cli;
  auto worker = cli.start_worker();
  const int64_t id = cli.add({"--", "sh", "-c", "echo first; echo ::progress 50%; echo second"});
  ASSERT_EQ(cli.run({"wait", std::to_string(id)}).status, 0);
  const CliResult logs = cli.run({"logs", std::to_string(id)});
  EXPECT_EQ(logs.status, 0) << logs.err;
  EXPECT_EQ(logs.out, "first\nsecond\n");

  const Json chunks = cli.json({"logs", std::to_string(id)});
  ASSERT_TRUE(chunks.is_array());
  std::string text;
  for (const Json& chunk : chunks) {
    EXPECT_TRUE(chunk.contains("seq") && chunk.contains("attempt") && chunk.contains("at")) << chunk.dump();
    text += chunk["text"].get<std::string>();
  }
  EXPECT_EQ(text, "first\nsecond\n");

  const CliResult show = cli.run({"show", std::to_string(id)});
  EXPECT_NE(show.out.find("second"), std::string::npos) << show.out;
  EXPECT_EQ(worker->stop(), 0);
}

TEST(CliLogs, FollowPrintsUntilTheJobIsFinal) {
  QuernCli cli;
  // The job waits for a file the test creates only once `logs --follow` is running.
  const std::string go = (cli.dir() / "go").string();
  const int64_t id = cli.add({"--", "sh", "-c",
                              "echo before; while [ ! -e " + go + " ]; do sleep 0.02; done; echo after"});
  auto worker = cli.start_worker();
  ASSERT_TRUE(cli.wait_for_state(id, "running"));

  std::vector<std::string> argv = {QUERN_BINARY, "--db", cli.db().string(), "logs", std::to_string(id), "--follow"};
  const auto out_file = cli.dir() / "follow.out";
  BackgroundProcess follow(argv, out_file);
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(out_file);
    return std::string(std::istreambuf_iterator<char>(in), {}) == "before\n";
  }));
  std::ofstream(go).put('\n');
  EXPECT_EQ(follow.stop(0), 0) << follow.err();  // signal 0: only wait for it to exit
  std::ifstream in(out_file);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "before\nafter\n");
  EXPECT_EQ(cli.state(id), "completed");
  EXPECT_EQ(worker->stop(), 0);
}

TEST(CliLogs, UnknownAndInvalidIds) {
  QuernCli cli;
  EXPECT_EQ(cli.run({"logs", "5"}).status, 3);
  EXPECT_EQ(cli.run({"logs", "5", "--follow"}).status, 3);
  EXPECT_EQ(cli.run({"logs", "-5"}).status, 2);
}

// A running job: retry and rm are illegal transitions (4); cancel stops it.
TEST(CliWorker, RunningJobCannotBeRetriedOrRemoved) {
  QuernCli cli;
  const int64_t id = cli.add({"--", "sleep", "30"});
  auto worker = cli.start_worker({"--grace", "100ms"});
  ASSERT_TRUE(cli.wait_for_state(id, "running"));

  const CliResult retry = cli.run({"retry", std::to_string(id)});
  EXPECT_EQ(retry.status, 4) << retry.err;
  EXPECT_EQ(retry.err_lines(), 1u);
  const CliResult rm = cli.run({"rm", std::to_string(id)});
  EXPECT_EQ(rm.status, 4) << rm.err;
  const Json job = cli.job(id);
  EXPECT_EQ(job["state"], "running");
  EXPECT_EQ(job["attempt"], 1);
  EXPECT_EQ(job["failures"], 0);

  // Graceful stop past the grace period: the job goes back to available, no failure.
  EXPECT_EQ(worker->stop(SIGTERM), 0) << worker->err();
  const Json released = cli.job(id);
  EXPECT_EQ(released["state"], "available");
  EXPECT_EQ(released["failures"], 0);
}

// `quern cancel` returns once the run's worker has stopped its whole process group
// (here one that ignores SIGTERM, so it takes the SIGKILL 2 s later) and removed its
// temp dir: the next command of a script finds both gone.
TEST(CliWorker, CancelReturnsOnceTheRunsProcessesAndTempDirAreGone) {
  QuernCli cli;
  const auto started = cli.dir() / "started";
  const auto grandchild = cli.dir() / "grandchild";
  const int64_t id = cli.add({"--", "sh", "-c",
                              "trap '' TERM; sleep 300 & echo $! > " + grandchild.string() + "; echo $QUERN_TMPDIR > " +
                                  started.string() + "; wait"});
  auto worker = cli.start_worker();
  std::string temp_dir;
  for (int i = 0; i < 3000 && temp_dir.empty(); ++i) {
    std::ifstream(started) >> temp_dir;
    if (temp_dir.empty()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(temp_dir.empty()) << "the job never started";
  pid_t sleep_pid = 0;
  std::ifstream(grandchild) >> sleep_pid;
  ASSERT_GT(sleep_pid, 0);
  ASSERT_TRUE(std::filesystem::exists(temp_dir));

  const CliResult canceled = cli.run({"cancel", std::to_string(id)});
  EXPECT_EQ(canceled.status, 0) << canceled.err;
  EXPECT_FALSE(std::filesystem::exists(temp_dir)) << temp_dir;
  // Gone, or a zombie not reaped yet: not running either way.
  std::ifstream stat("/proc/" + std::to_string(sleep_pid) + "/stat");
  const std::string text((std::istreambuf_iterator<char>(stat)), {});
  const size_t end = text.rfind(')');
  EXPECT_TRUE(end == std::string::npos || end + 2 >= text.size() || text[end + 2] == 'Z')
      << "the job's grandchild " << sleep_pid << " still runs";
  EXPECT_EQ(cli.state(id), "canceled");
  EXPECT_EQ(cli.run({"wait", std::to_string(id), "--timeout", "30s"}).status, 1);
  EXPECT_EQ(worker->stop(), 0);
}

TEST(CliRetry, CompletedJobCannotBeRetried) {
  QuernCli cli;
  auto worker = cli.start_worker();
  const int64_t id = cli.add({"--", "true"});
  ASSERT_EQ(cli.run({"wait", std::to_string(id)}).status, 0);
  EXPECT_EQ(worker->stop(), 0);
  const CliResult retry = cli.run({"retry", std::to_string(id)});
  EXPECT_EQ(retry.status, 4) << retry.err;
  EXPECT_EQ(cli.state(id), "completed");
}

TEST(CliRetry, FailedJobRunsAgain) {
  QuernCli cli;
  const std::string marker = (cli.dir() / "second-run").string();
  // Fails the first time, succeeds once the marker exists.
  const int64_t id = cli.add({"--max-attempts", "1", "--", "sh", "-c",
                              "if [ -e " + marker + " ]; then exit 0; fi; touch " + marker + "; exit 1"});
  auto worker = cli.start_worker();
  EXPECT_EQ(cli.run({"wait", std::to_string(id)}).status, 1);
  const CliResult retry = cli.run({"retry", "--failed"});
  EXPECT_EQ(retry.out, "retried 1 failed job\n");
  EXPECT_EQ(cli.run({"wait", std::to_string(id)}).status, 0);
  const Json job = cli.job(id);
  EXPECT_EQ(job["attempt"], 2);
  EXPECT_EQ(worker->stop(), 0);
}

}  // namespace
}  // namespace quern::cli_test
