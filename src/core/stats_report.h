// Job counts as `quern stats` and GET /api/v1/stats show them: every queue the store
// knows, and one JSON shape for both.
#pragma once

#include <iterator>
#include <vector>

#include "quern/job.h"

namespace quern {

// `stats` plus the queues in `known` that hold no job (a paused one, say), by name.
Stats with_every_queue(Stats stats, const std::vector<QueueInfo>& known);

// {"<state>": n, …} with every state.
Json state_counts_to_json(const int64_t (&counts)[std::size(kAllStates)]);

// {"completed": seconds|null, "failed": …, "canceled": …, "expired": …}: how long each
// final state's jobs are kept (null: until deleted by hand).
Json retention_to_json(const std::map<JobState, Duration>& retention);

// {"name", "paused", "concurrency_limit", "held_while", "retention",
//  `counts_key`: {"<state>": n, …}}.
Json queue_to_json(const Stats::QueueCounts& queue, const char* counts_key);

// {"states": {…}, "queues": [queue_to_json(queue, "states")…]}.
Json stats_to_json(const Stats& stats);

}  // namespace quern
