// `quern hold QUEUE [--while OTHER | --none]`: QUEUE's jobs wait while OTHER has jobs
// running, or available and not paused (background work held while foreground work
// runs). Stored, like a pause, so it holds across restarts.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct HoldArguments {
  std::string queue;
  std::string held_while;
  bool none = false;
};

std::optional<std::string> current_hold(Client& client, const std::string& queue) {
  for (const QueueInfo& info : client.queues()) {
    if (info.name == queue) return info.held_while;
  }
  return std::nullopt;
}

int run_hold(const CliContext& context, const HoldArguments& args, const CLI::App& command) {
  if (args.queue.empty()) throw Error::invalid_argument("a queue needs a non-empty name");
  const bool named = command.count("--while") > 0;
  if (named && args.none) throw Error::invalid_argument("give --while QUEUE or --none, not both");
  if (named && args.held_while.empty()) throw Error::invalid_argument("--while needs a non-empty queue name");
  auto client = open_client(context.global);
  std::optional<std::string> held_while;
  if (named || args.none) {
    if (named) held_while = args.held_while;
    client->set_hold(args.queue, held_while);
  } else {
    held_while = current_hold(*client, args.queue);
  }
  if (context.global.json) {
    print_json({{"queue", args.queue}, {"held_while", held_while ? Json(*held_while) : Json(nullptr)}});
  } else if (held_while) {
    std::cout << "queue " << args.queue << ": held while " << *held_while << " has jobs to run\n";
  } else {
    std::cout << "queue " << args.queue << ": not held\n";
  }
  return 0;
}

}  // namespace

void add_hold_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<HoldArguments>();
  CLI::App* command = app.add_subcommand(
      "hold", "Show or set the queue whose work holds a queue back (--while OTHER), or release it (--none)");
  command->add_option("queue", args->queue, "Queue name")->required();
  command->add_option("--while", args->held_while, "Hold QUEUE's jobs while OTHER has jobs running or available");
  command->add_flag("--none", args->none, "Hold QUEUE no more");
  command->callback([&context, args, command] {
    context.action = [&context, args, command] { return run_hold(context, *args, *command); };
  });
}

}  // namespace quern::cli
