// `quern stats`: job counts by state, in total and per queue, and which queues are paused.
#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/table_output.h"
#include "core/stats_report.h"

namespace quern::cli {
namespace {

void print_stats_table(const Stats& stats) {
  std::vector<std::string> headers = {"QUEUE", "PAUSED"};
  for (JobState state : kAllStates) {
    std::string name(state_name(state));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    headers.push_back(name);
  }
  Table table(headers);
  for (const auto& queue : stats.queues) {
    std::vector<std::string> row = {queue.queue, queue.paused ? "yes" : "no"};
    for (size_t i = 0; i < std::size(kAllStates); ++i) row.push_back(std::to_string(queue.by_state[i]));
    table.add_row(std::move(row));
  }
  std::vector<std::string> total_row = {"total", ""};
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
