// `quern pause [QUEUE|--all]` and `quern resume [QUEUE|--all]`: stop or restart
// claiming from queues. The pause is stored, so it survives restarts.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct PauseArguments {
  std::string queue;
  bool all = false;
};

int run_pause_or_resume(const CliContext& context, const PauseArguments& args, const CLI::App& command, bool pause) {
  const bool named = command.count("queue") > 0;
  if (named && args.all) throw Error::invalid_argument("give a queue or --all, not both");
  if (named && args.queue.empty()) throw Error::invalid_argument("a queue needs a non-empty name");
  auto client = open_client(context.global);

  std::vector<std::string> queues;
  if (args.all) {
    for (const QueueInfo& queue : client->queues()) queues.push_back(queue.name);
  } else {
    queues.push_back(named ? args.queue : std::string(kDefaultQueue));
  }
  for (const auto& queue : queues) {
    if (pause) {
      client->pause(queue);
    } else {
      client->resume(queue);
    }
  }

  const char* verb = pause ? "paused" : "resumed";
  if (context.global.json) {
    print_json({{verb, queues}});
  } else if (queues.empty()) {
    std::cout << "no queues to " << (pause ? "pause" : "resume") << '\n';
  } else {
    for (const auto& queue : queues) std::cout << verb << " queue " << queue << '\n';
  }
  return 0;
}

void add_pause_or_resume(CLI::App& app, CliContext& context, bool pause) {
  auto args = std::make_shared<PauseArguments>();
  CLI::App* command = pause ? app.add_subcommand("pause", "Stop claiming jobs from a queue (default 'default')")
                            : app.add_subcommand("resume", "Start claiming jobs from a paused queue again");
  command->add_option("queue", args->queue, "Queue name (default 'default')");
  command->add_flag("--all", args->all, "Every known queue");
  command->callback([&context, args, command, pause] {
    context.action = [&context, args, command, pause] { return run_pause_or_resume(context, *args, *command, pause); };
  });
}

}  // namespace

void add_pause_resume_commands(CLI::App& app, CliContext& context) {
  add_pause_or_resume(app, context, true);
  add_pause_or_resume(app, context, false);
}

}  // namespace quern::cli
