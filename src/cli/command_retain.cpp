// `quern retain QUEUE [--completed|--failed|--canceled|--expired|--final DUR|forever]`:
// how long a queue's jobs are kept once they end, by the state they end in. Stored, like
// a pause; the maintenance leader (a worker or `quern serve`) deletes them when due.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "core/duration.h"
#include "core/stats_report.h"
#include "quern/error.h"

namespace quern::cli {
namespace {

struct RetainArguments {
  std::string queue;
  std::map<JobState, std::string> keep;  // by the flag given: a duration or "forever"
  std::string final_states;              // --final: every final state not named on its own
};

std::map<JobState, Duration> current_retention(Client& client, const std::string& queue) {
  for (const QueueInfo& info : client.queues()) {
    if (info.name == queue) return info.retention;
  }
  return {};
}

std::optional<Duration> parse_keep(const std::string& flag, const std::string& text) {
  if (text == "forever") return std::nullopt;
  try {
    return parse_duration(text);
  } catch (const Error& e) {
    throw Error::invalid_argument(flag + ": " + e.what() + ", or forever");
  }
}

std::string describe(const std::map<JobState, Duration>& retention) {
  std::string text;
  for (JobState state : kFinalStates) {
    const auto kept = retention.find(state);
    text += (text.empty() ? "" : ", ") + std::string(state_name(state)) + " " +
            (kept == retention.end() ? std::string("forever") : format_duration(kept->second));
  }
  return text;
}

int run_retain(const CliContext& context, const RetainArguments& args, const CLI::App& command) {
  if (args.queue.empty()) throw Error::invalid_argument("a queue needs a non-empty name");
  RetentionChanges changes;
  if (command.count("--final") > 0) {
    const auto keep = parse_keep("--final", args.final_states);
    for (JobState state : kFinalStates) changes[state] = keep;
  }
  for (const auto& [state, text] : args.keep) {
    const std::string flag = "--" + std::string(state_name(state));
    if (command.count(flag) > 0) changes[state] = parse_keep(flag, text);
  }
  auto client = open_client(context.global);
  if (!changes.empty()) client->set_retention(args.queue, changes);
  const auto retention = current_retention(*client, args.queue);
  if (context.global.json) {
    print_json({{"queue", args.queue}, {"retention", retention_to_json(retention)}});
  } else {
    std::cout << "queue " << args.queue << " keeps finished jobs: " << describe(retention) << "\n";
  }
  return 0;
}

}  // namespace

void add_retain_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<RetainArguments>();
  CLI::App* command = app.add_subcommand(
      "retain", "Show or set how long a queue's finished jobs are kept (DUR, 0s: deleted at once, or forever)");
  command->add_option("queue", args->queue, "Queue name")->required();
  for (JobState state : kFinalStates) {
    const std::string name(state_name(state));
    command->add_option("--" + name, args->keep[state], "Keep " + name + " jobs for DUR after they end, or forever");
  }
  command->add_option("--final", args->final_states,
                      "Keep every finished job for DUR, or forever (a state's own flag wins over it)");
  command->callback([&context, args, command] {
    context.action = [&context, args, command] { return run_retain(context, *args, *command); };
  });
}

}  // namespace quern::cli
