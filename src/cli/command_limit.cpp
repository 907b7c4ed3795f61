// `quern limit QUEUE [N|none]`: how many of a queue's jobs may run at once, across every
// worker of the database. Stored, like a pause, so it holds across restarts.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/job_id_arguments.h"
#include "cli/json_output.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct LimitArguments {
  std::string queue;
  std::string limit;  // a number, "none", or empty: only show it
};

std::optional<int> current_limit(Client& client, const std::string& queue) {
  for (const QueueInfo& info : client.queues()) {
    if (info.name == queue) return info.concurrency_limit;
  }
  return std::nullopt;
}

int run_limit(const CliContext& context, const LimitArguments& args, const CLI::App& command) {
  if (args.queue.empty()) throw Error::invalid_argument("a queue needs a non-empty name");
  const bool setting = command.count("limit") > 0;
  std::optional<int> limit;
  if (setting && args.limit != "none") limit = parse_int_at_least(args.limit, 1, "the limit (a number, or none)");
  auto client = open_client(context.global);
  if (setting) {
    client->set_concurrency_limit(args.queue, limit);
  } else {
    limit = current_limit(*client, args.queue);
  }
  if (context.global.json) {
    print_json({{"queue", args.queue}, {"concurrency_limit", limit ? Json(*limit) : Json(nullptr)}});
  } else if (limit) {
    std::cout << "queue " << args.queue << ": at most " << *limit << " running at once\n";
  } else {
    std::cout << "queue " << args.queue << ": no limit\n";
  }
  return 0;
}

}  // namespace

void add_limit_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<LimitArguments>();
  CLI::App* command = app.add_subcommand(
      "limit", "Show or set how many of a queue's jobs run at once, across every worker (N, or none)");
  command->add_option("queue", args->queue, "Queue name")->required();
  command->add_option("limit", args->limit, "At most N running at once, or none for no limit");
  command->callback([&context, args, command] {
    context.action = [&context, args, command] { return run_limit(context, *args, *command); };
  });
}

}  // namespace quern::cli
