// `quern watch DIR [opts] -- CMD [ARGS…]` (or --type): enqueues a job for each file that
// appears under DIR, once per file however often DIR is walked and whoever walks it,
// until SIGINT/SIGTERM/SIGHUP (or after one walk, with --once).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/json_output.h"
#include "cli/stop_signals.h"
#include "core/duration.h"
#include "core/job_json.h"
#include "core/job_validation.h"
#include "core/printable_text.h"
#include "engine/directory_watch.h"
#include "exec/shell_payload.h"
#include "quern/error.h"

namespace fs = std::filesystem;

namespace quern::cli {
namespace {

constexpr const char* kFilePlaceholder = "{}";

struct WatchArguments {
  std::string directory;
  std::string name;
  std::vector<std::string> globs;
  std::string interval = "5s";
  std::string settle = "1s";
  bool once = false;
  JobArguments job;
};

// The directory as one spelling (symbolic links resolved), so two watches of it under
// two names of the path still name each file alike.
fs::path watched_directory(const std::string& given) {
  if (given.empty()) throw Error::invalid_argument("watch needs a directory");
  std::error_code error;
  fs::path path = fs::weakly_canonical(fs::absolute(given, error), error);
  if (error || !fs::is_directory(path, error)) {
    throw Error::invalid_argument("watch: " + quote_for_message(given) +
                                  " is not a directory (quern watch DIR [opts] -- CMD [ARGS…])");
  }
  return path;
}

// The job a file gets: the template with the file's path where the command has an
// argument "{}" (else after its last argument), or as "path" in a typed job's payload.
NewJob job_for_file(const NewJob& job_template, const std::string& path, std::optional<Duration> delay,
                    std::optional<Duration> expires_in, Time now) {
  NewJob job = job_template;
  if (job.type == kShellType) {
    Json& argv = job.payload["command"];
    bool placed = false;
    for (Json& arg : argv) {
      if (arg == kFilePlaceholder) {
        arg = path;
        placed = true;
      }
    }
    if (!placed) argv.push_back(path);
  } else {
    job.payload["path"] = path;
  }
  if (delay) job.run_at = now + *delay;
  if (expires_in) job.expires_at = now + *expires_in;
  return job;
}

int run_watch(const CliContext& context, const WatchArguments& args, const CLI::App& command) {
  // Input is checked before the database is opened: bad input touches nothing.
  const fs::path directory = watched_directory(args.directory);
  if (command.count("--name") > 0) {
    check_watch_name(args.name);
  } else if (valid_utf8(directory.string()) != directory.string()) {
    throw Error::invalid_argument("watch: the path of " + quote_for_message(directory.string()) +
                                  " is not valid UTF-8, nor then are its files'");
  }
  if (command.count("--unique") > 0) {
    throw Error::invalid_argument("--unique cannot be used with watch: each file's job is already enqueued once");
  }
  const Duration interval = parse_duration(args.interval);
  if (interval <= Duration::zero()) throw Error::invalid_argument("--interval must be longer than 0s");
  const Time now = system_clock()->now();
  const NewJob job_template = build_new_job(args.job, command, now);
  if (job_template.type != kShellType && !job_template.payload.is_object()) {
    throw Error::invalid_argument("watch: a typed job's --payload must be a JSON object (the file's path goes in it)");
  }
  std::optional<Duration> delay, expires_in;
  if (command.count("--delay") > 0) delay = parse_duration(args.job.delay);
  if (command.count("--expires-in") > 0) expires_in = parse_duration(args.job.expires_in);

  DirectoryWatchOptions options;
  options.directory = directory;
  options.name = args.name;
  options.globs = args.globs;
  options.settle = parse_duration(args.settle);
  auto client = open_client(context.global);
  options.job_for = [&, client](const std::string& path) {
    return job_for_file(job_template, path, delay, expires_in, client->clock().now());
  };
  DirectoryWatch watch(client, options);

  std::unique_ptr<StopSignals> stop_signals;
  if (!args.once) {
    stop_signals = std::make_unique<StopSignals>();
    std::cerr << "quern watch: watching " << directory.string() << " (as '" << watch.name() << "') every "
              << format_duration(interval) << std::endl;
  }
  while (true) {
    try {
      // Each line as soon as its job is committed (a script reading them, a kill).
      watch.scan(
          [&](const WatchedFile& file) {
            if (context.global.json) {
              std::cout << Json{{"path", file.path}, {"job", job_to_json(file.job)}}.dump() << std::endl;
            } else {
              std::cout << file.job.id << '\t' << file.path << std::endl;
            }
          },
          [&] { return stop_signals && stop_signals->wait_for(std::chrono::milliseconds(0)); });
    } catch (const Error& e) {
      // A store busy or full for a while is waited out, as a worker does.
      const bool transient = e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kResourceExhausted;
      if (args.once || !transient) throw;
      std::cerr << "quern watch: store error, trying again at the next walk: " << e.what() << std::endl;
    }
    for (const auto& warning : watch.take_warnings()) std::cerr << "quern watch: " << warning << std::endl;
    if (args.once || stop_signals->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(interval))) break;
  }
  return 0;
}

}  // namespace

void add_watch_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<WatchArguments>();
  CLI::App* command = app.add_subcommand(
      "watch", "Enqueue a job for each new file under DIR, once per file: watch DIR [opts] -- CMD [ARGS…] ({} is the file)");
  command->add_option("directory", args->directory, "The directory to walk (and its subdirectories)")->required();
  command->add_option("--name", args->name, "Names the watch's record of files enqueued (default: the directory)");
  command->add_option("--glob", args->globs, "Only files whose name matches, e.g. '*.mkv' (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--interval", args->interval, "Time between walks (default 5s)");
  command->add_option("--settle", args->settle, "Leave files modified more recently than this for a later walk (default 1s)");
  command->add_flag("--once", args->once, "Walk once, then exit");
  add_job_options(*command, args->job);
  command->callback([&context, args, command] {
    context.action = [&context, args, command] { return run_watch(context, *args, *command); };
  });
}

}  // namespace quern::cli
