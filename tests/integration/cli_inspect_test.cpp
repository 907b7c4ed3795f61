// The read commands: `quern ls`, `show`, `stats` and `config`, in text and --json.
#include <filesystem>
#include <sstream>

#include "cli_runner.h"

namespace quern::cli_test {
namespace {

std::vector<int64_t> ids_of(const Json& jobs) {
  std::vector<int64_t> ids;
  for (const Json& job : jobs) ids.push_back(job["id"].get<int64_t>());
  return ids;
}

TEST(CliLs, ListsEveryJobByIdAscending) {
  QuernCli cli;
  cli.add({"--priority", "low", "--", "true"});
  cli.add({"--priority", "critical", "--", "true"});
  cli.add({"--delay", "1h", "--", "true"});
  const Json jobs = cli.json({"ls"});
  ASSERT_TRUE(jobs.is_array());
  EXPECT_EQ(ids_of(jobs), (std::vector<int64_t>{1, 2, 3}));
}

TEST(CliLs, EmptyDatabaseListsNothing) {
  QuernCli cli;
  EXPECT_EQ(cli.json({"ls"}), Json::array());
  const CliResult text = cli.run({"ls"});
  EXPECT_EQ(text.status, 0);
  EXPECT_EQ(text.out, "no jobs\n");
}

TEST(CliLs, JsonFlagWorksBeforeOrAfterTheCommand) {
  QuernCli cli;
  cli.add({"--", "true"});
  const CliResult before = cli.run({"--json", "ls"});
  const CliResult after = cli.run({"ls", "--json"});
  ASSERT_EQ(before.status, 0);
  EXPECT_EQ(before.out, after.out);
  EXPECT_EQ(Json::parse(before.out).size(), 1u);
}

TEST(CliLs, FiltersByStateQueueTypeAndTag) {
  QuernCli cli;
  cli.add({"--queue", "a", "--tag", "x", "--", "true"});         // 1 available
  cli.add({"--queue", "b", "--delay", "1h", "--", "true"});      // 2 scheduled
  cli.add({"--queue", "a", "--type", "scan"});                   // 3 available
  cli.add({"--after", "2", "--type", "scan", "--tag", "x"});     // 4 blocked
  EXPECT_EQ(ids_of(cli.json({"ls", "--state", "available"})), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(ids_of(cli.json({"ls", "--state", "scheduled,blocked"})), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(ids_of(cli.json({"ls", "--state", "scheduled", "--state", "blocked"})), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(ids_of(cli.json({"ls", "--queue", "a"})), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(ids_of(cli.json({"ls", "--type", "scan"})), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(ids_of(cli.json({"ls", "--tag", "x"})), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(ids_of(cli.json({"ls", "--limit", "2"})), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(cli.json({"ls", "--state", "running"}), Json::array());
}

TEST(CliLs, TextTableHasAlignedColumns) {
  QuernCli cli;
  cli.add({"--", "sh", "-c", "echo 'hi there'"});
  cli.add({"--queue", "background", "--type", "transcribe"});
  const CliResult result = cli.run({"ls"});
  ASSERT_EQ(result.status, 0) << result.err;
  std::vector<std::string> lines;
  std::istringstream stream(result.out);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  EXPECT_TRUE(lines[0].starts_with("ID")) << lines[0];
  const size_t state_column = lines[0].find("STATE");
  const size_t age_column = lines[0].find("AGE");
  ASSERT_NE(state_column, std::string::npos);
  EXPECT_EQ(lines[1].find("available"), state_column);
  EXPECT_EQ(lines[2].find("available"), state_column);
  EXPECT_NE(lines[1].find("sh -c 'echo '\\''hi there'\\'''"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("transcribe"), std::string::npos);
  EXPECT_NE(lines[1].find(" ago", age_column), std::string::npos) << lines[1];
}

TEST(CliLs, BadFiltersAreInvalidInput) {
  QuernCli cli;
  for (const auto& args : std::vector<std::vector<std::string>>{{"ls", "--state", "done"},
                                                                 {"ls", "--state", "running,"},
                                                                 {"ls", "--limit", "0"},
                                                                 {"ls", "--limit", "ten"},
                                                                 {"ls", "extra"}}) {
    const CliResult result = cli.run(args);
    EXPECT_EQ(result.status, 2) << QuernCli::join(args) << ": " << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
  }
}

TEST(CliShow, JsonIsTheJobObject) {
  QuernCli cli;
  cli.add({"--type", "scan", "--payload", R"({"dir":"/media"})", "--tag", "t"});
  const Json job = cli.job(1);
  ASSERT_TRUE(job.is_object());
  EXPECT_EQ(job["id"], 1);
  EXPECT_EQ(job["payload"]["dir"], "/media");
  EXPECT_FALSE(job.contains("history"));
  EXPECT_EQ(job, cli.json({"ls"})[0]);
}

TEST(CliShow, HistoryFlagAddsTransitions) {
  QuernCli cli;
  cli.add({"--", "true"});
  ASSERT_EQ(cli.run({"cancel", "1"}).status, 0);
  const Json job = cli.json({"show", "1", "--history"});
  ASSERT_TRUE(job["history"].is_array());
  ASSERT_EQ(job["history"].size(), 2u);
  EXPECT_EQ(job["history"][1]["to"], "canceled");
}

TEST(CliShow, TextShowsFieldsAndHistory) {
  QuernCli cli;
  cli.add({"--unique", "k1", "--tag", "one", "--", "echo", "hi"});
  const CliResult result = cli.run({"show", "1"});
  ASSERT_EQ(result.status, 0) << result.err;
  for (const char* expected : {"state", "available", "command", "echo hi", "unique_key", "k1", "tags", "one",
                               "created_at", "history:", "enqueued"}) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << " in\n" << result.out;
  }
}

TEST(CliShow, InvalidAndUnknownIds) {
  QuernCli cli;
  cli.add({"--", "true"});
  for (const char* bad : {"0", "-1", "abc", "1.5", "", "9999999999999999999999"}) {
    const CliResult result = cli.run({"show", bad});
    EXPECT_EQ(result.status, 2) << "show '" << bad << "': " << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
  }
  const CliResult unknown = cli.run({"show", "42"});
  EXPECT_EQ(unknown.status, 3) << unknown.err;
  EXPECT_EQ(unknown.err_lines(), 1u);
  EXPECT_EQ(cli.run({"show"}).status, 2);
}

TEST(CliStats, CountsByStateTotalAndPerQueue) {
  QuernCli cli;
  cli.add({"--", "true"});
  cli.add({"--queue", "bg", "--", "true"});
  cli.add({"--queue", "bg", "--delay", "1h", "--", "true"});
  ASSERT_EQ(cli.run({"cancel", "1"}).status, 0);
  ASSERT_EQ(cli.run({"pause", "bg"}).status, 0);

  const Json stats = cli.json({"stats"});
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats.size(), 2u);
  const Json& states = stats["states"];
  EXPECT_EQ(states.size(), 8u);
  EXPECT_EQ(states["canceled"], 1);
  EXPECT_EQ(states["available"], 1);
  EXPECT_EQ(states["scheduled"], 1);
  EXPECT_EQ(states["running"], 0);
  ASSERT_TRUE(stats["queues"].is_array());
  Json bg;
  for (const Json& queue : stats["queues"]) {
    EXPECT_EQ(queue.size(), 6u);  // name, paused, concurrency_limit, held_while, retention, states
    EXPECT_TRUE(queue["concurrency_limit"].is_null());
    EXPECT_EQ(queue["retention"],
              Json({{"completed", nullptr}, {"failed", nullptr}, {"canceled", nullptr}, {"expired", nullptr}}));
    if (queue["name"] == "bg") bg = queue;
  }
  ASSERT_TRUE(bg.is_object()) << stats.dump();
  EXPECT_EQ(bg["paused"], true);
  EXPECT_EQ(bg["states"]["available"], 1);
  EXPECT_EQ(bg["states"]["scheduled"], 1);

  const CliResult text = cli.run({"stats"});
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("total"), std::string::npos);
  EXPECT_NE(text.out.find("yes"), std::string::npos);
}

TEST(CliConfig, SetGetAndList) {
  QuernCli cli;
  EXPECT_EQ(cli.run({"config", "set", "retries", "5"}).status, 0);
  EXPECT_EQ(cli.run({"config", "set", "mode", "fast"}).status, 0);
  EXPECT_EQ(cli.run({"config", "set", "limits", R"({"cpu":2})"}).status, 0);
  EXPECT_EQ(cli.run({"config", "set", "quoted", R"("5")"}).status, 0);

  EXPECT_EQ(cli.run({"config", "get", "retries"}).out, "5\n");
  EXPECT_EQ(cli.run({"config", "get", "mode"}).out, "\"fast\"\n");
  EXPECT_EQ(cli.run({"config", "get", "quoted"}).out, "\"5\"\n");
  EXPECT_EQ(cli.json({"config", "get", "limits"}), Json::parse(R"({"cpu":2})"));

  EXPECT_EQ(cli.json({"config", "ls"}), Json::parse(R"({"limits":{"cpu":2},"mode":"fast","quoted":"5","retries":5})"));
  const CliResult text = cli.run({"config", "ls"});
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("retries=5\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("mode=\"fast\"\n"), std::string::npos) << text.out;
}

// JSON that would come back changed is kept as the text it is, as non-JSON text is.
TEST(CliConfig, ValuesThatWouldChangeAreKeptAsText) {
  QuernCli cli;
  const std::string huge = "12345678901234567890123";
  const std::string deep = std::string(600, '[') + std::string(600, ']');
  EXPECT_EQ(cli.run({"config", "set", "huge", huge}).status, 0);
  EXPECT_EQ(cli.run({"config", "set", "deep", deep}).status, 0);
  EXPECT_EQ(cli.json({"config", "get", "huge"}), Json(huge));
  EXPECT_EQ(cli.json({"config", "get", "deep"}), Json(deep));
  EXPECT_EQ(cli.run({"config", "set", "big", "9223372036854775807"}).status, 0);
  EXPECT_EQ(cli.run({"config", "get", "big"}).out, "9223372036854775807\n");
}

// A key is a name (PostgreSQL could not keep "k\xff" apart from "k\uFFFD"); text that is
// not UTF-8 is no JSON string.
TEST(CliConfig, KeysAndValuesThatAreNotUtf8AreInvalidAndChangeNothing) {
  QuernCli cli;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"config", "set", "k\xff", "1"},
           {"config", "set", "line\nbreak", "1"},
           {"config", "set", "y", "bad\xff"},
           {"config", "set", "z", "\"bad\xff\""},
       }) {
    const CliResult result = cli.run(args);
    EXPECT_EQ(result.status, 2) << QuernCli::join(args) << ": " << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
    EXPECT_EQ(result.err.find("internal"), std::string::npos) << result.err;
  }
  EXPECT_EQ(cli.json({"config", "ls"}), Json::object());
}

TEST(CliConfig, MissingKeyIsNotFound) {
  QuernCli cli;
  const CliResult result = cli.run({"config", "get", "nope"});
  EXPECT_EQ(result.status, 3);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err_lines(), 1u);
  EXPECT_EQ(cli.run({"config"}).status, 2);
  EXPECT_EQ(cli.run({"config", "set", "only-key"}).status, 2);
  EXPECT_EQ(cli.run({"config", "frob"}).status, 2);
}

}  // namespace
}  // namespace quern::cli_test
