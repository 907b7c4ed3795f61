// The commands that change jobs and queues: pause, resume, retry, cancel, rm, clear.
#include "cli_runner.h"

namespace quern::cli_test {
namespace {

bool queue_paused(const QuernCli& cli, const std::string& name) {
  const Json stats = cli.json({"stats"});
  for (const Json& queue : stats["queues"]) {
    if (queue["name"] == name) return queue["paused"].get<bool>();
  }
  return false;
}

TEST(CliMigrate, StatusNamesEachMigrationAndMigrateAppliesThemAll) {
  QuernCli cli;
  const CliResult before = cli.run({"migrate", "status", "--json"});
  ASSERT_EQ(before.status, 0) << before.err;
  const Json status = Json::parse(before.out);
  EXPECT_EQ(status["backend"], "sqlite");
  EXPECT_EQ(status["current"], 0);
  ASSERT_GT(status["latest"].get<int>(), 0);
  ASSERT_EQ(status["migrations"].size(), status["latest"].get<size_t>());
  for (const Json& m : status["migrations"]) {
    EXPECT_FALSE(m["description"].get<std::string>().empty()) << m.dump();
    EXPECT_EQ(m["applied"], false) << m.dump();
  }
  EXPECT_EQ(cli.run({"--no-migrate", "ls"}).status, 5);  // a new file is behind too
  ASSERT_EQ(cli.run({"migrate"}).status, 0);
  const Json after = Json::parse(cli.run({"migrate", "status", "--json"}).out);
  EXPECT_EQ(after["current"], status["latest"]);
  for (const Json& m : after["migrations"]) EXPECT_EQ(m["applied"], true) << m.dump();
  EXPECT_EQ(cli.run({"--no-migrate", "ls"}).status, 0);
}

TEST(CliPause, DefaultQueueNamedQueueAndAll) {
  QuernCli cli;
  cli.add({"--queue", "bg", "--", "true"});

  const CliResult pause_default = cli.run({"pause"});
  EXPECT_EQ(pause_default.status, 0) << pause_default.err;
  EXPECT_EQ(pause_default.out, "paused queue default\n");
  EXPECT_TRUE(queue_paused(cli, "default"));
  EXPECT_FALSE(queue_paused(cli, "bg"));

  EXPECT_EQ(cli.run({"pause", "bg"}).out, "paused queue bg\n");
  EXPECT_TRUE(queue_paused(cli, "bg"));

  const CliResult resume_all = cli.run({"resume", "--all"});
  EXPECT_EQ(resume_all.status, 0);
  EXPECT_NE(resume_all.out.find("resumed queue bg"), std::string::npos) << resume_all.out;
  EXPECT_NE(resume_all.out.find("resumed queue default"), std::string::npos) << resume_all.out;
  EXPECT_FALSE(queue_paused(cli, "default"));
  EXPECT_FALSE(queue_paused(cli, "bg"));

  EXPECT_EQ(cli.run({"pause", "--all"}).status, 0);
  EXPECT_TRUE(queue_paused(cli, "default"));
  EXPECT_TRUE(queue_paused(cli, "bg"));
  EXPECT_EQ(cli.run({"pause", "bg", "--all"}).status, 2);
}

TEST(CliLimit, ShowsSetsAndRemovesAQueuesLimit) {
  QuernCli cli;
  EXPECT_EQ(cli.run({"limit", "gpu"}).out, "queue gpu: no limit\n");
  const CliResult set = cli.run({"limit", "gpu", "2"});
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_EQ(set.out, "queue gpu: at most 2 running at once\n");
  EXPECT_EQ(Json::parse(cli.run({"limit", "gpu", "--json"}).out), (Json{{"queue", "gpu"}, {"concurrency_limit", 2}}));
  const Json stats = Json::parse(cli.run({"stats", "--json"}).out);
  EXPECT_EQ(stats["queues"][0]["name"], "gpu");
  EXPECT_EQ(stats["queues"][0]["concurrency_limit"], 2);
  const std::string table = cli.run({"stats"}).out;
  EXPECT_NE(table.find("LIMIT"), std::string::npos) << table;
  EXPECT_EQ(table.find("HELD WHILE"), std::string::npos) << table;
  EXPECT_EQ(cli.run({"limit", "gpu", "none"}).out, "queue gpu: no limit\n");
  EXPECT_TRUE(Json::parse(cli.run({"limit", "gpu", "--json"}).out)["concurrency_limit"].is_null());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"limit"}, {"limit", "gpu", "0"}, {"limit", "gpu", "-1"}, {"limit", "gpu", "two"}, {"limit", "", "1"},
           {"limit", "gpu", "99999999999"}}) {
    expect_one_error_line(cli.run(args), 2, QuernCli::join(args));
  }
  EXPECT_TRUE(Json::parse(cli.run({"limit", "gpu", "--json"}).out)["concurrency_limit"].is_null());
}

// The desktop app's queue: background work waits while foreground work runs or waits.
TEST(CliHold, BackgroundWaitsWhileForegroundHasWork) {
  QuernCli cli;
  EXPECT_EQ(cli.run({"hold", "background"}).out, "queue background: not held\n");
  const CliResult set = cli.run({"hold", "background", "--while", "foreground"});
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_EQ(set.out, "queue background: held while foreground has jobs to run\n");
  EXPECT_EQ(Json::parse(cli.run({"hold", "background", "--json"}).out),
            (Json{{"queue", "background"}, {"held_while", "foreground"}}));
  EXPECT_EQ(Json::parse(cli.run({"stats", "--json"}).out)["queues"][0]["held_while"], "foreground");
  const std::string table = cli.run({"stats"}).out;
  EXPECT_NE(table.find("HELD WHILE"), std::string::npos) << table;
  EXPECT_NE(table.find("foreground"), std::string::npos) << table;
  expect_one_error_line(cli.run({"hold", "foreground", "--while", "background"}), 2, "a loop");
  expect_one_error_line(cli.run({"hold", "background", "--while", "background"}), 2, "itself");
  expect_one_error_line(cli.run({"hold", "background", "--while", "x", "--none"}), 2, "both");
  expect_one_error_line(cli.run({"hold", "background", "--while", ""}), 2, "empty");
  expect_one_error_line(cli.run({"hold"}), 2, "no queue");

  // Each job appends its name when it starts and ends: the background job must start
  // after the foreground one ended, though it was added first.
  const std::string trace = (cli.dir() / "trace").string();
  const int64_t background = cli.add(
      {"--queue", "background", "--", "sh", "-c", "echo bg-start >> " + trace + "; echo bg-end >> " + trace});
  const int64_t foreground = cli.add({"--queue", "foreground", "--", "sh", "-c",
                                      "echo fg-start >> " + trace + "; sleep 0.3; echo fg-end >> " + trace});
  auto worker = cli.start_worker({"--concurrency", "2"});
  EXPECT_EQ(cli.run({"wait", "--timeout", "60s", std::to_string(background), std::to_string(foreground)}).status, 0);
  EXPECT_EQ(worker->stop(), 0);
  std::ifstream in(trace);
  const std::string lines((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(lines, "fg-start\nfg-end\nbg-start\nbg-end\n");
  EXPECT_EQ(cli.run({"hold", "background", "--none"}).out, "queue background: not held\n");
}

TEST(CliRetain, ShowsSetsAndHonoursAQueuesRetention) {
  QuernCli cli;
  EXPECT_EQ(cli.run({"retain", "scratch"}).out,
            "queue scratch keeps finished jobs: completed forever, failed forever, canceled forever, expired forever\n");
  const CliResult set = cli.run({"retain", "scratch", "--final", "7d", "--completed", "0s"});
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_EQ(set.out, "queue scratch keeps finished jobs: completed 0s, failed 7d, canceled 7d, expired 7d\n");
  EXPECT_EQ(cli.run({"retain", "scratch", "--canceled", "forever"}).out,
            "queue scratch keeps finished jobs: completed 0s, failed 7d, canceled forever, expired 7d\n");
  const Json expected = {{"queue", "scratch"},
                         {"retention", {{"completed", 0}, {"failed", 604800}, {"canceled", nullptr}, {"expired", 604800}}}};
  EXPECT_EQ(Json::parse(cli.run({"retain", "scratch", "--json"}).out), expected);
  EXPECT_EQ(Json::parse(cli.run({"stats", "--json"}).out)["queues"][0]["retention"], expected["retention"]);
  for (const auto& args : std::vector<std::vector<std::string>>{{"retain"},
                                                                {"retain", "scratch", "--completed", "soon"},
                                                                {"retain", "scratch", "--failed", "-1s"},
                                                                {"retain", "scratch", "--final", "7"},
                                                                {"retain", "", "--completed", "1h"},
                                                                {"retain", "scratch", "--running", "1h"}}) {
    expect_one_error_line(cli.run(args), 2, QuernCli::join(args));
  }
  EXPECT_EQ(Json::parse(cli.run({"retain", "scratch", "--json"}).out), expected);  // unchanged

  // A worker (the maintenance leader) deletes the completed job; the other queue keeps its own.
  const int64_t dropped = cli.add({"--queue", "scratch", "--", "true"});
  const int64_t kept = cli.add({"--", "true"});
  auto worker = cli.start_worker({});
  EXPECT_EQ(cli.run({"wait", "--timeout", "30s", std::to_string(kept)}).status, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (cli.run({"show", std::to_string(dropped)}).status != 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(cli.run({"show", std::to_string(dropped)}).status, 3);
  EXPECT_EQ(worker->stop(), 0);
  EXPECT_EQ(cli.json({"show", std::to_string(kept)})["state"], "completed");
}

// A worker with room for three runs one job of a queue limited to one at a time: each
// job holds a directory only one can make, so an overlap would fail a run.
TEST(CliLimit, AWorkerRunsALimitedQueuesJobsOneAtATime) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"limit", "disc", "1"}).status, 0);
  const std::string lock = (cli.dir() / "drive-in-use").string();
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(cli.add({"--queue", "disc", "--max-attempts", "1", "--", "sh", "-c",
                           "mkdir " + lock + " || exit 1; sleep 0.2; rmdir " + lock}));
  }
  const int64_t other = cli.add({"--", "sleep", "0.2"});  // another queue is not held back
  auto worker = cli.start_worker({"--concurrency", "3"});
  std::vector<std::string> wait = {"wait", "--timeout", "60s", std::to_string(other)};
  for (int64_t id : ids) wait.push_back(std::to_string(id));
  const CliResult waited = cli.run(wait);
  EXPECT_EQ(waited.status, 0) << waited.err;
  for (int64_t id : ids) {
    const Json job = cli.job(id);
    EXPECT_EQ(job["state"], "completed") << job.dump();
    EXPECT_EQ(job["failures"], 0) << job.dump();
  }
  EXPECT_EQ(worker->stop(), 0);
}

TEST(CliCancel, CancelsAndRefusesFinalJobs) {
  QuernCli cli;
  cli.add({"--", "true"});
  const CliResult cancel = cli.run({"cancel", "1"});
  EXPECT_EQ(cancel.status, 0) << cancel.err;
  EXPECT_EQ(cancel.out, "canceled job 1\n");
  EXPECT_EQ(cli.state(1), "canceled");

  const CliResult again = cli.run({"cancel", "1"});
  EXPECT_EQ(again.status, 4);
  EXPECT_EQ(again.err_lines(), 1u);
  EXPECT_EQ(cli.state(1), "canceled");
}

// Several ids: one unknown or not allowed, and none of them is touched; every
// failure is one error line, and the first decides the status.
TEST(CliBatch, AnUnknownOrRefusedIdChangesNothing) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--", "true"});
  const CliResult unknown = cli.run({"cancel", "1", "999", "2", "998"});
  EXPECT_EQ(unknown.status, 3) << unknown.err;
  EXPECT_EQ(unknown.err_lines(), 2u) << unknown.err;
  EXPECT_EQ(unknown.out, "");
  EXPECT_EQ(cli.state(1), "available");
  EXPECT_EQ(cli.state(2), "available");

  ASSERT_EQ(cli.run({"cancel", "1"}).status, 0);
  EXPECT_EQ(cli.run({"cancel", "2", "1"}).status, 4);
  EXPECT_EQ(cli.state(2), "available");
  EXPECT_EQ(cli.run({"retry", "1", "2"}).status, 4);
  EXPECT_EQ(cli.state(1), "canceled");
  EXPECT_EQ(cli.run({"rm", "2", "999"}).status, 3);
  EXPECT_EQ(cli.job_count(), 2u);

  const CliResult twice = cli.run({"cancel", "2", "2"});
  EXPECT_EQ(twice.status, 0) << twice.err;
  EXPECT_EQ(twice.out, "canceled job 2\n");
  const CliResult both = cli.run({"rm", "1", "2"});
  EXPECT_EQ(both.status, 0) << both.err;
  EXPECT_EQ(cli.job_count(), 0u);
}

TEST(CliRetry, RetriesCanceledJobsAndRefusesLiveOnes) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--", "true"});
  ASSERT_EQ(cli.run({"cancel", "1"}).status, 0);
  const CliResult retry = cli.run({"retry", "1"});
  EXPECT_EQ(retry.status, 0) << retry.err;
  EXPECT_EQ(cli.state(1), "available");

  const CliResult live = cli.run({"retry", "2"});
  EXPECT_EQ(live.status, 4) << live.err;
  EXPECT_EQ(live.err_lines(), 1u);
  EXPECT_EQ(cli.state(2), "available");
}

TEST(CliRetry, FailedRetriesEveryFailedJob) {
  QuernCli cli;
  const CliResult none = cli.run({"retry", "--failed"});
  EXPECT_EQ(none.status, 0) << none.err;
  EXPECT_EQ(none.out, "retried 0 failed jobs\n");
  EXPECT_EQ(cli.json({"retry", "--failed", "--queue", "bg"}), Json::parse(R"({"retried":0})"));
}

TEST(CliRetry, UsageErrors) {
  QuernCli cli;
  cli.add({"--", "true"});
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"retry"}, {"retry", "1", "--failed"}, {"retry", "1", "--queue", "q"}, {"retry", "0"}, {"retry", "x"}}) {
    const CliResult result = cli.run(args);
    EXPECT_EQ(result.status, 2) << QuernCli::join(args) << ": " << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
  }
  EXPECT_EQ(cli.run({"retry", "77"}).status, 3);
  EXPECT_EQ(cli.state(1), "available");
}

TEST(CliRm, RemovesJobs) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--", "true"});
  const CliResult rm = cli.run({"rm", "1"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(rm.out, "removed job 1\n");
  EXPECT_EQ(cli.run({"show", "1"}).status, 3);
  EXPECT_EQ(cli.job_count(), 1u);
  EXPECT_EQ(cli.run({"rm", "1"}).status, 3);
}

// A removed job will never complete: its dependents are canceled, as when it is
// canceled, unless they chose to stay blocked.
TEST(CliRm, RemovingAWaitingDependencyCancelsItsDependents) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--after", "1", "--", "true"});
  cli.add({"--after", "2", "--", "true"});
  ASSERT_EQ(cli.state(2), "blocked");
  const CliResult rm = cli.run({"rm", "1"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(cli.state(2), "canceled");
  EXPECT_EQ(cli.state(3), "canceled");
  EXPECT_EQ(cli.job_count(), 2u);
}

TEST(CliBatch, AnInvalidIdChangesNothing) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--", "true"});
  const CliResult result = cli.run({"cancel", "1", "zero", "2"});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.err_lines(), 1u);
  EXPECT_EQ(cli.state(1), "available");
  EXPECT_EQ(cli.state(2), "available");
  EXPECT_EQ(cli.run({"rm", "1", "0"}).status, 2);
  EXPECT_EQ(cli.job_count(), 2u);
}

TEST(CliClear, DeletesFinishedJobsByState) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--", "true"});
  cli.add({"--", "true"});
  ASSERT_EQ(cli.run({"cancel", "1", "2"}).status, 0);

  const CliResult completed = cli.run({"clear", "--completed"});
  EXPECT_EQ(completed.status, 0) << completed.err;
  EXPECT_EQ(completed.out, "deleted 0 jobs\n");
  EXPECT_EQ(cli.job_count(), 3u);

  const CliResult final_jobs = cli.run({"clear", "--completed", "--final"});
  EXPECT_EQ(final_jobs.status, 0);
  EXPECT_EQ(final_jobs.out, "deleted 2 jobs\n");
  EXPECT_EQ(cli.job_count(), 1u);
  EXPECT_EQ(cli.state(3), "available");

  const CliResult nothing = cli.run({"clear"});
  EXPECT_EQ(nothing.status, 2);
  EXPECT_EQ(nothing.err_lines(), 1u);
}

TEST(CliClear, QueueClearsOnlyThatQueue) {
  QuernCli cli;
  cli.add({"--queue", "mail", "--", "true"});
  cli.add({"--queue", "video", "--", "true"});
  cli.add({"--queue", "video", "--", "true"});
  ASSERT_EQ(cli.run({"cancel", "1", "2", "3"}).status, 0);
  const CliResult video = cli.run({"clear", "--canceled", "--queue", "video"});
  EXPECT_EQ(video.status, 0) << video.err;
  EXPECT_EQ(video.out, "deleted 2 jobs\n");
  EXPECT_EQ(cli.job_count(), 1u);
  EXPECT_EQ(cli.state(1), "canceled");
  EXPECT_EQ(cli.run({"clear", "--final", "--queue", ""}).status, 2);
  EXPECT_EQ(cli.job_count(), 1u);
}

}  // namespace
}  // namespace quern::cli_test
