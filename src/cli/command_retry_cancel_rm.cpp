// `quern retry ID…|--failed`, `quern cancel ID…`, `quern rm ID…`: first every id is
// checked (it exists, and its job allows the action); if any fails, each failure is
// one error line, the exit status is the first one's and nothing changes. Then each
// job is acted on in turn (a job that changed meanwhile fails alone, the same way).
#include <functional>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/error_output.h"
#include "cli/job_id_arguments.h"
#include "cli/json_output.h"
#include "core/job_actions.h"
#include "core/job_validation.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct JobIdsArguments {
  std::vector<std::string> ids;
};

struct RetryArguments {
  std::vector<std::string> ids;
  bool failed = false;
  std::string queue;
};

// Checks every id with `allowed` (which throws an Error, as the store would): a line
// for each that is unknown or whose job does not allow the action. Returns the exit
// status of the first such line (0 if none).
int check_every_job(Client& client, const std::vector<JobId>& ids, void (*allowed)(JobId, JobState)) {
  int status = 0;
  for (JobId id : ids) {
    try {
      allowed(id, client.get(id).state);
    } catch (const Error& error) {
      print_error_line(error.what());
      if (status == 0) status = exit_status(error.code());
    }
  }
  return status;
}

// check_every_job, then, if all pass, runs `act` on each; `act` returns the line to
// print on success.
int for_each_job(Client& client, const std::vector<JobId>& ids, void (*allowed)(JobId, JobState),
                 const std::function<std::string(JobId)>& act) {
  int status = check_every_job(client, ids, allowed);
  if (status != 0) return status;
  auto report = [&](const Error& error) {
    print_error_line(error.what());
    if (status == 0) status = exit_status(error.code());
  };
  for (JobId id : ids) {
    try {
      std::cout << act(id) << '\n';
    } catch (const Error& error) {
      report(error);
    }
  }
  return status;
}

int run_retry(const CliContext& context, const RetryArguments& args, const CLI::App& command) {
  if (args.failed == !args.ids.empty()) throw Error::invalid_argument("give job ids or --failed, not both or neither");
  if (command.count("--queue") > 0 && !args.failed) throw Error::invalid_argument("--queue goes with --failed");
  const std::vector<JobId> ids = parse_job_ids(args.ids);
  std::optional<std::string> queue;
  if (command.count("--queue") > 0) check_name("--queue", *(queue = args.queue));
  auto client = open_client(context.global);
  if (args.failed) {
    const int64_t retried = client->retry_failed(queue);
    if (context.global.json) {
      print_json({{"retried", retried}});
    } else {
      std::cout << "retried " << retried << (retried == 1 ? " failed job" : " failed jobs") << '\n';
    }
    return 0;
  }
  return for_each_job(*client, ids, check_can_retry, [&](JobId id) {
    const Job job = client->retry(id);
    return "retried job " + std::to_string(id) + " (now " + std::string(state_name(job.state)) + ")";
  });
}

// All are canceled before any run is waited for, so a slow one holds up no other.
int run_cancel(const CliContext& context, const JobIdsArguments& args) {
  const std::vector<JobId> ids = parse_job_ids(args.ids);
  auto client = open_client(context.global);
  if (const int status = check_every_job(*client, ids, check_can_cancel); status != 0) return status;
  for (const Job& job : client->cancel(ids)) std::cout << "canceled job " << job.id << '\n';
  return 0;
}

int run_rm(const CliContext& context, const JobIdsArguments& args) {
  const std::vector<JobId> ids = parse_job_ids(args.ids);
  auto client = open_client(context.global);
  return for_each_job(*client, ids, check_can_delete, [&](JobId id) {
    client->remove(id);
    return "removed job " + std::to_string(id);
  });
}

}  // namespace

void add_retry_cancel_rm_commands(CLI::App& app, CliContext& context) {
  auto retry = std::make_shared<RetryArguments>();
  CLI::App* retry_command = app.add_subcommand("retry", "Run failed, canceled or expired jobs again");
  retry_command->add_option("ids", retry->ids, "Job ids");
  retry_command->add_flag("--failed", retry->failed, "Every failed job");
  retry_command->add_option("--queue", retry->queue, "With --failed: only this queue's");
  retry_command->callback([&context, retry, retry_command] {
    context.action = [&context, retry, retry_command] { return run_retry(context, *retry, *retry_command); };
  });

  auto cancel = std::make_shared<JobIdsArguments>();
  CLI::App* cancel_command = app.add_subcommand("cancel", "Cancel jobs that are not final (a running one is stopped)");
  cancel_command->add_option("ids", cancel->ids, "Job ids")->required();
  cancel_command->callback([&context, cancel] {
    context.action = [&context, cancel] { return run_cancel(context, *cancel); };
  });

  auto rm = std::make_shared<JobIdsArguments>();
  CLI::App* rm_command = app.add_subcommand("rm", "Delete jobs that are not running");
  rm_command->add_option("ids", rm->ids, "Job ids")->required();
  rm_command->callback([&context, rm] {
    context.action = [&context, rm] { return run_rm(context, *rm); };
  });
}

}  // namespace quern::cli
