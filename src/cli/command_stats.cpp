// `quern stats`: job counts by state, in total and per queue, and which queues are paused.
#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/table_output.h"

namespace quern::cli {
namespace {

Json state_counts_to_json(const int64_t (&counts)[std::size(kAllStates)]) {
  Json object = Json::object();
  for (size_t i = 0; i < std::size(kAllStates); ++i) object[std::string(state_name(kAllStates[i]))] = counts[i];
  return object;
}

// The store's counts, plus queues that are known (paused, say) but hold no job.
Stats stats_with_every_queue(Client& client) {
  Stats stats = client.stats();
  for (const QueueInfo& queue : client.queues()) {
    auto known = std::find_if(stats.queues.begin(), stats.queues.end(),
                              [&](const Stats::QueueCounts& counts) { return counts.queue == queue.name; });
    if (known == stats.queues.end()) {
      Stats::QueueCounts counts;
      counts.queue = queue.name;
      counts.paused = queue.paused;
      stats.queues.push_back(counts);
    }
  }
  std::sort(stats.queues.begin(), stats.queues.end(),
            [](const Stats::QueueCounts& a, const Stats::QueueCounts& b) { return a.queue < b.queue; });
  return stats;
}

void print_stats_json(const Stats& stats) {
  int64_t totals[std::size(kAllStates)] = {};
  for (size_t i = 0; i < std::size(kAllStates); ++i) totals[i] = stats.total(kAllStates[i]);
  Json queues = Json::array();
  for (const auto& queue : stats.queues) {
    queues.push_back({{"name", queue.queue}, {"paused", queue.paused}, {"states", state_counts_to_json(queue.by_state)}});
  }
  print_json({{"states", state_counts_to_json(totals)}, {"queues", std::move(queues)}});
}

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
      const Stats stats = stats_with_every_queue(*client);
      if (context.global.json) {
        print_stats_json(stats);
      } else {
        print_stats_table(stats);
      }
      return 0;
    };
  });
}

}  // namespace quern::cli
