// examples/remote_worker/worker.py (Python, standard library only) against a real
// `quern serve`: it leases, heartbeats, completes and fails jobs over HTTP.
#include <gtest/gtest.h>

#include "http_harness.h"

namespace quern::http_test {
namespace {

const std::string kWorkerScript = std::string(QUERN_SOURCE_DIR) + "/examples/remote_worker/worker.py";

cli_test::CliResult run_worker(const QuernServer& server, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env", "python3", kWorkerScript, "--url",
                                   "http://127.0.0.1:" + std::to_string(server.port()), "--worker", "py",
                                   "--exit-when-idle", "1.5", "--lease", "2"};
  argv.insert(argv.end(), args.begin(), args.end());
  cli_test::RunOptions options;
  options.cwd = server.cli().dir();
  return cli_test::run_program(argv, options);
}

TEST(HttpRemoteWorker, PythonWorkerCompletesAndFailsJobs) {
  QuernServer server({"--concurrency", "0"});
  const int64_t good = server.enqueue({{"type", "sum"}, {"payload", {{"numbers", {1, 2, 3, 4}}}}})["id"];
  const int64_t bad = server.enqueue({{"type", "sum"}, {"payload", {{"numbers", "many"}}}})["id"];
  const int64_t other = server.enqueue({{"type", "not-mine"}})["id"];
  const cli_test::CliResult result = run_worker(server, {"--type", "sum", "--concurrency", "2"});
  EXPECT_EQ(result.status, 0) << result.err;

  const Json done = server.job(good);
  EXPECT_EQ(done["state"], "completed") << result.err;
  EXPECT_EQ(done["result"], Json({{"sum", 10}}));
  EXPECT_EQ(done["progress"], 1.0);
  const Json failed = server.job(bad);
  EXPECT_EQ(failed["state"], "failed") << result.err;
  EXPECT_NE(failed["error"].get<std::string>().find("numbers"), std::string::npos);
  EXPECT_EQ(server.job(other)["state"], "available");
}

TEST(HttpRemoteWorker, PythonWorkerRunsACommandPerJob) {
  QuernServer server({"--concurrency", "0"});
  const int64_t id = server.enqueue({{"type", "echo"}, {"payload", {{"word", "hello"}}}})["id"];
  const int64_t flaky = server.enqueue({{"type", "echo"}, {"payload", {{"word", "fail"}}}, {"max_attempts", 1}})["id"];
  const std::string script =
      "import json, sys\n"
      "payload = json.load(sys.stdin)\n"
      "if payload['word'] == 'fail': sys.exit(3)\n"
      "print(json.dumps({'echo': payload['word']}))\n";
  const cli_test::CliResult result = run_worker(server, {"--type", "echo", "--", "python3", "-c", script});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(server.job(id)["result"], Json({{"echo", "hello"}})) << result.err;
  EXPECT_EQ(server.job(flaky)["state"], "failed");
  EXPECT_EQ(server.job(flaky)["error"], "RuntimeError: exit status 3");
}

TEST(HttpRemoteWorker, PythonWorkerDropsAJobCanceledWhileItRuns) {
  QuernServer server({"--concurrency", "0"});
  const int64_t id = server.enqueue({{"type", "slow"}})["id"];
  // The command waits until the job is canceled under it; the worker notices at its
  // next heartbeat (409), stops the command and leaves the job as it is.
  cli_test::RunOptions options;
  options.cwd = server.cli().dir();
  std::vector<std::string> argv = {"/usr/bin/env", "python3", kWorkerScript, "--url",
                                   "http://127.0.0.1:" + std::to_string(server.port()), "--type", "slow",
                                   "--exit-when-idle", "1", "--lease", "0.6", "--", "sleep", "30"};
  TestProcess worker(argv, server.cli().dir() / "worker.log", options);
  ASSERT_TRUE(server.wait_for_state(id, "running"));
  ASSERT_EQ(server.request("POST", "/api/v1/jobs/" + std::to_string(id) + "/cancel").status, 200);
  const auto status = worker.wait_for_exit(30s);
  ASSERT_TRUE(status.has_value()) << worker.output();
  EXPECT_EQ(*status, 0) << worker.output();
  EXPECT_NE(worker.output().find("no longer ours"), std::string::npos) << worker.output();
  EXPECT_EQ(server.job(id)["state"], "canceled");
}

}  // namespace
}  // namespace quern::http_test
