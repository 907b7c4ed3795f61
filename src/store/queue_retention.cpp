#include "store/queue_retention.h"

#include <algorithm>
#include <iterator>

#include "core/duration.h"
#include "quern/error.h"

namespace quern {
namespace {

size_t column_of(JobState state) {
  return static_cast<size_t>(std::find(std::begin(kFinalStates), std::end(kFinalStates), state) -
                             std::begin(kFinalStates));
}

}  // namespace

void check_retention_changes(const std::string& queue, const RetentionChanges& changes) {
  if (queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  if (changes.empty()) throw Error::invalid_argument("no retention given: name a final state and how long to keep it");
  for (const auto& [state, keep] : changes) {
    if (!is_final(state)) {
      throw Error::invalid_argument("only final jobs are kept for a time, not " + std::string(state_name(state)) +
                                    " ones");
    }
    if (keep && (*keep < Duration::zero() || *keep > kLongestDuration)) {
      throw Error::invalid_argument("a retention must be from 0s to 100 years");
    }
  }
}

RetentionColumns apply_retention_changes(RetentionColumns columns, const RetentionChanges& changes) {
  for (const auto& [state, keep] : changes) {
    columns.at(column_of(state)) = keep ? std::optional<int64_t>(keep->count()) : std::nullopt;
  }
  return columns;
}

std::optional<Duration> kept_for(const RetentionColumns& columns, JobState state) {
  const size_t column = column_of(state);
  if (column >= columns.size() || !columns[column]) return std::nullopt;
  return Duration(*columns[column]);
}

std::map<JobState, Duration> retention_of(const RetentionColumns& columns) {
  std::map<JobState, Duration> retention;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i]) retention[kFinalStates[i]] = Duration(*columns[i]);
  }
  return retention;
}

}  // namespace quern
