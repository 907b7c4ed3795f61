#include "cli/job_options.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

#include "cli/job_id_arguments.h"
#include "core/duration.h"
#include "core/payload.h"
#include "core/priority.h"
#include "core/time_format.h"
#include "exec/shell_payload.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

std::string absolute_path(const std::string& path, std::string_view what) {
  if (path.empty()) throw Error::invalid_argument(std::string(what) + " needs a non-empty path");
  std::error_code error;
  auto absolute = std::filesystem::absolute(path, error);
  if (error) throw Error::invalid_argument(std::string(what) + " " + path + ": " + error.message());
  return absolute.lexically_normal().string();
}

ShellCommand build_shell_command(const JobArguments& args, const CLI::App& command) {
  ShellCommand shell;
  shell.argv = args.command;
  if (command.count("--cwd") > 0) {
    const std::string cwd = absolute_path(args.cwd, "--cwd");
    std::error_code error;
    if (!std::filesystem::is_directory(cwd, error)) {
      throw Error::invalid_argument("--cwd " + cwd + " is not a directory");
    }
    shell.cwd = cwd;
  }
  for (const auto& assignment : args.env) {
    const auto equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw Error::invalid_argument("--env takes NAME=VALUE, not '" + assignment + "'");
    }
    shell.env[assignment.substr(0, equals)] = assignment.substr(equals + 1);
  }
  return shell;
}

// The text of --payload: JSON as given, `@PATH` a file's contents, `-` standard input
// (JSON never starts with either). A payload too big for one argument (Linux caps one
// at 128 KiB) comes from a file. Reading stops a little past the payload limit: the
// limit's own check then says what is wrong.
std::string payload_text(const std::string& given) {
  if (given != "-" && !given.starts_with('@')) return given;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (given != "-") {
    file.open(given.substr(1), std::ios::binary);
    if (!file) {
      throw Error::invalid_argument("cannot read payload file " + given.substr(1) + ": " + std::strerror(errno));
    }
    in = &file;
  }
  std::string text(kDefaultMaxPayloadBytes * 2, '\0');
  in->read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in->bad()) throw Error::invalid_argument("cannot read payload from " + (given == "-" ? std::string("stdin") : given.substr(1)));
  text.resize(static_cast<size_t>(in->gcount()));
  return text;
}

// The job's type and payload: a shell command after `--`, or --type/--payload.
void set_type_and_payload(const JobArguments& args, const CLI::App& command, NewJob& job) {
  const bool has_command = !args.command.empty();
  const bool has_type = command.count("--type") > 0;
  if (!has_command && !has_type) {
    throw Error::invalid_argument("nothing to enqueue: give a command after -- or a job type with --type");
  }
  if (has_command && has_type && args.type != kShellType) {
    throw Error::invalid_argument("a command after -- makes a shell job; it cannot also have --type " + args.type);
  }
  if (has_command) {
    if (command.count("--payload") > 0) {
      throw Error::invalid_argument("--payload cannot be combined with a command: a shell job's payload is its command");
    }
    job.type = std::string(kShellType);
    job.payload = make_shell_payload(build_shell_command(args, command));
    return;
  }
  if (command.count("--cwd") > 0 || command.count("--env") > 0) {
    throw Error::invalid_argument("--cwd and --env apply only to a command given after --");
  }
  job.type = args.type;
  job.payload = command.count("--payload") > 0 ? parse_payload(payload_text(args.payload)) : Json::object();
  if (job.type == kShellType) parse_shell_payload(job.payload);  // a shell job's payload must be a command
}

}  // namespace

void add_job_options(CLI::App& command, JobArguments& args) {
  // Repeatable options take one value per use, so `--tag a -- CMD` cannot eat the command.
  auto one_each = [](CLI::Option* option) { option->allow_extra_args(false); };
  command.add_option("command", args.command, "The command and its arguments (after --)");
  command.add_option("--type", args.type, "Job type (names its handler); 'shell' for commands");
  command.add_option("--payload", args.payload, "Job payload as JSON, @FILE to read it from a file, - from stdin (default {})");
  command.add_option("--queue", args.queue, "Queue (default 'default')");
  command.add_option("--priority", args.priority, "Integer or low|normal|high|critical (default normal=10)");
  command.add_option("--delay", args.delay, "Run no sooner than this from now (500ms, 30s, 5m, 2h, 1d)");
  command.add_option("--at", args.at, "Run no sooner than this RFC 3339 time");
  command.add_option("--max-attempts", args.max_attempts, "Failed runs before the job fails for good (default 3)");
  command.add_option("--timeout", args.timeout, "Time limit per run");
  command.add_option("--unique", args.unique_key, "Unique key: while a live job holds it, print that job's id instead");
  one_each(command.add_option("--after", args.after, "Run after job ID completes (repeatable)"));
  one_each(command.add_option("--needs-file", args.needs_files, "Run once PATH exists (repeatable)"));
  command.add_option("--expires-in", args.expires_in, "Expire instead of starting if not started within this");
  one_each(command.add_option("--tag", args.tags, "Tag (repeatable)"));
  command.add_option("--cwd", args.cwd, "Working directory of the command");
  one_each(command.add_option("--env", args.env, "Environment variable NAME=VALUE for the command (repeatable)"));
  command.add_option("--on-dependency-failure", args.on_dependency_failure,
                      "When an --after job fails: cancel this job (default) or wait (stay blocked)");
}

NewJob build_new_job(const JobArguments& args, const CLI::App& command, Time now) {
  NewJob job;
  set_type_and_payload(args, command, job);
  job.queue = args.queue;
  if (command.count("--priority") > 0) job.priority = parse_priority(args.priority);
  if (command.count("--delay") > 0 && command.count("--at") > 0) {
    throw Error::invalid_argument("--delay and --at cannot be combined");
  }
  if (command.count("--delay") > 0) job.run_at = now + parse_duration(args.delay);
  if (command.count("--at") > 0) job.run_at = parse_rfc3339(args.at);
  if (command.count("--max-attempts") > 0) job.max_attempts = parse_int_at_least(args.max_attempts, 1, "--max-attempts");
  if (command.count("--timeout") > 0) {
    const Duration timeout = parse_duration(args.timeout);
    if (timeout <= Duration::zero()) throw Error::invalid_argument("--timeout must be longer than 0s");
    job.timeout = timeout;
  }
  if (command.count("--unique") > 0) {
    if (args.unique_key.empty()) throw Error::invalid_argument("--unique needs a non-empty key");
    job.unique_key = args.unique_key;
  }
  job.depends_on = parse_job_ids(args.after);
  for (const auto& path : args.needs_files) job.needs_files.push_back(absolute_path(path, "--needs-file"));
  if (command.count("--expires-in") > 0) job.expires_at = now + parse_duration(args.expires_in);
  job.tags = args.tags;
  if (command.count("--on-dependency-failure") > 0) {
    if (args.on_dependency_failure == "cancel") {
      job.on_dependency_failure = OnDependencyFailure::kCancel;
    } else if (args.on_dependency_failure == "wait") {
      job.on_dependency_failure = OnDependencyFailure::kStayBlocked;
    } else {
      throw Error::invalid_argument("--on-dependency-failure takes cancel or wait, not '" +
                                    args.on_dependency_failure + "'");
    }
  }
  return job;
}

}  // namespace quern::cli
