// The options that describe a job, shared by `quern add` and `quern cron add`: the
// command after -- or --type/--payload, and --queue, --priority, … (README: options of add).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "quern/job.h"

namespace quern::cli {

struct JobArguments {
  std::vector<std::string> command;
  std::string type;
  std::string payload;
  std::string queue = std::string(kDefaultQueue);
  std::string priority;
  std::string delay;
  std::string at;
  std::string max_attempts;
  std::string timeout;
  std::string unique_key;
  std::vector<std::string> after;
  std::vector<std::string> needs_files;
  std::string expires_in;
  std::vector<std::string> tags;
  std::string cwd;
  std::vector<std::string> env;
  std::string on_dependency_failure;
};

// Registers the job's options on `command`, and the positional "command" (after --)
// last, after any positionals `command` already has.
void add_job_options(CLI::App& command, JobArguments& args);

// The job the options describe, as of `now` (--delay, --expires-in). Throws
// Error(kInvalidArgument) naming the bad option.
NewJob build_new_job(const JobArguments& args, const CLI::App& command, Time now);

}  // namespace quern::cli
