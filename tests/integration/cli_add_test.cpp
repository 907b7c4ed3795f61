// `quern add`: shell and typed jobs, every option, and every bad input rejected with
// exit status 2 or 3 without writing anything.
#include <filesystem>
#include <fstream>
#include <set>

#include "cli_runner.h"

namespace quern::cli_test {
namespace {

// The contract's job object keys plus the documented extensions (core/job_json.h).
const std::set<std::string> kJobObjectKeys = {
    "id",         "queue",      "type",        "state",      "priority",   "attempt",     "failures",
    "max_attempts", "payload",  "result",      "error",      "progress",   "stage",       "checkpoint",
    "unique_key", "tags",       "run_at",      "created_at", "started_at", "finished_at", "expires_at",
    "depends_on", "timeout_ms", "needs_files", "updated_at", "lease_owner", "lease_expires_at"};

std::set<std::string> keys_of(const Json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

TEST(CliAdd, ShellJobPrintsItsIdAlone) {
  QuernCli cli;
  const CliResult first = cli.run({"add", "--", "echo", "hello world"});
  EXPECT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(first.out, "1\n");
  EXPECT_EQ(first.err, "");
  const CliResult second = cli.run({"add", "--", "true"});
  EXPECT_EQ(second.out, "2\n");

  const Json job = cli.job(1);
  EXPECT_EQ(job["type"], "shell");
  EXPECT_EQ(job["queue"], "default");
  EXPECT_EQ(job["state"], "available");
  EXPECT_EQ(job["priority"], 10);
  EXPECT_EQ(job["max_attempts"], 3);
  EXPECT_EQ(job["payload"]["command"], Json::array({"echo", "hello world"}));
}

TEST(CliAdd, JsonPrintsTheJobObjectWithExactlyTheContractKeys) {
  QuernCli cli;
  const CliResult result = cli.run({"add", "--json", "--", "true"});
  ASSERT_EQ(result.status, 0) << result.err;
  const Json job = Json::parse(result.out);
  EXPECT_EQ(keys_of(job), kJobObjectKeys);
  EXPECT_EQ(job["id"], 1);
  EXPECT_EQ(job["state"], "available");
  EXPECT_EQ(job["attempt"], 0);
  EXPECT_EQ(job["failures"], 0);
  EXPECT_TRUE(job["result"].is_null());
  EXPECT_TRUE(job["started_at"].is_null());
  EXPECT_TRUE(job["created_at"].get<std::string>().ends_with("Z"));
}

TEST(CliAdd, JsonIsAcceptedBeforeTheCommandName) {
  QuernCli cli;
  const CliResult result = cli.run({"--json", "add", "--", "true"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(Json::parse(result.out)["id"], 1);
}

TEST(CliAdd, OptionsAfterTheDashDashBelongToTheCommand) {
  QuernCli cli;
  const int64_t id = cli.add({"--tag", "t", "--", "ls", "--json", "--priority", "5"});
  const Json job = cli.job(id);
  EXPECT_EQ(job["payload"]["command"], Json::array({"ls", "--json", "--priority", "5"}));
  EXPECT_EQ(job["tags"], Json::array({"t"}));
  EXPECT_EQ(job["priority"], 10);
}

TEST(CliAdd, TypedJobWithPayload) {
  QuernCli cli;
  const int64_t id = cli.add({"--type", "transcode", "--payload", R"({"file":"a.mkv","crf":23})"});
  const Json job = cli.job(id);
  EXPECT_EQ(job["type"], "transcode");
  EXPECT_EQ(job["payload"], Json::parse(R"({"file":"a.mkv","crf":23})"));

  const int64_t bare = cli.add({"--type", "scan"});
  EXPECT_EQ(cli.job(bare)["payload"], Json::object());
}

// A payload bigger than one argument may be (128 KiB on Linux) comes from a file
// (`@PATH`) or stdin (`-`); a missing file or one over the limit is invalid input.
TEST(CliAdd, PayloadFromAFileOrStdin) {
  QuernCli cli;
  const std::string big_text(300 * 1024, 'x');
  const Json big = {{"text", big_text}};
  {
    std::ofstream out(cli.dir() / "payload.json");
    out << big.dump();
  }
  const int64_t from_file = cli.add({"--type", "summarize", "--payload", "@payload.json"});
  EXPECT_EQ(cli.job(from_file)["payload"], big);

  RunOptions in_dir;
  in_dir.cwd = cli.dir();
  const CliResult from_stdin = run_program(
      {"/bin/sh", "-c", std::string("\"$0\" --db \"$1\" add --type summarize --payload - < payload.json"),
       QUERN_BINARY, cli.db().string()},
      in_dir);
  ASSERT_EQ(from_stdin.status, 0) << from_stdin.err;
  EXPECT_EQ(cli.job(std::stoll(from_stdin.out))["payload"], big);

  const size_t before = cli.job_count();
  const CliResult missing = cli.run({"add", "--type", "t", "--payload", "@nowhere.json"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("nowhere.json"), std::string::npos) << missing.err;
  EXPECT_EQ(missing.err_lines(), 1u);
  {
    std::ofstream out(cli.dir() / "huge.json");
    out << Json{{"text", std::string(3 * 1024 * 1024, 'y')}}.dump();
  }
  EXPECT_EQ(cli.run({"add", "--type", "t", "--payload", "@huge.json"}).status, 2);
  EXPECT_EQ(cli.job_count(), before);
}

TEST(CliAdd, EveryOptionReachesTheJob) {
  QuernCli cli;
  const int64_t parent = cli.add({"--", "true"});
  std::filesystem::create_directories(cli.dir() / "work");
  const int64_t id = cli.add({"--queue", "media", "--priority", "critical", "--max-attempts", "5", "--timeout", "90s",
                              "--unique", "file-1", "--after", std::to_string(parent), "--needs-file", "in/a.mkv",
                              "--expires-in", "1h", "--tag", "a", "--tag", "b", "--tag", "a", "--cwd", "work", "--env", "A=1",
                              "--env", "B=x=y", "--", "ffmpeg", "-i", "a.mkv"});
  const Json job = cli.job(id);
  EXPECT_EQ(job["queue"], "media");
  EXPECT_EQ(job["priority"], 30);
  EXPECT_EQ(job["max_attempts"], 5);
  EXPECT_EQ(job["timeout_ms"], 90000);
  EXPECT_EQ(job["unique_key"], "file-1");
  EXPECT_EQ(job["depends_on"], Json::array({parent}));
  EXPECT_EQ(job["needs_files"], Json::array({(cli.dir() / "in/a.mkv").string()}));
  EXPECT_FALSE(job["expires_at"].is_null());
  EXPECT_EQ(job["tags"], Json::array({"a", "b"}));  // a tag given twice is one tag
  EXPECT_EQ(job["state"], "blocked");
  EXPECT_EQ(job["payload"]["cwd"], (cli.dir() / "work").string());
  EXPECT_EQ(job["payload"]["env"], Json::parse(R"({"A":"1","B":"x=y"})"));
  EXPECT_EQ(job["payload"]["command"], Json::array({"ffmpeg", "-i", "a.mkv"}));
}

TEST(CliAdd, PriorityTakesNamesAndIntegers) {
  QuernCli cli;
  EXPECT_EQ(cli.job(cli.add({"--priority", "low", "--", "true"}))["priority"], 0);
  EXPECT_EQ(cli.job(cli.add({"--priority", "high", "--", "true"}))["priority"], 20);
  EXPECT_EQ(cli.job(cli.add({"--priority", "-5", "--", "true"}))["priority"], -5);
  EXPECT_EQ(cli.job(cli.add({"--priority=7", "--", "true"}))["priority"], 7);
}

TEST(CliAdd, DelayAndAtScheduleTheJob) {
  QuernCli cli;
  const Json delayed = cli.job(cli.add({"--delay", "1h", "--", "true"}));
  EXPECT_EQ(delayed["state"], "scheduled");
  EXPECT_GT(delayed["run_at"].get<std::string>(), delayed["created_at"].get<std::string>());

  const Json at = cli.job(cli.add({"--at", "2099-01-02T03:04:05Z", "--", "true"}));
  EXPECT_EQ(at["state"], "scheduled");
  EXPECT_EQ(at["run_at"], "2099-01-02T03:04:05Z");
}

TEST(CliAdd, UniqueKeyHeldByALiveJobPrintsThatJobsId) {
  QuernCli cli;
  const int64_t first = cli.add({"--unique", "scan:/media", "--", "true"});
  const CliResult again = cli.run({"add", "--unique", "scan:/media", "--", "false"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, std::to_string(first) + "\n");
  EXPECT_EQ(cli.job_count(), 1u);
}

TEST(CliAdd, OnDependencyFailureWaitIsRecorded) {
  QuernCli cli;
  const int64_t parent = cli.add({"--", "true"});
  const int64_t child = cli.add({"--after", std::to_string(parent), "--on-dependency-failure", "wait", "--", "true"});
  EXPECT_EQ(cli.state(child), "blocked");
  EXPECT_EQ(cli.run({"cancel", std::to_string(parent)}).status, 0);
  EXPECT_EQ(cli.state(child), "blocked");
}

struct BadAdd {
  std::vector<std::string> args;
  int status;
};

// Every bad input: the documented exit status, one error line, nothing written.
TEST(CliAdd, BadInputIsRejectedAndChangesNothing) {
  QuernCli cli;
  const int64_t existing = cli.add({"--", "true"});
  ASSERT_EQ(existing, 1);
  const std::vector<BadAdd> cases = {
      {{"--priority", "urgent", "--", "true"}, 2},
      {{"--priority", "1.5", "--", "true"}, 2},
      {{"--priority", "99999999999", "--", "true"}, 2},
      {{"--delay", "5x", "--", "true"}, 2},
      {{"--delay", "-5s", "--", "true"}, 2},
      {{"--delay", "", "--", "true"}, 2},
      {{"--timeout", "soon", "--", "true"}, 2},
      {{"--timeout", "0s", "--", "true"}, 2},
      {{"--expires-in", "1y", "--", "true"}, 2},
      {{"--at", "tomorrow", "--", "true"}, 2},
      {{"--at", "2026-02-30T00:00:00Z", "--", "true"}, 2},
      {{"--delay", "1s", "--at", "2099-01-01T00:00:00Z", "--", "true"}, 2},
      {{"--max-attempts", "0", "--", "true"}, 2},
      {{"--max-attempts", "three", "--", "true"}, 2},
      {{"--type", "scan", "--payload", "{bad"}, 2},
      {{"--type", "scan", "--payload", "{\"a\":1} trailing"}, 2},
      {{"--type", "scan", "--payload", "{\"a\":1,\"a\":2}"}, 2},
      {{"--type", "scan", "--payload", std::string("\xff\xfe", 2)}, 2},
      {{"--type", "shell", "--payload", "{\"command\":[]}"}, 2},
      {{"--type", "scan", "--", "true"}, 2},
      {{"--payload", "{}", "--", "true"}, 2},
      {{"--queue", "q"}, 2},
      {{"--type", "scan", "--cwd", "/tmp"}, 2},
      {{"--env", "NOEQUALS", "--", "true"}, 2},
      {{"--env", "=v", "--", "true"}, 2},
      {{"--cwd", "does/not/exist", "--", "true"}, 2},
      {{"--queue", "", "--", "true"}, 2},
      {{"--unique", "", "--", "true"}, 2},
      {{"--unique", "u\xff", "--", "true"}, 2},
      {{"--needs-file", "/tmp/d\xff", "--", "true"}, 2},
      {{"--on-dependency-failure", "ignore", "--", "true"}, 2},
      {{"--after", "0", "--", "true"}, 2},
      {{"--after", "-1", "--", "true"}, 2},
      {{"--after", "abc", "--", "true"}, 2},
      {{"--after", "1x", "--", "true"}, 2},
      {{"--after", "999", "--", "true"}, 3},
      {{"--after", "1", "--after", "999", "--", "true"}, 3},
      {{"--no-such-option", "--", "true"}, 2},
      {{"--priority"}, 2},
      // An option left without its value takes the "--": never a tag, queue or key "--".
      {{"--tag", "--", "true"}, 2},
      {{"--queue", "--", "true"}, 2},
      {{"--unique", "--", "true"}, 2},
      {{"--needs-file", "--", "true"}, 2},
      {{"--tag", "--", "ls", "-la"}, 2},  // named as --tag's fault, not as an unknown -la
  };
  for (const BadAdd& bad : cases) {
    std::vector<std::string> args = {"add"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    const CliResult result = cli.run(args);
    EXPECT_EQ(result.status, bad.status) << "quern " << QuernCli::join(args) << "\nstderr: " << result.err;
    EXPECT_EQ(result.out, "") << QuernCli::join(args);
    EXPECT_EQ(result.err_lines(), 1u) << QuernCli::join(args) << ": " << result.err;
    EXPECT_TRUE(result.err.starts_with("quern: ")) << result.err;
  }
  EXPECT_EQ(cli.job_count(), 1u);
  // A number too large is called too large.
  const CliResult huge = cli.run({"add", "--max-attempts", "2147483648", "--", "true"});
  EXPECT_NE(huge.err.find("at most 2147483647"), std::string::npos) << huge.err;
}

TEST(CliAdd, BadInputDoesNotCreateTheDatabase) {
  QuernCli cli;
  const CliResult result = cli.run({"add", "--priority", "urgent", "--", "true"});
  EXPECT_EQ(result.status, 2);
  EXPECT_FALSE(std::filesystem::exists(cli.db()));
}

}  // namespace
}  // namespace quern::cli_test
