// `quern wait ID… [--timeout DUR]`: waits until every job is final. Exit 0 if all
// completed, 1 if any ended otherwise or the timeout passed first.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/error_output.h"
#include "cli/job_id_arguments.h"
#include "cli/json_output.h"
#include "core/duration.h"
#include "core/job_json.h"

namespace quern::cli {
namespace {

constexpr int kNotCompletedExitStatus = 1;

struct WaitArguments {
  std::vector<std::string> ids;
  std::string timeout;
};

// Why a job did not complete, as the end of "job 12 …".
std::string describe_not_completed(const Job& job, const std::optional<Duration>& timeout) {
  const std::string state(state_name(job.state));
  if (!is_final(job.state)) {
    return "is still " + state + " after the " + format_duration(timeout.value_or(Duration::zero())) + " timeout";
  }
  return state + (job.error.empty() ? "" : ": " + job.error);
}

int run_wait(const CliContext& context, const WaitArguments& args, const CLI::App& command) {
  const std::vector<JobId> ids = parse_job_ids(args.ids);
  std::optional<Duration> timeout;
  if (command.count("--timeout") > 0) timeout = parse_duration(args.timeout);
  auto client = open_client(context.global);
  for (JobId id : ids) client->get(id);  // every id known before any waiting: kNotFound otherwise

  // One deadline for all the jobs, in real time: this is a person's or a script's wait.
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(Duration::zero());
  std::vector<Job> jobs;
  for (JobId id : ids) {
    std::optional<Duration> remaining;
    if (timeout) {
      remaining = std::max(Duration::zero(),
                           std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()));
    }
    jobs.push_back(client->wait_final(id, remaining));
  }

  int status = 0;
  Json objects = Json::array();
  for (const Job& job : jobs) {
    objects.push_back(job_to_json(job));
    if (job.state == JobState::kCompleted) {
      if (!context.global.json) std::cout << "job " << job.id << " completed\n";
    } else {
      print_error_line("job " + std::to_string(job.id) + " " + describe_not_completed(job, timeout));
      status = kNotCompletedExitStatus;
    }
  }
  if (context.global.json) print_json(objects);
  return status;
}

}  // namespace

void add_wait_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<WaitArguments>();
  CLI::App* command = app.add_subcommand("wait", "Wait until jobs are final; exit 0 only if all completed");
  command->add_option("ids", args->ids, "Job ids")->required();
  command->add_option("--timeout", args->timeout, "Give up after this long (exit 1)");
  command->callback([&context, args, command] {
    context.action = [&context, args, command] { return run_wait(context, *args, *command); };
  });
}

}  // namespace quern::cli
