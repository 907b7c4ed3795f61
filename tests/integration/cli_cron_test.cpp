// `quern cron add|ls|rm`: entries named or numbered, shell or typed, listed with their
// next firing, replaced by name, deleted; bad input is exit 2 (3 for an unknown name)
// and changes nothing. (Firing is tested with a simulated clock: store_cron_test and
// maintenance_leader_test.)
#include "cli_runner.h"
#include "core/time_format.h"

namespace quern::cli_test {
namespace {

size_t cron_count(const QuernCli& cli) { return cli.json({"cron", "ls"}).size(); }

TEST(CliCron, AddListAndRemove) {
  QuernCli cli;
  const CliResult named = cli.run({"cron", "add", "nightly", "0 3 * * *", "--queue", "backups", "--tag", "db", "--timeout",
                                   "2h", "--expires-in", "30m", "--unique", "backup", "--", "pg_dump", "-f", "out file.sql"});
  ASSERT_EQ(named.status, 0) << named.err;
  EXPECT_EQ(named.out, "nightly\n");
  // Without a name: numbered, and printed.
  const CliResult numbered = cli.run({"cron", "add", "*/5  *  * * *", "--", "echo", "hi"});
  ASSERT_EQ(numbered.status, 0) << numbered.err;
  EXPECT_EQ(numbered.out, "1\n");
  const Json typed = cli.json({"cron", "add", "@hourly", "--type", "report", "--payload", R"({"kind":"summary"})",
                               "--priority", "high"});
  EXPECT_EQ(typed["name"], "2");
  EXPECT_EQ(typed["type"], "report");
  EXPECT_EQ(typed["payload"], (Json{{"kind", "summary"}}));
  EXPECT_EQ(typed["priority"], 20);
  EXPECT_EQ(typed["schedule"], "@hourly");

  const Json entries = cli.json({"cron", "ls"});
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0]["name"], "1");
  EXPECT_EQ(entries[0]["schedule"], "*/5 * * * *");  // kept respaced
  EXPECT_EQ(entries[0]["payload"]["command"], (Json{"echo", "hi"}));
  const Json& nightly = entries[2];
  EXPECT_EQ(nightly["name"], "nightly");
  EXPECT_EQ(nightly["queue"], "backups");
  EXPECT_EQ(nightly["type"], "shell");
  EXPECT_EQ(nightly["tags"], (Json{"db"}));
  EXPECT_EQ(nightly["timeout_ms"], 2 * 3600 * 1000);
  EXPECT_EQ(nightly["expires_in_ms"], 30 * 60 * 1000);
  EXPECT_EQ(nightly["unique_key"], "backup");
  EXPECT_EQ(nightly["last_run_at"], nullptr);
  EXPECT_EQ(nightly["last_job_id"], nullptr);
  const std::string next = nightly["next_run_at"];
  EXPECT_NE(next.find("T03:00:00"), std::string::npos) << next;
  EXPECT_GT(parse_rfc3339(next), std::chrono::system_clock::now());
  EXPECT_EQ(cli.job_count(), 0u);  // adding an entry enqueues nothing

  const CliResult table = cli.run({"cron", "ls"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("NAME"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("pg_dump -f 'out file.sql'"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("*/5 * * * *"), std::string::npos) << table.out;

  const CliResult removed = cli.run({"cron", "rm", "nightly", "1"});
  ASSERT_EQ(removed.status, 0) << removed.err;
  const Json left = cli.json({"cron", "ls"});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]["name"], "2");
}

// Registering the same entry at every start-up keeps its next firing; a new schedule
// replaces it.
TEST(CliCron, AddingANameAgainReplacesTheEntry) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"cron", "add", "sync", "*/10 * * * *", "--", "sync.sh"}).status, 0);
  const Json first = cli.json({"cron", "ls"})[0];
  const CliResult replaced = cli.run({"--json", "cron", "add", "sync", "*/10 * * * *", "--queue", "io", "--", "sync.sh", "--all"});
  ASSERT_EQ(replaced.status, 0) << replaced.err;
  const Json again = Json::parse(replaced.out);
  EXPECT_EQ(again["next_run_at"], first["next_run_at"]);
  EXPECT_EQ(again["created_at"], first["created_at"]);
  EXPECT_EQ(again["queue"], "io");
  EXPECT_EQ(again["payload"]["command"], (Json{"sync.sh", "--all"}));
  const Json daily = Json::parse(cli.run({"--json", "cron", "add", "sync", "@daily", "--", "sync.sh"}).out);
  EXPECT_NE(daily["next_run_at"].get<std::string>().find("T00:00:00"), std::string::npos) << daily.dump();
  EXPECT_EQ(cron_count(cli), 1u);
}

TEST(CliCron, BadInputIsExitTwoAndChangesNothing) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"cron", "add", "keep", "@daily", "--", "true"}).status, 0);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"cron", "add", "bad", "61 * * * *", "--", "true"}, "minute"},
      {{"cron", "add", "bad", "* * * *", "--", "true"}, "5 fields"},
      {{"cron", "add", "bad", "0 0 30 2 *", "--", "true"}, "never"},
      {{"cron", "add", "bad", "@sometimes", "--", "true"}, "@sometimes"},
      {{"cron", "add", "bad", "@daily"}, "nothing to enqueue"},
      {{"cron", "add", "bad", "@daily", "--delay", "5m", "--", "true"}, "--delay"},
      {{"cron", "add", "bad", "@daily", "--at", "2030-01-01T00:00:00Z", "--", "true"}, "--at"},
      {{"cron", "add", "bad", "@daily", "--after", "1", "--", "true"}, "--after"},
      {{"cron", "add", "bad", "@daily", "--expires-in", "0s", "--", "true"}, "expires"},
      {{"cron", "add", "bad", "@daily", "--type", "t", "--payload", "{nope"}, "payload"},
      {{"cron", "add", "a\tb", "@daily", "--", "true"}, "cron name"},
      {{"cron", "add", "..", "@daily", "--", "true"}, "cron name"},
      {{"cron", "frob"}, "frob"},
      // Without a NAME, the schedule given is the one reported.
      {{"cron", "add", "0 0 30 2 *", "--", "echo", "hi"}, "never"},
      {{"cron", "add", "61 * * * *", "--", "true"}, "minute"},
  };
  for (const auto& [args, expected] : cases) {
    const CliResult result = cli.run(args);
    expect_one_error_line(result, 2, expected);
    EXPECT_NE(result.err.find(expected), std::string::npos) << expected << ": " << result.err;
  }
  const Json entries = cli.json({"cron", "ls"});
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["name"], "keep");
  EXPECT_EQ(cli.job_count(), 0u);

  QuernCli fresh;
  expect_one_error_line(fresh.run({"cron", "add", "@sometimes", "--", "true"}), 2, "bad schedule, new database");
  EXPECT_FALSE(std::filesystem::exists(fresh.db())) << "bad input created the database";
}

TEST(CliCron, RemovingAnUnknownNameIsExitThreeAndRemovesNothing) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"cron", "add", "keep", "@daily", "--", "true"}).status, 0);
  const CliResult result = cli.run({"cron", "rm", "keep", "missing"});
  expect_one_error_line(result, 3, "missing");
  EXPECT_NE(result.err.find("no cron entry named \"missing\""), std::string::npos) << result.err;
  EXPECT_EQ(cron_count(cli), 1u);
  EXPECT_EQ(cli.run({"cron", "rm"}).status, 2);
}

}  // namespace
}  // namespace quern::cli_test
