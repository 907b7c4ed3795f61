// `quern stats`: job counts by state, in total and per queue, and which queues are paused,
// limited or held.
#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/table_output.h"
#include "core/stats_report.h"

namespace quern::cli {
namespace {

// LIMIT and HELD WHILE are shown once some queue has one (most never do).
void print_stats_table(const Stats& stats) {
  const bool show_limits = std::any_of(stats.queues.begin(), stats.queues.end(),
                                       [](const auto& queue) { return queue.concurrency_limit.has_value(); });
  const bool show_holds = std::any_of(stats.queues.begin(), stats.queues.end(),
                                      [](const auto& queue) { return queue.held_while.has_value(); });
  std::vector<std::string> headers = {"QUEUE", "PAUSED"};
  if (show_limits) headers.push_back("LIMIT");
  if (show_holds) headers.push_back("HELD WHILE");
  for (JobState state : kAllStates) {
    std::string name(state_name(state));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    headers.push_back(name);
  }
  Table table(headers);
  for (const auto& queue : stats.queues) {
    std::vector<std::string> row = {queue.queue, queue.paused ? "yes" : "no"};
    if (show_limits) row.push_back(queue.concurrency_limit ? std::to_string(*queue.concurrency_limit) : "");
    if (show_holds) row.push_back(queue.held_while.value_or(""));
    for (size_t i = 0; i < std::size(kAllStates); ++i) row.push_back(std::to_string(queue.by_state[i]));
    table.add_row(std::move(row));
  }
  std::vector<std::string> total_row = {"total", ""};
  if (show_limits) total_row.push_back("");
  if (show_holds) total_row.push_back("");
  for (JobState state : kAllStates) total_row.push_back(std::to_string(stats.total(state)));
  table.add_row(std::move(total_row));
  table.print(std::cout);
}

}  // namespace

void add_stats_command(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand("stats", "Job counts by state, in total and per queue");
  command->callback([&context] {
    context.action = [&context] {
      auto client = open_client(context.global);
      const Stats stats = client->stats();
      if (context.global.json) {
        print_json(stats_to_json(stats));
      } else {
        print_stats_table(stats);
      }
      return 0;
    };
  });
}

}  // namespace quern::cli
