// Usage errors, the database location, and databases that cannot be used: each is one
// line on stderr with the contract's exit status, and changes nothing.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cli_runner.h"

namespace quern::cli_test {
namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(CliUsage, UnknownCommandIsExitTwo) {
  QuernCli cli;
  const CliResult result = cli.run({"frobnicate"});
  expect_one_error_line(result, 2, "unknown command");
  EXPECT_NE(result.err.find("frobnicate"), std::string::npos) << result.err;
  EXPECT_EQ(result.out, "");
}

// `quern frob ls`: named as the unknown command, not as a stray argument of `ls`.
TEST(CliUsage, AnUnknownCommandBeforeAKnownOneIsNamed) {
  QuernCli cli;
  const CliResult frob = cli.run({"frob", "ls"});
  expect_one_error_line(frob, 2, "frob");
  EXPECT_NE(frob.err.find("unknown command 'frob'"), std::string::npos) << frob.err;
  const CliResult after_db = cli.run({"--db", "x.db", "frob", "ls"});
  EXPECT_NE(after_db.err.find("unknown command 'frob'"), std::string::npos) << after_db.err;
}

TEST(CliUsage, NoCommandIsExitTwo) {
  QuernCli cli;
  expect_one_error_line(cli.run_bare({}), 2, "no command");
}

TEST(CliUsage, UnknownOptionIsExitTwo) {
  QuernCli cli;
  const CliResult frob = cli.run({"ls", "--frob"});
  expect_one_error_line(frob, 2, "unknown option");
  EXPECT_NE(frob.err.find("unknown option '--frob' (see quern ls --help)"), std::string::npos) << frob.err;
  // Named even when the command's own arguments follow it.
  const CliResult misspelt = cli.run({"add", "--run-at", "2030-01-01T00:00:00Z", "--", "true"});
  expect_one_error_line(misspelt, 2, "misspelt add option");
  EXPECT_NE(misspelt.err.find("unknown option '--run-at'"), std::string::npos) << misspelt.err;
  const CliResult bogus = cli.run({"config", "bogus"});
  expect_one_error_line(bogus, 2, "unknown config subcommand");
  EXPECT_NE(bogus.err.find("quern config has no command 'bogus'"), std::string::npos) << bogus.err;
  expect_one_error_line(cli.run({"--db"}), 2, "--db without a value");
  EXPECT_EQ(cli.job_count(), 0u);
}

// A filter no job can match by its very name (empty) is a mistake, as it is for
// `add --queue ''` and `pause ''`, not an empty result.
TEST(CliUsage, EmptyNameFiltersAreExitTwo) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"add", "--", "true"}).status, 0);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"ls", "--queue", ""}, {"ls", "--type", ""}, {"ls", "--tag", ""}, {"retry", "--failed", "--queue", ""}}) {
    expect_one_error_line(cli.run(args), 2, args[1]);
  }
}

TEST(CliUsage, HelpIsExitZero) {
  QuernCli cli;
  const CliResult help = cli.run_bare({"--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* command : {"add", "worker", "ls", "show", "logs", "stats", "pause", "resume", "retry", "cancel",
                              "rm", "clear", "wait", "config"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  }
  const CliResult add_help = cli.run_bare({"add", "--help"});
  EXPECT_EQ(add_help.status, 0);
  EXPECT_NE(add_help.out.find("--needs-file"), std::string::npos) << add_help.out;
}

TEST(CliDatabase, CorruptFileIsExitFiveAndLeftUntouched) {
  QuernCli cli;
  std::string garbage(8192, '\0');
  std::mt19937 random(42);
  for (char& c : garbage) c = static_cast<char>(random());
  { std::ofstream(cli.db(), std::ios::binary) << garbage; }

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"ls"}, {"add", "--", "true"}, {"stats"}, {"show", "1"}, {"config", "set", "k", "v"}, {"worker"}}) {
    expect_one_error_line(cli.run(args), 5, QuernCli::join(args));
    EXPECT_EQ(read_bytes(cli.db()), garbage) << QuernCli::join(args);
  }
  EXPECT_FALSE(std::filesystem::exists(cli.db().string() + "-wal"));
}

TEST(CliDatabase, TextFileIsNotADatabase) {
  QuernCli cli;
  { std::ofstream(cli.db()) << "just some notes\n"; }
  expect_one_error_line(cli.run({"add", "--", "true"}), 5, "text file");
  EXPECT_EQ(read_bytes(cli.db()), "just some notes\n");
}

TEST(CliDatabase, UnwritablePathIsExitFive) {
  QuernCli cli;
  expect_one_error_line(cli.run_bare({"--db", "/proc/nope/x.db", "ls"}), 5, "/proc path");
  expect_one_error_line(cli.run_bare({"--db", "/proc/nope/x.db", "add", "--", "true"}), 5, "/proc path add");
  // A file where a directory should be.
  { std::ofstream(cli.dir() / "plain") << "x"; }
  expect_one_error_line(cli.run_bare({"--db", (cli.dir() / "plain" / "x.db").string(), "ls"}), 5, "file as dir");
}

// Output that cannot be written (stdout on a full disk) is not success: the id `add`
// printed would be lost without a word.
TEST(CliDatabase, AFullStdoutIsExitFive) {
  QuernCli cli;
  for (const std::string command : {"add -- true", "ls", "stats --json"}) {
    const CliResult result = run_program(
        {"/bin/sh", "-c", "exec " QUERN_BINARY " --db " + cli.db().string() + " " + command + " > /dev/full"});
    expect_one_error_line(result, 5, command);
    EXPECT_NE(result.err.find("No space left on device"), std::string::npos) << result.err;
  }
}

// A --db that names nothing, or a URL of a database Quern does not speak, is a mistake
// (exit 2), not a file to create.
TEST(CliDatabase, EmptyDbOrUnknownSchemeIsExitTwoAndCreatesNothing) {
  QuernCli cli;
  RunOptions with_home;
  with_home.set_env = {{"HOME", cli.dir().string()}, {"XDG_DATA_HOME", (cli.dir() / "xdg").string()}};
  expect_one_error_line(cli.run_bare({"--db", "", "add", "--", "true"}, with_home), 2, "empty --db");
  expect_one_error_line(cli.run_bare({"--db", "mysql://x", "ls"}, with_home), 2, "mysql");
  expect_one_error_line(cli.run_bare({"--db", "postgress://localhost/q", "ls"}, with_home), 2, "typo of postgres");
  EXPECT_FALSE(std::filesystem::exists(cli.dir() / "xdg"));
  EXPECT_FALSE(std::filesystem::exists(cli.dir() / "mysql:"));
}

// A database its user may read but not write: every read command works; a command
// that writes, and a worker (which could never record a run), fail at once with exit 5
// instead of idling. Root ignores file modes, so as root the commands run as nobody.
TEST(CliDatabase, ReadOnlyFileIsReadableButAWorkerOnItIsExitFive) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"add", "--", "true"}).status, 0);
  std::filesystem::permissions(cli.db(), std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
                                             std::filesystem::perms::others_read);
  std::vector<std::string> as_user;
  if (geteuid() == 0) {
    constexpr uid_t kNobody = 65534;
    ASSERT_EQ(chown(cli.dir().c_str(), kNobody, kNobody), 0);
    for (const auto& entry : std::filesystem::directory_iterator(cli.dir())) {
      ASSERT_EQ(chown(entry.path().c_str(), kNobody, kNobody), 0) << entry.path();
    }
    as_user = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  auto run_as_user = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = as_user;
    argv.insert(argv.end(), {QUERN_BINARY, "--db", cli.db().string()});
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.cwd = cli.dir();
    return run_program(argv, options);
  };
  const CliResult listed = run_as_user({"ls", "--json"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(Json::parse(listed.out).at(0).at("state"), "available");
  expect_one_error_line(run_as_user({"add", "--", "true"}), 5, "add");
  const CliResult worker = run_as_user({"worker"});
  expect_one_error_line(worker, 5, "worker");
  EXPECT_NE(worker.err.find("read-only"), std::string::npos) << worker.err;
  const CliResult after = run_as_user({"ls", "--json"});
  ASSERT_EQ(after.status, 0) << after.err;
  EXPECT_EQ(Json::parse(after.out).size(), 1u);
  EXPECT_EQ(Json::parse(after.out).at(0).at("state"), "available");
}

// A database a newer Quern migrated is a store this build cannot use: exit 5, untouched.
TEST(CliDatabase, DatabaseOfANewerQuernIsExitFiveAndLeftUntouched) {
  QuernCli cli;
  ASSERT_EQ(cli.run({"add", "--", "true"}).status, 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(cli.db().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const std::string before = read_bytes(cli.db());
  for (const auto& args : std::vector<std::vector<std::string>>{{"ls"}, {"add", "--", "true"}, {"worker"}, {"migrate"}}) {
    expect_one_error_line(cli.run(args), 5, args[0]);
  }
  EXPECT_EQ(read_bytes(cli.db()), before);
}

TEST(CliDatabase, DirectoryIsExitFive) {
  QuernCli cli;
  std::filesystem::create_directories(cli.dir() / "adir");
  expect_one_error_line(cli.run_bare({"--db", (cli.dir() / "adir").string(), "ls"}), 5, "directory");
  expect_one_error_line(cli.run_bare({"--db", (cli.dir() / "adir").string(), "add", "--", "true"}), 5, "directory add");
  EXPECT_TRUE(std::filesystem::is_empty(cli.dir() / "adir"));
}

TEST(CliDatabase, DbOptionAfterTheCommandAndSqlitePrefix) {
  QuernCli cli;
  const std::string db = (cli.dir() / "other.db").string();
  EXPECT_EQ(cli.run_bare({"add", "--db", db, "--", "true"}).status, 0);
  const CliResult listed = cli.run_bare({"ls", "--json", "--db", "sqlite:" + db});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(Json::parse(listed.out).size(), 1u);
}

TEST(CliDatabase, DefaultsToQuernDbThenXdgDataHomeThenHome) {
  QuernCli cli;
  const auto env_db = cli.dir() / "from-env.db";
  RunOptions with_env;
  with_env.set_env = {{"QUERN_DB", env_db.string()}};
  with_env.unset_env = {};
  EXPECT_EQ(cli.run_bare({"add", "--", "true"}, with_env).status, 0);
  EXPECT_TRUE(std::filesystem::exists(env_db));

  RunOptions with_xdg;
  with_xdg.set_env = {{"XDG_DATA_HOME", (cli.dir() / "xdg").string()}};
  EXPECT_EQ(cli.run_bare({"add", "--", "true"}, with_xdg).status, 0);
  EXPECT_TRUE(std::filesystem::exists(cli.dir() / "xdg" / "quern" / "quern.db"));

  RunOptions with_home;
  with_home.set_env = {{"HOME", (cli.dir() / "home").string()}};
  with_home.unset_env = {"QUERN_DB", "XDG_DATA_HOME"};
  EXPECT_EQ(cli.run_bare({"add", "--", "true"}, with_home).status, 0);
  EXPECT_TRUE(std::filesystem::exists(cli.dir() / "home" / ".local" / "share" / "quern" / "quern.db"));

  // --db wins over $QUERN_DB.
  const auto explicit_db = cli.dir() / "explicit.db";
  EXPECT_EQ(cli.run_bare({"--db", explicit_db.string(), "add", "--", "true"}, with_env).status, 0);
  const CliResult env_list = cli.run_bare({"ls", "--json"}, with_env);
  EXPECT_EQ(Json::parse(env_list.out).size(), 1u);
}

}  // namespace
}  // namespace quern::cli_test
