#include "core/stats_report.h"

#include <algorithm>
#include <iterator>
#include <string>

namespace quern {

Stats with_every_queue(Stats stats, const std::vector<QueueInfo>& known) {
  for (const QueueInfo& queue : known) {
    auto found = std::find_if(stats.queues.begin(), stats.queues.end(),
                              [&](const Stats::QueueCounts& counts) { return counts.queue == queue.name; });
    if (found == stats.queues.end()) {
      Stats::QueueCounts counts;
      counts.queue = queue.name;
      counts.paused = queue.paused;
      stats.queues.push_back(counts);
      found = std::prev(stats.queues.end());
    }
    found->concurrency_limit = queue.concurrency_limit;
    found->held_while = queue.held_while;
    found->retention = queue.retention;
  }
  std::sort(stats.queues.begin(), stats.queues.end(),
            [](const Stats::QueueCounts& a, const Stats::QueueCounts& b) { return a.queue < b.queue; });
  return stats;
}

Json state_counts_to_json(const int64_t (&counts)[std::size(kAllStates)]) {
  Json object = Json::object();
  for (size_t i = 0; i < std::size(kAllStates); ++i) object[std::string(state_name(kAllStates[i]))] = counts[i];
  return object;
}

Json retention_to_json(const std::map<JobState, Duration>& retention) {
  Json object = Json::object();
  for (JobState state : kFinalStates) {
    const auto kept = retention.find(state);
    Json seconds = nullptr;
    if (kept != retention.end()) {
      const int64_t us = kept->second.count();
      seconds = us % 1'000'000 == 0 ? Json(us / 1'000'000) : Json(static_cast<double>(us) / 1e6);
    }
    object[std::string(state_name(state))] = std::move(seconds);
  }
  return object;
}

Json queue_to_json(const Stats::QueueCounts& queue, const char* counts_key) {
  return {{"name", queue.queue},
          {"paused", queue.paused},
          {"concurrency_limit", queue.concurrency_limit ? Json(*queue.concurrency_limit) : Json(nullptr)},
          {"held_while", queue.held_while ? Json(*queue.held_while) : Json(nullptr)},
          {"retention", retention_to_json(queue.retention)},
          {counts_key, state_counts_to_json(queue.by_state)}};
}

Json stats_to_json(const Stats& stats) {
  int64_t totals[std::size(kAllStates)] = {};
  for (size_t i = 0; i < std::size(kAllStates); ++i) totals[i] = stats.total(kAllStates[i]);
  Json queues = Json::array();
  for (const auto& queue : stats.queues) queues.push_back(queue_to_json(queue, "states"));
  return {{"states", state_counts_to_json(totals)}, {"queues", std::move(queues)}};
}

}  // namespace quern
