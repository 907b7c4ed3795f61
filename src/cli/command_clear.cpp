// `quern clear --completed|--failed|--final`: deletes finished jobs.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "core/job_validation.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct ClearArguments {
  bool completed = false;
  bool failed = false;
  bool canceled = false;
  bool expired = false;
  bool final = false;
  std::string queue;
};

std::vector<JobState> states_to_clear(const ClearArguments& args) {
  if (args.final) return {JobState::kCompleted, JobState::kFailed, JobState::kCanceled, JobState::kExpired};
  std::vector<JobState> states;
  if (args.completed) states.push_back(JobState::kCompleted);
  if (args.failed) states.push_back(JobState::kFailed);
  if (args.canceled) states.push_back(JobState::kCanceled);
  if (args.expired) states.push_back(JobState::kExpired);
  if (states.empty()) throw Error::invalid_argument("say what to clear: --completed, --failed, --canceled, --expired or --final");
  return states;
}

}  // namespace

void add_clear_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<ClearArguments>();
  CLI::App* command = app.add_subcommand("clear", "Delete finished jobs");
  command->add_flag("--completed", args->completed, "Completed jobs");
  command->add_flag("--failed", args->failed, "Failed jobs");
  command->add_flag("--canceled", args->canceled, "Canceled jobs");
  command->add_flag("--expired", args->expired, "Expired jobs");
  command->add_flag("--final", args->final, "Every finished job: completed, failed, canceled and expired");
  command->add_option("--queue", args->queue, "Only this queue's jobs");
  command->callback([&context, args, command] {
    context.action = [&context, args, command] {
      const std::vector<JobState> states = states_to_clear(*args);
      std::optional<std::string> queue;
      if (command->count("--queue") > 0) check_name("--queue", *(queue = args->queue));
      auto client = open_client(context.global);
      const int64_t deleted = client->clear(states, queue);
      if (context.global.json) {
        print_json({{"deleted", deleted}});
      } else {
        std::cout << "deleted " << deleted << (deleted == 1 ? " job" : " jobs") << '\n';
      }
      return 0;
    };
  });
}

}  // namespace quern::cli
