// `quern watch DIR`: one job per new file, once per file across walks, restarts and a
// kill -9 in the middle of a walk; hidden files, unmatched names and files still being
// written are left; bad input is exit 2 and changes nothing.
#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli_runner.h"
#include "core/time_format.h"

namespace quern::cli_test {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "x";
}

// The "ID\tPATH" lines `watch` printed, as path → id.
std::map<std::string, int64_t> enqueued_lines(const std::string& out) {
  std::map<std::string, int64_t> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    lines[line.substr(tab + 1)] = std::stoll(line.substr(0, tab));
  }
  return lines;
}

TEST(CliWatch, EachNewFileGetsOneJob) {
  QuernCli cli;
  const fs::path media = cli.dir() / "media";
  for (const char* name : {"a.mkv", "b.mkv", "sub/c.mkv", "notes.txt", ".partial.mkv", ".cache/d.mkv"}) {
    touch(media / name);
  }
  const std::vector<std::string> watch = {"watch", media.string(), "--once", "--settle", "0s", "--glob", "*.mkv",
                                          "--queue", "transcode", "--", "ffmpeg", "-i", "{}", "out.webm"};
  const CliResult first = cli.run(watch);
  ASSERT_EQ(first.status, 0) << first.err;
  const auto lines = enqueued_lines(first.out);
  const std::vector<std::string> expected = {(media / "a.mkv").string(), (media / "b.mkv").string(),
                                             (media / "sub/c.mkv").string()};
  ASSERT_EQ(lines.size(), 3u) << first.out;
  for (const auto& path : expected) {
    ASSERT_TRUE(lines.contains(path)) << path << "\n" << first.out;
    const Json job = cli.job(lines.at(path));
    EXPECT_EQ(job["queue"], "transcode");
    EXPECT_EQ(job["payload"]["command"], (Json{"ffmpeg", "-i", path, "out.webm"}));
  }

  // Walked again: nothing new. A new file: just that one.
  const CliResult again = cli.run(watch);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, "");
  touch(media / "sub/deeper/e.mkv");
  const auto third = enqueued_lines(cli.run(watch).out);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_TRUE(third.contains((media / "sub/deeper/e.mkv").string()));
  EXPECT_EQ(cli.job_count(), 4u);

  // Another watch of the same directory (another pipeline) has its own record; without
  // "{}" the path is the last argument.
  const CliResult thumbs = cli.run({"watch", media.string(), "--once", "--settle", "0s", "--glob", "a.*", "--name",
                                    "thumbnails", "--", "thumb", "-s", "64"});
  const auto thumb_lines = enqueued_lines(thumbs.out);
  ASSERT_EQ(thumb_lines.size(), 1u) << thumbs.out << thumbs.err;
  EXPECT_EQ(cli.job(thumb_lines.begin()->second)["payload"]["command"],
            (Json{"thumb", "-s", "64", (media / "a.mkv").string()}));
}

TEST(CliWatch, TypedJobsGetThePathInTheirPayload) {
  QuernCli cli;
  touch(cli.dir() / "in" / "r.wav");
  const CliResult result = cli.run({"--json", "watch", (cli.dir() / "in").string(), "--once", "--settle", "0s", "--type",
                                    "transcribe", "--payload", R"({"model":"large"})"});
  ASSERT_EQ(result.status, 0) << result.err;
  const Json line = Json::parse(result.out);
  EXPECT_EQ(line["path"], (cli.dir() / "in" / "r.wav").string());
  EXPECT_EQ(line["job"]["type"], "transcribe");
  EXPECT_EQ(line["job"]["payload"], (Json{{"model", "large"}, {"path", (cli.dir() / "in" / "r.wav").string()}}));
}

// --delay and --expires-in count from when each file is found.
TEST(CliWatch, DelayAndExpiryCountFromEachFile) {
  QuernCli cli;
  touch(cli.dir() / "in" / "f");
  const auto before = std::chrono::system_clock::now();
  const CliResult result = cli.run({"--json", "watch", (cli.dir() / "in").string(), "--once", "--settle", "0s", "--delay",
                                    "1h", "--expires-in", "2h", "--", "true"});
  ASSERT_EQ(result.status, 0) << result.err;
  const Json job = Json::parse(result.out)["job"];
  EXPECT_EQ(job["state"], "scheduled");
  const auto run_at = parse_rfc3339(job["run_at"].get<std::string>());
  EXPECT_GE(run_at, before + std::chrono::hours(1));
  EXPECT_LE(run_at, std::chrono::system_clock::now() + std::chrono::hours(1));
  EXPECT_GE(parse_rfc3339(job["expires_at"].get<std::string>()), before + std::chrono::hours(2));
}

// A file written just now may still be being written: it waits for a later walk.
TEST(CliWatch, FilesStillBeingWrittenWaitForALaterWalk) {
  QuernCli cli;
  touch(cli.dir() / "in" / "fresh");
  const std::vector<std::string> watch = {"watch", (cli.dir() / "in").string(), "--once", "--settle", "1h", "--", "true"};
  const CliResult early = cli.run(watch);
  ASSERT_EQ(early.status, 0) << early.err;
  EXPECT_EQ(early.out, "");
  fs::last_write_time(cli.dir() / "in" / "fresh", fs::file_time_type::clock::now() - std::chrono::hours(2));
  EXPECT_EQ(enqueued_lines(cli.run(watch).out).size(), 1u);
}

// Running: new files are found at the next walk; SIGTERM ends it with status 0.
TEST(CliWatch, KeepsWatchingUntilStopped) {
  QuernCli cli;
  fs::create_directories(cli.dir() / "in");
  BackgroundProcess watch({QUERN_BINARY, "--db", cli.db().string(), "watch", (cli.dir() / "in").string(), "--interval",
                           "100ms", "--settle", "0s", "--", "true"},
                          cli.dir() / "watch.out");
  ASSERT_TRUE(watch.wait_for_stderr_line("quern watch: watching")) << watch.err();
  touch(cli.dir() / "in" / "one");
  ASSERT_TRUE(eventually([&] { return cli.job_count() == 1; }, 10s));
  touch(cli.dir() / "in" / "two");
  ASSERT_TRUE(eventually([&] { return cli.job_count() == 2; }, 10s));
  EXPECT_EQ(watch.stop(SIGTERM), 0) << watch.err();
  std::ifstream out(cli.dir() / "watch.out");
  const std::string printed((std::istreambuf_iterator<char>(out)), {});
  EXPECT_EQ(enqueued_lines(printed).size(), 2u) << printed;
}

// kill -9 in the middle of a walk: the next walk enqueues the rest, and no file twice.
TEST(CliWatch, AWalkKilledMidwayResumesWithoutDuplicates) {
  QuernCli cli;
  const fs::path in = cli.dir() / "in";
  constexpr int kFiles = 20000;
  for (int i = 0; i < kFiles; ++i) touch(in / ("d" + std::to_string(i % 10)) / ("f" + std::to_string(i)));
  const std::vector<std::string> argv = {QUERN_BINARY, "--db", cli.db().string(), "watch", in.string(), "--once",
                                         "--settle", "0s", "--", "true"};
  {
    BackgroundProcess walk(argv, cli.dir() / "killed.out");
    // Killed once it has committed something (its first batch is printed after commit).
    ASSERT_TRUE(eventually(
        [&] { return fs::exists(cli.dir() / "killed.out") && fs::file_size(cli.dir() / "killed.out") > 0; }, 30s));
    walk.stop(SIGKILL);
  }
  const size_t before = cli.job_count();
  EXPECT_GT(before, 0u);
  ASSERT_LT(before, static_cast<size_t>(kFiles)) << "the walk ended before the kill: nothing was tested";
  const CliResult rest = cli.run({"watch", in.string(), "--once", "--settle", "0s", "--", "true"});
  ASSERT_EQ(rest.status, 0) << rest.err;
  EXPECT_EQ(enqueued_lines(rest.out).size(), kFiles - before);
  const Json jobs = cli.json({"ls", "--limit", "100000"});
  ASSERT_EQ(jobs.size(), static_cast<size_t>(kFiles));
  std::set<std::string> paths;
  for (const Json& job : jobs) paths.insert(job["payload"]["command"].back().get<std::string>());
  EXPECT_EQ(paths.size(), static_cast<size_t>(kFiles));
}

TEST(CliWatch, BadInputIsExitTwoAndChangesNothing) {
  QuernCli cli;
  touch(cli.dir() / "in" / "f");
  const std::string in = (cli.dir() / "in").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"watch", (cli.dir() / "missing").string(), "--once", "--", "true"}, "not a directory"},
      {{"watch", (cli.dir() / "in" / "f").string(), "--once", "--", "true"}, "not a directory"},
      {{"watch", in, "--once", "--unique", "k", "--", "true"}, "--unique"},
      {{"watch", in, "--once", "--interval", "0s", "--", "true"}, "--interval"},
      {{"watch", in, "--once", "--settle", "soon", "--", "true"}, "soon"},
      {{"watch", in, "--once", "--type", "t", "--payload", "[1]"}, "object"},
      {{"watch", in, "--once"}, "nothing to enqueue"},
      {{"watch", in, "--once", "--name", "bad\xff", "--", "true"}, "watch name"},
      {{"watch", in, "--once", "--name", "", "--", "true"}, "watch name"},
  };
  for (const auto& [args, expected] : cases) {
    const CliResult result = cli.run(args);
    expect_one_error_line(result, 2, expected);
    EXPECT_NE(result.err.find(expected), std::string::npos) << expected << ": " << result.err;
  }
  EXPECT_FALSE(fs::exists(cli.db())) << "bad input created the database";
}

}  // namespace
}  // namespace quern::cli_test
