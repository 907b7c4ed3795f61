// A queue's retention as every backend keeps it: one column per final state (in
// kFinalStates order), microseconds or NULL (kept until deleted by hand).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "quern/job.h"

namespace quern {

using RetentionColumns = std::array<std::optional<int64_t>, std::size(kFinalStates)>;

// Throws kInvalidArgument for an empty queue name, no change, a state that is not
// final, or a duration that is negative or longer than 100 years.
void check_retention_changes(const std::string& queue, const RetentionChanges& changes);

// `columns` with `changes` applied.
RetentionColumns apply_retention_changes(RetentionColumns columns, const RetentionChanges& changes);

// How long `columns` keep jobs that end in `state` (nullopt: until deleted by hand).
std::optional<Duration> kept_for(const RetentionColumns& columns, JobState state);

// The retention that `columns` hold (the states kept for a while, or not at all).
std::map<JobState, Duration> retention_of(const RetentionColumns& columns);

}  // namespace quern
