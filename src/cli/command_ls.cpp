// `quern ls`: lists jobs by id ascending, as a table or a JSON array.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/job_id_arguments.h"
#include "cli/json_output.h"
#include "cli/table_output.h"
#include "core/job_json.h"
#include "core/job_validation.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct LsArguments {
  std::vector<std::string> states;
  std::string queue;
  std::string type;
  std::string tag;
  std::string limit = "100";
};

// `--state running,failed --state blocked` → the three states.
std::vector<JobState> parse_state_list(const std::vector<std::string>& texts) {
  std::vector<JobState> states;
  for (const auto& text : texts) {
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      const std::string name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      states.push_back(parse_state(name));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return states;
}

int run_ls(const CliContext& context, const LsArguments& args, const CLI::App& command) {
  JobFilter filter;
  filter.states = parse_state_list(args.states);
  // A name no job can have (empty, say) is a mistake, not a filter that matches nothing.
  if (command.count("--queue") > 0) check_name("--queue", *(filter.queue = args.queue));
  if (command.count("--type") > 0) check_name("--type", *(filter.type = args.type));
  if (command.count("--tag") > 0) check_name("--tag", *(filter.tag = args.tag));
  filter.limit = parse_int_at_least(args.limit, 1, "--limit");

  auto client = open_client(context.global);
  const std::vector<Job> jobs = client->list(filter);
  if (context.global.json) {
    Json array = Json::array();
    for (const Job& job : jobs) array.push_back(job_to_json(job));
    print_json(array);
  } else if (jobs.empty()) {
    std::cout << "no jobs\n";
  } else {
    print_job_table(jobs, client->clock().now(), std::cout);
  }
  return 0;
}

}  // namespace

void add_ls_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<LsArguments>();
  CLI::App* command = app.add_subcommand("ls", "List jobs, by id ascending");
  command->add_option("--state", args->states, "Only jobs in these states (repeatable or comma-separated)")
      ->allow_extra_args(false);
  command->add_option("--queue", args->queue, "Only jobs of this queue");
  command->add_option("--type", args->type, "Only jobs of this type");
  command->add_option("--tag", args->tag, "Only jobs with this tag");
  command->add_option("--limit", args->limit, "At most this many jobs (default 100)");
  command->callback([&context, args, command] {
    context.action = [&context, args, command] { return run_ls(context, *args, *command); };
  });
}

}  // namespace quern::cli
